//! The broker's revocation feed as it arrives: a JWS typed `revocations+jwt`, signed by a key
//! of the JWKS the filter already holds (algorithm bound to the key, as for ID tokens). Only
//! its signature, type, issuer and issue time are checked here; whether it may replace the
//! feed held is `held.rs`'s question.

use serde::Deserialize;

use crate::provider::KeySet;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

use crate::token::id_token::{TokenError, SKEW_S};
use crate::token::jws;

pub const FEED_TYP: &str = "revocations+jwt";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FeedError {
    #[error("feed refused: {0}")]
    Token(#[from] TokenError),
    #[error("feed refused: not typed {FEED_TYP}")]
    Type,
    #[error("feed refused: issuer is wrong")]
    Issuer,
    #[error("feed refused: issued in the future")]
    Future,
    #[error("feed refused: older than the feed held (a replay)")]
    Replayed,
    #[error("feed refused: numbers do not line up ({0})")]
    Inconsistent(&'static str),
}

/// The claims of one feed document.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct FeedDoc {
    pub iss: String,
    pub iat: u64,
    pub epoch: u64,
    pub seq: u64,
    pub floor: u64,
    pub from: u64,
    pub sids: Vec<String>,
}

/// Verifies a feed body against the keys and the configured issuer, at `now`.
pub fn verify(body: &[u8], keys: &KeySet, issuer: &str, now: u64) -> Result<FeedDoc, FeedError> {
    let token = std::str::from_utf8(body)
        .map_err(|_| FeedError::Token(TokenError::Malformed))?
        .trim();
    let payload = jws::verify(token, keys).map_err(TokenError::from)?;
    // Explicit typing (RFC 8725 §3.11): no ID token or logout token passes for a feed. The
    // header is part of what the signature covers, so it is read once that verified.
    #[derive(Deserialize)]
    struct Typed {
        #[serde(default)]
        typ: Option<String>,
    }
    let typed: Option<Typed> = token
        .split('.')
        .next()
        .and_then(|h| URL_SAFE_NO_PAD.decode(h).ok())
        .and_then(|h| serde_json::from_slice(&h).ok());
    if typed.and_then(|t| t.typ).as_deref() != Some(FEED_TYP) {
        return Err(FeedError::Type);
    }
    let doc: FeedDoc =
        serde_json::from_slice(&payload).map_err(|_| FeedError::Token(TokenError::Malformed))?;
    if doc.iss != issuer {
        return Err(FeedError::Issuer);
    }
    if doc.iat > now.saturating_add(SKEW_S) {
        return Err(FeedError::Future);
    }
    // Gapless: `sids` are numbered from `from` to `seq`.
    let listed = doc.sids.len() as u64;
    if doc.from == 0 || doc.from.checked_add(listed) != doc.seq.checked_add(1) {
        return Err(FeedError::Inconsistent("from + entries ≠ seq + 1"));
    }
    if doc.floor > doc.from {
        return Err(FeedError::Inconsistent("floor above the first entry"));
    }
    Ok(doc)
}

/// The path of the feed call for a holder of `(epoch, seq)`.
pub fn call_path(endpoint_path: &str, held: Option<(u64, u64)>) -> String {
    let sep = if endpoint_path.contains('?') {
        '&'
    } else {
        '?'
    };
    match held {
        Some((epoch, seq)) => format!("{endpoint_path}{sep}epoch={epoch}&since={seq}"),
        None => endpoint_path.to_string(),
    }
}
