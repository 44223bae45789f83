//! Refresh tokens in SQL: each use locks its row first (an UPDATE), then checks the secret and
//! client, then rotates, extends or (on reuse) deletes the whole family, in one transaction.
//! A rotation that brings its successor stores it and extends the sign-in session in that same
//! transaction: one commit per refresh grant (each commit waits for the disk on SQLite).

use sqlx::{Any, AnyPool, Row, Transaction};

use super::refresh_spend::{decide, Presented, Spend, StoredToken};
use super::rows::{from_row, insert_error, text_column, to_json};
use super::{Backend, SqlStorage};
use crate::storage::{RefreshPolicy, RefreshToken, RefreshUse, Result, UnixTime};

impl SqlStorage {
    /// A flow write: the token endpoint's `Storage::sync` makes it durable before the answer.
    pub(super) async fn sql_create_refresh_token(&self, token: &RefreshToken) -> Result<()> {
        insert_refresh_token(self.backend, &self.flow, token).await?;
        self.flow_committed();
        Ok(())
    }

    pub(super) async fn sql_use_refresh_token(
        &self,
        id: &str,
        secret_hash: &str,
        client_id: &str,
        policy: &RefreshPolicy,
        now: UnixTime,
    ) -> Result<RefreshUse> {
        let presented = Presented {
            id,
            secret_hash,
            client_id,
        };
        self.sql_spend_refresh_token(&self.pool, presented, policy, now, None)
            .await
    }

    /// The use of [`Self::sql_use_refresh_token`]; with a `successor` (callers pass one with a
    /// rotating policy only), a valid or recently rotated token's successor is stored and its
    /// session extended before the commit. On `pool`: the durable one, or the flow one when the
    /// caller syncs before answering.
    pub(super) async fn sql_spend_refresh_token(
        &self,
        pool: &AnyPool,
        presented: Presented<'_>,
        policy: &RefreshPolicy,
        now: UnixTime,
        successor: Option<&RefreshToken>,
    ) -> Result<RefreshUse> {
        let id = presented.id;
        let mut tx = pool.begin().await?;
        let session = successor.and_then(|next| next.sid.as_deref());
        if let Some(sid) = session {
            // The session row first, as ending a session locks it before its family's tokens
            // (no lock-order deadlock on PostgreSQL and MySQL): an ending that committed first
            // leaves no live row here; one that comes later sees the successor and deletes it.
            if !lock_live_session(self.backend, &mut tx, sid).await? {
                return Ok(RefreshUse::Invalid);
            }
        }
        // Write first, so two concurrent uses of one token serialise here instead of both passing.
        let locked = sqlx::query(
            &self
                .backend
                .sql("UPDATE refresh_tokens SET spent = spent WHERE id = $1"),
        )
        .bind(id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if locked == 0 {
            return Ok(RefreshUse::Invalid);
        }
        let row = sqlx::query(&self.backend.sql(
            "SELECT secret_hash, client_id, spent, expires_at, family, data
             FROM refresh_tokens WHERE id = $1",
        ))
        .bind(id)
        .fetch_one(&mut *tx)
        .await?;
        let stored = StoredToken {
            secret_hash: row.try_get("secret_hash")?,
            client_id: row.try_get("client_id")?,
            spent: row.try_get("spent")?,
            expires_at: row.try_get("expires_at")?,
            family: row.try_get("family")?,
            data: text_column(&row, "data")?,
        };
        let used =
            match decide(stored, &presented, policy, now)? {
                Spend::Invalid => return Ok(RefreshUse::Invalid),
                Spend::RecentlyRotated(token) => {
                    let Some(next) = successor else {
                        return Ok(RefreshUse::RecentlyRotated(token));
                    };
                    store_successor(self.backend, &mut tx, next).await?;
                    RefreshUse::RecentlyRotated(token)
                }
                Spend::Reused { family } => {
                    delete_family(self.backend, &mut tx, &family).await?;
                    RefreshUse::Reused
                }
                Spend::Expired => {
                    sqlx::query(&self.backend.sql("DELETE FROM refresh_tokens WHERE id = $1"))
                        .bind(id)
                        .execute(&mut *tx)
                        .await?;
                    RefreshUse::Expired
                }
                Spend::Rotate {
                    token,
                    spent_at,
                    keep_until,
                } => {
                    sqlx::query(&self.backend.sql(
                        "UPDATE refresh_tokens SET spent = $1, expires_at = $2 WHERE id = $3",
                    ))
                    .bind(spent_at)
                    .bind(keep_until)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                    if let Some(next) = successor {
                        store_successor(self.backend, &mut tx, next).await?;
                    }
                    RefreshUse::Valid(token)
                }
                Spend::Slide {
                    token,
                    expires_at,
                    data,
                } => {
                    sqlx::query(
                        &self.backend.sql(
                            "UPDATE refresh_tokens SET expires_at = $1, data = $2 WHERE id = $3",
                        ),
                    )
                    .bind(expires_at)
                    .bind(data)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                    RefreshUse::Valid(token)
                }
            };
        tx.commit().await?;
        Ok(used)
    }

    pub(super) async fn sql_live_refresh_token(
        &self,
        id: &str,
        secret_hash: &str,
        client_id: &str,
        now: UnixTime,
    ) -> Result<Option<RefreshToken>> {
        let row = sqlx::query(&self.backend.sql(
            "SELECT secret_hash, client_id, data FROM refresh_tokens
             WHERE id = $1 AND spent = 0 AND expires_at > $2",
        ))
        .bind(id)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let stored_hash: String = row.try_get("secret_hash")?;
        let stored_client: String = row.try_get("client_id")?;
        let presented = Presented {
            id,
            secret_hash,
            client_id,
        };
        if !presented.matches(&stored_hash, &stored_client) {
            return Ok(None);
        }
        Ok(Some(from_row(&row)?))
    }

    pub(super) async fn sql_revoke_refresh_family(&self, family: &str) -> Result<u64> {
        let mut tx = self.pool.begin().await?;
        let n = delete_family(self.backend, &mut tx, family).await?;
        tx.commit().await?;
        Ok(n)
    }
}

async fn insert_refresh_token<'c>(
    backend: Backend,
    executor: impl sqlx::Executor<'c, Database = Any>,
    token: &RefreshToken,
) -> Result<()> {
    sqlx::query(&backend.sql(
        "INSERT INTO refresh_tokens (id, family, client_id, secret_hash, spent, expires_at, data)
         VALUES ($1, $2, $3, $4, 0, $5, $6)",
    ))
    .bind(&token.id)
    .bind(&token.family)
    .bind(&token.client_id)
    .bind(&token.secret_hash)
    .bind(token.expires_at)
    .bind(to_json(token)?)
    .execute(executor)
    .await
    .map_err(insert_error)?;
    Ok(())
}

/// Locks a live session's row; false when the session has ended or is gone.
async fn lock_live_session(
    backend: Backend,
    tx: &mut Transaction<'_, Any>,
    sid: &str,
) -> Result<bool> {
    let matched =
        sqlx::query(&backend.sql("UPDATE sessions SET seq = seq WHERE sid = $1 AND seq = 0"))
            .bind(sid)
            .execute(&mut **tx)
            .await?
            .rows_affected();
    Ok(matched > 0)
}

/// The successor's row, and its session's expiry moved up to the successor's (never down).
async fn store_successor(
    backend: Backend,
    tx: &mut Transaction<'_, Any>,
    next: &RefreshToken,
) -> Result<()> {
    insert_refresh_token(backend, &mut **tx, next).await?;
    if let Some(sid) = &next.sid {
        super::session_expiry::extend(backend, &mut **tx, sid, next.expires_at).await?;
    }
    Ok(())
}

pub(super) async fn delete_family(
    backend: Backend,
    tx: &mut Transaction<'_, Any>,
    family: &str,
) -> Result<u64> {
    Ok(
        sqlx::query(&backend.sql("DELETE FROM refresh_tokens WHERE family = $1"))
            .bind(family)
            .execute(&mut **tx)
            .await?
            .rows_affected(),
    )
}
