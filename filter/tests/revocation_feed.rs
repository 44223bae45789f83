//! The broker's revocation feed as the filter receives it (issue 17): a genuine feed verifies
//! and merges; a forged one (changed payload, a key not in the JWKS, another algorithm than
//! its key's, `none`), one typed as something else (an ID token), from another issuer, from the
//! future, or numbered inconsistently is refused; an older (replayed) one never replaces the
//! feed held. Runs natively and as wasm.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use gatehouse_filter::provider::KeySet;
use gatehouse_filter::revocation::feed::{verify, FeedError};
use gatehouse_filter::revocation::held::HeldFeed;
use gatehouse_filter::token::id_token::TokenError;
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use serde_json::{json, Value};

const ED_PEM: &str = include_str!("fixtures/test_ed25519.pem");
const EC_PEM: &str = include_str!("fixtures/test_es256.pem");
const RSA_PEM: &str = include_str!("fixtures/test_rsa.pem");
const ISSUER: &str = "http://127.0.0.1:5556/dex";
const NOW: u64 = 1_800_000_000;

fn ed() -> EncodingKey {
    EncodingKey::from_ed_pem(ED_PEM.as_bytes()).unwrap()
}

/// The JWKS the filter holds: the Ed25519 fixture as `ed-1`.
fn keys() -> KeySet {
    let mut jwk =
        serde_json::to_value(Jwk::from_encoding_key(&ed(), Algorithm::EdDSA).unwrap()).unwrap();
    jwk["kid"] = json!("ed-1");
    jwk["use"] = json!("sig");
    KeySet::parse(json!({ "keys": [jwk] }).to_string().as_bytes()).unwrap()
}

fn claims(iat: u64, seq: u64, from: u64, sids: &[&str]) -> Value {
    json!({"iss": ISSUER, "iat": iat, "epoch": 42, "seq": seq, "floor": 1, "from": from,
           "sids": sids})
}

fn signed(typ: &str, kid: &str, alg: Algorithm, key: &EncodingKey, c: &Value) -> Vec<u8> {
    let mut h = Header::new(alg);
    h.kid = Some(kid.into());
    h.typ = Some(typ.into());
    encode(&h, c, key).unwrap().into_bytes()
}

fn feed(c: &Value) -> Vec<u8> {
    signed("revocations+jwt", "ed-1", Algorithm::EdDSA, &ed(), c)
}

#[test]
fn a_genuine_feed_verifies_and_merges() {
    let doc = verify(
        &feed(&claims(NOW, 2, 1, &["s1", "s2"])),
        &keys(),
        ISSUER,
        NOW,
    )
    .unwrap();
    let held = HeldFeed::apply(None, doc).unwrap();
    assert!(held.contains("s1") && held.contains("s2") && !held.contains("s3"));
    let delta = verify(
        &feed(&claims(NOW + 5, 3, 3, &["s3"])),
        &keys(),
        ISSUER,
        NOW + 5,
    )
    .unwrap();
    let held = HeldFeed::apply(Some(&held), delta).unwrap();
    assert!(held.contains("s3") && held.contains("s1"));
}

#[test]
fn forged_feeds_are_refused() {
    let k = keys();
    let genuine = String::from_utf8(feed(&claims(NOW, 1, 1, &["s1"]))).unwrap();
    // The payload changed (the ended session taken out), signature kept.
    let parts: Vec<&str> = genuine.split('.').collect();
    let emptied = URL_SAFE_NO_PAD.encode(claims(NOW, 0, 1, &[]).to_string());
    let tampered = format!("{}.{emptied}.{}", parts[0], parts[2]);
    assert_eq!(
        verify(tampered.as_bytes(), &k, ISSUER, NOW),
        Err(FeedError::Token(TokenError::Signature))
    );
    // Signed by a key the JWKS does not have, or by one of another type under our kid.
    let rsa = EncodingKey::from_rsa_pem(RSA_PEM.as_bytes()).unwrap();
    let ec = EncodingKey::from_ec_pem(EC_PEM.as_bytes()).unwrap();
    let c = claims(NOW, 0, 1, &[]);
    assert_eq!(
        verify(
            &signed("revocations+jwt", "other", Algorithm::RS256, &rsa, &c),
            &k,
            ISSUER,
            NOW
        ),
        Err(FeedError::Token(TokenError::UnknownKey(Some(
            "other".into()
        ))))
    );
    assert_eq!(
        verify(
            &signed("revocations+jwt", "ed-1", Algorithm::ES256, &ec, &c),
            &k,
            ISSUER,
            NOW
        ),
        Err(FeedError::Token(TokenError::Algorithm))
    );
    // alg none: header and payload, no signature.
    let none = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"revocations+jwt","kid":"ed-1"}"#),
        URL_SAFE_NO_PAD.encode(c.to_string())
    );
    assert!(verify(none.as_bytes(), &k, ISSUER, NOW).is_err());
    assert!(verify(b"", &k, ISSUER, NOW).is_err());
    assert!(verify(&[0xff, 0xfe], &k, ISSUER, NOW).is_err());
}

#[test]
fn other_tokens_issuers_times_and_numbering_are_refused() {
    let k = keys();
    let c = claims(NOW, 0, 1, &[]);
    // A genuine token of ours typed as an ID token is not a feed.
    assert_eq!(
        verify(
            &signed("JWT", "ed-1", Algorithm::EdDSA, &ed(), &c),
            &k,
            ISSUER,
            NOW
        ),
        Err(FeedError::Type)
    );
    let mut other = c.clone();
    other["iss"] = json!("http://evil/dex");
    assert_eq!(
        verify(&feed(&other), &k, ISSUER, NOW),
        Err(FeedError::Issuer)
    );
    assert_eq!(
        verify(&feed(&claims(NOW + 600, 0, 1, &[])), &k, ISSUER, NOW),
        Err(FeedError::Future)
    );
    // Entries that do not run gapless from `from` to `seq`.
    for bad in [claims(NOW, 5, 1, &["a"]), claims(NOW, 1, 0, &["a", "b"])] {
        assert!(matches!(
            verify(&feed(&bad), &k, ISSUER, NOW),
            Err(FeedError::Inconsistent(_))
        ));
    }
    let mut high_floor = claims(NOW, 1, 1, &["a"]);
    high_floor["floor"] = json!(3);
    assert!(verify(&feed(&high_floor), &k, ISSUER, NOW).is_err());
}

#[test]
fn a_replayed_older_feed_never_replaces_the_one_held() {
    let k = keys();
    let old = verify(&feed(&claims(NOW, 0, 1, &[])), &k, ISSUER, NOW + 10).unwrap();
    let new = verify(
        &feed(&claims(NOW + 10, 1, 1, &["ended"])),
        &k,
        ISSUER,
        NOW + 10,
    )
    .unwrap();
    let held = HeldFeed::apply(None, new).unwrap();
    // The old feed is genuine and well formed, but older: refused, the session stays ended.
    assert_eq!(HeldFeed::apply(Some(&held), old), Err(FeedError::Replayed));
    assert!(held.contains("ended"));
}
