//! The broker's form/query parser (every endpoint's input) and client authentication at /token
//! (its input handling, against the static clients) on arbitrary bytes: a parse or a refusal,
//! never a panic.
#![no_main]

use axum::http::{header, HeaderMap, HeaderValue};
use gatehouse_broker::config::Config;
use gatehouse_broker::oidc::client_auth::authenticate_static;
use gatehouse_broker::oidc::params::Params;
use libfuzzer_sys::fuzz_target;

const CONFIG: &str = r#"
issuer: http://127.0.0.1:5556/dex
storage: {type: memory}
web: {http: "127.0.0.1:5556"}
enablePasswordDB: true
staticClients:
- {id: app, secret: right-secret, redirectURIs: ["http://a/cb"]}
- {id: pub, public: true, redirectURIs: ["http://a/cb"]}
"#;

fuzz_target!(|data: &[u8]| {
    let config = Config::from_yaml(CONFIG).expect("the fixed config is valid");
    let Ok(params) = Params::parse(data) else {
        return;
    };
    for name in [
        "client_id",
        "client_secret",
        "code",
        "req",
        "state",
        "login",
        "password",
    ] {
        let _ = params.get(name);
    }
    let mut headers = HeaderMap::new();
    // The same bytes as a Basic credential.
    let basic = format!("Basic {}", String::from_utf8_lossy(data));
    if let Ok(v) = HeaderValue::from_str(&basic) {
        headers.insert(header::AUTHORIZATION, v);
    }
    let _ = authenticate_static(&config, &headers, &params);
    let _ = authenticate_static(&config, &HeaderMap::new(), &params);
});
