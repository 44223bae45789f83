//! One behaviour, every backend: these cases run against memory and SQLite alike.

use super::*;

const NOW: UnixTime = 1_700_000_000;

fn identity() -> Identity {
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

fn refresh(id: &str, family: &str, expires_at: UnixTime) -> RefreshToken {
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
        private_pkcs1_der: "ZGVy".into(),
        created_at: NOW,
        sign_until: verify_until,
        verify_until,
    }
}

const ROTATE: RefreshPolicy = RefreshPolicy {
    rotate: true,
    idle_secs: None,
    absolute_secs: None,
};

pub async fn run_all(s: &dyn Storage) {
    s.ping().await.unwrap();
    auth_requests(s).await;
    auth_codes_are_one_time(s).await;
    expired_codes_refused(s).await;
    refresh_rotation_and_reuse(s).await;
    refresh_without_rotation(s).await;
    refresh_family_revocation(s).await;
    upstream_login_and_connector_data(s).await;
    signing_keys(s).await;
    garbage_collection(s).await;
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
        .set_auth_request_identity("r1", "local", &identity())
        .await
        .unwrap());
    assert!(!s
        .set_auth_request_identity("nope", "local", &identity())
        .await
        .unwrap());
    let got = s.get_auth_request("r1", NOW).await.unwrap().unwrap();
    assert_eq!(got.identity, Some(identity()));
    assert_eq!(got.connector_id.as_deref(), Some("local"));
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
    assert_eq!(stats.signing_keys, 1, "kb expired, ka kept: {stats:?}");
    assert_eq!(s.get_auth_request("gc-r", NOW).await.unwrap(), None);
    assert!(matches!(
        s.redeem_auth_code("gc-c", NOW).await.unwrap(),
        CodeRedemption::Unknown
    ));
    assert_eq!(s.list_signing_keys().await.unwrap().len(), 1);
}
