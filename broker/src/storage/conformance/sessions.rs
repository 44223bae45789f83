//! Sign-in sessions and the revocation feed, every backend: the part of the conformance suite
//! for [`Sessions`].

use std::sync::Arc;

use super::{race, refresh, NOW, ROTATE};
use crate::storage::*;

fn session(sid: &str, user: &str, connector: &str) -> SessionRecord {
    SessionRecord {
        sid: sid.into(),
        family: format!("fam-{sid}"),
        client_id: "c".into(),
        connector_id: connector.into(),
        user_id: user.into(),
        created_at: NOW,
        expires_at: NOW + 100,
        ended: None,
    }
}

pub async fn run_all(storage: Arc<dyn Storage>) {
    let s = &*storage;
    crud_and_ending_by_each_selector(s).await;
    feed_is_gapless_and_sends_only_what_a_holder_lacks(s).await;
    feed_drops_unlisted_entries_and_gc(s).await;
    concurrent_endings_number_without_gaps(storage.clone()).await;
}

fn sids(ended: &[SessionRecord]) -> Vec<String> {
    ended.iter().map(|s| s.sid.clone()).collect()
}

async fn crud_and_ending_by_each_selector(s: &dyn Storage) {
    let a = session("sel-a", "u1", "local");
    s.create_session(&a).await.unwrap();
    assert!(matches!(
        s.create_session(&a).await,
        Err(StorageError::AlreadyExists)
    ));
    assert_eq!(s.get_session("sel-a").await.unwrap(), Some(a.clone()));
    assert!(s.get_session("nope").await.unwrap().is_none());
    for x in [
        session("sel-b", "u1", "local"),
        session("sel-c", "u1", "ldap"),
        session("sel-d", "u2", "ldap"),
        session("sel-e", "u3", "saml"),
    ] {
        s.create_session(&x).await.unwrap();
    }
    // Ending revokes the session's refresh-token family, and only that one.
    s.create_refresh_token(&refresh("rt-sel-a", "fam-sel-a", i64::MAX))
        .await
        .unwrap();
    s.create_refresh_token(&refresh("rt-sel-e", "fam-sel-e", i64::MAX))
        .await
        .unwrap();
    s.create_refresh_token(&refresh("rt-sel-ctl", "fam-other", i64::MAX))
        .await
        .unwrap();
    let end = |w| s.end_sessions(w, EndCause::Admin, NOW, NOW + 50);
    let user = SessionSelector::User {
        user_id: "u1",
        connector_id: "local",
    };
    assert_eq!(sids(&end(user).await.unwrap()), ["sel-a", "sel-b"]);
    assert!(matches!(
        s.use_refresh_token("rt-sel-a", "hash-rt-sel-a", "c", &ROTATE, NOW)
            .await
            .unwrap(),
        RefreshUse::Invalid
    ));
    // Ended once only.
    assert!(end(user).await.unwrap().is_empty());
    let ended = s
        .get_session("sel-a")
        .await
        .unwrap()
        .unwrap()
        .ended
        .unwrap();
    assert_eq!(ended.cause, EndCause::Admin);
    assert_eq!(ended.listed_until, NOW + 50);
    assert_eq!(
        sids(&end(SessionSelector::Connector("ldap")).await.unwrap()),
        ["sel-c", "sel-d"]
    );
    assert!(end(SessionSelector::Sid("nope")).await.unwrap().is_empty());
    assert_eq!(
        sids(&end(SessionSelector::Family("fam-sel-e")).await.unwrap()),
        ["sel-e"]
    );
    assert!(matches!(
        s.use_refresh_token("rt-sel-e", "hash-rt-sel-e", "c", &ROTATE, NOW)
            .await
            .unwrap(),
        RefreshUse::Invalid
    ));
    assert!(matches!(
        s.use_refresh_token("rt-sel-ctl", "hash-rt-sel-ctl", "c", &ROTATE, NOW)
            .await
            .unwrap(),
        RefreshUse::Valid(_)
    ));
    // Extending moves a live session later, never earlier, and not an ended one.
    s.create_session(&session("sel-f", "u4", "local"))
        .await
        .unwrap();
    s.extend_session("sel-f", NOW + 500).await.unwrap();
    s.extend_session("sel-f", NOW + 10).await.unwrap();
    assert!(s.delete_expired_sessions(NOW + 400).await.unwrap() > 0);
    assert!(s.get_session("sel-f").await.unwrap().is_some());
}

async fn feed_is_gapless_and_sends_only_what_a_holder_lacks(s: &dyn Storage) {
    let all = s.revocation_feed((0, 0), NOW).await.unwrap();
    assert!(all.epoch != 0);
    assert_eq!(all.from, all.floor);
    assert_eq!(all.from + all.sids.len() as i64 - 1, all.seq, "gapless");
    for sid in ["feed-a", "feed-b"] {
        s.create_session(&session(sid, "fu", "local"))
            .await
            .unwrap();
    }
    s.end_sessions(
        SessionSelector::Sid("feed-a"),
        EndCause::SignOut,
        NOW,
        NOW + 60,
    )
    .await
    .unwrap();
    let held = (all.epoch, all.seq);
    let delta = s.revocation_feed(held, NOW).await.unwrap();
    assert_eq!((delta.from, delta.seq), (all.seq + 1, all.seq + 1));
    assert_eq!(delta.sids, ["feed-a"]);
    // A holder up to date gets nothing; one of another epoch or from the future gets all.
    let none = s
        .revocation_feed((delta.epoch, delta.seq), NOW)
        .await
        .unwrap();
    assert!(none.sids.is_empty());
    assert_eq!(none.from, none.seq + 1);
    for odd in [
        (delta.epoch ^ 1, delta.seq),
        (delta.epoch, delta.seq + 5),
        (delta.epoch, -3),
    ] {
        let full = s.revocation_feed(odd, NOW).await.unwrap();
        assert_eq!(full.from, full.floor);
        assert!(full.sids.contains(&"feed-a".to_string()));
    }
}

async fn feed_drops_unlisted_entries_and_gc(s: &dyn Storage) {
    s.create_session(&session("gc-a", "gu", "local"))
        .await
        .unwrap();
    s.create_session(&session("gc-b", "gu", "local"))
        .await
        .unwrap();
    s.end_sessions(
        SessionSelector::Sid("gc-a"),
        EndCause::Revoked,
        NOW,
        NOW + 1000,
    )
    .await
    .unwrap();
    s.end_sessions(
        SessionSelector::Sid("gc-b"),
        EndCause::Revoked,
        NOW,
        NOW + 3000,
    )
    .await
    .unwrap();
    let seq_a = s
        .get_session("gc-a")
        .await
        .unwrap()
        .unwrap()
        .ended
        .unwrap()
        .seq;
    // Past gc-a's listing (and every earlier case's): the floor moves past it.
    let later = s.revocation_feed((0, 0), NOW + 2000).await.unwrap();
    assert_eq!(later.floor, seq_a + 1);
    assert_eq!(later.sids, ["gc-b"]);
    assert!(s.delete_expired_sessions(NOW + 2000).await.unwrap() >= 1);
    assert!(s.get_session("gc-a").await.unwrap().is_none());
    assert!(s.get_session("gc-b").await.unwrap().is_some());
    let after = s.revocation_feed((0, 0), NOW + 2000).await.unwrap();
    assert_eq!(after, later, "GC changes nothing a holder sees");
    let empty = s.revocation_feed((0, 0), NOW + 4000).await.unwrap();
    assert!(empty.sids.is_empty());
    assert_eq!(empty.floor, empty.seq + 1);
}

async fn concurrent_endings_number_without_gaps(storage: Arc<dyn Storage>) {
    let before = storage.revocation_feed((0, 0), NOW).await.unwrap();
    for i in 0..8 {
        storage
            .create_session(&session(&format!("race-{i}"), "ru", "local"))
            .await
            .unwrap();
    }
    // Every session ended by two racers at once: each once, numbers consecutive.
    let ended = race(&storage, 16, |s, i| async move {
        let sid = format!("race-{}", i % 8);
        s.end_sessions(SessionSelector::Sid(&sid), EndCause::Admin, NOW, NOW + 60)
            .await
            .unwrap()
            .len()
    })
    .await;
    assert_eq!(ended.iter().sum::<usize>(), 8);
    let after = storage
        .revocation_feed((before.epoch, before.seq), NOW)
        .await
        .unwrap();
    assert_eq!(after.seq, before.seq + 8);
    let mut got = after.sids.clone();
    got.sort();
    let want: Vec<String> = (0..8).map(|i| format!("race-{i}")).collect();
    assert_eq!(got, want);
}
