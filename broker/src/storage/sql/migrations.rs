//! Schema, applied in order at start. Portable SQL: TEXT and BIGINT only, so the same
//! statements run on SQLite and PostgreSQL.

use super::{Backend, SqlStorage};
use crate::storage::{now, Result, StorageError};

/// (version, statements). Never edit a released entry: add a new version.
pub const MIGRATIONS: &[(i64, &[&str])] = &[
    (
        1,
        &[
            "CREATE TABLE IF NOT EXISTS auth_requests (
            id TEXT PRIMARY KEY,
            expires_at BIGINT NOT NULL,
            data TEXT NOT NULL)",
            "CREATE TABLE IF NOT EXISTS auth_codes (
            id TEXT PRIMARY KEY,
            expires_at BIGINT NOT NULL,
            data TEXT NOT NULL)",
            "CREATE TABLE IF NOT EXISTS redeemed_codes (
            id TEXT PRIMARY KEY,
            expires_at BIGINT NOT NULL)",
            "CREATE TABLE IF NOT EXISTS refresh_tokens (
            id TEXT PRIMARY KEY,
            family TEXT NOT NULL,
            client_id TEXT NOT NULL,
            secret_hash TEXT NOT NULL,
            spent BIGINT NOT NULL,
            expires_at BIGINT NOT NULL,
            data TEXT NOT NULL)",
            "CREATE INDEX IF NOT EXISTS refresh_tokens_family ON refresh_tokens (family)",
            "CREATE TABLE IF NOT EXISTS signing_keys (
            kid TEXT PRIMARY KEY,
            verify_until BIGINT NOT NULL,
            data TEXT NOT NULL)",
        ],
    ),
    (
        2,
        &[
            // One row whose generation is compared-and-swapped by every key rotation, so
            // replicas that decide to rotate at the same moment add one key, not several.
            "CREATE TABLE IF NOT EXISTS signing_key_state (
                id BIGINT PRIMARY KEY,
                generation BIGINT NOT NULL)",
            "INSERT INTO signing_key_state (id, generation) VALUES (1, 0)",
        ],
    ),
    (
        3,
        &[
            // SAML (issue 4): AuthnRequests in flight and the assertion-ID replay cache.
            "CREATE TABLE IF NOT EXISTS saml_requests (
                id TEXT PRIMARY KEY,
                expires_at BIGINT NOT NULL,
                answered BIGINT NOT NULL,
                data TEXT NOT NULL)",
            "CREATE TABLE IF NOT EXISTS saml_assertions (
                id TEXT PRIMARY KEY,
                expires_at BIGINT NOT NULL)",
        ],
    ),
    (
        4,
        &[
            // Login throttling (issue 10): per key (hashed account or client address) the
            // failures, the back-off they earned and the lease of a check in flight.
            "CREATE TABLE IF NOT EXISTS login_throttle (
                id TEXT PRIMARY KEY,
                failures BIGINT NOT NULL,
                blocked_until BIGINT NOT NULL,
                busy_until BIGINT NOT NULL,
                expires_at BIGINT NOT NULL)",
            // Fixed-window counters (unauthenticated /auth requests per client address).
            "CREATE TABLE IF NOT EXISTS rate_windows (
                id TEXT PRIMARY KEY,
                window_end BIGINT NOT NULL,
                count BIGINT NOT NULL)",
        ],
    ),
    // Sign-in sessions and the revocation feed (issue 17).
    (5, super::sessions::MIGRATION),
    // Device authorization requests (RFC 8628, issue 18).
    (6, super::device::MIGRATION),
    // Users and clients managed through the gRPC API (issue 13; numbered after the issue so
    // that migrations added meanwhile on other branches keep their numbers).
    // (tables of `directory.rs`)
    (
        13,
        &[
            "CREATE TABLE IF NOT EXISTS passwords (
        email_key TEXT PRIMARY KEY,
        data TEXT NOT NULL)",
            "CREATE TABLE IF NOT EXISTS clients (
        id TEXT PRIMARY KEY,
        data TEXT NOT NULL)",
        ],
    ),
];

impl SqlStorage {
    /// Applies every migration not applied yet, in one transaction.
    pub(super) async fn migrate(&self) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        // Replicas starting together would race on CREATE TABLE; the first one migrates
        // while the others wait here, then find nothing left to do.
        match self.backend {
            Backend::Postgres => {
                sqlx::query("SELECT pg_advisory_xact_lock(7226115059)")
                    .execute(&mut *tx)
                    .await?;
            }
            // A session lock (MySQL's DDL commits implicitly, so no transaction holds one).
            Backend::Mysql => {
                sqlx::query("SELECT GET_LOCK('gatehouse_migrations', 60)")
                    .execute(&mut *tx)
                    .await?;
            }
            Backend::Sqlite => {}
        }
        sqlx::query(&self.backend.sql(
            "CREATE TABLE IF NOT EXISTS schema_migrations (
                version BIGINT PRIMARY KEY,
                applied_at BIGINT NOT NULL)",
        ))
        .execute(&mut *tx)
        .await?;
        for (version, statements) in MIGRATIONS {
            let applied = sqlx::query(
                &self
                    .backend
                    .sql("SELECT version FROM schema_migrations WHERE version = $1"),
            )
            .bind(*version)
            .fetch_optional(&mut *tx)
            .await?
            .is_some();
            if applied {
                continue;
            }
            for statement in *statements {
                sqlx::query(&self.backend.ddl(statement))
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| StorageError::Migration(format!("version {version}: {e}")))?;
            }
            sqlx::query(
                &self
                    .backend
                    .sql("INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)"),
            )
            .bind(*version)
            .bind(now())
            .execute(&mut *tx)
            .await?;
            tracing::info!(version, "applied storage migration");
        }
        if self.backend == Backend::Mysql {
            sqlx::query("SELECT RELEASE_LOCK('gatehouse_migrations')")
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}
