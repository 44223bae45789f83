//! `rotate_refresh_token`: the spend, the successor and the session's expiry as one step, with
//! every refusal of `use_refresh_token` and nothing changed by a refusal.

use std::sync::Arc;

use super::*;

fn session(sid: &str) -> SessionRecord {
    SessionRecord {
        sid: sid.into(),
        family: format!("fam-{sid}"),
        client_id: "c".into(),
        connector_id: "local".into(),
        user_id: "u-rot".into(),
        created_at: NOW,
        expires_at: NOW + 100,
        ended: None,
    }
}

/// A token of `sid`'s session, and a successor to it that expires at `expires_at` (of their
/// own user, so the directory's per-user counts stay as they are).
fn pair(id: &str, sid: &str, expires_at: UnixTime) -> (RefreshToken, RefreshToken) {
    let token = |id: &str, expires_at| {
        let mut t = refresh(id, &format!("fam-{sid}"), expires_at);
        t.sid = Some(sid.into());
        t.identity.user_id = "u-rot".into();
        t
    };
    (
        token(id, UnixTime::MAX),
        token(&format!("{id}-next"), expires_at),
    )
}

async fn live(s: &dyn Storage, t: &RefreshToken) -> bool {
    s.live_refresh_token(&t.id, &t.secret_hash, "c", NOW)
        .await
        .unwrap()
        .is_some()
}

pub(super) async fn rotation_stores_the_successor_and_extends_the_session(s: &dyn Storage) {
    s.create_session(&session("rot-s")).await.unwrap();
    s.create_session(&session("rot-control")).await.unwrap();
    let (old, next) = pair("rot-a", "rot-s", NOW + 500);
    s.create_refresh_token(&old).await.unwrap();
    match s
        .rotate_refresh_token(&old.id, &old.secret_hash, "c", &ROTATE, NOW, &next)
        .await
        .unwrap()
    {
        RefreshUse::Valid(got) => assert_eq!(*got, old),
        other => panic!("expected valid, got {other:?}"),
    }
    assert!(!live(s, &old).await, "the presented token is spent");
    assert!(live(s, &next).await, "its successor is stored");
    // The session now lasts as long as the successor; the control one does not.
    assert!(s.delete_expired_sessions(NOW + 400).await.unwrap() > 0);
    assert!(s.get_session("rot-s").await.unwrap().is_some());
    assert!(s.get_session("rot-control").await.unwrap().is_none());
    // The spent token presented again (no reuse interval) revokes the family, successor too.
    let (_, other) = pair("rot-a2", "rot-s", NOW + 500);
    assert!(matches!(
        s.rotate_refresh_token(&old.id, &old.secret_hash, "c", &ROTATE, NOW + 1, &other)
            .await
            .unwrap(),
        RefreshUse::Reused
    ));
    assert!(!live(s, &next).await, "reuse revoked the family");
    assert!(!live(s, &other).await, "no successor for a reuse");
}

pub(super) async fn refused_rotations_change_nothing(s: &dyn Storage) {
    s.create_session(&session("rot-r")).await.unwrap();
    let (old, next) = pair("rot-b", "rot-r", NOW + 50);
    s.create_refresh_token(&old).await.unwrap();
    for (secret, client) in [("wrong", "c"), (old.secret_hash.as_str(), "other-client")] {
        assert!(matches!(
            s.rotate_refresh_token(&old.id, secret, client, &ROTATE, NOW, &next)
                .await
                .unwrap(),
            RefreshUse::Invalid
        ));
    }
    assert!(matches!(
        s.rotate_refresh_token("rot-unknown", "hash-rot-unknown", "c", &ROTATE, NOW, &next)
            .await
            .unwrap(),
        RefreshUse::Invalid
    ));
    assert!(live(s, &old).await, "still usable");
    assert!(!live(s, &next).await, "no successor stored");
    // A successor of an ended session is refused before anything is spent.
    s.end_sessions(
        SessionSelector::Sid("rot-r"),
        EndCause::Revoked,
        NOW,
        NOW + 10,
    )
    .await
    .unwrap();
    let (old2, next2) = pair("rot-c", "rot-r", NOW + 50);
    s.create_refresh_token(&old2).await.unwrap();
    assert!(matches!(
        s.rotate_refresh_token(&old2.id, &old2.secret_hash, "c", &ROTATE, NOW, &next2)
            .await
            .unwrap(),
        RefreshUse::Invalid
    ));
    assert!(live(s, &old2).await, "nothing spent for an ended session");
    assert!(!live(s, &next2).await);
    // An expired token is refused and removed, with no successor.
    s.create_session(&session("rot-e")).await.unwrap();
    let (mut old3, next3) = pair("rot-d", "rot-e", NOW + 50);
    old3.expires_at = NOW;
    s.create_refresh_token(&old3).await.unwrap();
    assert!(matches!(
        s.rotate_refresh_token(&old3.id, &old3.secret_hash, "c", &ROTATE, NOW, &next3)
            .await
            .unwrap(),
        RefreshUse::Expired
    ));
    assert!(!live(s, &next3).await);
}

pub(super) async fn a_rotation_within_the_reuse_interval_stores_a_sibling(s: &dyn Storage) {
    s.create_session(&session("rot-i")).await.unwrap();
    let (old, next) = pair("rot-f", "rot-i", NOW + 50);
    let (_, sibling) = pair("rot-f2", "rot-i", NOW + 50);
    s.create_refresh_token(&old).await.unwrap();
    let policy = RefreshPolicy {
        reuse_interval_secs: 3,
        ..ROTATE
    };
    assert!(matches!(
        s.rotate_refresh_token(&old.id, &old.secret_hash, "c", &policy, NOW, &next)
            .await
            .unwrap(),
        RefreshUse::Valid(_)
    ));
    assert!(matches!(
        s.rotate_refresh_token(&old.id, &old.secret_hash, "c", &policy, NOW + 2, &sibling)
            .await
            .unwrap(),
        RefreshUse::RecentlyRotated(_)
    ));
    assert!(live(s, &next).await && live(s, &sibling).await);
    // The policy's `rotate` is taken as set: a token is spent even under a non-rotating one.
    let (old2, next2) = pair("rot-g", "rot-i", NOW + 50);
    s.create_refresh_token(&old2).await.unwrap();
    let keep = RefreshPolicy {
        rotate: false,
        ..ROTATE
    };
    assert!(matches!(
        s.rotate_refresh_token(&old2.id, &old2.secret_hash, "c", &keep, NOW, &next2)
            .await
            .unwrap(),
        RefreshUse::Valid(_)
    ));
    assert!(!live(s, &old2).await && live(s, &next2).await);
}

pub(super) async fn concurrent_rotations(storage: Arc<dyn Storage>) {
    storage.create_session(&session("rot-race")).await.unwrap();
    let (old, _) = pair("rot-race-t", "rot-race", NOW + 50);
    storage.create_refresh_token(&old).await.unwrap();
    let policy = RefreshPolicy {
        reuse_interval_secs: 3,
        ..ROTATE
    };
    let results = race(&storage, 8, move |s, i| async move {
        let (_, next) = pair(&format!("rot-race-{i}"), "rot-race", NOW + 50);
        let used = s
            .rotate_refresh_token("rot-race-t", "hash-rot-race-t", "c", &policy, NOW, &next)
            .await
            .unwrap();
        (used, next)
    })
    .await;
    let valid = results
        .iter()
        .filter(|(r, _)| matches!(r, RefreshUse::Valid(_)))
        .count();
    assert_eq!(valid, 1, "exactly one wins");
    for (used, next) in &results {
        assert!(
            matches!(used, RefreshUse::Valid(_) | RefreshUse::RecentlyRotated(_)),
            "losers within the interval revoke nothing: {used:?}"
        );
        assert!(
            live(&*storage, next).await,
            "every accepted use has its successor"
        );
    }
}
