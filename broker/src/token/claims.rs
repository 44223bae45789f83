use serde::{Deserialize, Serialize};

use super::{encode_subject, Audience};
use crate::identity::Identity;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FederatedClaims {
    pub connector_id: String,
    pub user_id: String,
}

/// Who the token is about: the same claims in ID tokens, access tokens and the `/userinfo`
/// answer. Optional claims follow the granted scopes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserInfo {
    pub sub: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email_verified: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferred_username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub groups: Option<Vec<String>>,
    pub federated_claims: FederatedClaims,
}

/// Claims of ID tokens and access tokens (both JWTs): the token's own, and who it is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    pub aud: Audience,
    /// The client the token was issued to, when `aud` names others too (as Dex).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub azp: Option<String>,
    pub exp: i64,
    pub iat: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at_hash: Option<String>,
    /// The sign-in session (OIDC Front-/Back-Channel Logout's `sid`), in ID and access tokens
    /// of a sign-in; none in tokens of no session (token exchange, client_credentials).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    #[serde(flatten)]
    pub user: UserInfo,
}

impl Claims {
    /// Claims for `identity` as seen by `client_id`, limited to what `scopes` grant.
    pub fn new(
        issuer: &str,
        client_id: &str,
        connector_id: &str,
        identity: &Identity,
        scopes: &[String],
        iat: i64,
        exp: i64,
    ) -> Claims {
        let has = |s: &str| scopes.iter().any(|x| x == s);
        let aud = Audience::for_client(client_id, scopes);
        Claims {
            iss: issuer.to_string(),
            azp: aud.is_shared().then(|| client_id.to_string()),
            aud,
            exp,
            iat,
            nonce: None,
            at_hash: None,
            sid: None,
            user: UserInfo {
                sub: encode_subject(&identity.user_id, connector_id),
                // As Dex (`omitempty`): no address, no `email` claim (client_credentials).
                email: (has("email") && !identity.email.is_empty()).then(|| identity.email.clone()),
                email_verified: has("email").then_some(identity.email_verified),
                name: has("profile").then(|| identity.username.clone()),
                preferred_username: has("profile").then(|| identity.preferred_username.clone()),
                groups: has("groups").then(|| identity.groups.clone()),
                federated_claims: FederatedClaims {
                    connector_id: connector_id.to_string(),
                    user_id: identity.user_id.clone(),
                },
            },
        }
    }
}

impl Claims {
    /// The client this token was issued to: `azp` when the audience is shared, else `aud`.
    pub fn issued_to(&self) -> Option<&str> {
        match &self.azp {
            Some(azp) => Some(azp),
            None if !self.aud.is_shared() => self.aud.first(),
            None => None,
        }
    }
}

impl From<Claims> for UserInfo {
    fn from(c: Claims) -> Self {
        c.user
    }
}
