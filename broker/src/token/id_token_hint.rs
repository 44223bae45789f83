//! `id_token_hint` at the end-session endpoint: one of our own ID tokens, presented back.
//!
//! OIDC RP-Initiated Logout 1.0 §2: the OP checks it was the issuer, but an expired hint is
//! still acceptable (people sign out long after their token ran out), so `exp` is not checked.
//! A hint signed by a key we no longer publish cannot be verified and is refused like a forgery.

use jsonwebtoken::Validation;

use super::{verifying_key, Claims, TokenError};
use crate::keys::KeySet;

/// Signature (by `kid`, with that key's algorithm), `iss`; `exp` deliberately ignored.
/// Returns its claims.
pub fn verify_id_token_hint(
    keys: &KeySet,
    issuer: &str,
    token: &str,
) -> Result<Claims, TokenError> {
    let key = verifying_key(keys, token)?;
    let mut validation = Validation::new(key.alg.jwt());
    validation.set_issuer(&[issuer]);
    validation.validate_exp = false;
    validation.validate_aud = false;
    validation.set_required_spec_claims(&["iss", "sub", "aud"]);
    let data = jsonwebtoken::decode::<Claims>(token, &key.decoding, &validation)
        .map_err(|e| TokenError::Invalid(e.to_string()))?;
    // Our access tokens are signed by the same key; only ID tokens (they carry at_hash) count.
    if data.claims.at_hash.is_none() {
        return Err(TokenError::Invalid("not an ID token".into()));
    }
    Ok(data.claims)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::connector::Identity;
    use crate::keys::{KeyManager, SigningAlgorithm};
    use crate::storage::{MemoryStorage, Storage};
    use crate::token::{Grant, TokenMinter};

    const ISSUER: &str = "http://127.0.0.1/dex";

    async fn setup() -> (Arc<KeyManager>, TokenMinter) {
        let storage: Arc<dyn Storage> = Arc::new(MemoryStorage::new());
        let keys = Arc::new(
            KeyManager::start(storage, SigningAlgorithm::Rs256, 3600, 3600)
                .await
                .unwrap(),
        );
        let minter = TokenMinter::new(ISSUER.into(), keys.clone(), 60);
        (keys, minter)
    }

    fn issue(minter: &TokenMinter, now: i64) -> crate::token::IssuedTokens {
        let identity = Identity {
            user_id: "u".into(),
            username: "admin".into(),
            preferred_username: "admin".into(),
            email: "a@b.c".into(),
            email_verified: true,
            groups: vec![],
            connector_data: None,
        };
        let scopes = vec!["openid".to_string()];
        let grant = Grant {
            client_id: "c",
            connector_id: "local",
            identity: &identity,
            scopes: &scopes,
            nonce: None,
            sid: None,
        };
        minter.issue(&grant, now).unwrap()
    }

    #[tokio::test]
    async fn accepts_our_id_tokens_even_expired() {
        let (keys, minter) = setup().await;
        let fresh = issue(&minter, crate::storage::now());
        let claims = verify_id_token_hint(&keys.current(), ISSUER, &fresh.id_token).unwrap();
        assert_eq!(claims.aud.first(), Some("c"));
        let old = issue(&minter, crate::storage::now() - 7200);
        assert!(verify_id_token_hint(&keys.current(), ISSUER, &old.id_token).is_ok());
    }

    #[tokio::test]
    async fn refuses_forgeries_other_issuers_and_access_tokens() {
        let (keys, minter) = setup().await;
        let t = issue(&minter, crate::storage::now());
        let keys = keys.current();
        assert!(verify_id_token_hint(&keys, "http://other/dex", &t.id_token).is_err());
        assert!(verify_id_token_hint(&keys, ISSUER, &t.access_token).is_err());
        assert!(verify_id_token_hint(&keys, ISSUER, "garbage").is_err());
        // Same header and signature, payload changed: the signature no longer matches.
        let parts: Vec<&str> = t.id_token.split('.').collect();
        let forged = format!("{}.{}x.{}", parts[0], parts[1], parts[2]);
        assert!(verify_id_token_hint(&keys, ISSUER, &forged).is_err());
        let unsigned = format!("{}.{}.", parts[0], parts[1]);
        assert!(verify_id_token_hint(&keys, ISSUER, &unsigned).is_err());
    }
}
