//! For the token tests: a minter on fresh in-memory keys, and tokens it issued for one user.

use std::sync::Arc;

use super::{Grant, IssuedTokens, TokenMinter};
use crate::identity::Identity;
use crate::keys::{KeyManager, SigningAlgorithm};
use crate::storage::{MemoryStorage, Storage};

pub const ISSUER: &str = "http://127.0.0.1/dex";

/// Keys signing with `alg` (an hour's rotation and ID-token lifetime) and a minter whose access
/// tokens live `lifetime` seconds.
pub async fn keys_and_minter(
    alg: SigningAlgorithm,
    lifetime: i64,
) -> (Arc<KeyManager>, TokenMinter) {
    let storage: Arc<dyn Storage> = Arc::new(MemoryStorage::new());
    let keys = Arc::new(KeyManager::start(storage, alg, 3600, 3600).await.unwrap());
    (
        keys.clone(),
        TokenMinter::new(ISSUER.into(), keys, lifetime),
    )
}

/// Tokens for user `u` at client `c` (scope `openid`), issued at `now`.
pub fn issue(minter: &TokenMinter, now: i64) -> IssuedTokens {
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
    };
    minter.issue(&grant, now).unwrap()
}
