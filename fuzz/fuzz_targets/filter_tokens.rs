//! Everything the filter parses from the broker: discovery, JWKS, token responses, JWTs.
#![no_main]
use gatehouse_filter::token::id_token::{validate, Expect};
use gatehouse_filter::provider::{parse_discovery, KeySet};
use gatehouse_filter::token::exchange::parse_response;
use libfuzzer_sys::fuzz_target;

const JWKS: &str = include_str!("../../filter/tests/fixtures/test_jwks.json");

fuzz_target!(|data: &[u8]| {
    let _ = parse_discovery(data, "http://127.0.0.1:5556/dex");
    let _ = KeySet::parse(data);
    let _ = parse_response(Some(200), data);
    let _ = parse_response(Some(400), data);
    if let (Ok(token), Ok(keys)) = (std::str::from_utf8(data), KeySet::parse(JWKS.as_bytes())) {
        let audiences = ["gatehouse".to_string()];
        let expect = Expect {
            issuer: "http://127.0.0.1:5556/dex",
            audiences: &audiences,
            nonce: Some("n"),
            now: 1_800_000_000,
        };
        assert!(validate(token, &keys, &expect).is_err(), "an unsigned input verified");
    }
});
