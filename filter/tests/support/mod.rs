//! What the filter's integration tests share: the broker they pretend to talk to (issuer,
//! discovery, the fixture JWKS) and a configuration to start from.

use base64::Engine as _;
use gatehouse_filter::config::Settings;
use gatehouse_filter::provider::{parse_discovery, KeySet, Provider};
use serde_json::{json, Value};

pub const JWKS: &str = include_str!("../fixtures/test_jwks.json");
pub const ISSUER: &str = "http://127.0.0.1:5556/dex";
pub const NOW: u64 = 1_800_000_000;

/// The base configuration with the keys of `extra` set over it.
pub fn settings(extra: Value) -> Settings {
    let mut cfg = json!({
        "issuer": ISSUER,
        "broker_upstream": "broker",
        "client_id": "gatehouse",
        "client_secret": "gatehouse-secret",
        "cookie_secret": base64::engine::general_purpose::STANDARD.encode([9u8; 32]),
        "cookie_secure": false,
    });
    for (k, v) in extra.as_object().cloned().unwrap_or_default() {
        cfg[k] = v;
    }
    Settings::from_json(cfg.to_string().as_bytes()).expect("valid config")
}

/// The broker's endpoints and the fixture key, heard from at `NOW`.
pub fn provider() -> Provider {
    provider_with(&[])
}

/// [`provider`] whose discovery also offers `extra` (`(name, path under the issuer)`).
pub fn provider_with(extra: &[(&str, &str)]) -> Provider {
    let mut doc = json!({
        "issuer": ISSUER,
        "authorization_endpoint": format!("{ISSUER}/auth"),
        "token_endpoint": format!("{ISSUER}/token"),
        "jwks_uri": format!("{ISSUER}/keys"),
    });
    for (name, path) in extra {
        doc[*name] = json!(format!("{ISSUER}{path}"));
    }
    Provider::new(
        parse_discovery(doc.to_string().as_bytes(), ISSUER).unwrap(),
        KeySet::parse(JWKS.as_bytes()).unwrap(),
        NOW,
    )
}
