//! Auth requests and codes: stored, taken or redeemed once, refused once expired.

use std::sync::Arc;

use super::*;

pub(super) async fn auth_requests(s: &dyn Storage) {
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
        data: crate::identity::ConnectorData::new("{}"),
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
pub(super) async fn upstream_login_and_connector_data(s: &dyn Storage) {
    s.create_auth_request(&auth_request("u1", NOW + 60))
        .await
        .unwrap();
    let upstream = UpstreamLogin {
        connector_id: "microsoft".into(),
        data: crate::identity::ConnectorData::new("{\"pkce\":\"v\"}"),
    };
    assert!(s.set_auth_request_upstream("u1", &upstream).await.unwrap());
    assert!(!s
        .set_auth_request_upstream("nope", &upstream)
        .await
        .unwrap());
    let got = s.get_auth_request("u1", NOW).await.unwrap().unwrap();
    assert_eq!(got.upstream, Some(upstream));

    let mut t = refresh("cd1", "famcd", UnixTime::MAX);
    t.identity.connector_data = Some(crate::identity::ConnectorData::new("upstream-rt-1"));
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

pub(super) async fn auth_codes_are_one_time(s: &dyn Storage) {
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

pub(super) async fn expired_codes_refused(s: &dyn Storage) {
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

pub(super) async fn concurrent_code_redemptions(storage: Arc<dyn Storage>) {
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

pub(super) async fn concurrent_auth_request_takes(storage: Arc<dyn Storage>) {
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
