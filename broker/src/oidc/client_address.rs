//! The client's address, for throttling: the TCP peer, or — only when the peer is a configured
//! trusted proxy (`web.clientRemoteIP`) — the address that proxy chain names in the header.
//!
//! The header is read right to left: each proxy appends the address it received the request
//! from, so the rightmost entries were written by our proxies and everything left of the first
//! untrusted address was written by the client itself (and may be forged). That first untrusted
//! address, walking from the right, is the client.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::HeaderMap;

use super::AppState;
use crate::config::ClientRemoteIp;

/// The client's address as far as this broker can tell (None when the server runs without
/// connection info, e.g. inside a test router).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddress(pub Option<IpAddr>);

impl FromRequestParts<Arc<AppState>> for ClientAddress {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        app: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip());
        Ok(ClientAddress(client_address(
            peer,
            &parts.headers,
            &app.config.client_remote_ip,
        )))
    }
}

fn canonical(ip: IpAddr) -> IpAddr {
    ip.to_canonical()
}

/// One header entry: `1.2.3.4`, `1.2.3.4:80`, `2001:db8::1` or `[2001:db8::1]:80`.
fn parse_entry(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim();
    if let Ok(ip) = entry.parse::<IpAddr>() {
        return Some(canonical(ip));
    }
    entry.parse::<SocketAddr>().ok().map(|s| canonical(s.ip()))
}

pub fn client_address(
    peer: Option<IpAddr>,
    headers: &HeaderMap,
    config: &ClientRemoteIp,
) -> Option<IpAddr> {
    let peer = canonical(peer?);
    let Some(header) = &config.header else {
        return Some(peer);
    };
    let trusted = |ip: &IpAddr| config.trusted_proxies.iter().any(|net| net.contains(ip));
    if !trusted(&peer) {
        return Some(peer);
    }
    // Every copy of the header, in order, as one list.
    let entries: Vec<&str> = headers
        .get_all(header.as_str())
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .collect();
    let mut client = peer;
    for entry in entries.iter().rev() {
        match parse_entry(entry) {
            Some(ip) if trusted(&ip) => client = ip,
            Some(ip) => return Some(ip),
            // Garbage where a proxy should have written an address: believe no further.
            None => return Some(client),
        }
    }
    Some(client)
}

/// The key an address is throttled under: IPv4 as is, IPv6 by its /64 (one subscriber
/// usually holds a whole /64, so single IPv6 addresses cost an attacker nothing).
pub fn throttle_key(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn cfg(proxies: &[&str]) -> ClientRemoteIp {
        ClientRemoteIp {
            header: Some("x-forwarded-for".into()),
            trusted_proxies: proxies.iter().map(|p| p.parse().unwrap()).collect(),
        }
    }

    fn xff(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append("x-forwarded-for", HeaderValue::from_str(v).unwrap());
        }
        h
    }

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().unwrap())
    }

    #[test]
    fn peer_only_without_config_or_from_an_untrusted_peer() {
        let h = xff(&["6.6.6.6"]);
        assert_eq!(
            client_address(ip("1.1.1.1"), &h, &ClientRemoteIp::default()),
            ip("1.1.1.1")
        );
        assert_eq!(
            client_address(ip("1.1.1.1"), &h, &cfg(&["10.0.0.0/8"])),
            ip("1.1.1.1"),
            "an untrusted peer's header is ignored"
        );
        assert_eq!(client_address(None, &h, &cfg(&["10.0.0.0/8"])), None);
    }

    #[test]
    fn walks_right_to_left_past_trusted_proxies_only() {
        let c = cfg(&["10.0.0.0/8"]);
        // The client forged a left entry; our two proxies appended the real one and theirs.
        let h = xff(&["6.6.6.6, 203.0.113.7, 10.0.0.5"]);
        assert_eq!(client_address(ip("10.0.0.1"), &h, &c), ip("203.0.113.7"));
        // Split over two header lines, same list.
        let h = xff(&["6.6.6.6", "203.0.113.7:4711, 10.0.0.5"]);
        assert_eq!(client_address(ip("10.0.0.1"), &h, &c), ip("203.0.113.7"));
        // All trusted: the leftmost.
        let h = xff(&["10.1.1.1, 10.0.0.5"]);
        assert_eq!(client_address(ip("10.0.0.1"), &h, &c), ip("10.1.1.1"));
        // No header: the proxy itself.
        assert_eq!(
            client_address(ip("10.0.0.1"), &HeaderMap::new(), &c),
            ip("10.0.0.1")
        );
        // Garbage stops the walk at the last trusted hop.
        let h = xff(&["203.0.113.7, garbage, 10.0.0.5"]);
        assert_eq!(client_address(ip("10.0.0.1"), &h, &c), ip("10.0.0.5"));
        // IPv6 and v4-mapped addresses.
        let h = xff(&["[2001:db8::1]:443"]);
        assert_eq!(client_address(ip("10.0.0.1"), &h, &c), ip("2001:db8::1"));
        assert_eq!(
            client_address(ip("::ffff:10.0.0.1"), &xff(&["198.51.100.2"]), &c),
            ip("198.51.100.2")
        );
    }

    #[test]
    fn ipv6_is_keyed_by_its_64() {
        assert_eq!(
            throttle_key("2001:db8:1:2:3:4:5:6".parse().unwrap()),
            "2001:db8:1:2::/64"
        );
        assert_eq!(throttle_key("192.0.2.1".parse().unwrap()), "192.0.2.1");
    }
}
