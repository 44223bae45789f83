//! SQL for login throttling and fixed-window counters (see [`super::throttle`]). Each operation
//! is one transaction that takes its rows' locks first (an upsert, then an UPDATE), in key
//! order, so replicas on one PostgreSQL serialise per key and never deadlock on two keys.

use sqlx::{Any, Row, Transaction};

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
