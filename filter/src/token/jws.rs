//! Compact JWS (RFC 7515 §7.1): `header.payload.signature`, each part base64url without
//! padding. Only the protected header's `alg` and `kid` are read; the key found by `kid`
//! decides the algorithm (RFC 8725 §3.1), and a header naming another one is refused.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::Deserialize;

use crate::provider::{Algorithm, KeySet};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum JwsError {
    #[error("not a compact JWS")]
    Malformed,
    #[error("algorithm not accepted")]
    Algorithm,
    #[error("signing key unknown (kid {0:?})")]
    UnknownKey(Option<String>),
    #[error("signature invalid")]
    Signature,
}

#[derive(Deserialize)]
struct Header {
    alg: String,
    #[serde(default)]
    kid: Option<String>,
    /// Extensions the verifier must understand (RFC 7515 §4.1.11); the filter knows none.
    #[serde(default)]
    crit: Option<serde_json::Value>,
}

/// The payload of `token` once its signature verified under the key its `kid` names.
pub fn verify(token: &str, keys: &KeySet) -> Result<Vec<u8>, JwsError> {
    let mut parts = token.split('.');
    let (Some(header_b64), Some(payload_b64), Some(signature_b64), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(JwsError::Malformed);
    };
    let decode = |part: &str| {
        URL_SAFE_NO_PAD
            .decode(part)
            .map_err(|_| JwsError::Malformed)
    };
    let header: Header =
        serde_json::from_slice(&decode(header_b64)?).map_err(|_| JwsError::Malformed)?;
    if header.crit.is_some() {
        return Err(JwsError::Malformed);
    }
    let alg = Algorithm::from_name(&header.alg).ok_or(JwsError::Algorithm)?;
    let key = keys
        .find(header.kid.as_deref())
        .ok_or(JwsError::UnknownKey(header.kid))?;
    if key.algorithm() != alg {
        return Err(JwsError::Algorithm);
    }
    let signature = decode(signature_b64)?;
    // The signing input is the two encoded parts as sent (RFC 7515 §5.2).
    let signed = &token[..header_b64.len() + 1 + payload_b64.len()];
    if !key.verifies(signed.as_bytes(), &signature) {
        return Err(JwsError::Signature);
    }
    decode(payload_b64)
}
