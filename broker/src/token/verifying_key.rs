//! Which of our keys verifies a token presented back to us (access tokens at /userinfo, ID
//! tokens as `id_token_hint`): the one its `kid` names, and only with that key's own
//! algorithm. The token's `alg` header is checked against the key, never trusted to choose
//! (RFC 8725 §3.1): HS256 "signed" with our public key, `none`, or RS256 against an EC key
//! are refused before any signature check.

use super::TokenError;
use crate::keys::{KeySet, SigningKey};

pub fn verifying_key<'a>(keys: &'a KeySet, token: &str) -> Result<&'a SigningKey, TokenError> {
    let header =
        jsonwebtoken::decode_header(token).map_err(|e| TokenError::Invalid(e.to_string()))?;
    let kid = header
        .kid
        .ok_or_else(|| TokenError::Invalid("no kid".into()))?;
    let key = keys
        .find(&kid)
        .ok_or_else(|| TokenError::Invalid("unknown kid".into()))?;
    if header.alg != key.alg.jwt() {
        return Err(TokenError::Invalid(format!(
            "algorithm {:?} is not the key's ({})",
            header.alg, key.alg
        )));
    }
    Ok(key)
}

#[cfg(test)]
mod tests {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
    use serde_json::json;

    use crate::keys::SigningAlgorithm;
    use crate::storage::now;
    use crate::token::test_minter::{issue, keys_and_minter, ISSUER};
    use crate::token::verify_id_token_hint;

    /// The payload of `token` under another header, with `signature` (base64url).
    fn reheader(token: &str, header: serde_json::Value, signature: &str) -> String {
        let payload = token.split('.').nth(1).unwrap();
        let header = URL_SAFE_NO_PAD.encode(header.to_string());
        format!("{header}.{payload}.{signature}")
    }

    #[tokio::test]
    async fn each_algorithm_verifies_its_own_tokens() {
        for alg in SigningAlgorithm::ALL {
            let (keys, minter) = keys_and_minter(alg, 60).await;
            let t = issue(&minter, now());
            let header = jsonwebtoken::decode_header(&t.access_token).unwrap();
            assert_eq!(header.alg, alg.jwt());
            assert!(minter.verify_access_token(&t.access_token).is_ok(), "{alg}");
            assert!(verify_id_token_hint(&keys.current(), ISSUER, &t.id_token).is_ok());
        }
    }

    #[tokio::test]
    async fn other_algorithms_than_the_keys_are_refused() {
        for alg in SigningAlgorithm::ALL {
            let (keys, minter) = keys_and_minter(alg, 60).await;
            let t = issue(&minter, now());
            let set = keys.current();
            let kid = set.signing.jwk.kid.clone();
            let jwk = serde_json::to_string(&set.signing.jwk).unwrap();
            // HS256 keyed with what we publish, under our kid.
            let mut h = Header::new(Algorithm::HS256);
            h.kid = Some(kid.clone());
            let claims: serde_json::Value = serde_json::from_slice(
                &URL_SAFE_NO_PAD
                    .decode(t.access_token.split('.').nth(1).unwrap())
                    .unwrap(),
            )
            .unwrap();
            let hs = encode(&h, &claims, &EncodingKey::from_secret(jwk.as_bytes())).unwrap();
            assert!(minter.verify_access_token(&hs).is_err(), "{alg}: HS256");
            // `none`, with and without a signature part.
            let none = reheader(&t.access_token, json!({"alg": "none", "kid": kid}), "");
            assert!(minter.verify_access_token(&none).is_err(), "{alg}: none");
            let none = none.trim_end_matches('.').to_string();
            assert!(
                minter.verify_access_token(&none).is_err(),
                "{alg}: none, 2 parts"
            );
            // Our own signature under another algorithm's name.
            let signature = t.access_token.rsplit('.').next().unwrap();
            for other in SigningAlgorithm::ALL.into_iter().filter(|a| *a != alg) {
                let renamed = reheader(
                    &t.access_token,
                    json!({"alg": other.name(), "kid": kid, "typ": "JWT"}),
                    signature,
                );
                assert!(
                    minter.verify_access_token(&renamed).is_err(),
                    "{alg} token named {other}"
                );
                let hint = reheader(
                    &t.id_token,
                    json!({"alg": other.name(), "kid": kid}),
                    t.id_token.rsplit('.').next().unwrap(),
                );
                assert!(verify_id_token_hint(&set, ISSUER, &hint).is_err());
            }
        }
    }
}
