//! The merge rules of the feed held, and the check of a session against it.

use super::feed::{FeedDoc, FeedError};
use super::held::HeldFeed;
use super::*;

const SETTINGS: RevocationSettings = RevocationSettings {
    poll_s: 5,
    max_stale_s: 60,
    admit_when_stale: false,
};

fn doc(iat: u64, epoch: u64, seq: u64, floor: u64, from: u64, sids: &[&str]) -> FeedDoc {
    FeedDoc {
        iss: "http://x/dex".into(),
        iat,
        epoch,
        seq,
        floor,
        from,
        sids: sids.iter().map(|s| s.to_string()).collect(),
    }
}

fn listed(h: &HeldFeed) -> Vec<&str> {
    assert_eq!(
        h.first + h.len() as u64,
        h.seq + 1,
        "numbering stays gapless"
    );
    h.entries.sids.iter().map(String::as_str).collect()
}

#[test]
fn deltas_merge_and_the_floor_drops_old_entries() {
    let a = HeldFeed::apply(None, doc(100, 7, 3, 1, 1, &["a", "b", "c"])).unwrap();
    assert_eq!(listed(&a), ["a", "b", "c"]);
    assert!(a.contains("b") && !a.contains("d"));
    // Two more, and the first two are no longer listed.
    let b = HeldFeed::apply(Some(&a), doc(105, 7, 5, 3, 4, &["d", "e"])).unwrap();
    assert_eq!(listed(&b), ["c", "d", "e"]);
    assert!(!b.contains("a"));
    // Nothing new: same entries (not rebuilt), fresher.
    let c = HeldFeed::apply(Some(&b), doc(110, 7, 5, 3, 6, &[])).unwrap();
    assert!(std::rc::Rc::ptr_eq(&b.entries, &c.entries));
    assert_eq!(c.iat, 110);
    // Everything unlisted.
    let d = HeldFeed::apply(Some(&c), doc(120, 7, 5, 6, 6, &[])).unwrap();
    assert!(d.is_empty());
    assert_eq!(d.first, 6);
    // A full feed for the same epoch overlapping what is held replaces that part.
    let e = HeldFeed::apply(Some(&b), doc(130, 7, 6, 4, 4, &["d", "e", "f"])).unwrap();
    assert_eq!(listed(&e), ["d", "e", "f"]);
}

#[test]
fn replayed_gapped_or_partial_feeds_are_refused() {
    let held = HeldFeed::apply(None, doc(100, 7, 3, 1, 1, &["a", "b", "c"])).unwrap();
    // Older issue time, or an older number: a replay, even if otherwise well formed.
    assert_eq!(
        HeldFeed::apply(Some(&held), doc(99, 7, 3, 1, 4, &[])),
        Err(FeedError::Replayed)
    );
    assert_eq!(
        HeldFeed::apply(Some(&held), doc(101, 7, 2, 1, 1, &["a", "b"])),
        Err(FeedError::Replayed)
    );
    // A delta that skips entries the holder never saw.
    assert!(matches!(
        HeldFeed::apply(Some(&held), doc(101, 7, 6, 1, 6, &["f"])),
        Err(FeedError::Inconsistent(_))
    ));
    // A first feed, or a new epoch, must list everything.
    assert!(HeldFeed::apply(None, doc(100, 7, 5, 1, 4, &["d", "e"])).is_err());
    assert!(HeldFeed::apply(Some(&held), doc(101, 8, 5, 1, 4, &["d", "e"])).is_err());
    // A new epoch (a new broker database) replaces the feed, but never with an older one.
    let fresh = HeldFeed::apply(Some(&held), doc(101, 8, 1, 1, 1, &["z"])).unwrap();
    assert_eq!(listed(&fresh), ["z"]);
    assert_eq!(
        HeldFeed::apply(Some(&fresh), doc(100, 7, 3, 1, 1, &["a", "b", "c"])),
        Err(FeedError::Replayed)
    );
}

#[test]
fn shared_records_round_trip_and_bad_ones_are_dropped() {
    let held = HeldFeed::apply(None, doc(100, 7, 3, 2, 2, &["b", "c"])).unwrap();
    let back = HeldFeed::from_json(&held.to_json().unwrap()).unwrap();
    assert_eq!(back, held);
    assert!(back.contains("c"));
    let gapped = br#"{"epoch":7,"iat":1,"first":2,"seq":9,"sids":["b"]}"#;
    assert!(HeldFeed::from_json(gapped).is_none());
    assert!(HeldFeed::from_json(b"not json").is_none());
}

#[test]
fn sessions_are_checked_and_staleness_fails_closed_unless_configured() {
    let held = HeldFeed::apply(None, doc(100, 7, 1, 1, 1, &["ended"])).unwrap();
    assert_eq!(check(Some(&held), "live", 150, 0, &SETTINGS), Check::Admit);
    assert_eq!(
        check(Some(&held), "ended", 150, 0, &SETTINGS),
        Check::Revoked
    );
    assert_eq!(check(Some(&held), "", 150, 0, &SETTINGS), Check::Revoked);
    // Past max_stale_s, or that long after the start without any feed: refused by default,
    // admitted when configured.
    assert_eq!(check(Some(&held), "live", 161, 0, &SETTINGS), Check::Stale);
    assert_eq!(check(None, "live", 1060, 1000, &SETTINGS), Check::Admit);
    assert_eq!(check(None, "live", 1061, 1000, &SETTINGS), Check::Stale);
    assert_eq!(check(None, "", 1000, 1000, &SETTINGS), Check::Revoked);
    let admit = RevocationSettings {
        admit_when_stale: true,
        ..SETTINGS
    };
    assert_eq!(check(Some(&held), "live", 161, 0, &admit), Check::Admit);
    assert_eq!(check(None, "live", 5000, 0, &admit), Check::Admit);
    // An ended session stays refused, stale or not.
    assert_eq!(check(Some(&held), "ended", 1000, 0, &admit), Check::Revoked);
    assert_eq!(age(Some(&held), 130), Some(30));
    assert_eq!(age(None, 130), None);
}
