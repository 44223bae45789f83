//! Refresh tokens: rotation, reuse detection (and its grace interval), idle expiry, families.

use std::sync::Arc;

use super::*;

pub(super) async fn live_refresh_tokens_are_read_without_use(s: &dyn Storage) {
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

pub(super) async fn refresh_rotation_and_reuse(s: &dyn Storage) {
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

pub(super) async fn refresh_reuse_interval(s: &dyn Storage) {
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

pub(super) async fn refresh_without_rotation(s: &dyn Storage) {
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

pub(super) async fn refresh_family_revocation(s: &dyn Storage) {
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

pub(super) async fn concurrent_refreshes(storage: Arc<dyn Storage>) {
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
