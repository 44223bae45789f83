use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::SigningAlgorithm;

/// One public signature key as published at `/keys`: RSA (RFC 7517/7518), EC P-256
/// (RFC 7518 §6.2) or OKP Ed25519 (RFC 8037). Only the members of its `kty` are set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwk {
    pub kty: String,
    pub kid: String,
    #[serde(rename = "use")]
    pub use_: String,
    pub alg: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub e: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crv: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub y: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JwkSet {
    pub keys: Vec<Jwk>,
}

/// RFC 7638: base64url SHA-256 of the required members in lexicographic order, no spaces; so
/// the same key always has the same id on every replica. (Members are base64url or fixed
/// names: nothing needs JSON escaping.)
fn thumbprint(canonical: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

impl Jwk {
    fn new(kty: &str, kid: String, alg: SigningAlgorithm) -> Jwk {
        Jwk {
            kty: kty.into(),
            kid,
            use_: "sig".into(),
            alg: alg.name().into(),
            n: None,
            e: None,
            crv: None,
            x: None,
            y: None,
        }
    }

    /// An RS256 key from the big-endian modulus and exponent.
    pub fn rsa(n_be: &[u8], e_be: &[u8]) -> Jwk {
        let (n, e) = (b64(n_be), b64(e_be));
        let kid = thumbprint(&format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#));
        Jwk {
            n: Some(n),
            e: Some(e),
            ..Jwk::new("RSA", kid, SigningAlgorithm::Rs256)
        }
    }

    /// An ES256 key from its P-256 affine coordinates (32 bytes each, big-endian).
    pub fn p256(x_be: &[u8], y_be: &[u8]) -> Jwk {
        let (x, y) = (b64(x_be), b64(y_be));
        let kid = thumbprint(&format!(
            r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#
        ));
        Jwk {
            crv: Some("P-256".into()),
            x: Some(x),
            y: Some(y),
            ..Jwk::new("EC", kid, SigningAlgorithm::Es256)
        }
    }

    /// An EdDSA key from its 32-byte Ed25519 public key.
    pub fn ed25519(public: &[u8]) -> Jwk {
        let x = b64(public);
        let kid = thumbprint(&format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{x}"}}"#));
        Jwk {
            crv: Some("Ed25519".into()),
            x: Some(x),
            ..Jwk::new("OKP", kid, SigningAlgorithm::EdDsa)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc7638_example_thumbprint() {
        // RFC 7638 §3.1's RSA key and its thumbprint.
        let n = URL_SAFE_NO_PAD.decode("0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw").unwrap();
        let jwk = Jwk::rsa(&n, &[1, 0, 1]);
        assert_eq!(jwk.kid, "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
        let json = serde_json::to_value(&jwk).unwrap();
        assert!(json.get("crv").is_none() && json.get("x").is_none());
    }

    #[test]
    fn okp_and_ec_members() {
        // RFC 8037 A.3's Ed25519 key and its thumbprint.
        let x = URL_SAFE_NO_PAD
            .decode("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo")
            .unwrap();
        let jwk = Jwk::ed25519(&x);
        assert_eq!(jwk.kid, "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k");
        let json = serde_json::to_value(&jwk).unwrap();
        assert_eq!(json["kty"], "OKP");
        assert_eq!(json["crv"], "Ed25519");
        assert_eq!(json["alg"], "EdDSA");
        assert!(json.get("n").is_none() && json.get("y").is_none());
        let ec = serde_json::to_value(Jwk::p256(&[1; 32], &[2; 32])).unwrap();
        assert_eq!(
            (ec["kty"].as_str(), ec["crv"].as_str()),
            (Some("EC"), Some("P-256"))
        );
        assert_eq!(ec["alg"], "ES256");
    }
}
