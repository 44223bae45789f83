//! [`Sessions`] on SQLite and PostgreSQL. One row per session (the record as JSON in `data`,
//! beside the columns queries select on); `seq` is 0 while a session lives and its feed number
//! once ended. Numbers come from the one `session_feed` row, locked first by every ending, so
//! replicas hand them out in commit order and without gaps: a reader that saw number n has seen
//! every number below it. Every statement goes through [`Backend::sql`] (MySQL's `?`
//! parameters are positional: each `$n` appears once, in order).

use async_trait::async_trait;
use rand::Rng;
use sqlx::{Any, Row, Transaction};

use super::refresh::delete_family;
use super::rows::{from_json, from_row, insert_error, to_json};
use super::session_expiry::extend;
use super::{Backend, SqlStorage};
use crate::storage::{
    EndCause, Ended, FeedPage, Result, SessionRecord, SessionSelector, Sessions, UnixTime,
};

/// Schema (migration 5; see `migrations.rs`).
pub const MIGRATION: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS sessions (
        sid TEXT PRIMARY KEY,
        family TEXT NOT NULL,
        user_id TEXT NOT NULL,
        connector_id TEXT NOT NULL,
        seq BIGINT NOT NULL,
        listed_until BIGINT NOT NULL,
        expires_at BIGINT NOT NULL,
        data TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS sessions_family ON sessions (family)",
    "CREATE INDEX IF NOT EXISTS sessions_user ON sessions (user_id, connector_id)",
    "CREATE INDEX IF NOT EXISTS sessions_connector ON sessions (connector_id)",
    "CREATE INDEX IF NOT EXISTS sessions_seq ON sessions (seq)",
    // epoch 0: not chosen yet (a random one is set on first use; SQL has no portable random).
    "CREATE TABLE IF NOT EXISTS session_feed (
        id BIGINT PRIMARY KEY,
        epoch BIGINT NOT NULL,
        seq BIGINT NOT NULL)",
    "INSERT INTO session_feed (id, epoch, seq) VALUES (1, 0, 0)",
];

/// Locks the feed row and returns `(epoch, seq)`, choosing the epoch on first use.
async fn lock_feed(backend: Backend, tx: &mut Transaction<'_, Any>) -> Result<(i64, i64)> {
    let epoch: i64 = rand::rngs::OsRng.gen_range(1..i64::MAX);
    sqlx::query(&backend.sql(
        "UPDATE session_feed SET epoch = CASE WHEN epoch = 0 THEN $1 ELSE epoch END WHERE id = 1",
    ))
    .bind(epoch)
    .execute(&mut **tx)
    .await?;
    let row = sqlx::query("SELECT epoch, seq FROM session_feed WHERE id = 1")
        .fetch_one(&mut **tx)
        .await?;
    Ok((row.try_get("epoch")?, row.try_get("seq")?))
}

/// The lowest number still listed (`seq + 1` when none is).
async fn floor(
    backend: Backend,
    tx: &mut Transaction<'_, Any>,
    seq: i64,
    now: UnixTime,
) -> Result<i64> {
    let row = sqlx::query(
        &backend.sql("SELECT MIN(seq) AS lowest FROM sessions WHERE seq > 0 AND listed_until > $1"),
    )
    .bind(now)
    .fetch_one(&mut **tx)
    .await?;
    let floor: Option<i64> = row.try_get("lowest")?;
    Ok(floor.unwrap_or(seq + 1))
}

#[async_trait]
impl Sessions for SqlStorage {
    async fn create_session(&self, s: &SessionRecord) -> Result<()> {
        if let Some(inline) = &self.inline {
            inline.create_session(s).await?;
            self.flow_committed();
            return Ok(());
        }
        sqlx::query(&self.backend.sql(
            "INSERT INTO sessions (sid, family, user_id, connector_id, seq, listed_until, expires_at, data)
             VALUES ($1, $2, $3, $4, 0, 0, $5, $6)",
        ))
        .bind(&s.sid)
        .bind(&s.family)
        .bind(&s.user_id)
        .bind(&s.connector_id)
        .bind(s.expires_at)
        .bind(to_json(s)?)
        .execute(&self.flow)
        .await
        .map_err(insert_error)?;
        self.flow_committed();
        Ok(())
    }

    async fn get_session(&self, sid: &str) -> Result<Option<SessionRecord>> {
        if let Some(inline) = &self.inline {
            let data = inline.session_data(sid).await?;
            return data.as_deref().map(from_json).transpose();
        }
        let row = sqlx::query(&self.backend.sql("SELECT data FROM sessions WHERE sid = $1"))
            .bind(sid)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(from_row).transpose()
    }

    async fn extend_session(&self, sid: &str, expires_at: UnixTime) -> Result<()> {
        if let Some(inline) = &self.inline {
            inline.extend_session(sid, expires_at).await?;
            self.flow_committed();
            return Ok(());
        }
        extend(self.backend, &self.flow, sid, expires_at).await?;
        self.flow_committed();
        Ok(())
    }

    async fn end_sessions(
        &self,
        which: SessionSelector<'_>,
        cause: EndCause,
        now: UnixTime,
        listed_until: UnixTime,
    ) -> Result<Vec<SessionRecord>> {
        let mut tx = self.pool.begin().await?;
        let (_, mut seq) = lock_feed(self.backend, &mut tx).await?;
        let (clause, a, b) = match which {
            SessionSelector::Sid(sid) => ("sid = $1", sid, ""),
            SessionSelector::Family(f) => ("family = $1", f, ""),
            SessionSelector::User {
                user_id,
                connector_id,
            } => ("user_id = $1 AND connector_id = $2", user_id, connector_id),
            SessionSelector::Connector(c) => ("connector_id = $1", c, ""),
        };
        let sql = format!("SELECT data FROM sessions WHERE seq = 0 AND {clause} ORDER BY sid");
        let sql = self.backend.sql(&sql);
        let mut q = sqlx::query(&sql).bind(a);
        if !b.is_empty() {
            q = q.bind(b);
        }
        let rows = q.fetch_all(&mut *tx).await?;
        let mut ended = Vec::with_capacity(rows.len());
        for row in &rows {
            let mut s: SessionRecord = from_row(row)?;
            seq += 1;
            s.ended = Some(Ended {
                at: now,
                cause,
                seq,
                listed_until,
            });
            sqlx::query(
                &self.backend.sql(
                    "UPDATE sessions SET seq = $1, listed_until = $2, data = $3 WHERE sid = $4",
                ),
            )
            .bind(seq)
            .bind(listed_until)
            .bind(to_json(&s)?)
            .bind(&s.sid)
            .execute(&mut *tx)
            .await?;
            delete_family(self.backend, &mut tx, &s.family).await?;
            ended.push(s);
        }
        sqlx::query(
            &self
                .backend
                .sql("UPDATE session_feed SET seq = $1 WHERE id = 1"),
        )
        .bind(seq)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(ended)
    }

    async fn revocation_feed(&self, held: (i64, i64), now: UnixTime) -> Result<FeedPage> {
        // Read without locking (gateways poll often): the number first, then only rows up to
        // it, all committed with it (an ending commits its rows and the number together).
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query(
            &self
                .backend
                .sql("SELECT epoch, seq FROM session_feed WHERE id = 1"),
        )
        .fetch_one(&mut *tx)
        .await?;
        let (mut epoch, mut seq): (i64, i64) = (row.try_get("epoch")?, row.try_get("seq")?);
        if epoch == 0 {
            (epoch, seq) = lock_feed(self.backend, &mut tx).await?;
        }
        let floor = floor(self.backend, &mut tx, seq, now).await?;
        let from = FeedPage::first_sent(epoch, seq, floor, held);
        let rows = sqlx::query(
            &self
                .backend
                .sql("SELECT sid FROM sessions WHERE seq >= $1 AND seq <= $2 ORDER BY seq"),
        )
        .bind(from)
        .bind(seq)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        let sids = rows
            .iter()
            .map(|r| r.try_get::<String, _>("sid"))
            .collect::<std::result::Result<_, _>>()?;
        Ok(FeedPage {
            epoch,
            seq,
            floor,
            from,
            sids,
        })
    }

    async fn delete_expired_sessions(&self, now: UnixTime) -> Result<u64> {
        let mut tx = self.pool.begin().await?;
        let (_, seq) = lock_feed(self.backend, &mut tx).await?;
        let floor = floor(self.backend, &mut tx, seq, now).await?;
        let unlisted = sqlx::query(
            &self
                .backend
                .sql("DELETE FROM sessions WHERE seq > 0 AND seq < $1"),
        )
        .bind(floor)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        let expired = sqlx::query(
            &self
                .backend
                .sql("DELETE FROM sessions WHERE seq = 0 AND expires_at <= $1"),
        )
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        Ok(unlisted + expired)
    }
}
