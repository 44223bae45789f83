use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use jsonwebtoken::{DecodingKey, EncodingKey};
use rsa::pkcs1::{DecodeRsaPrivateKey, EncodeRsaPrivateKey};
use rsa::traits::PublicKeyParts;
use rsa::RsaPrivateKey;

use super::{Jwk, KeyError};
use crate::storage::{SigningKeyRecord, UnixTime};

const RSA_BITS: usize = 2048;

/// A usable key: its JWK, the key to sign with and the key to verify with.
#[derive(Clone)]
pub struct SigningKey {
    pub jwk: Jwk,
    pub encoding: EncodingKey,
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
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    pub fn from_record(record: &SigningKeyRecord) -> Result<SigningKey, KeyError> {
        let corrupt = |reason: String| KeyError::Corrupt {
            kid: record.kid.clone(),
            reason,
        };
        let der = STANDARD
            .decode(&record.private_pkcs1_der)
            .map_err(|e| corrupt(e.to_string()))?;
        let private = RsaPrivateKey::from_pkcs1_der(&der).map_err(|e| corrupt(e.to_string()))?;
        let jwk = Jwk::rsa(&private.n().to_bytes_be(), &private.e().to_bytes_be());
        if jwk.kid != record.kid {
            return Err(corrupt("kid does not match the key".into()));
        }
        let decoding =
            DecodingKey::from_rsa_components(&jwk.n, &jwk.e).map_err(|e| corrupt(e.to_string()))?;
        Ok(SigningKey {
            encoding: EncodingKey::from_rsa_der(&der),
            decoding,
            jwk,
            sign_from: record.sign_from,
            sign_until: record.sign_until,
            verify_until: record.verify_until,
            created_at: record.created_at,
        })
    }
}

/// Generates a fresh RSA key that signs from `sign_from` for `sign_for_secs`, then verifies for
/// `verify_extra_secs` more. CPU-heavy (tens to hundreds of ms): call it from a blocking thread.
pub fn generate_record(
    now: UnixTime,
    sign_from: UnixTime,
    sign_for_secs: i64,
    verify_extra_secs: i64,
) -> Result<SigningKeyRecord, KeyError> {
    let private = RsaPrivateKey::new(&mut rand::rngs::OsRng, RSA_BITS)
        .map_err(|e| KeyError::Generate(e.to_string()))?;
    let der = private
        .to_pkcs1_der()
        .map_err(|e| KeyError::Generate(e.to_string()))?;
    let jwk = Jwk::rsa(&private.n().to_bytes_be(), &private.e().to_bytes_be());
    let sign_until = sign_from.saturating_add(sign_for_secs);
    Ok(SigningKeyRecord {
        kid: jwk.kid,
        private_pkcs1_der: STANDARD.encode(der.as_bytes()),
        created_at: now,
        sign_from,
        sign_until,
        verify_until: sign_until.saturating_add(verify_extra_secs),
    })
}
