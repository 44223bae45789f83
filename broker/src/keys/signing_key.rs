//! One signing key: its private half (ring signs, whatever the algorithm), its JWK and the
//! windows in which it signs and verifies.

use std::sync::Arc;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use jsonwebtoken::DecodingKey;
use ring::rand::SystemRandom;
use ring::rsa::{KeyPair as RsaKeyPair, PublicKeyComponents};
use ring::signature::{
    EcdsaKeyPair, Ed25519KeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING, RSA_PKCS1_SHA256,
};
use rsa::pkcs1::EncodeRsaPrivateKey;
use rsa::RsaPrivateKey;

use super::{Jwk, KeyError, SigningAlgorithm};
use crate::storage::{SigningKeyRecord, UnixTime};

const RSA_BITS: usize = 2048;

/// The private half, as ring holds it.
enum Signer {
    Rsa(RsaKeyPair),
    Ecdsa(EcdsaKeyPair),
    Ed25519(Ed25519KeyPair),
}

impl Signer {
    /// The JWS signature of `input` (RFC 7515 §5.1): PKCS#1 v1.5, ECDSA as R‖S (RFC 7518
    /// §3.4, ring's FIXED encoding), or Ed25519 (RFC 8037).
    fn sign(&self, input: &[u8]) -> Result<Vec<u8>, KeyError> {
        let rng = SystemRandom::new();
        match self {
            Signer::Rsa(key) => {
                let mut signature = vec![0; key.public().modulus_len()];
                key.sign(&RSA_PKCS1_SHA256, &rng, input, &mut signature)
                    .map_err(|_| KeyError::Sign)?;
                Ok(signature)
            }
            Signer::Ecdsa(key) => key
                .sign(&rng, input)
                .map(|s| s.as_ref().to_vec())
                .map_err(|_| KeyError::Sign),
            Signer::Ed25519(key) => Ok(key.sign(input).as_ref().to_vec()),
        }
    }
}

/// A usable key: its JWK, what signs and what verifies with it.
#[derive(Clone)]
pub struct SigningKey {
    pub jwk: Jwk,
    pub alg: SigningAlgorithm,
    signer: Arc<Signer>,
    /// base64url of this key's JWS header: the same for every token it signs.
    header_b64: Arc<str>,
    pub decoding: DecodingKey,
    pub sign_from: UnixTime,
    pub sign_until: UnixTime,
    pub verify_until: UnixTime,
    pub created_at: UnixTime,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.jwk.kid)
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

/// The signer, JWK and verification key of a stored private key (base64 DER).
fn open(
    alg: SigningAlgorithm,
    pkcs1: &str,
    pkcs8: &str,
) -> Result<(Signer, Jwk, DecodingKey), String> {
    let der_of = |text: &str, what: &str| {
        if text.is_empty() {
            return Err(format!("no {what} private key"));
        }
        STANDARD.decode(text).map_err(|e| e.to_string())
    };
    Ok(match alg {
        SigningAlgorithm::Rs256 => {
            let der = der_of(pkcs1, "PKCS#1")?;
            let key = RsaKeyPair::from_der(&der).map_err(|e| e.to_string())?;
            let public = PublicKeyComponents::<Vec<u8>>::from(key.public());
            let jwk = Jwk::rsa(&public.n, &public.e);
            let decoding = DecodingKey::from_rsa_raw_components(&public.n, &public.e);
            (Signer::Rsa(key), jwk, decoding)
        }
        SigningAlgorithm::Es256 => {
            let der = der_of(pkcs8, "PKCS#8")?;
            let key = EcdsaKeyPair::from_pkcs8(
                &ECDSA_P256_SHA256_FIXED_SIGNING,
                &der,
                &SystemRandom::new(),
            )
            .map_err(|e| e.to_string())?;
            // SEC1 uncompressed point: 0x04 ‖ X ‖ Y.
            let point = key.public_key().as_ref();
            let (x, y) = point
                .get(1..33)
                .zip(point.get(33..65))
                .ok_or("not an uncompressed P-256 point")?;
            let jwk = Jwk::p256(x, y);
            let decoding = DecodingKey::from_ec_der(point);
            (Signer::Ecdsa(key), jwk, decoding)
        }
        SigningAlgorithm::EdDsa => {
            let der = der_of(pkcs8, "PKCS#8")?;
            let key = Ed25519KeyPair::from_pkcs8(&der).map_err(|e| e.to_string())?;
            let public = key.public_key().as_ref();
            let jwk = Jwk::ed25519(public);
            let decoding = DecodingKey::from_ed_der(public);
            (Signer::Ed25519(key), jwk, decoding)
        }
    })
}

impl SigningKey {
    pub fn from_record(record: &SigningKeyRecord) -> Result<SigningKey, KeyError> {
        let corrupt = |reason: String| KeyError::Corrupt {
            kid: record.kid.clone(),
            reason,
        };
        let alg = SigningAlgorithm::from_name(&record.alg)
            .ok_or_else(|| corrupt(format!("unknown algorithm {:?}", record.alg)))?;
        let (signer, jwk, decoding) =
            open(alg, &record.private_pkcs1_der, &record.private_pkcs8_der).map_err(corrupt)?;
        if jwk.kid != record.kid {
            return Err(corrupt("kid does not match the key".into()));
        }
        let header = serde_json::json!({"alg": alg.name(), "kid": jwk.kid, "typ": "JWT"});
        Ok(SigningKey {
            header_b64: URL_SAFE_NO_PAD.encode(header.to_string()).into(),
            signer: Arc::new(signer),
            decoding,
            alg,
            jwk,
            sign_from: record.sign_from,
            sign_until: record.sign_until,
            verify_until: record.verify_until,
            created_at: record.created_at,
        })
    }

    /// The JWS compact serialisation (RFC 7515 §7.1) of `payload` (the claims' JSON) signed
    /// with this key: `header.payload.signature`, each part base64url.
    pub fn sign_compact(&self, payload: &[u8]) -> Result<String, KeyError> {
        self.sign_with_header(&self.header_b64, payload)
    }

    /// As [`sign_compact`](Self::sign_compact) with another `typ` in the header (explicit
    /// typing, RFC 8725 §3.11: a logout token or a revocation feed is never taken for an ID
    /// token, nor the other way round).
    pub fn sign_typed(&self, typ: &str, payload: &[u8]) -> Result<String, KeyError> {
        let header = serde_json::json!({"alg": self.alg.name(), "kid": self.jwk.kid, "typ": typ});
        self.sign_with_header(&URL_SAFE_NO_PAD.encode(header.to_string()), payload)
    }

    fn sign_with_header(&self, header_b64: &str, payload: &[u8]) -> Result<String, KeyError> {
        let mut token = String::with_capacity(header_b64.len() + payload.len() * 4 / 3 + 360);
        token.push_str(header_b64);
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(payload, &mut token);
        let signature = self.signer.sign(token.as_bytes())?;
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(signature, &mut token);
        Ok(token)
    }
}

/// Generates a fresh `alg` key that signs from `sign_from` for `sign_for_secs`, then verifies
/// for `verify_extra_secs` more. RSA generation is CPU-heavy (tens to hundreds of ms): call it
/// from a blocking thread.
pub fn generate_record(
    alg: SigningAlgorithm,
    now: UnixTime,
    sign_from: UnixTime,
    sign_for_secs: i64,
    verify_extra_secs: i64,
) -> Result<SigningKeyRecord, KeyError> {
    let generate = |e: String| KeyError::Generate(e);
    let rng = SystemRandom::new();
    // ring generates EC and Ed25519 keys but not RSA ones: those come from the `rsa` crate.
    let (pkcs1, pkcs8) = match alg {
        SigningAlgorithm::Rs256 => {
            let private = RsaPrivateKey::new(&mut rand::rngs::OsRng, RSA_BITS)
                .map_err(|e| generate(e.to_string()))?;
            let der = private
                .to_pkcs1_der()
                .map_err(|e| generate(e.to_string()))?;
            (STANDARD.encode(der.as_bytes()), String::new())
        }
        SigningAlgorithm::Es256 => {
            let doc = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
                .map_err(|e| generate(e.to_string()))?;
            (String::new(), STANDARD.encode(doc.as_ref()))
        }
        SigningAlgorithm::EdDsa => {
            let doc = Ed25519KeyPair::generate_pkcs8(&rng).map_err(|e| generate(e.to_string()))?;
            (String::new(), STANDARD.encode(doc.as_ref()))
        }
    };
    // The kid is the JWK thumbprint: read from the key as it will be loaded.
    let (_, jwk, _) = open(alg, &pkcs1, &pkcs8).map_err(generate)?;
    let sign_until = sign_from.saturating_add(sign_for_secs);
    Ok(SigningKeyRecord {
        kid: jwk.kid,
        alg: alg.name().to_string(),
        private_pkcs1_der: pkcs1,
        private_pkcs8_der: pkcs8,
        created_at: now,
        sign_from,
        sign_until,
        verify_until: sign_until.saturating_add(verify_extra_secs),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{decode, Validation};

    fn key(alg: SigningAlgorithm) -> SigningKey {
        let record = generate_record(alg, 100, 100, 3600, 3600).unwrap();
        assert_eq!(record.alg, alg.name());
        SigningKey::from_record(&record).unwrap()
    }

    #[test]
    fn every_algorithm_signs_what_jsonwebtoken_verifies() {
        for alg in SigningAlgorithm::ALL {
            let k = key(alg);
            let token = k.sign_compact(br#"{"sub":"x","n":1}"#).unwrap();
            let header = jsonwebtoken::decode_header(&token).unwrap();
            assert_eq!(header.alg, alg.jwt());
            assert_eq!(header.kid.as_deref(), Some(k.jwk.kid.as_str()));
            let mut v = Validation::new(alg.jwt());
            v.required_spec_claims.clear();
            v.validate_exp = false;
            let data = decode::<serde_json::Value>(&token, &k.decoding, &v).unwrap();
            assert_eq!(data.claims["sub"], "x");
            // Another key of the same algorithm does not verify it.
            let other = key(alg);
            assert!(decode::<serde_json::Value>(&token, &other.decoding, &v).is_err());
        }
    }

    #[test]
    fn jwk_members_follow_the_key_type() {
        let ec = key(SigningAlgorithm::Es256).jwk;
        assert_eq!((ec.kty.as_str(), ec.crv.as_deref()), ("EC", Some("P-256")));
        assert_eq!(URL_SAFE_NO_PAD.decode(ec.x.unwrap()).unwrap().len(), 32);
        assert_eq!(URL_SAFE_NO_PAD.decode(ec.y.unwrap()).unwrap().len(), 32);
        let ed = key(SigningAlgorithm::EdDsa).jwk;
        assert_eq!(
            (ed.kty.as_str(), ed.crv.as_deref()),
            ("OKP", Some("Ed25519"))
        );
        assert!(ed.y.is_none() && ed.n.is_none());
        let rsa = key(SigningAlgorithm::Rs256).jwk;
        assert_eq!((rsa.kty.as_str(), rsa.e.as_deref()), ("RSA", Some("AQAB")));
    }

    #[test]
    fn a_record_whose_key_does_not_match_its_algorithm_is_refused() {
        let mut record = generate_record(SigningAlgorithm::Es256, 1, 1, 60, 60).unwrap();
        record.alg = "EdDSA".into();
        assert!(matches!(
            SigningKey::from_record(&record),
            Err(KeyError::Corrupt { .. })
        ));
        record.alg = "HS256".into();
        assert!(matches!(
            SigningKey::from_record(&record),
            Err(KeyError::Corrupt { .. })
        ));
        let mut record = generate_record(SigningAlgorithm::EdDsa, 1, 1, 60, 60).unwrap();
        record.kid = "someone-else".into();
        assert!(SigningKey::from_record(&record).is_err());
    }

    #[test]
    fn rows_from_before_algorithms_load_as_rs256() {
        let record = generate_record(SigningAlgorithm::Rs256, 5, 5, 60, 60).unwrap();
        let mut row = serde_json::to_value(&record).unwrap();
        let row = row.as_object_mut().unwrap();
        row.remove("alg");
        assert!(
            !row.contains_key("private_pkcs8_der"),
            "not written for RSA"
        );
        let old: SigningKeyRecord =
            serde_json::from_value(serde_json::Value::Object(row.clone())).unwrap();
        assert_eq!(old.alg, "RS256");
        assert_eq!(SigningKey::from_record(&old).unwrap().jwk.kid, record.kid);
    }
}
