//! What one use of a refresh token does, decided from its stored row: the rules of a spend,
//! shared by both drivers that run it (sqlx's transaction in `refresh.rs`, SQLite's inline one
//! in `sqlite_inline.rs`), so each driver only carries out the [`Spend`] it is handed.

use subtle::ConstantTimeEq;

use super::rows::{from_json, to_json};
use crate::storage::memory::SPENT_MEMORY_SECS;
use crate::storage::{RefreshPolicy, RefreshToken, Result, UnixTime};

/// A refresh token as presented: its id and secret's hash, and the client presenting it.
pub(super) struct Presented<'a> {
    pub id: &'a str,
    pub secret_hash: &'a str,
    pub client_id: &'a str,
}

impl Presented<'_> {
    /// Whether a row's secret hash (compared in constant time) and client are the presented ones.
    pub(super) fn matches(&self, secret_hash: &str, client_id: &str) -> bool {
        let secret_ok: bool = secret_hash
            .as_bytes()
            .ct_eq(self.secret_hash.as_bytes())
            .into();
        secret_ok && client_id == self.client_id
    }
}

/// The columns of a `refresh_tokens` row a spend reads.
pub(super) struct StoredToken {
    pub secret_hash: String,
    pub client_id: String,
    /// 0 while live; when it was rotated once spent (older rows: 1, long ago).
    pub spent: i64,
    pub expires_at: i64,
    pub family: String,
    /// The record as JSON.
    pub data: String,
}

/// What a spend does to the store, and what it answers.
pub(super) enum Spend {
    /// Wrong secret or client: nothing changes.
    Invalid,
    /// Rotated within the reuse interval: the token as it was answers again, and a successor
    /// (if the caller brought one) is stored beside the first.
    RecentlyRotated(Box<RefreshToken>),
    /// Rotated before the reuse interval: a replay, so this family is deleted.
    Reused { family: String },
    /// Past its lifetime: the row is deleted.
    Expired,
    /// Valid, rotating: the row is marked spent at `spent_at` and kept until `keep_until` (to
    /// tell a late reuse from an unknown token), and the successor is stored.
    Rotate {
        token: Box<RefreshToken>,
        spent_at: UnixTime,
        keep_until: UnixTime,
    },
    /// Valid, not rotating: the row's lifetime slides to `expires_at`, its JSON to `data`.
    /// `token` is the record as found (what the caller issues from).
    Slide {
        token: Box<RefreshToken>,
        expires_at: UnixTime,
        data: String,
    },
}

/// Decides the use of `stored`, the row of the presented id.
pub(super) fn decide(
    stored: StoredToken,
    presented: &Presented<'_>,
    policy: &RefreshPolicy,
    now: UnixTime,
) -> Result<Spend> {
    if !presented.matches(&stored.secret_hash, &stored.client_id) {
        return Ok(Spend::Invalid);
    }
    if stored.spent != 0 {
        if now < stored.spent.saturating_add(policy.reuse_interval_secs) {
            return Ok(Spend::RecentlyRotated(Box::new(record(&stored.data)?)));
        }
        return Ok(Spend::Reused {
            family: stored.family,
        });
    }
    if stored.expires_at <= now {
        return Ok(Spend::Expired);
    }
    let token = Box::new(record(&stored.data)?);
    if policy.rotate {
        return Ok(Spend::Rotate {
            token,
            spent_at: now.max(1),
            keep_until: stored.expires_at.min(now + SPENT_MEMORY_SECS),
        });
    }
    let mut slid = (*token).clone();
    slid.last_used = now;
    slid.expires_at = policy.expires_at(slid.created_at, now);
    let data = to_json(&slid)?;
    Ok(Spend::Slide {
        token,
        expires_at: slid.expires_at,
        data,
    })
}

fn record(data: &str) -> Result<RefreshToken> {
    from_json(data)
}
