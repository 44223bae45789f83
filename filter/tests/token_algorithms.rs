//! The broker's three signing algorithms (RS256, ES256, EdDSA) verify; every other `alg`,
//! and every key/algorithm mismatch, is refused: HS256 "signed" with a public key, `none`,
//! a token whose header names another algorithm than its key's, and JWKS keys the filter
//! must not use (wrong curve, wrong stated `alg`, a short Ed25519 point). Runs natively and
//! as wasm.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use gatehouse_filter::provider::{KeySet, ProviderError};
use gatehouse_filter::token::id_token::{validate, Expect, TokenError};
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use serde_json::{json, Value};

const RSA_PEM: &str = include_str!("fixtures/test_rsa.pem");
const RSA_PUB_PEM: &str = include_str!("fixtures/test_rsa.pub.pem");
const RSA_JWKS: &str = include_str!("fixtures/test_jwks.json");
const EC_PEM: &str = include_str!("fixtures/test_es256.pem");
const ED_PEM: &str = include_str!("fixtures/test_ed25519.pem");
const ISSUER: &str = "http://127.0.0.1:5556/dex";
const NOW: u64 = 1_800_000_000;

fn encoding(alg: Algorithm) -> EncodingKey {
    match alg {
        Algorithm::RS256 => EncodingKey::from_rsa_pem(RSA_PEM.as_bytes()).unwrap(),
        Algorithm::ES256 => EncodingKey::from_ec_pem(EC_PEM.as_bytes()).unwrap(),
        Algorithm::EdDSA => EncodingKey::from_ed_pem(ED_PEM.as_bytes()).unwrap(),
        other => panic!("no fixture key for {other:?}"),
    }
}

fn kid(alg: Algorithm) -> &'static str {
    match alg {
        Algorithm::RS256 => "test-key-1",
        Algorithm::ES256 => "ec-1",
        _ => "ed-1",
    }
}

/// The public JWK of a fixture key, as the broker publishes it (kid, use, alg).
fn public_jwk(alg: Algorithm) -> Value {
    if alg == Algorithm::RS256 {
        let set: Value = serde_json::from_str(RSA_JWKS).unwrap();
        return set["keys"][0].clone();
    }
    let jwk = Jwk::from_encoding_key(&encoding(alg), alg).unwrap();
    let mut v = serde_json::to_value(jwk).unwrap();
    v["kid"] = json!(kid(alg));
    v["use"] = json!("sig");
    v
}

fn jwks(keys: &[Value]) -> Vec<u8> {
    json!({ "keys": keys }).to_string().into_bytes()
}

/// One of each: what a broker publishes while its algorithm changes over.
fn all_keys() -> KeySet {
    let keys: Vec<Value> = [Algorithm::RS256, Algorithm::ES256, Algorithm::EdDSA]
        .into_iter()
        .map(public_jwk)
        .collect();
    KeySet::parse(&jwks(&keys)).unwrap()
}

fn claims() -> Value {
    json!({"iss": ISSUER, "sub": "CgR1c2VyEgVsb2NhbA", "aud": "gatehouse",
           "exp": NOW + 3600, "iat": NOW, "email": "admin@example.com"})
}

fn sign_with(alg: Algorithm, header_alg: Algorithm, kid_of: Algorithm) -> String {
    let mut h = Header::new(alg);
    h.kid = Some(kid(kid_of).into());
    let token = encode(&h, &claims(), &encoding(alg)).unwrap();
    if header_alg == alg {
        return token;
    }
    // Same signature, another `alg` in the header.
    let parts: Vec<&str> = token.split('.').collect();
    let mut header: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
    header["alg"] = json!(format!("{header_alg:?}"));
    let header = URL_SAFE_NO_PAD.encode(header.to_string());
    format!("{header}.{}.{}", parts[1], parts[2])
}

fn sign(alg: Algorithm) -> String {
    sign_with(alg, alg, alg)
}

fn check(token: &str, keys: &KeySet) -> Result<String, TokenError> {
    let audiences = vec!["gatehouse".to_string()];
    let expect = Expect {
        issuer: ISSUER,
        audiences: &audiences,
        nonce: None,
        now: NOW,
    };
    validate(token, keys, &expect).map(|c| c.sub)
}

#[test]
fn es256_and_eddsa_tokens_verify_like_rs256_ones() {
    let keys = all_keys();
    assert_eq!(keys.len(), 3);
    for alg in [Algorithm::RS256, Algorithm::ES256, Algorithm::EdDSA] {
        assert_eq!(
            check(&sign(alg), &keys).as_deref(),
            Ok("CgR1c2VyEgVsb2NhbA"),
            "{alg:?}"
        );
        // A JWKS with only that key verifies it too (and nothing else).
        let alone = KeySet::parse(&jwks(&[public_jwk(alg)])).unwrap();
        assert!(check(&sign(alg), &alone).is_ok(), "{alg:?} alone");
    }
}

#[test]
fn a_changed_payload_fails_the_signature_for_every_algorithm() {
    let keys = all_keys();
    for alg in [Algorithm::RS256, Algorithm::ES256, Algorithm::EdDSA] {
        let token = sign(alg);
        let parts: Vec<&str> = token.split('.').collect();
        let mut c = claims();
        c["email"] = json!("mallory@example.com");
        let forged = format!(
            "{}.{}.{}",
            parts[0],
            URL_SAFE_NO_PAD.encode(c.to_string()),
            parts[2]
        );
        assert_eq!(check(&forged, &keys), Err(TokenError::Signature), "{alg:?}");
    }
}

#[test]
fn hs256_with_a_public_key_as_secret_is_refused() {
    let keys = all_keys();
    // The classic confusion: HMAC keyed with the published key material.
    for secret in [
        RSA_PUB_PEM.as_bytes().to_vec(),
        public_jwk(Algorithm::ES256).to_string().into_bytes(),
        URL_SAFE_NO_PAD
            .decode(public_jwk(Algorithm::EdDSA)["x"].as_str().unwrap())
            .unwrap(),
    ] {
        for kid_of in [Algorithm::RS256, Algorithm::ES256, Algorithm::EdDSA] {
            let mut h = Header::new(Algorithm::HS256);
            h.kid = Some(kid(kid_of).into());
            let token = encode(&h, &claims(), &EncodingKey::from_secret(&secret)).unwrap();
            assert_eq!(check(&token, &keys), Err(TokenError::Algorithm));
        }
    }
}

#[test]
fn unsigned_tokens_are_refused() {
    let keys = all_keys();
    let body = URL_SAFE_NO_PAD.encode(claims().to_string());
    for header in [
        json!({"alg": "none"}),
        json!({"alg": "none", "kid": "ec-1"}),
        json!({"alg": "None", "kid": "ed-1"}),
    ] {
        let header = URL_SAFE_NO_PAD.encode(header.to_string());
        for token in [format!("{header}.{body}."), format!("{header}.{body}")] {
            assert!(check(&token, &keys).is_err(), "{token}");
        }
    }
    // An EdDSA token with its signature cut off.
    let token = sign(Algorithm::EdDSA);
    let cut = &token[..token.rfind('.').unwrap() + 1];
    assert!(check(cut, &keys).is_err());
}

#[test]
fn the_key_decides_the_algorithm_not_the_header() {
    let keys = all_keys();
    // Signed by the EC key, but naming the RSA key; and the reverse; and EdDSA as ES256.
    for (alg, kid_of) in [
        (Algorithm::ES256, Algorithm::RS256),
        (Algorithm::RS256, Algorithm::ES256),
        (Algorithm::EdDSA, Algorithm::ES256),
        (Algorithm::ES256, Algorithm::EdDSA),
    ] {
        let token = sign_with(alg, alg, kid_of);
        assert_eq!(
            check(&token, &keys),
            Err(TokenError::Algorithm),
            "{alg:?} as {kid_of:?}'s key"
        );
    }
    // The right key, another algorithm of the same family named in the header.
    let token = sign_with(Algorithm::ES256, Algorithm::ES384, Algorithm::ES256);
    assert_eq!(check(&token, &keys), Err(TokenError::Algorithm));
    let token = sign_with(Algorithm::RS256, Algorithm::PS256, Algorithm::RS256);
    assert_eq!(check(&token, &keys), Err(TokenError::Algorithm));
}

#[test]
fn keys_the_filter_must_not_use_are_left_out() {
    let ec = public_jwk(Algorithm::ES256);
    let ed = public_jwk(Algorithm::EdDSA);
    let mut stated_wrong = ec.clone();
    stated_wrong["alg"] = json!("RS256");
    let mut p384 = ec.clone();
    p384["crv"] = json!("P-384");
    let mut short_ed = ed.clone();
    short_ed["x"] = json!(URL_SAFE_NO_PAD.encode([7u8; 16]));
    let mut long_ec = ec.clone();
    long_ec["x"] = json!(URL_SAFE_NO_PAD.encode([7u8; 48]));
    let mut ed448 = ed.clone();
    ed448["crv"] = json!("Ed448");
    let mut encryption = ed.clone();
    encryption["use"] = json!("enc");
    let hmac = json!({"kty": "oct", "k": URL_SAFE_NO_PAD.encode(b"secret"), "kid": "ec-1"});
    for bad in [
        stated_wrong,
        p384,
        short_ed,
        long_ec,
        ed448,
        encryption,
        hmac,
    ] {
        assert_eq!(
            KeySet::parse(&jwks(std::slice::from_ref(&bad))).err(),
            Some(ProviderError::NoKeys),
            "{bad}"
        );
    }
    // A short Ed25519 key next to good ones: ignored, and its kid is unknown (no panic).
    let mut short = ed.clone();
    short["x"] = json!(URL_SAFE_NO_PAD.encode([7u8; 3]));
    short["kid"] = json!("short");
    let keys = KeySet::parse(&jwks(&[short, ec])).unwrap();
    assert_eq!(keys.len(), 1);
    let mut h = Header::new(Algorithm::EdDSA);
    h.kid = Some("short".into());
    let token = encode(&h, &claims(), &encoding(Algorithm::EdDSA)).unwrap();
    assert_eq!(
        check(&token, &keys),
        Err(TokenError::UnknownKey(Some("short".into())))
    );
}
