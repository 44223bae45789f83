//! SQL for login throttling and fixed-window counters (see [`super::throttle`]). Each operation
//! is one transaction that takes its rows' locks first (an upsert, then an UPDATE), in key
//! order, so replicas on one PostgreSQL serialise per key and never deadlock on two keys. On
//! SQLite the same steps run on the inline connection (`sqlite_inline.rs`), each in a
//! transaction that takes SQLite's one write lock first.

use rusqlite::{params, Connection, OptionalExtension};
use sqlx::{Any, Row, Transaction};

use super::sqlite_inline::InlineSqlite;
use super::{Backend, SqlStorage};
use crate::storage::throttle::{self, ThrottleRow};
use crate::storage::{AttemptOutcome, LoginGate, Result, ThrottleKey, UnixTime};

async fn lock_row(
    backend: Backend,
    tx: &mut Transaction<'_, Any>,
    id: &str,
) -> Result<ThrottleRow> {
    sqlx::query(&backend.sql(
        "INSERT INTO login_throttle (id, failures, blocked_until, busy_until, expires_at)
         VALUES ($1, 0, 0, 0, 0) ON CONFLICT (id) DO NOTHING",
    ))
    .bind(id)
    .execute(&mut **tx)
    .await?;
    sqlx::query(&backend.sql("UPDATE login_throttle SET failures = failures WHERE id = $1"))
        .bind(id)
        .execute(&mut **tx)
        .await?;
    let row = sqlx::query(&backend.sql(
        "SELECT failures, blocked_until, busy_until, expires_at FROM login_throttle WHERE id = $1",
    ))
    .bind(id)
    .fetch_one(&mut **tx)
    .await?;
    Ok(ThrottleRow {
        failures: row.try_get("failures")?,
        blocked_until: row.try_get("blocked_until")?,
        busy_until: row.try_get("busy_until")?,
        expires_at: row.try_get("expires_at")?,
    })
}

async fn write_row(
    backend: Backend,
    tx: &mut Transaction<'_, Any>,
    id: &str,
    row: ThrottleRow,
) -> Result<()> {
    sqlx::query(&backend.sql(
        "UPDATE login_throttle SET failures = $1, blocked_until = $2, busy_until = $3,
         expires_at = $4 WHERE id = $5",
    ))
    .bind(row.failures)
    .bind(row.blocked_until)
    .bind(row.busy_until)
    .bind(row.expires_at)
    .bind(id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

fn in_lock_order(keys: &[ThrottleKey]) -> Vec<&ThrottleKey> {
    let mut sorted: Vec<&ThrottleKey> = keys.iter().collect();
    sorted.sort_by(|a, b| a.id.cmp(&b.id));
    sorted.dedup_by(|a, b| a.id == b.id);
    sorted
}

impl SqlStorage {
    pub(super) async fn sql_begin_login_attempt(
        &self,
        keys: &[ThrottleKey],
        now: UnixTime,
        lease_until: UnixTime,
    ) -> Result<LoginGate> {
        let keys = in_lock_order(keys);
        if let Some(inline) = &self.inline {
            let gate = inline.begin_login_attempt(&keys, now, lease_until).await?;
            self.flow_committed();
            return Ok(gate);
        }
        let mut tx = self.flow.begin().await?;
        let mut rows = Vec::with_capacity(keys.len());
        for key in &keys {
            rows.push(lock_row(self.backend, &mut tx, &key.id).await?);
        }
        let (gate, writes) = throttle::begin(keys.iter().copied(), rows, now, lease_until);
        for (key, row) in writes {
            write_row(self.backend, &mut tx, &key.id, row).await?;
        }
        tx.commit().await?;
        self.flow_committed();
        Ok(gate)
    }

    pub(super) async fn sql_end_login_attempt(
        &self,
        keys: &[ThrottleKey],
        outcome: AttemptOutcome,
        now: UnixTime,
    ) -> Result<()> {
        let keys = in_lock_order(keys);
        if let Some(inline) = &self.inline {
            inline.end_login_attempt(&keys, outcome, now).await?;
            self.flow_committed();
            return Ok(());
        }
        let mut tx = self.flow.begin().await?;
        for key in keys {
            let row = lock_row(self.backend, &mut tx, &key.id).await?;
            write_row(
                self.backend,
                &mut tx,
                &key.id,
                row.ended(&key.backoff, outcome, now),
            )
            .await?;
        }
        tx.commit().await?;
        self.flow_committed();
        Ok(())
    }

    pub(super) async fn sql_count_in_window(
        &self,
        key: &str,
        limit: i64,
        window_secs: i64,
        now: UnixTime,
    ) -> Result<bool> {
        if let Some(inline) = &self.inline {
            let counted = inline.count_in_window(key, limit, window_secs, now).await?;
            self.flow_committed();
            return Ok(counted);
        }
        let mut tx = self.flow.begin().await?;
        sqlx::query(&self.backend.sql(
            "INSERT INTO rate_windows (id, window_end, count) VALUES ($1, 0, 0)
             ON CONFLICT (id) DO NOTHING",
        ))
        .bind(key)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            &self
                .backend
                .sql("UPDATE rate_windows SET count = count WHERE id = $1"),
        )
        .bind(key)
        .execute(&mut *tx)
        .await?;
        let row = sqlx::query(
            &self
                .backend
                .sql("SELECT window_end, count FROM rate_windows WHERE id = $1"),
        )
        .bind(key)
        .fetch_one(&mut *tx)
        .await?;
        let end: i64 = row.try_get("window_end")?;
        let count: i64 = row.try_get("count")?;
        let Some((end, count)) = throttle::count_step((end, count), limit, window_secs, now) else {
            tx.commit().await?;
            self.flow_committed();
            return Ok(false);
        };
        sqlx::query(
            &self
                .backend
                .sql("UPDATE rate_windows SET window_end = $1, count = $2 WHERE id = $3"),
        )
        .bind(end)
        .bind(count)
        .bind(key)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        self.flow_committed();
        Ok(true)
    }

    pub(super) async fn sql_delete_expired_throttle(&self, now: UnixTime) -> Result<u64> {
        let a = sqlx::query(
            &self
                .backend
                .sql("DELETE FROM login_throttle WHERE expires_at <= $1"),
        )
        .bind(now)
        .execute(&self.pool)
        .await?
        .rows_affected();
        let b = sqlx::query(
            &self
                .backend
                .sql("DELETE FROM rate_windows WHERE window_end <= $1"),
        )
        .bind(now)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(a + b)
    }
}

impl InlineSqlite {
    /// [`SqlStorage::sql_begin_login_attempt`] on the inline connection; `keys` deduplicated.
    async fn begin_login_attempt(
        &self,
        keys: &[&ThrottleKey],
        now: UnixTime,
        lease_until: UnixTime,
    ) -> Result<LoginGate> {
        let gate = self
            .write(|tx| {
                let rows = keys
                    .iter()
                    .map(|key| read_row(tx, &key.id))
                    .collect::<Result<Vec<_>>>()?;
                let (gate, writes) = throttle::begin(keys.iter().copied(), rows, now, lease_until);
                for (key, row) in writes {
                    store_row(tx, &key.id, row)?;
                }
                Ok(gate)
            })
            .await?;
        self.committed();
        Ok(gate)
    }

    /// [`SqlStorage::sql_end_login_attempt`] on the inline connection; `keys` deduplicated.
    async fn end_login_attempt(
        &self,
        keys: &[&ThrottleKey],
        outcome: AttemptOutcome,
        now: UnixTime,
    ) -> Result<()> {
        self.write(|tx| {
            for key in keys {
                let row = read_row(tx, &key.id)?;
                store_row(tx, &key.id, row.ended(&key.backoff, outcome, now))?;
            }
            Ok(())
        })
        .await?;
        self.committed();
        Ok(())
    }

    /// [`SqlStorage::sql_count_in_window`] on the inline connection.
    async fn count_in_window(
        &self,
        key: &str,
        limit: i64,
        window_secs: i64,
        now: UnixTime,
    ) -> Result<bool> {
        let counted = self
            .write(|tx| {
                let stored = tx
                    .prepare_cached("SELECT window_end, count FROM rate_windows WHERE id = ?1")?
                    .query_row([key], |row| Ok((row.get(0)?, row.get(1)?)))
                    .optional()?
                    .unwrap_or((0, 0));
                let Some((end, count)) = throttle::count_step(stored, limit, window_secs, now)
                else {
                    return Ok(false);
                };
                tx.prepare_cached(
                    "INSERT INTO rate_windows (id, window_end, count) VALUES (?1, ?2, ?3)
                     ON CONFLICT (id) DO UPDATE SET window_end = excluded.window_end,
                     count = excluded.count",
                )?
                .execute(params![key, end, count])?;
                Ok(true)
            })
            .await?;
        // A full window wrote nothing.
        if counted {
            self.committed();
        }
        Ok(counted)
    }
}

/// A key's throttle row inside a write transaction (a forgotten or absent row reads as zeros).
fn read_row(tx: &Connection, id: &str) -> Result<ThrottleRow> {
    Ok(tx
        .prepare_cached(
            "SELECT failures, blocked_until, busy_until, expires_at FROM login_throttle
             WHERE id = ?1",
        )?
        .query_row([id], |row| {
            Ok(ThrottleRow {
                failures: row.get(0)?,
                blocked_until: row.get(1)?,
                busy_until: row.get(2)?,
                expires_at: row.get(3)?,
            })
        })
        .optional()?
        .unwrap_or_default())
}

fn store_row(tx: &Connection, id: &str, row: ThrottleRow) -> Result<()> {
    tx.prepare_cached(
        "INSERT INTO login_throttle (id, failures, blocked_until, busy_until, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (id) DO UPDATE SET failures = excluded.failures,
         blocked_until = excluded.blocked_until, busy_until = excluded.busy_until,
         expires_at = excluded.expires_at",
    )?
    .execute(params![
        id,
        row.failures,
        row.blocked_until,
        row.busy_until,
        row.expires_at
    ])?;
    Ok(())
}
