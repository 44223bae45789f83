//! Signs ID and access tokens with the current key and verifies access tokens for /userinfo.

use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::Validation;
use sha2::{Digest, Sha256, Sha512};

use super::Claims;
use crate::identity::Identity;
use crate::keys::{KeyManager, SigningAlgorithm, SigningKey};

/// Clock skew tolerated when checking `exp` of access tokens.
const LEEWAY_SECS: u64 = 30;

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("signing failed: {0}")]
    Sign(String),
    #[error("token rejected: {0}")]
    Invalid(String),
}

pub struct TokenMinter {
    issuer: String,
    keys: Arc<KeyManager>,
    lifetime_secs: i64,
}

/// Access token, ID token and their lifetime.
pub struct IssuedTokens {
    pub access_token: String,
    pub id_token: String,
    pub expires_in: i64,
}

impl std::fmt::Debug for IssuedTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("IssuedTokens(<redacted>)")
    }
}

/// Parameters of one issuance.
pub struct Grant<'a> {
    pub client_id: &'a str,
    pub connector_id: &'a str,
    pub identity: &'a Identity,
    pub scopes: &'a [String],
    pub nonce: Option<&'a str>,
    /// The sign-in session, carried in the ID token.
    pub sid: Option<&'a str>,
}

impl TokenMinter {
    pub fn new(issuer: String, keys: Arc<KeyManager>, lifetime_secs: i64) -> Self {
        TokenMinter {
            issuer,
            keys,
            lifetime_secs,
        }
    }

    pub fn issue(&self, grant: &Grant<'_>, now: i64) -> Result<IssuedTokens, TokenError> {
        // One key for both tokens, even if a rotation lands in between.
        let keys = self.keys.current();
        let key = &keys.signing;
        let exp = now.saturating_add(self.lifetime_secs);
        let base = Claims::new(
            &self.issuer,
            grant.client_id,
            grant.connector_id,
            grant.identity,
            grant.scopes,
            now,
            exp,
        );
        // The access token carries the session too, so introspection (and gateways reading
        // the revocation feed) can tell when its sign-in was ended (issue 17).
        let base = Claims {
            sid: grant.sid.map(str::to_string),
            ..base
        };
        let access_token = sign(key, &base)?;
        let id_claims = Claims {
            nonce: grant.nonce.map(str::to_string),
            at_hash: Some(at_hash(key.alg, &access_token)),
            ..base
        };
        let id_token = sign(key, &id_claims)?;
        Ok(IssuedTokens {
            access_token,
            id_token,
            expires_in: self.lifetime_secs,
        })
    }

    /// Checks signature (by `kid`), `iss` and `exp` of one of our access tokens.
    pub fn verify_access_token(&self, token: &str) -> Result<Claims, TokenError> {
        let keys = self.keys.current();
        let key = super::verifying_key(&keys, token)?;
        let mut validation = Validation::new(key.alg.jwt());
        validation.set_issuer(&[&self.issuer]);
        validation.leeway = LEEWAY_SECS;
        // Any of our clients may present its access token; `aud` is checked to be present only.
        validation.validate_aud = false;
        validation.set_required_spec_claims(&["exp", "iss", "sub", "aud"]);
        let data = jsonwebtoken::decode::<Claims>(token, &key.decoding, &validation)
            .map_err(|e| TokenError::Invalid(e.to_string()))?;
        // An ID token also verifies here; only access tokens (no at_hash) are accepted.
        if data.claims.at_hash.is_some() {
            return Err(TokenError::Invalid(
                "an ID token is not an access token".into(),
            ));
        }
        Ok(data.claims)
    }
}

/// The claims' JSON, signed by `key`.
fn sign(key: &SigningKey, claims: &Claims) -> Result<String, TokenError> {
    let payload = serde_json::to_vec(claims).map_err(|e| TokenError::Sign(e.to_string()))?;
    key.sign_compact(&payload)
        .map_err(|e| TokenError::Sign(e.to_string()))
}

/// OIDC `at_hash` (Core §3.1.3.6): base64url of the left half of the access token's hash with
/// the hash of the token's `alg`: SHA-256 for RS256 and ES256, SHA-512 for EdDSA with Ed25519
/// (Core errata set 2; what openid-client checks too).
pub fn at_hash(alg: SigningAlgorithm, access_token: &str) -> String {
    match alg {
        SigningAlgorithm::Rs256 | SigningAlgorithm::Es256 => {
            URL_SAFE_NO_PAD.encode(&Sha256::digest(access_token.as_bytes())[..16])
        }
        SigningAlgorithm::EdDsa => {
            URL_SAFE_NO_PAD.encode(&Sha512::digest(access_token.as_bytes())[..32])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity() -> Identity {
        Identity {
            user_id: "u".into(),
            username: "admin".into(),
            preferred_username: "admin".into(),
            email: "a@b.c".into(),
            email_verified: true,
            groups: vec!["g".into()],
            connector_data: None,
        }
    }

    async fn minter(lifetime: i64) -> TokenMinter {
        crate::token::test_minter::keys_and_minter(SigningAlgorithm::Rs256, lifetime)
            .await
            .1
    }

    #[tokio::test]
    async fn issues_verifiable_tokens_with_scoped_claims() {
        let m = minter(60).await;
        let scopes = vec!["openid".to_string(), "email".to_string()];
        let id = identity();
        let grant = Grant {
            client_id: "c",
            connector_id: "local",
            identity: &id,
            scopes: &scopes,
            nonce: Some("n1"),
            sid: None,
        };
        let t = m.issue(&grant, crate::storage::now()).unwrap();
        let claims = m.verify_access_token(&t.access_token).unwrap();
        assert_eq!(claims.user.email.as_deref(), Some("a@b.c"));
        assert_eq!(claims.user.groups, None, "no groups scope");
        assert_eq!(claims.user.name, None, "no profile scope");
        assert!(
            m.verify_access_token(&t.id_token).is_err(),
            "ID token is not an access token"
        );
        let mut tampered = t.access_token.clone();
        tampered.push('x');
        assert!(m.verify_access_token(&tampered).is_err());
    }

    #[tokio::test]
    async fn expired_access_token_refused() {
        let m = minter(60).await;
        let scopes = vec!["openid".to_string()];
        let id = identity();
        let grant = Grant {
            client_id: "c",
            connector_id: "local",
            identity: &id,
            scopes: &scopes,
            nonce: None,
            sid: None,
        };
        let t = m.issue(&grant, crate::storage::now() - 3600).unwrap();
        assert!(m.verify_access_token(&t.access_token).is_err());
    }
}
