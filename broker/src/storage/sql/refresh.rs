//! Refresh tokens in SQL: each use locks its row first (an UPDATE), then checks the secret and
//! client, then rotates, extends or (on reuse) deletes the whole family, in one transaction.

use sqlx::{Any, Row, Transaction};
use subtle::ConstantTimeEq;

use super::rows::{from_row, insert_error, to_json};
use super::{Backend, SqlStorage};
use crate::storage::memory::SPENT_MEMORY_SECS;
use crate::storage::{RefreshPolicy, RefreshToken, RefreshUse, Result, UnixTime};

impl SqlStorage {
    pub(super) async fn sql_create_refresh_token(&self, token: &RefreshToken) -> Result<()> {
        sqlx::query(&self.backend.sql("INSERT INTO refresh_tokens (id, family, client_id, secret_hash, spent, expires_at, data)
             VALUES ($1, $2, $3, $4, 0, $5, $6)"))
        .bind(&token.id)
        .bind(&token.family)
        .bind(&token.client_id)
        .bind(&token.secret_hash)
        .bind(token.expires_at)
        .bind(to_json(token)?)
        .execute(&self.pool)
        .await
        .map_err(insert_error)?;
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
        let mut tx = self.pool.begin().await?;
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
        let stored_hash: String = row.try_get("secret_hash")?;
        let stored_client: String = row.try_get("client_id")?;
        let spent: i64 = row.try_get("spent")?;
        let expires_at: i64 = row.try_get("expires_at")?;
        let family: String = row.try_get("family")?;
        let secret_ok: bool = stored_hash.as_bytes().ct_eq(secret_hash.as_bytes()).into();
        if !secret_ok || stored_client != client_id {
            return Ok(RefreshUse::Invalid);
        }
        if spent != 0 {
            // `spent` holds when the token was rotated (older rows: 1, long ago).
            if now < spent.saturating_add(policy.reuse_interval_secs) {
                return Ok(RefreshUse::RecentlyRotated(Box::new(from_row(&row)?)));
            }
            delete_family(self.backend, &mut tx, &family).await?;
            tx.commit().await?;
            return Ok(RefreshUse::Reused);
        }
        if expires_at <= now {
            sqlx::query(&self.backend.sql("DELETE FROM refresh_tokens WHERE id = $1"))
                .bind(id)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            return Ok(RefreshUse::Expired);
        }
        let mut token: RefreshToken = from_row(&row)?;
        if policy.rotate {
            sqlx::query(
                &self
                    .backend
                    .sql("UPDATE refresh_tokens SET spent = $1, expires_at = $2 WHERE id = $3"),
            )
            .bind(now.max(1))
            .bind(expires_at.min(now + SPENT_MEMORY_SECS))
            .bind(id)
            .execute(&mut *tx)
            .await?;
        } else {
            let found = token.clone();
            token.last_used = now;
            token.expires_at = policy.expires_at(token.created_at, now);
            sqlx::query(
                &self
                    .backend
                    .sql("UPDATE refresh_tokens SET expires_at = $1, data = $2 WHERE id = $3"),
            )
            .bind(token.expires_at)
            .bind(to_json(&token)?)
            .bind(id)
            .execute(&mut *tx)
            .await?;
            token = found;
        }
        tx.commit().await?;
        Ok(RefreshUse::Valid(Box::new(token)))
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
        let secret_ok: bool = stored_hash.as_bytes().ct_eq(secret_hash.as_bytes()).into();
        if !secret_ok || stored_client != client_id {
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
