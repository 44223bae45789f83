//! Moving a live session's expiry column forward, shared by the session API and the refresh
//! grant's rotation (both in their own transaction or none); its own module so that
//! `sessions` and `refresh` do not import each other.

use sqlx::Any;

use super::Backend;
use crate::storage::{Result, UnixTime};

/// Moves a live session's expiry up to `expires_at` (never down).
pub(super) async fn extend<'c>(
    backend: Backend,
    executor: impl sqlx::Executor<'c, Database = Any>,
    sid: &str,
    expires_at: UnixTime,
) -> Result<()> {
    // The JSON copy keeps the creation-time expiry; the column is what GC goes by.
    sqlx::query(
        &backend.sql(
            "UPDATE sessions SET expires_at = $1 WHERE sid = $2 AND seq = 0 AND expires_at < $3",
        ),
    )
    .bind(expires_at)
    .bind(sid)
    .bind(expires_at)
    .execute(executor)
    .await?;
    Ok(())
}
