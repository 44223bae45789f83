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
    use super::*;
    use crate::keys::{KeyManager, SigningAlgorithm};
    use crate::token::test_minter::{issue, keys_and_minter, ISSUER};
    use crate::token::TokenMinter;

    async fn setup() -> (std::sync::Arc<KeyManager>, TokenMinter) {
        keys_and_minter(SigningAlgorithm::Rs256, 60).await
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
