//! Sign-in sessions (issue 17): one record per sign-in, named by the `sid` the ID tokens carry
//! and the refresh-token family records. Ending a session revokes its family and gives it the
//! next number of the revocation feed, so gateways learn of it without a call per request.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::{Result, UnixTime};

/// Why a session ended (the label of the `sessions_ended_total` metric).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EndCause {
    /// RP-initiated logout at the end-session endpoint.
    SignOut,
    /// The client revoked the session's refresh token (RFC 7009; the filter's sign-out).
    Revoked,
    /// An administrator, through the API or the CLI.
    Admin,
    /// The user was deleted from the password database.
    UserDeleted,
}

impl EndCause {
    pub fn as_str(self) -> &'static str {
        match self {
            EndCause::SignOut => "sign_out",
            EndCause::Revoked => "revoked",
            EndCause::Admin => "admin",
            EndCause::UserDeleted => "user_deleted",
        }
    }
}

/// How a session ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ended {
    pub at: UnixTime,
    pub cause: EndCause,
    /// Its number in the revocation feed (from 1, gapless).
    pub seq: i64,
    /// Listed in the feed until then: a gateway session outlives its end at most this long.
    pub listed_until: UnixTime,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionRecord {
    pub sid: String,
    /// The refresh-token family started by this sign-in (the authorization code's hash).
    pub family: String,
    pub client_id: String,
    pub connector_id: String,
    pub user_id: String,
    pub created_at: UnixTime,
    /// A live session is forgotten after this (its tokens cannot outlive it).
    pub expires_at: UnixTime,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended: Option<Ended>,
}

/// Which sessions to end.
#[derive(Debug, Clone, Copy)]
pub enum SessionSelector<'a> {
    Sid(&'a str),
    /// The session a refresh-token family belongs to.
    Family(&'a str),
    User {
        user_id: &'a str,
        connector_id: &'a str,
    },
    Connector(&'a str),
}

impl SessionSelector<'_> {
    pub fn matches(&self, s: &SessionRecord) -> bool {
        match *self {
            SessionSelector::Sid(sid) => s.sid == sid,
            SessionSelector::Family(f) => s.family == f,
            SessionSelector::User {
                user_id,
                connector_id,
            } => s.user_id == user_id && s.connector_id == connector_id,
            SessionSelector::Connector(c) => s.connector_id == c,
        }
    }
}

/// The ended sessions a gateway does not hold yet. Entries are numbered without gaps; those
/// numbered below `floor` are no longer listed (past `listed_until`), so a holder drops them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedPage {
    /// Changes when the feed starts over (a new database): a holder then replaces its copy.
    pub epoch: i64,
    /// The number of the latest ended session (0: none yet).
    pub seq: i64,
    pub floor: i64,
    /// The number of `sids[0]`; `sids` run from there to `seq`.
    pub from: i64,
    pub sids: Vec<String>,
}

impl FeedPage {
    /// Which entries a holder of `(epoch, since)` is sent: the ones after `since`, or all the
    /// listed ones when it holds another epoch (or claims a number not reached yet).
    pub fn first_sent(epoch: i64, seq: i64, floor: i64, held: (i64, i64)) -> i64 {
        let (held_epoch, since) = held;
        if held_epoch != epoch || since > seq || since < 0 {
            floor
        } else {
            floor.max(since + 1)
        }
    }
}

#[async_trait]
pub trait Sessions: Send + Sync {
    /// Fails with `AlreadyExists` when the sid is taken.
    async fn create_session(&self, session: &SessionRecord) -> Result<()>;
    async fn get_session(&self, sid: &str) -> Result<Option<SessionRecord>>;
    /// Moves a live session's expiry later (a refresh extended its family); never earlier.
    async fn extend_session(&self, sid: &str, expires_at: UnixTime) -> Result<()>;
    /// Ends the live sessions `which` names, atomically: each gets the next feed number and
    /// its refresh-token family is revoked. Returns the sessions ended now (already ended ones
    /// are not ended again).
    async fn end_sessions(
        &self,
        which: SessionSelector<'_>,
        cause: EndCause,
        now: UnixTime,
        listed_until: UnixTime,
    ) -> Result<Vec<SessionRecord>>;
    /// The feed for a holder of `held = (epoch, last number)`; `(0, 0)` asks for all of it.
    async fn revocation_feed(&self, held: (i64, i64), now: UnixTime) -> Result<FeedPage>;
    /// Forgets live sessions past their expiry and ended ones no longer listed; how many.
    async fn delete_expired_sessions(&self, now: UnixTime) -> Result<u64>;
}
