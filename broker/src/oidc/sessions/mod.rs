//! Sign-in sessions (issue 17): every sign-in starts one (its `sid` goes into the ID tokens
//! and the refresh-token family); sign-out, revocation, an administrator or the user's
//! deletion ends it. Ending revokes the family and lists the sid in the revocation feed
//! (`feed.rs`) that gateways poll.

pub mod backchannel;
pub mod feed;

use super::AppState;
use crate::connector::Identity;
use crate::random::random_session_id;
use crate::storage::{now, EndCause, SessionRecord, SessionSelector, StorageError, UnixTime};

/// How long an ended session stays in the feed: a gateway session is good without the broker
/// until its ID token expires (then it must refresh, which fails once the session ended), so
/// the ID-token lifetime bounds how long a gateway can still need the entry.
pub fn listed_for(app: &AppState) -> i64 {
    app.config.expiry.id_tokens.as_secs() as i64
}

/// What a new session is about.
pub struct SignIn<'a> {
    pub client_id: &'a str,
    pub connector_id: &'a str,
    pub identity: &'a Identity,
    /// The refresh-token family the sign-in starts.
    pub family: &'a str,
}

/// Records a new session; returns its sid.
pub async fn start(app: &AppState, who: &SignIn<'_>, t: UnixTime) -> Result<String, StorageError> {
    let policy = super::refresh_policy::refresh_policy(app);
    let sid = random_session_id();
    let record = SessionRecord {
        sid: sid.clone(),
        family: who.family.to_string(),
        client_id: who.client_id.to_string(),
        connector_id: who.connector_id.to_string(),
        user_id: who.identity.user_id.clone(),
        created_at: t,
        // Tokens of this sign-in live at most that long (refreshes extend it, see `extend`).
        expires_at: policy
            .expires_at(t, t)
            .max(t.saturating_add(listed_for(app))),
        ended: None,
    };
    app.storage.create_session(&record).await?;
    Ok(sid)
}

/// Ends the live sessions `which` names (revoking their refresh tokens); returns them.
pub async fn end(
    app: &AppState,
    which: SessionSelector<'_>,
    cause: EndCause,
) -> Result<Vec<SessionRecord>, StorageError> {
    let t = now();
    let until = t.saturating_add(listed_for(app));
    let ended = app.storage.end_sessions(which, cause, t, until).await?;
    if !ended.is_empty() {
        app.metrics
            .sessions
            .ended(cause.as_str(), ended.len() as u64);
        tracing::info!(
            cause = cause.as_str(),
            sessions = ended.len(),
            "sessions ended"
        );
        backchannel::notify(app, &ended).await;
    }
    Ok(ended)
}

/// Whether a session may still be used: unknown sids (rows from before sessions, or
/// garbage-collected) are refused too, so an ended session never comes back.
pub async fn is_live(app: &AppState, sid: &str) -> Result<bool, StorageError> {
    Ok(app
        .storage
        .get_session(sid)
        .await?
        .is_some_and(|s| s.ended.is_none()))
}
