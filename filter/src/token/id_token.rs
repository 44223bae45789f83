//! ID-token validation (OIDC Core §3.1.3.7): signature by `kid`, issuer, audience, expiry,
//! issue time and nonce. The clock is passed in so the checks are testable and host-neutral.

use serde::Deserialize;
use subtle::ConstantTimeEq;

use super::jws::{self, JwsError};
use crate::provider::KeySet;

/// Allowed clock difference between broker and gateway.
pub const SKEW_S: u64 = 60;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TokenError {
    #[error("token is not a well-formed JWT")]
    Malformed,
    #[error("token algorithm is not accepted")]
    Algorithm,
    #[error("token signing key is unknown (kid {0:?})")]
    UnknownKey(Option<String>),
    #[error("token signature is invalid")]
    Signature,
    #[error("token issuer is wrong")]
    Issuer,
    #[error("token audience is wrong")]
    Audience,
    #[error("token expired")]
    Expired,
    #[error("token is not valid yet")]
    NotYetValid,
    #[error("token nonce does not match the login")]
    Nonce,
    #[error("token has no subject")]
    Subject,
}

impl From<JwsError> for TokenError {
    fn from(e: JwsError) -> TokenError {
        match e {
            JwsError::Malformed => TokenError::Malformed,
            JwsError::Algorithm => TokenError::Algorithm,
            JwsError::UnknownKey(kid) => TokenError::UnknownKey(kid),
            JwsError::Signature => TokenError::Signature,
        }
    }
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Audience {
    One(String),
    Many(Vec<String>),
}

/// Claims the filter uses.
#[derive(Deserialize)]
pub struct IdClaims {
    pub iss: String,
    pub sub: String,
    aud: Audience,
    #[serde(default)]
    azp: Option<String>,
    pub exp: u64,
    #[serde(default)]
    pub iat: Option<u64>,
    #[serde(default)]
    pub nbf: Option<u64>,
    #[serde(default)]
    pub nonce: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub email_verified: Option<bool>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub preferred_username: Option<String>,
    #[serde(default)]
    pub groups: Vec<String>,
}

/// What the token must match.
pub struct Expect<'a> {
    pub issuer: &'a str,
    /// Accepted audiences: the client id for ID tokens, a configured list for bearer tokens.
    pub audiences: &'a [String],
    /// Required for ID tokens from a login; `None` for refreshed tokens and bearer tokens.
    pub nonce: Option<&'a str>,
    pub now: u64,
}

/// Verifies the signature and every claim check.
pub fn validate(token: &str, keys: &KeySet, expect: &Expect<'_>) -> Result<IdClaims, TokenError> {
    // Time, issuer and audience are checked below against the injected clock.
    let payload = jws::verify(token, keys)?;
    let claims: IdClaims = serde_json::from_slice(&payload).map_err(|_| TokenError::Malformed)?;

    if claims.iss != expect.issuer {
        return Err(TokenError::Issuer);
    }
    let accepted = |a: &str| expect.audiences.iter().any(|x| x == a);
    let aud_ok = match &claims.aud {
        Audience::One(a) => accepted(a),
        // With several audiences the token must also be issued *to* one of us (azp).
        Audience::Many(list) => {
            list.iter().any(|a| accepted(a))
                && (list.len() == 1 || claims.azp.as_deref().is_some_and(accepted))
        }
    };
    if !aud_ok {
        return Err(TokenError::Audience);
    }
    if expect.now >= claims.exp.saturating_add(SKEW_S) {
        return Err(TokenError::Expired);
    }
    let not_before = claims.nbf.into_iter().chain(claims.iat).max();
    if not_before.is_some_and(|t| t > expect.now + SKEW_S) {
        return Err(TokenError::NotYetValid);
    }
    if let Some(want) = expect.nonce {
        let got = claims.nonce.as_deref().unwrap_or("");
        if !bool::from(got.as_bytes().ct_eq(want.as_bytes())) {
            return Err(TokenError::Nonce);
        }
    }
    if claims.sub.is_empty() {
        return Err(TokenError::Subject);
    }
    Ok(claims)
}
