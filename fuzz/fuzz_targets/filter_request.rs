//! One request through the relying-party engine: any path, cookies, headers and broker
//! answer give a status, never a panic; nothing unauthenticated is forwarded to a
//! protected route.
#![no_main]
use gatehouse_filter::config::Settings;
use gatehouse_filter::engine::{Engine, Outcome, Reply, Request};
use gatehouse_filter::provider::{parse_discovery, KeySet, Provider};
use libfuzzer_sys::fuzz_target;

const JWKS: &str = include_str!("../../filter/tests/fixtures/test_jwks.json");
const CONFIG: &str = r#"{"issuer":"http://127.0.0.1:5556/dex","broker_upstream":"broker",
  "client_id":"gatehouse","client_secret":"s","skip_jwt_bearer_tokens":true,
  "cookie_secret":"MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIzNDU2Nzg5MDE=",
  "routes":[{"path_prefix":"/public","public":true},{"path_prefix":"/api","api":true}]}"#;
const DISCOVERY: &str = r#"{"issuer":"http://127.0.0.1:5556/dex",
  "authorization_endpoint":"http://127.0.0.1:5556/dex/auth",
  "token_endpoint":"http://127.0.0.1:5556/dex/token","jwks_uri":"http://127.0.0.1:5556/dex/keys"}"#;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let mut parts = text.split('\u{0}');
    let path = parts.next().unwrap_or("/");
    let cookie = parts.next();
    let authorization = parts.next();
    let body = parts.next().unwrap_or("").as_bytes();
    let Ok(settings) = Settings::from_json(CONFIG.as_bytes()) else { return };
    let Ok(engine) = Engine::new(settings) else { return };
    let (Ok(endpoints), Ok(keys)) = (
        parse_discovery(DISCOVERY.as_bytes(), "http://127.0.0.1:5556/dex"),
        KeySet::parse(JWKS.as_bytes()),
    ) else {
        return;
    };
    let provider = Provider::new(endpoints, keys, 1_800_000_000);
    let req = Request {
        method: "GET",
        path,
        authority: "127.0.0.1:8080",
        scheme: "http",
        cookie,
        accept: Some("text/html"),
        authorization,
        authorizations: authorization.is_some() as usize,
        ..Request::default()
    };
    match engine.on_request(&req, Some(&provider), 1_800_000_000).0 {
        Outcome::Forward(f) => {
            // Random input never carries a valid session or token: only public routes pass.
            assert!(f.identity.is_empty(), "forwarded with an identity for {path:?}");
        }
        Outcome::Respond(_) => {}
        Outcome::Call { pending, .. } => {
            // Whatever the broker answers, the outcome is a response or a forward
            // without an identity (no broker answer here carries a valid signed token).
            let (out, _) = engine.on_token_response(*pending, Some(200), body, Some(&provider), 1_800_000_000);
            if let Reply::Forward(f) = out {
                assert!(f.identity.is_empty(), "a random token response admitted {path:?}");
            }
        }
    }
});
