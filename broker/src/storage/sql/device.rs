//! [`DeviceRequests`] on SQLite and PostgreSQL: the request as JSON beside its two keys. Every
//! change locks the row first (an UPDATE), then applies the same step the memory backend does,
//! so two polls or two decisions of one request serialise.

use async_trait::async_trait;
use sqlx::Row;
use subtle::ConstantTimeEq;

use super::dialect::Backend;
use super::rows::{from_row, insert_error, to_json};
use super::SqlStorage;
use crate::storage::device::{
    poll_step, DeviceDecision, DevicePoll, DeviceRequest, DeviceRequests, PollChange,
};
use crate::storage::{Result, UnixTime};

/// Schema (migration 6; see `migrations.rs`).
pub const MIGRATION: &[&str] = &["CREATE TABLE IF NOT EXISTS device_requests (
        id TEXT PRIMARY KEY,
        user_code TEXT NOT NULL UNIQUE,
        expires_at BIGINT NOT NULL,
        data TEXT NOT NULL)"];

impl SqlStorage {
    /// Locks and reads one request inside `tx`; None when unknown.
    async fn lock_device_request(
        backend: Backend,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        device_code_hash: &str,
    ) -> Result<Option<DeviceRequest>> {
        let locked = sqlx::query(
            &backend.sql("UPDATE device_requests SET expires_at = expires_at WHERE id = $1"),
        )
        .bind(device_code_hash)
        .execute(&mut **tx)
        .await?
        .rows_affected();
        if locked == 0 {
            return Ok(None);
        }
        let row = sqlx::query(&backend.sql("SELECT data FROM device_requests WHERE id = $1"))
            .bind(device_code_hash)
            .fetch_one(&mut **tx)
            .await?;
        Ok(Some(from_row(&row)?))
    }

    async fn store_device_request(
        backend: Backend,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        request: &DeviceRequest,
    ) -> Result<()> {
        sqlx::query(&backend.sql("UPDATE device_requests SET data = $1 WHERE id = $2"))
            .bind(to_json(request)?)
            .bind(&request.device_code_hash)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }
}

#[async_trait]
impl DeviceRequests for SqlStorage {
    async fn create_device_request(&self, request: &DeviceRequest) -> Result<()> {
        sqlx::query(&self.backend.sql(
            "INSERT INTO device_requests (id, user_code, expires_at, data) VALUES ($1, $2, $3, $4)",
        ))
        .bind(&request.device_code_hash)
        .bind(&request.user_code_hash)
        .bind(request.expires_at)
        .bind(to_json(request)?)
        .execute(&self.pool)
        .await
        .map_err(insert_error)?;
        Ok(())
    }

    async fn pending_device_request(
        &self,
        user_code_hash: &str,
        now: UnixTime,
    ) -> Result<Option<DeviceRequest>> {
        let row = sqlx::query(&self.backend.sql(
            "SELECT user_code, data FROM device_requests WHERE user_code = $1 AND expires_at > $2",
        ))
        .bind(user_code_hash)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        // The index found it; the comparison that decides is the constant-time one.
        let stored: String = row.try_get("user_code")?;
        if !bool::from(stored.as_bytes().ct_eq(user_code_hash.as_bytes())) {
            return Ok(None);
        }
        let request: DeviceRequest = from_row(&row)?;
        Ok((request.decision == DeviceDecision::Pending).then_some(request))
    }

    async fn decide_device_request(
        &self,
        device_code_hash: &str,
        decision: &DeviceDecision,
        now: UnixTime,
    ) -> Result<bool> {
        let mut tx = self.pool.begin().await?;
        let Some(mut request) =
            Self::lock_device_request(self.backend, &mut tx, device_code_hash).await?
        else {
            return Ok(false);
        };
        if request.expires_at <= now || request.decision != DeviceDecision::Pending {
            return Ok(false);
        }
        request.decision = decision.clone();
        Self::store_device_request(self.backend, &mut tx, &request).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn poll_device_request(
        &self,
        device_code_hash: &str,
        client_id: &str,
        now_ms: i64,
    ) -> Result<DevicePoll> {
        let mut tx = self.pool.begin().await?;
        let Some(mut request) =
            Self::lock_device_request(self.backend, &mut tx, device_code_hash).await?
        else {
            return Ok(DevicePoll::Unknown);
        };
        let (poll, change) = poll_step(&request, client_id, now_ms);
        match change {
            PollChange::None => return Ok(poll),
            PollChange::Touch(at, interval) => {
                request.last_poll_ms = at;
                request.interval_secs = interval;
                Self::store_device_request(self.backend, &mut tx, &request).await?;
            }
            PollChange::Delete => {
                sqlx::query(
                    &self
                        .backend
                        .sql("DELETE FROM device_requests WHERE id = $1"),
                )
                .bind(device_code_hash)
                .execute(&mut *tx)
                .await?;
            }
        }
        tx.commit().await?;
        Ok(poll)
    }

    async fn delete_expired_device_requests(&self, now: UnixTime) -> Result<u64> {
        Ok(sqlx::query(
            &self
                .backend
                .sql("DELETE FROM device_requests WHERE expires_at <= $1"),
        )
        .bind(now)
        .execute(&self.pool)
        .await?
        .rows_affected())
    }
}
