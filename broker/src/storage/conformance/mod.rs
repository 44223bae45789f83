//! One behaviour, every backend: these cases run against memory, SQLite, PostgreSQL and MySQL
//! alike.
//! The suite of the [`Storage`] contract: the shared fixtures and the order the cases run in
//! are here, the cases by topic in the files beside.

mod device;
mod directory;
mod keys;
mod logins;
mod refresh;
mod rotation;
mod saml;
mod sessions;
mod throttle;

use std::sync::Arc;

use super::*;

pub(super) const NOW: UnixTime = 1_700_000_000;

pub(super) fn identity() -> Identity {
    Identity {
        user_id: "u1".into(),
        username: "admin".into(),
        preferred_username: "admin".into(),
        email: "admin@example.com".into(),
        email_verified: true,
        groups: vec!["admins".into()],
        connector_data: None,
    }
}

pub(super) fn auth_request(id: &str, expires_at: UnixTime) -> AuthRequest {
    AuthRequest {
        id: id.into(),
        client_id: "c".into(),
        redirect_uri: "http://a/cb".into(),
        scopes: vec!["openid".into()],
        state: Some("st".into()),
        nonce: Some("n".into()),
        pkce: Some(PkceChallenge {
            challenge: "ch".into(),
            method: "S256".into(),
        }),
        connector_id: None,
        identity: None,
        upstream: None,
        browser_binding: None,
        device: None,
        expires_at,
    }
}

fn auth_code(hash: &str, expires_at: UnixTime) -> AuthCode {
    AuthCode {
        code_hash: hash.into(),
        client_id: "c".into(),
        redirect_uri: "http://a/cb".into(),
        scopes: vec!["openid".into(), "offline_access".into()],
        nonce: None,
        pkce: None,
        connector_id: "local".into(),
        identity: identity(),
        expires_at,
    }
}

pub(super) fn refresh(id: &str, family: &str, expires_at: UnixTime) -> RefreshToken {
    RefreshToken {
        id: id.into(),
        secret_hash: format!("hash-{id}"),
        family: family.into(),
        sid: None,
        client_id: "c".into(),
        scopes: vec!["openid".into(), "offline_access".into()],
        nonce: None,
        connector_id: "local".into(),
        identity: identity(),
        created_at: NOW,
        last_used: NOW,
        expires_at,
    }
}

pub fn signing_key(kid: &str, verify_until: UnixTime) -> SigningKeyRecord {
    SigningKeyRecord {
        kid: kid.into(),
        alg: "RS256".into(),
        private_pkcs1_der: "ZGVy".into(),
        private_pkcs8_der: String::new(),
        created_at: NOW,
        sign_from: NOW,
        sign_until: verify_until,
        verify_until,
    }
}

/// The ids of the stored signing keys.
async fn kids(s: &dyn Storage) -> Vec<String> {
    s.list_signing_keys()
        .await
        .unwrap()
        .into_iter()
        .map(|k| k.kid)
        .collect()
}

pub(super) const ROTATE: RefreshPolicy = RefreshPolicy {
    rotate: true,
    idle_secs: None,
    absolute_secs: None,
    reuse_interval_secs: 0,
};

/// Runs every case on one (empty) storage. The cases use distinct ids, so order is free.
pub async fn run_all(storage: Arc<dyn Storage>) {
    let s = &*storage;
    s.ping().await.unwrap();
    logins::auth_requests(s).await;
    logins::auth_codes_are_one_time(s).await;
    logins::expired_codes_refused(s).await;
    refresh::refresh_rotation_and_reuse(s).await;
    refresh::refresh_reuse_interval(s).await;
    refresh::refresh_without_rotation(s).await;
    refresh::refresh_family_revocation(s).await;
    refresh::live_refresh_tokens_are_read_without_use(s).await;
    rotation::rotation_stores_the_successor_and_extends_the_session(s).await;
    rotation::refused_rotations_change_nothing(s).await;
    rotation::a_rotation_within_the_reuse_interval_stores_a_sibling(s).await;
    logins::upstream_login_and_connector_data(s).await;
    keys::signing_keys(s).await;
    keys::signing_key_rotation_is_compare_and_swap(s).await;
    garbage_collection(s).await;
    saml::saml_requests_are_answered_once(s).await;
    saml::saml_assertion_replay_cache(s).await;
    logins::concurrent_code_redemptions(storage.clone()).await;
    logins::concurrent_auth_request_takes(storage.clone()).await;
    refresh::concurrent_refreshes(storage.clone()).await;
    rotation::concurrent_rotations(storage.clone()).await;
    keys::concurrent_key_rotations(storage.clone()).await;
    saml::concurrent_saml_answers(storage.clone()).await;
    throttle::login_throttling(s).await;
    throttle::window_counts(s).await;
    throttle::concurrent_login_attempts(storage.clone()).await;
    directory::run_all(storage.clone()).await;
    sessions::run_all(storage.clone()).await;
    device::run_all(storage.clone()).await;
}

/// Runs `n` copies of `op` at once (on separate tasks, so SQL backends use separate connections).
pub(super) async fn race<T, F, Fut>(storage: &Arc<dyn Storage>, n: usize, op: F) -> Vec<T>
where
    T: Send + 'static,
    F: Fn(Arc<dyn Storage>, usize) -> Fut,
    Fut: std::future::Future<Output = T> + Send + 'static,
{
    let barrier = Arc::new(tokio::sync::Barrier::new(n));
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let fut = op(storage.clone(), i);
            let barrier = barrier.clone();
            tokio::spawn(async move {
                barrier.wait().await;
                fut.await
            })
        })
        .collect();
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

async fn garbage_collection(s: &dyn Storage) {
    s.create_auth_request(&auth_request("gc-r", NOW + 5))
        .await
        .unwrap();
    s.create_auth_code(&auth_code("gc-c", NOW + 5))
        .await
        .unwrap();
    s.create_refresh_token(&refresh("gc-t", "gc", NOW + 5))
        .await
        .unwrap();
    let stats = s.delete_expired(NOW + 20).await.unwrap();
    assert!(stats.auth_requests >= 1, "{stats:?}");
    assert!(stats.auth_codes >= 1, "{stats:?}");
    assert!(stats.refresh_tokens >= 1, "{stats:?}");
    assert_eq!(
        stats.signing_keys, 1,
        "kb expired, the others kept: {stats:?}"
    );
    assert_eq!(s.get_auth_request("gc-r", NOW).await.unwrap(), None);
    assert!(matches!(
        s.redeem_auth_code("gc-c", NOW).await.unwrap(),
        CodeRedemption::Unknown
    ));
    let kids = kids(s).await;
    assert!(!kids.contains(&"kb".to_string()), "{kids:?}");
    assert!(kids.contains(&"ka".to_string()), "{kids:?}");
    // Unexpired rows stay: the reuse-interval family was revoked, but others remain.
    assert!(matches!(
        s.use_refresh_token("g1", "hash-g1", "c", &ROTATE, NOW + 20)
            .await
            .unwrap(),
        RefreshUse::Reused
    ));
}
