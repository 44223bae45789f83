//! The broker's signing keys from its JWKS (RFC 7517), each bound to the one algorithm its
//! key type allows: RS256 for RSA, ES256 for EC P-256, EdDSA for OKP Ed25519 — what the broker
//! signs with. Verification is RustCrypto's (`rsa`, `p256`, `ed25519-dalek`); only these three
//! verifiers are linked, which keeps the `.wasm` small (BENCHMARKS.md, "The .wasm size").

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ed25519_dalek::Verifier as _; // the `signature` trait all three implement
use serde::Deserialize;
use sha2::Sha256;

use super::ProviderError;

/// The signing algorithms accepted from the broker (its `signer.config.algorithm` choices).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    RS256,
    ES256,
    EdDSA,
}

impl Algorithm {
    /// The algorithm a JOSE `alg` value names; `None` for every other value (`none`, HS256…).
    pub fn from_name(name: &str) -> Option<Algorithm> {
        match name {
            "RS256" => Some(Algorithm::RS256),
            "ES256" => Some(Algorithm::ES256),
            "EdDSA" => Some(Algorithm::EdDSA),
            _ => None,
        }
    }
}

/// Smallest RSA modulus accepted (RFC 7518 §3.3: 2048 bits or larger).
const MIN_RSA_BITS: usize = 2048;

/// A public key ready to verify, of one algorithm.
#[derive(Clone)]
pub enum VerifyingKey {
    Rs256(rsa::pkcs1v15::VerifyingKey<Sha256>),
    Es256(p256::ecdsa::VerifyingKey),
    Ed25519(ed25519_dalek::VerifyingKey),
}

impl VerifyingKey {
    pub fn algorithm(&self) -> Algorithm {
        match self {
            VerifyingKey::Rs256(_) => Algorithm::RS256,
            VerifyingKey::Es256(_) => Algorithm::ES256,
            VerifyingKey::Ed25519(_) => Algorithm::EdDSA,
        }
    }

    /// Whether `signature` (as a JWS carries it) signs `message` under this key.
    pub fn verifies(&self, message: &[u8], signature: &[u8]) -> bool {
        match self {
            VerifyingKey::Rs256(k) => rsa::pkcs1v15::Signature::try_from(signature)
                .is_ok_and(|s| k.verify(message, &s).is_ok()),
            // JWS carries ECDSA signatures as R ‖ S, 32 bytes each (RFC 7518 §3.4).
            VerifyingKey::Es256(k) => p256::ecdsa::Signature::from_slice(signature)
                .is_ok_and(|s| k.verify(message, &s).is_ok()),
            // Strict: no small-order keys, no non-canonical encodings (one valid signature
            // per message and key).
            VerifyingKey::Ed25519(k) => ed25519_dalek::Signature::from_slice(signature)
                .is_ok_and(|s| k.verify_strict(message, &s).is_ok()),
        }
    }
}

/// The members of a JWK the filter reads; others are ignored.
#[derive(Deserialize)]
struct Jwk {
    kty: String,
    #[serde(default)]
    kid: Option<String>,
    #[serde(default, rename = "use")]
    public_key_use: Option<String>,
    #[serde(default)]
    alg: Option<String>,
    #[serde(default)]
    crv: Option<String>,
    #[serde(default)]
    n: Option<String>,
    #[serde(default)]
    e: Option<String>,
    #[serde(default)]
    x: Option<String>,
    #[serde(default)]
    y: Option<String>,
}

#[derive(Deserialize)]
struct JwkSet {
    keys: Vec<Jwk>,
}

fn b64(v: &Option<String>) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(v.as_deref()?).ok()
}

fn fixed<const N: usize>(v: &Option<String>) -> Option<[u8; N]> {
    b64(v)?.try_into().ok()
}

/// The key a JWK describes, or `None` for a key the filter must not use: another type or
/// curve, a stated `alg` other than its type's, a point of the wrong length or off the
/// curve, an RSA modulus under 2048 bits, an encryption key.
fn verifying_key(k: &Jwk) -> Option<VerifyingKey> {
    if k.public_key_use.as_deref().is_some_and(|u| u != "sig") {
        return None;
    }
    let key = match (k.kty.as_str(), k.crv.as_deref()) {
        ("RSA", _) => {
            let n = rsa::BigUint::from_bytes_be(&b64(&k.n)?);
            let e = rsa::BigUint::from_bytes_be(&b64(&k.e)?);
            if n.bits() < MIN_RSA_BITS {
                return None;
            }
            let public = rsa::RsaPublicKey::new(n, e).ok()?;
            VerifyingKey::Rs256(rsa::pkcs1v15::VerifyingKey::new(public))
        }
        ("EC", Some("P-256")) => {
            let x: [u8; 32] = fixed(&k.x)?;
            let y: [u8; 32] = fixed(&k.y)?;
            let point = p256::EncodedPoint::from_affine_coordinates(&x.into(), &y.into(), false);
            VerifyingKey::Es256(p256::ecdsa::VerifyingKey::from_encoded_point(&point).ok()?)
        }
        ("OKP", Some("Ed25519")) => {
            VerifyingKey::Ed25519(ed25519_dalek::VerifyingKey::from_bytes(&fixed(&k.x)?).ok()?)
        }
        _ => return None,
    };
    let stated_ok = k
        .alg
        .as_deref()
        .is_none_or(|a| Algorithm::from_name(a) == Some(key.algorithm()));
    stated_ok.then_some(key)
}

/// Verification keys by `kid`.
#[derive(Clone)]
pub struct KeySet {
    keys: Vec<(Option<String>, VerifyingKey)>,
}

impl KeySet {
    pub fn parse(body: &[u8]) -> Result<KeySet, ProviderError> {
        let set: JwkSet =
            serde_json::from_slice(body).map_err(|e| ProviderError::Jwks(e.to_string()))?;
        let keys: Vec<_> = set
            .keys
            .iter()
            .filter_map(|k| Some((k.kid.clone(), verifying_key(k)?)))
            .collect();
        if keys.is_empty() {
            return Err(ProviderError::NoKeys);
        }
        Ok(KeySet { keys })
    }

    /// The key for `kid`; a token without `kid` is accepted only when there is one key.
    pub fn find(&self, kid: Option<&str>) -> Option<&VerifyingKey> {
        let found = match kid {
            Some(kid) => self.keys.iter().find(|(k, _)| k.as_deref() == Some(kid)),
            None if self.keys.len() == 1 => self.keys.first(),
            None => None,
        };
        found.map(|(_, key)| key)
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jwks_without_usable_keys_is_refused() {
        assert_eq!(
            KeySet::parse(br#"{"keys":[]}"#).err(),
            Some(ProviderError::NoKeys)
        );
        assert!(KeySet::parse(b"[]").is_err());
        // An RSA key of 1024 bits, a point not on the curve, an Ed25519 `x` of 31 bytes.
        let n = URL_SAFE_NO_PAD.encode([0xc3u8; 128]);
        let off_curve = URL_SAFE_NO_PAD.encode([1u8; 32]);
        let short = URL_SAFE_NO_PAD.encode([1u8; 31]);
        for key in [
            format!(r#"{{"kty":"RSA","n":"{n}","e":"AQAB"}}"#),
            format!(r#"{{"kty":"EC","crv":"P-256","x":"{off_curve}","y":"{off_curve}"}}"#),
            format!(r#"{{"kty":"OKP","crv":"Ed25519","x":"{short}"}}"#),
        ] {
            let set = format!(r#"{{"keys":[{key}]}}"#);
            assert_eq!(
                KeySet::parse(set.as_bytes()).err(),
                Some(ProviderError::NoKeys),
                "{key}"
            );
        }
    }

    #[test]
    fn only_the_three_algorithm_names_are_known() {
        for name in ["RS256", "ES256", "EdDSA"] {
            assert!(Algorithm::from_name(name).is_some(), "{name}");
        }
        for name in [
            "none", "None", "HS256", "RS384", "PS256", "ES384", "eddsa", "",
        ] {
            assert_eq!(Algorithm::from_name(name), None, "{name}");
        }
    }
}
