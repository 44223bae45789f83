use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// One public RSA key as published at `/keys` (RFC 7517).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwk {
    pub kty: String,
    pub kid: String,
    #[serde(rename = "use")]
    pub use_: String,
    pub alg: String,
    pub n: String,
    pub e: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JwkSet {
    pub keys: Vec<Jwk>,
}

impl Jwk {
    /// An RS256 signature key from the big-endian modulus and exponent; `kid` is its RFC 7638
    /// thumbprint, so the same key always has the same id on every replica.
    pub fn rsa(n_be: &[u8], e_be: &[u8]) -> Jwk {
        let n = URL_SAFE_NO_PAD.encode(n_be);
        let e = URL_SAFE_NO_PAD.encode(e_be);
        let canonical = format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#);
        let kid = URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()));
        Jwk {
            kty: "RSA".into(),
            kid,
            use_: "sig".into(),
            alg: "RS256".into(),
            n,
            e,
        }
    }
}
