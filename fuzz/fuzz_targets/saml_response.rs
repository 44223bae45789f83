//! The SAML response parser and validator on arbitrary bytes: it must refuse without panicking
//! (and never accept: nothing here is signed by the trusted test key).
#![no_main]

use gatehouse_broker::saml::response::decode_posted;
use gatehouse_broker::saml::{validate_response, Expectations, TrustedCerts};
use libfuzzer_sys::fuzz_target;

const CERT: &str = include_str!("../../broker/src/saml/testdata/idp.crt");

fuzz_target!(|data: &[u8]| {
    let trusted = TrustedCerts::new(vec![CERT.to_string()]);
    let exp = Expectations {
        request_id: "_req1",
        acs_url: "https://sp.example/dex/callback",
        entity_issuer: "https://sp.example/dex/saml/corp/metadata",
        sso_issuer: Some("https://idp.example/metadata"),
        now: 1_800_000_000,
        skew: 60,
        skip_signature: false,
    };
    assert!(validate_response(data, &trusted, &exp).is_err());
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = decode_posted(text);
    }
});
