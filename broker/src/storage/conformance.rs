//! One behaviour, every backend: these cases run against memory, SQLite and PostgreSQL alike.
//! Long on purpose: the one suite of the [`Storage`] contract, every case in one place.

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

fn auth_request(id: &str, expires_at: UnixTime) -> AuthRequest {
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
    auth_requests(s).await;
    auth_codes_are_one_time(s).await;
    expired_codes_refused(s).await;
    refresh_rotation_and_reuse(s).await;
    refresh_reuse_interval(s).await;
    refresh_without_rotation(s).await;
    refresh_family_revocation(s).await;
    live_refresh_tokens_are_read_without_use(s).await;
    upstream_login_and_connector_data(s).await;
    signing_keys(s).await;
    signing_key_rotation_is_compare_and_swap(s).await;
    garbage_collection(s).await;
    saml_requests_are_answered_once(s).await;
    saml_assertion_replay_cache(s).await;
    concurrent_code_redemptions(storage.clone()).await;
    concurrent_auth_request_takes(storage.clone()).await;
    concurrent_refreshes(storage.clone()).await;
    concurrent_key_rotations(storage.clone()).await;
    concurrent_saml_answers(storage.clone()).await;
    login_throttling(s).await;
    window_counts(s).await;
    concurrent_login_attempts(storage.clone()).await;
    super::conformance_directory::run_all(storage.clone()).await;
    super::conformance_device::run_all(storage.clone()).await;
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

async fn concurrent_code_redemptions(storage: Arc<dyn Storage>) {
    storage
        .create_auth_code(&auth_code("race-code", NOW + 300))
        .await
        .unwrap();
    let results = race(&storage, 8, |s, _| async move {
        s.redeem_auth_code("race-code", NOW).await.unwrap()
    })
    .await;
    let redeemed = results
        .iter()
        .filter(|r| matches!(r, CodeRedemption::Redeemed(_)))
        .count();
    assert_eq!(redeemed, 1, "{results:?}");
    assert!(results
        .iter()
        .all(|r| matches!(r, CodeRedemption::Redeemed(_) | CodeRedemption::Replayed)));
}

async fn concurrent_auth_request_takes(storage: Arc<dyn Storage>) {
    storage
        .create_auth_request(&auth_request("race-req", NOW + 300))
        .await
        .unwrap();
    let results = race(&storage, 8, |s, _| async move {
        s.take_auth_request("race-req", NOW).await.unwrap()
    })
    .await;
    assert_eq!(results.iter().filter(|r| r.is_some()).count(), 1);
}

async fn concurrent_refreshes(storage: Arc<dyn Storage>) {
    storage
        .create_refresh_token(&refresh("race-t", "race-fam", UnixTime::MAX))
        .await
        .unwrap();
    let policy = RefreshPolicy {
        reuse_interval_secs: 3,
        ..ROTATE
    };
    let results = race(&storage, 8, move |s, _| async move {
        s.use_refresh_token("race-t", "hash-race-t", "c", &policy, NOW)
            .await
            .unwrap()
    })
    .await;
    let valid = results
        .iter()
        .filter(|r| matches!(r, RefreshUse::Valid(_)))
        .count();
    assert_eq!(valid, 1, "exactly one wins: {results:?}");
    assert!(
        results
            .iter()
            .all(|r| matches!(r, RefreshUse::Valid(_) | RefreshUse::RecentlyRotated(_))),
        "losers within the interval revoke nothing: {results:?}"
    );
}

async fn concurrent_key_rotations(storage: Arc<dyn Storage>) {
    let seen = storage.signing_key_generation().await.unwrap();
    let before = storage.list_signing_keys().await.unwrap().len();
    let results = race(&storage, 6, move |s, i| async move {
        let key = signing_key(&format!("race-k{i}"), NOW + 5000);
        s.rotate_signing_key(seen, &key).await.unwrap()
    })
    .await;
    assert_eq!(results.iter().filter(|r| **r).count(), 1, "{results:?}");
    assert_eq!(storage.signing_key_generation().await.unwrap(), seen + 1);
    assert_eq!(storage.list_signing_keys().await.unwrap().len(), before + 1);
}

/// Two replicas receiving the same SAML response at once: one answers the request, one
/// records the assertion ID; the other copy is refused at both steps.
async fn concurrent_saml_answers(storage: Arc<dyn Storage>) {
    storage
        .create_saml_request(&saml_request("_race-s", NOW + 300))
        .await
        .unwrap();
    let answers = race(&storage, 8, |s, _| async move {
        s.answer_saml_request("_race-s", NOW).await.unwrap()
    })
    .await;
    assert_eq!(answers.iter().filter(|a| **a).count(), 1, "{answers:?}");
    let remembered = race(&storage, 8, |s, _| async move {
        s.remember_saml_assertion("_race-a", NOW + 300)
            .await
            .unwrap()
    })
    .await;
    assert_eq!(
        remembered.iter().filter(|r| **r).count(),
        1,
        "{remembered:?}"
    );
}

async fn refresh_reuse_interval(s: &dyn Storage) {
    let policy = RefreshPolicy {
        reuse_interval_secs: 3,
        ..ROTATE
    };
    s.create_refresh_token(&refresh("ri1", "famri", UnixTime::MAX))
        .await
        .unwrap();
    assert!(matches!(
        s.use_refresh_token("ri1", "hash-ri1", "c", &policy, NOW)
            .await
            .unwrap(),
        RefreshUse::Valid(_)
    ));
    s.create_refresh_token(&refresh("ri2", "famri", UnixTime::MAX))
        .await
        .unwrap();
    // Within the interval: the spent token is handed back (for a sibling successor) and
    // nothing is revoked.
    assert!(matches!(
        s.use_refresh_token("ri1", "hash-ri1", "c", &policy, NOW + 2)
            .await
            .unwrap(),
        RefreshUse::RecentlyRotated(t) if t.family == "famri"
    ));
    // A wrong secret is still just invalid, never a hint about rotation.
    assert!(matches!(
        s.use_refresh_token("ri1", "nope", "c", &policy, NOW + 2)
            .await
            .unwrap(),
        RefreshUse::Invalid
    ));
    // After it: the family is revoked.
    assert!(matches!(
        s.use_refresh_token("ri1", "hash-ri1", "c", &policy, NOW + 3)
            .await
            .unwrap(),
        RefreshUse::Reused
    ));
    assert!(matches!(
        s.use_refresh_token("ri2", "hash-ri2", "c", &policy, NOW + 3)
            .await
            .unwrap(),
        RefreshUse::Invalid
    ));
}

async fn signing_key_rotation_is_compare_and_swap(s: &dyn Storage) {
    let g = s.signing_key_generation().await.unwrap();
    let k1 = signing_key("rot1", NOW + 1000);
    assert!(s.rotate_signing_key(g, &k1).await.unwrap());
    assert_eq!(s.signing_key_generation().await.unwrap(), g + 1);
    // A replica that read the old generation loses and adds nothing.
    let k2 = signing_key("rot2", NOW + 1000);
    assert!(!s.rotate_signing_key(g, &k2).await.unwrap());
    let kids: Vec<String> = s
        .list_signing_keys()
        .await
        .unwrap()
        .into_iter()
        .map(|k| k.kid)
        .collect();
    assert!(kids.contains(&"rot1".to_string()) && !kids.contains(&"rot2".to_string()));
    assert!(s.rotate_signing_key(g + 1, &k2).await.unwrap());
}

async fn auth_requests(s: &dyn Storage) {
    let r = auth_request("r1", NOW + 60);
    s.create_auth_request(&r).await.unwrap();
    assert!(matches!(
        s.create_auth_request(&r).await,
        Err(StorageError::AlreadyExists)
    ));
    assert_eq!(
        s.get_auth_request("r1", NOW).await.unwrap(),
        Some(r.clone())
    );
    assert_eq!(
        s.get_auth_request("r1", NOW + 61).await.unwrap(),
        None,
        "expired"
    );
    assert_eq!(s.get_auth_request("nope", NOW).await.unwrap(), None);
    assert!(s
        .set_auth_request_identity("r1", "local", &identity(), "bind-1")
        .await
        .unwrap());
    assert!(!s
        .set_auth_request_identity("nope", "local", &identity(), "bind-x")
        .await
        .unwrap());
    // One sign-in per request: a second one (another browser) neither replaces who signed in
    // nor the browser binding.
    let mut other = identity();
    other.user_id = "u2".into();
    assert!(!s
        .set_auth_request_identity("r1", "local", &other, "bind-2")
        .await
        .unwrap());
    let upstream = UpstreamLogin {
        connector_id: "oidc".into(),
        data: crate::connector::ConnectorData::new("{}"),
    };
    assert!(
        !s.set_auth_request_upstream("r1", &upstream).await.unwrap(),
        "signed in: no new upstream login"
    );
    let got = s.get_auth_request("r1", NOW).await.unwrap().unwrap();
    assert_eq!(got.identity, Some(identity()));
    assert_eq!(got.connector_id.as_deref(), Some("local"));
    assert_eq!(got.browser_binding.as_deref(), Some("bind-1"));
    assert_eq!(got.upstream, None);
    let taken = s.take_auth_request("r1", NOW).await.unwrap().unwrap();
    assert_eq!(taken.identity, Some(identity()));
    assert_eq!(
        s.take_auth_request("r1", NOW).await.unwrap(),
        None,
        "taken once"
    );
    s.create_auth_request(&auth_request("r2", NOW - 1))
        .await
        .unwrap();
    assert_eq!(
        s.take_auth_request("r2", NOW).await.unwrap(),
        None,
        "expired"
    );
}

/// Redirect connectors keep their per-login secrets on the auth request, and their upstream
/// refresh token in the identity stored with the broker's refresh token.
async fn upstream_login_and_connector_data(s: &dyn Storage) {
    s.create_auth_request(&auth_request("u1", NOW + 60))
        .await
        .unwrap();
    let upstream = UpstreamLogin {
        connector_id: "microsoft".into(),
        data: crate::connector::ConnectorData::new("{\"pkce\":\"v\"}"),
    };
    assert!(s.set_auth_request_upstream("u1", &upstream).await.unwrap());
    assert!(!s
        .set_auth_request_upstream("nope", &upstream)
        .await
        .unwrap());
    let got = s.get_auth_request("u1", NOW).await.unwrap().unwrap();
    assert_eq!(got.upstream, Some(upstream));

    let mut t = refresh("cd1", "famcd", UnixTime::MAX);
    t.identity.connector_data = Some(crate::connector::ConnectorData::new("upstream-rt-1"));
    s.create_refresh_token(&t).await.unwrap();
    match s
        .use_refresh_token("cd1", "hash-cd1", "c", &ROTATE, NOW)
        .await
        .unwrap()
    {
        RefreshUse::Valid(got) => assert_eq!(
            got.identity.connector_data.as_ref().map(|d| d.expose()),
            Some("upstream-rt-1")
        ),
        other => panic!("expected valid, got {other:?}"),
    }
    // Never printed, even through the identity's Debug.
    assert!(!format!("{:?}", t.identity).contains("upstream-rt-1"));
}

async fn auth_codes_are_one_time(s: &dyn Storage) {
    let c = auth_code("code1", NOW + 300);
    s.create_auth_code(&c).await.unwrap();
    match s.redeem_auth_code("code1", NOW).await.unwrap() {
        CodeRedemption::Redeemed(got) => assert_eq!(*got, c),
        other => panic!("expected redeemed, got {other:?}"),
    }
    assert!(matches!(
        s.redeem_auth_code("code1", NOW).await.unwrap(),
        CodeRedemption::Replayed
    ));
    assert!(matches!(
        s.redeem_auth_code("never", NOW).await.unwrap(),
        CodeRedemption::Unknown
    ));
}

async fn expired_codes_refused(s: &dyn Storage) {
    s.create_auth_code(&auth_code("old", NOW - 1))
        .await
        .unwrap();
    assert!(matches!(
        s.redeem_auth_code("old", NOW).await.unwrap(),
        CodeRedemption::Expired
    ));
    assert!(matches!(
        s.redeem_auth_code("old", NOW).await.unwrap(),
        CodeRedemption::Unknown
    ));
}

async fn live_refresh_tokens_are_read_without_use(s: &dyn Storage) {
    let t = refresh("live1", "famlive", NOW + 100);
    s.create_refresh_token(&t).await.unwrap();
    for _ in 0..2 {
        assert_eq!(
            s.live_refresh_token("live1", "hash-live1", "c", NOW)
                .await
                .unwrap(),
            Some(t.clone())
        );
    }
    assert_eq!(
        s.live_refresh_token("live1", "wrong", "c", NOW)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        s.live_refresh_token("live1", "hash-live1", "d", NOW)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        s.live_refresh_token("nope", "hash-nope", "c", NOW)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        s.live_refresh_token("live1", "hash-live1", "c", NOW + 100)
            .await
            .unwrap(),
        None,
        "expired"
    );
    // Still usable after being read; spent by the use, it is no longer live.
    assert!(matches!(
        s.use_refresh_token("live1", "hash-live1", "c", &ROTATE, NOW)
            .await
            .unwrap(),
        RefreshUse::Valid(_)
    ));
    assert_eq!(
        s.live_refresh_token("live1", "hash-live1", "c", NOW)
            .await
            .unwrap(),
        None
    );
}

async fn refresh_rotation_and_reuse(s: &dyn Storage) {
    let t = refresh("t1", "fam1", UnixTime::MAX);
    s.create_refresh_token(&t).await.unwrap();
    assert!(matches!(
        s.use_refresh_token("t1", "wrong", "c", &ROTATE, NOW)
            .await
            .unwrap(),
        RefreshUse::Invalid
    ));
    assert!(matches!(
        s.use_refresh_token("t1", "hash-t1", "other-client", &ROTATE, NOW)
            .await
            .unwrap(),
        RefreshUse::Invalid
    ));
    match s
        .use_refresh_token("t1", "hash-t1", "c", &ROTATE, NOW)
        .await
        .unwrap()
    {
        RefreshUse::Valid(got) => assert_eq!(*got, t),
        other => panic!("expected valid, got {other:?}"),
    }
    let successor = refresh("t2", "fam1", UnixTime::MAX);
    s.create_refresh_token(&successor).await.unwrap();
    // Presenting the spent token again revokes the whole family, successor included.
    assert!(matches!(
        s.use_refresh_token("t1", "hash-t1", "c", &ROTATE, NOW)
            .await
            .unwrap(),
        RefreshUse::Reused
    ));
    assert!(matches!(
        s.use_refresh_token("t2", "hash-t2", "c", &ROTATE, NOW)
            .await
            .unwrap(),
        RefreshUse::Invalid
    ));
    let expired = refresh("t3", "fam3", NOW);
    s.create_refresh_token(&expired).await.unwrap();
    assert!(matches!(
        s.use_refresh_token("t3", "hash-t3", "c", &ROTATE, NOW)
            .await
            .unwrap(),
        RefreshUse::Expired
    ));
}

async fn refresh_without_rotation(s: &dyn Storage) {
    let keep = RefreshPolicy {
        rotate: false,
        idle_secs: Some(100),
        absolute_secs: None,
        reuse_interval_secs: 0,
    };
    s.create_refresh_token(&refresh("k1", "famk", NOW + 100))
        .await
        .unwrap();
    for step in 1..=3 {
        let at = NOW + step * 90;
        assert!(
            matches!(
                s.use_refresh_token("k1", "hash-k1", "c", &keep, at)
                    .await
                    .unwrap(),
                RefreshUse::Valid(_)
            ),
            "use {step} within the idle window extends it"
        );
    }
    assert!(matches!(
        s.use_refresh_token("k1", "hash-k1", "c", &keep, NOW + 270 + 101)
            .await
            .unwrap(),
        RefreshUse::Expired
    ));
}

async fn refresh_family_revocation(s: &dyn Storage) {
    s.create_refresh_token(&refresh("f1", "famx", UnixTime::MAX))
        .await
        .unwrap();
    s.create_refresh_token(&refresh("f2", "famx", UnixTime::MAX))
        .await
        .unwrap();
    s.create_refresh_token(&refresh("g1", "famy", UnixTime::MAX))
        .await
        .unwrap();
    assert_eq!(s.revoke_refresh_family("famx").await.unwrap(), 2);
    assert!(matches!(
        s.use_refresh_token("f1", "hash-f1", "c", &ROTATE, NOW)
            .await
            .unwrap(),
        RefreshUse::Invalid
    ));
    assert!(matches!(
        s.use_refresh_token("g1", "hash-g1", "c", &ROTATE, NOW)
            .await
            .unwrap(),
        RefreshUse::Valid(_)
    ));
}

async fn signing_keys(s: &dyn Storage) {
    let a = signing_key("ka", NOW + 1000);
    s.insert_signing_key(&a).await.unwrap();
    assert!(matches!(
        s.insert_signing_key(&a).await,
        Err(StorageError::AlreadyExists)
    ));
    let b = signing_key("kb", NOW + 10);
    s.insert_signing_key(&b).await.unwrap();
    let mut keys = s.list_signing_keys().await.unwrap();
    keys.sort_by(|x, y| x.kid.cmp(&y.kid));
    assert_eq!(keys, vec![a, b]);
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
    let kids: Vec<String> = s
        .list_signing_keys()
        .await
        .unwrap()
        .into_iter()
        .map(|k| k.kid)
        .collect();
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

fn saml_request(id: &str, expires_at: UnixTime) -> SamlRequest {
    SamlRequest {
        id: id.into(),
        auth_request_id: "ar".into(),
        connector_id: "saml".into(),
        expires_at,
        answered: false,
    }
}

async fn saml_requests_are_answered_once(s: &dyn Storage) {
    let r = saml_request("_s1", NOW + 60);
    s.create_saml_request(&r).await.unwrap();
    assert!(matches!(
        s.create_saml_request(&r).await,
        Err(StorageError::AlreadyExists)
    ));
    assert_eq!(
        s.get_saml_request("_s1", NOW).await.unwrap(),
        Some(r.clone())
    );
    assert_eq!(
        s.get_saml_request("_s1", NOW + 60).await.unwrap(),
        None,
        "expired"
    );
    assert_eq!(s.get_saml_request("_nope", NOW).await.unwrap(), None);
    assert!(s.answer_saml_request("_s1", NOW).await.unwrap());
    assert!(
        !s.answer_saml_request("_s1", NOW).await.unwrap(),
        "answered once"
    );
    let answered = s.get_saml_request("_s1", NOW).await.unwrap().unwrap();
    assert!(answered.answered, "kept, marked answered");
    assert!(!s.answer_saml_request("_nope", NOW).await.unwrap());
    s.create_saml_request(&saml_request("_s2", NOW + 1))
        .await
        .unwrap();
    assert!(
        !s.answer_saml_request("_s2", NOW + 5).await.unwrap(),
        "expired"
    );
}

async fn saml_assertion_replay_cache(s: &dyn Storage) {
    assert!(s.remember_saml_assertion("_a1", NOW + 60).await.unwrap());
    assert!(
        !s.remember_saml_assertion("_a1", NOW + 60).await.unwrap(),
        "replay"
    );
    assert!(s.remember_saml_assertion("_a2", NOW + 5).await.unwrap());
    s.create_saml_request(&saml_request("_gc", NOW + 5))
        .await
        .unwrap();
    let stats = s.delete_expired(NOW + 10).await.unwrap();
    assert!(stats.saml_assertions >= 1, "{stats:?}");
    assert!(stats.saml_requests >= 1, "{stats:?}");
    assert!(
        !s.remember_saml_assertion("_a1", NOW + 60).await.unwrap(),
        "kept until it expires"
    );
    assert!(
        s.remember_saml_assertion("_a2", NOW + 60).await.unwrap(),
        "forgotten after it expired"
    );
}

const THROTTLE_T: UnixTime = NOW + 100_000;

fn throttle_key(id: &str, reset_on_success: bool) -> ThrottleKey {
    ThrottleKey {
        id: id.into(),
        backoff: Backoff {
            free_failures: 1,
            base_secs: 10,
            max_secs: 40,
            forget_secs: 1000,
            reset_on_success,
            exclusive: true,
        },
    }
}

/// Back-off per key, one check in flight per key (refused, not queued), success clears only the
/// keys that ask for it, leases run out.
async fn login_throttling(s: &dyn Storage) {
    let t = THROTTLE_T;
    let account = throttle_key("acct-1", true);
    let address = throttle_key("addr-1", false);
    let both = [account.clone(), address.clone()];
    let begin = |keys: Vec<ThrottleKey>, now: UnixTime| async move {
        s.begin_login_attempt(&keys, now, now + 30).await.unwrap()
    };
    assert_eq!(begin(both.to_vec(), t).await, LoginGate::Open);
    assert_eq!(begin(vec![account.clone()], t).await, LoginGate::Busy);
    assert_eq!(
        begin(vec![throttle_key("acct-2", true), address.clone()], t).await,
        LoginGate::Busy,
        "the address has a check in flight"
    );
    let elsewhere = vec![throttle_key("acct-3", true), throttle_key("addr-3", false)];
    assert_eq!(begin(elsewhere.clone(), t).await, LoginGate::Open);
    s.end_login_attempt(&elsewhere, AttemptOutcome::Succeeded, t)
        .await
        .unwrap();
    // Failure 1 is free; failure 2 waits 10 s, failure 3 waits 20 s.
    s.end_login_attempt(&both, AttemptOutcome::Failed, t)
        .await
        .unwrap();
    assert_eq!(begin(both.to_vec(), t).await, LoginGate::Open);
    s.end_login_attempt(&both, AttemptOutcome::Failed, t)
        .await
        .unwrap();
    assert_eq!(
        begin(both.to_vec(), t + 1).await,
        LoginGate::Throttled { until: t + 10 }
    );
    assert_eq!(
        begin(vec![address.clone()], t + 9).await,
        LoginGate::Throttled { until: t + 10 }
    );
    assert_eq!(begin(both.to_vec(), t + 10).await, LoginGate::Open);
    s.end_login_attempt(&both, AttemptOutcome::Failed, t + 10)
        .await
        .unwrap();
    assert_eq!(
        begin(vec![account.clone()], t + 11).await,
        LoginGate::Throttled { until: t + 30 }
    );
    // A success clears the account, not the address (which keeps its three failures).
    assert_eq!(begin(both.to_vec(), t + 30).await, LoginGate::Open);
    s.end_login_attempt(&both, AttemptOutcome::Succeeded, t + 30)
        .await
        .unwrap();
    assert_eq!(begin(vec![account.clone()], t + 30).await, LoginGate::Open);
    s.end_login_attempt(
        std::slice::from_ref(&account),
        AttemptOutcome::Failed,
        t + 30,
    )
    .await
    .unwrap();
    assert_eq!(begin(vec![account.clone()], t + 30).await, LoginGate::Open);
    s.end_login_attempt(
        std::slice::from_ref(&account),
        AttemptOutcome::Succeeded,
        t + 30,
    )
    .await
    .unwrap();
    assert_eq!(begin(vec![address.clone()], t + 30).await, LoginGate::Open);
    s.end_login_attempt(
        std::slice::from_ref(&address),
        AttemptOutcome::Failed,
        t + 30,
    )
    .await
    .unwrap();
    assert_eq!(
        begin(vec![address.clone()], t + 31).await,
        LoginGate::Throttled { until: t + 70 },
        "fourth failure: capped at 40 s"
    );
    // Forgotten after forget_secs without failures.
    assert_eq!(
        begin(vec![address.clone()], t + 70 + 1000).await,
        LoginGate::Open
    );
    // A crashed attempt holds its keys only until the lease runs out.
    let crashed = vec![throttle_key("acct-4", true)];
    assert_eq!(begin(crashed.clone(), t).await, LoginGate::Open);
    assert_eq!(begin(crashed.clone(), t + 29).await, LoginGate::Busy);
    assert_eq!(begin(crashed.clone(), t + 30).await, LoginGate::Open);
    let stats = s.delete_expired(t + 100_000).await.unwrap();
    assert!(stats.throttle_rows >= 4, "{stats:?}");
    assert_eq!(
        begin(vec![throttle_key("acct-4", true)], t + 100_000).await,
        LoginGate::Open
    );
}

async fn window_counts(s: &dyn Storage) {
    let t = THROTTLE_T;
    for allowed in [true, true, false, false] {
        assert_eq!(
            s.count_in_window("w1", 2, 60, t + 1).await.unwrap(),
            allowed
        );
    }
    assert!(!s.count_in_window("w1", 2, 60, t + 60).await.unwrap());
    assert!(
        s.count_in_window("w2", 2, 60, t + 1).await.unwrap(),
        "per key"
    );
    assert!(
        s.count_in_window("w1", 2, 60, t + 61).await.unwrap(),
        "next window"
    );
}

/// Replicas racing on one account: exactly one check is admitted.
async fn concurrent_login_attempts(storage: Arc<dyn Storage>) {
    let admitted = race(&storage, 8, |s, i| async move {
        let keys = [
            throttle_key("race-acct", true),
            throttle_key(&format!("race-addr-{i}"), false),
        ];
        s.begin_login_attempt(&keys, THROTTLE_T, THROTTLE_T + 30)
            .await
            .unwrap()
    })
    .await;
    let open = admitted.iter().filter(|g| **g == LoginGate::Open).count();
    assert_eq!(open, 1, "{admitted:?}");
}
