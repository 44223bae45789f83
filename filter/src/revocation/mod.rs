//! Sessions ended at the broker (issue 17): the root context polls the broker's signed
//! revocation feed (`feed`, `fetch`), merges it into the feed it holds (`held`), shares it
//! with the other workers, and every request's session is checked against it here.

pub mod feed;
pub mod fetch;
pub mod held;

use crate::config::RevocationSettings;
use held::HeldFeed;

/// What the feed says of one session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    Admit,
    /// Ended at the broker (or carries no session id to check).
    Revoked,
    /// No feed fresh enough to tell, and the configuration refuses then (the default).
    Stale,
}

/// The session `sid` against the feed held, at `now`. Only called when the broker offers a
/// feed; an empty sid cannot be checked and counts as ended (the broker always sends one).
/// Until a first feed arrives, the filter's start (`started`) counts as its issue time: a
/// gateway that just started knows as little as one whose feed is that old, and the same
/// `max_stale_s` bounds both.
pub fn check(
    held: Option<&HeldFeed>,
    sid: &str,
    now: u64,
    started: u64,
    s: &RevocationSettings,
) -> Check {
    if sid.is_empty() || held.is_some_and(|h| h.contains(sid)) {
        return Check::Revoked;
    }
    let as_of = held.map_or(started, |h| h.iat);
    let fresh = now <= as_of.saturating_add(s.max_stale_s);
    if fresh || s.admit_when_stale {
        Check::Admit
    } else {
        Check::Stale
    }
}

/// Seconds since the feed held was issued (`None`: none yet), for logs and metrics.
pub fn age(held: Option<&HeldFeed>, now: u64) -> Option<u64> {
    held.map(|h| now.saturating_sub(h.iat))
}

#[cfg(test)]
mod tests;
