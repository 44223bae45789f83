//! The rows the provider stores. Secret-bearing fields have redacted `Debug`.

use serde::{Deserialize, Serialize};

use super::UnixTime;
use crate::identity::Identity;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PkceChallenge {
    pub challenge: String,
    /// `S256` or `plain`.
    pub method: String,
}

/// An /auth visit waiting for the user to sign in (and approve).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthRequest {
    pub id: String,
    pub client_id: String,
    pub redirect_uri: String,
    pub scopes: Vec<String>,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub pkce: Option<PkceChallenge>,
    /// Set once the user signed in through a connector.
    pub connector_id: Option<String>,
    pub identity: Option<Identity>,
    /// What a redirect connector keeps between sending the user upstream and the callback
    /// (PKCE verifier, nonce): set when the user picks that connector.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upstream: Option<UpstreamLogin>,
    /// SHA-256 of the secret given, in a cookie, to the browser that completed the connector
    /// login (set with `identity`): only that browser may view, approve or deny the request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub browser_binding: Option<String>,
    /// Set when the sign-in answers a device authorization (RFC 8628): the device request's
    /// key. Such a request ends in the device's decision, never in a code or redirect.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
    pub expires_at: UnixTime,
}

/// A login in progress at an upstream provider.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpstreamLogin {
    pub connector_id: String,
    pub data: crate::identity::ConnectorData,
}

/// An issued authorization code, keyed by the SHA-256 of the code (the code itself is never stored).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthCode {
    pub code_hash: String,
    pub client_id: String,
    pub redirect_uri: String,
    pub scopes: Vec<String>,
    pub nonce: Option<String>,
    pub pkce: Option<PkceChallenge>,
    pub connector_id: String,
    pub identity: Identity,
    pub expires_at: UnixTime,
}

/// A refresh token: the client holds `id.secret`, we keep the id and SHA-256 of the secret.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefreshToken {
    pub id: String,
    pub secret_hash: String,
    /// Every token rotated from one authorization code shares this (the code's hash).
    pub family: String,
    /// The sign-in session the family belongs to (absent in rows from before sessions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    pub client_id: String,
    pub scopes: Vec<String>,
    pub nonce: Option<String>,
    pub connector_id: String,
    pub identity: Identity,
    /// When the family started (for `absoluteLifetime`).
    pub created_at: UnixTime,
    pub last_used: UnixTime,
    /// `i64::MAX` when no lifetime is configured.
    pub expires_at: UnixTime,
}

impl std::fmt::Debug for RefreshToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RefreshToken")
            .field("id", &self.id)
            .field("client_id", &self.client_id)
            .field("secret_hash", &"<redacted>")
            .finish_non_exhaustive()
    }
}

/// A signing key. Its private half is base64 (standard) DER: PKCS#1 for RS256 (as rows from
/// before algorithms were configurable hold), PKCS#8 for ES256 and EdDSA.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SigningKeyRecord {
    pub kid: String,
    /// The JOSE name (`RS256`, `ES256`, `EdDSA`); absent in older rows, which are all RS256.
    #[serde(default = "rs256")]
    pub alg: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub private_pkcs1_der: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub private_pkcs8_der: String,
    pub created_at: UnixTime,
    /// Start signing with it at this time: a rotated-in key is published before it signs.
    /// (Absent in rows written before rotation: they could sign at once.)
    #[serde(default)]
    pub sign_from: UnixTime,
    /// Stop signing with it after this time (rotation).
    pub sign_until: UnixTime,
    /// Keep publishing it in JWKS until this time, so tokens it signed still verify.
    pub verify_until: UnixTime,
}

fn rs256() -> String {
    "RS256".into()
}

impl std::fmt::Debug for SigningKeyRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKeyRecord")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .field("private_der", &"<redacted>")
            .field("sign_from", &self.sign_from)
            .field("sign_until", &self.sign_until)
            .field("verify_until", &self.verify_until)
            .finish()
    }
}

/// How refresh tokens age and whether they rotate (from `expiry.refreshTokens`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefreshPolicy {
    pub rotate: bool,
    pub idle_secs: Option<i64>,
    pub absolute_secs: Option<i64>,
    /// A spent token presented again within this many seconds is refused without revoking.
    pub reuse_interval_secs: i64,
}

impl RefreshPolicy {
    /// When a token of a family started at `created_at`, last used at `last_used`, expires.
    pub fn expires_at(&self, created_at: UnixTime, last_used: UnixTime) -> UnixTime {
        let idle = self
            .idle_secs
            .map_or(UnixTime::MAX, |s| last_used.saturating_add(s));
        let absolute = self
            .absolute_secs
            .map_or(UnixTime::MAX, |s| created_at.saturating_add(s));
        idle.min(absolute)
    }
}

/// An AuthnRequest this broker sent, until its response arrives (the `RelayState` is its id).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SamlRequest {
    /// The AuthnRequest's `ID`: the response's `InResponseTo` must equal it.
    pub id: String,
    /// The /auth request the login belongs to.
    pub auth_request_id: String,
    pub connector_id: String,
    pub expires_at: UnixTime,
    /// Set once a response to it was accepted; kept until expiry so a second answer is told
    /// apart from an unknown one.
    #[serde(default)]
    pub answered: bool,
}
