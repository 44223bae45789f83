//! Headers the broker reads: the client-address walk over X-Forwarded-For (trusted proxies) and
//! the approval binding cookie. Any bytes: an address or the peer, a match or not, no panic; and
//! the binding never matches a cookie that is not the secret.
#![no_main]

use std::net::IpAddr;

use axum::http::{header, HeaderMap, HeaderValue};
use gatehouse_broker::config::ClientRemoteIp;
use gatehouse_broker::oidc::browser_binding::presented;
use gatehouse_broker::oidc::client_address::{client_address, throttle_key};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(value) = HeaderValue::from_bytes(data) else {
        return;
    };
    let config = ClientRemoteIp {
        header: Some("x-forwarded-for".into()),
        trusted_proxies: vec!["10.0.0.0/8".parse().unwrap(), "::1/128".parse().unwrap()],
    };
    let mut headers = HeaderMap::new();
    headers.append("x-forwarded-for", value.clone());
    headers.append(header::COOKIE, value);
    let peer: IpAddr = "10.0.0.1".parse().unwrap();
    if let Some(ip) = client_address(Some(peer), &headers, &config) {
        let _ = throttle_key(ip);
    }
    let untrusted: IpAddr = "192.0.2.1".parse().unwrap();
    assert_eq!(
        client_address(Some(untrusted), &headers, &config),
        Some(untrusted),
        "an untrusted peer's header was believed"
    );
    // The stored hash of a secret no input here can contain (43 random-looking characters
    // hashed again): nothing may match it.
    assert!(!presented(
        &headers,
        "req-1",
        Some("not-a-hash-of-anything-a-cookie-can-hold-xx")
    ));
});
