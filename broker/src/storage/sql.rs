//! SQL storage through sqlx's `Any` driver: SQLite and PostgreSQL run the same statements (the
//! subset both share); only opening the pool and locking migrations differ per backend.
//! How records map to rows is in `sql_rows.rs`.
//!
//! Longer than most modules on purpose: it is the one SQL implementation of [`Storage`], and
//! each method's statements and lock order are best read next to their siblings'.

use std::path::Path;
use std::sync::Once;

use async_trait::async_trait;
use sqlx::any::AnyPoolOptions;
use sqlx::AnyPool;
use sqlx::{Any, Row, Transaction};
use subtle::ConstantTimeEq;

use super::memory::SPENT_MEMORY_SECS;
use super::migrations::MIGRATIONS;
use super::sql_rows::{
    from_row, insert, insert_error, is_unique_violation, take_record, to_json, Taken,
};
use super::*;

static INSTALL_DRIVERS: Once = Once::new();

pub(super) use super::sql_dialect::Backend;

pub struct SqlStorage {
    pub(super) pool: AnyPool,
    pub(super) backend: Backend,
}

impl SqlStorage {
    /// Opens (creating if needed) a SQLite database file, switches it to WAL and migrates it.
    pub async fn open_sqlite(file: &Path) -> Result<Self> {
        let path = file.to_str().ok_or_else(|| {
            StorageError::Migration(format!("database path {} is not UTF-8", file.display()))
        })?;
        if path.contains(['?', '#']) {
            return Err(StorageError::Migration(format!(
                "database path {path:?} must not contain '?' or '#'"
            )));
        }
        let url = format!("sqlite://{path}?mode=rwc");
        INSTALL_DRIVERS.call_once(sqlx::any::install_default_drivers);
        let pool = AnyPoolOptions::new()
            .max_connections(4)
            .connect(&url)
            .await?;
        let storage = SqlStorage {
            pool,
            backend: Backend::Sqlite,
        };
        // WAL lets readers proceed during a write; it is a property of the file, so once is enough.
        sqlx::query("PRAGMA journal_mode=WAL")
            .execute(&storage.pool)
            .await?;
        storage.migrate().await?;
        Ok(storage)
    }

    pub(super) fn install_drivers() {
        INSTALL_DRIVERS.call_once(sqlx::any::install_default_drivers);
    }

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

    /// Changes an auth request's data in one transaction: the write comes first, so it takes
    /// the write lock (SQLite) / row lock (PostgreSQL) before the read. False when unknown or
    /// when `change` refuses (returns false).
    async fn modify_auth_request(
        &self,
        id: &str,
        change: impl FnOnce(&mut AuthRequest) -> bool + Send,
    ) -> Result<bool> {
        let mut tx = self.pool.begin().await?;
        let locked = sqlx::query(
            &self
                .backend
                .sql("UPDATE auth_requests SET expires_at = expires_at WHERE id = $1"),
        )
        .bind(id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if locked == 0 {
            return Ok(false);
        }
        let row = sqlx::query(
            &self
                .backend
                .sql("SELECT data FROM auth_requests WHERE id = $1"),
        )
        .bind(id)
        .fetch_one(&mut *tx)
        .await?;
        let mut request: AuthRequest = from_row(&row)?;
        if !change(&mut request) {
            return Ok(false);
        }
        sqlx::query(
            &self
                .backend
                .sql("UPDATE auth_requests SET data = $1 WHERE id = $2"),
        )
        .bind(to_json(&request)?)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
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

#[async_trait]
impl Storage for SqlStorage {
    async fn ping(&self) -> Result<()> {
        sqlx::query(&self.backend.sql("SELECT 1"))
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn create_auth_request(&self, request: &AuthRequest) -> Result<()> {
        insert(self.backend, &self.pool, request).await
    }

    async fn get_auth_request(&self, id: &str, now: UnixTime) -> Result<Option<AuthRequest>> {
        let row = sqlx::query(
            &self
                .backend
                .sql("SELECT data FROM auth_requests WHERE id = $1 AND expires_at > $2"),
        )
        .bind(id)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(from_row).transpose()
    }

    async fn set_auth_request_identity(
        &self,
        id: &str,
        connector_id: &str,
        identity: &Identity,
        browser_binding: &str,
    ) -> Result<bool> {
        self.modify_auth_request(id, |request| {
            if request.identity.is_some() {
                return false;
            }
            request.connector_id = Some(connector_id.to_string());
            request.identity = Some(identity.clone());
            request.browser_binding = Some(browser_binding.to_string());
            true
        })
        .await
    }

    async fn set_auth_request_upstream(&self, id: &str, upstream: &UpstreamLogin) -> Result<bool> {
        self.modify_auth_request(id, |request| {
            let pending = request.identity.is_none();
            if pending {
                request.upstream = Some(upstream.clone());
            }
            pending
        })
        .await
    }

    async fn take_auth_request(&self, id: &str, now: UnixTime) -> Result<Option<AuthRequest>> {
        let mut conn = self.pool.acquire().await?;
        Ok(
            match take_record(self.backend, &mut conn, "auth_requests", id, now).await? {
                Taken::Live(request) => Some(request),
                Taken::Unknown | Taken::Expired => None,
            },
        )
    }

    async fn create_auth_code(&self, code: &AuthCode) -> Result<()> {
        insert(self.backend, &self.pool, code).await
    }

    async fn redeem_auth_code(&self, code_hash: &str, now: UnixTime) -> Result<CodeRedemption> {
        let mut tx = self.pool.begin().await?;
        match take_record::<AuthCode>(self.backend, &mut tx, "auth_codes", code_hash, now).await? {
            Taken::Expired => {
                tx.commit().await?;
                return Ok(CodeRedemption::Expired);
            }
            Taken::Live(code) => {
                sqlx::query(
                    &self
                        .backend
                        .sql("INSERT INTO redeemed_codes (id, expires_at) VALUES ($1, $2)"),
                )
                .bind(code_hash)
                .bind(now + SPENT_MEMORY_SECS)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                return Ok(CodeRedemption::Redeemed(Box::new(code)));
            }
            Taken::Unknown => {}
        }
        let replayed = sqlx::query(
            &self
                .backend
                .sql("SELECT id FROM redeemed_codes WHERE id = $1"),
        )
        .bind(code_hash)
        .fetch_optional(&mut *tx)
        .await?
        .is_some();
        tx.commit().await?;
        Ok(if replayed {
            CodeRedemption::Replayed
        } else {
            CodeRedemption::Unknown
        })
    }

    async fn create_refresh_token(&self, token: &RefreshToken) -> Result<()> {
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

    async fn use_refresh_token(
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

    async fn live_refresh_token(
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

    async fn revoke_refresh_family(&self, family: &str) -> Result<u64> {
        let mut tx = self.pool.begin().await?;
        let n = delete_family(self.backend, &mut tx, family).await?;
        tx.commit().await?;
        Ok(n)
    }

    async fn list_signing_keys(&self) -> Result<Vec<SigningKeyRecord>> {
        let rows = sqlx::query(
            &self
                .backend
                .sql("SELECT data FROM signing_keys ORDER BY kid"),
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(from_row).collect()
    }

    async fn insert_signing_key(&self, key: &SigningKeyRecord) -> Result<()> {
        insert(self.backend, &self.pool, key).await
    }

    async fn signing_key_generation(&self) -> Result<i64> {
        let row = sqlx::query(
            &self
                .backend
                .sql("SELECT generation FROM signing_key_state WHERE id = 1"),
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(row.try_get("generation")?)
    }

    async fn rotate_signing_key(&self, seen: i64, key: &SigningKeyRecord) -> Result<bool> {
        let mut tx = self.pool.begin().await?;
        // The compare-and-swap: a concurrent rotation holds this row until it commits, after
        // which our WHERE no longer matches.
        let swapped = sqlx::query(&self.backend.sql(
            "UPDATE signing_key_state SET generation = generation + 1
             WHERE id = 1 AND generation = $1",
        ))
        .bind(seen)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if swapped == 0 {
            return Ok(false);
        }
        insert(self.backend, &mut *tx, key).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn create_saml_request(&self, request: &SamlRequest) -> Result<()> {
        insert(self.backend, &self.pool, request).await
    }

    async fn get_saml_request(&self, id: &str, now: UnixTime) -> Result<Option<SamlRequest>> {
        let row = sqlx::query(
            &self
                .backend
                .sql("SELECT answered, data FROM saml_requests WHERE id = $1 AND expires_at > $2"),
        )
        .bind(id)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let answered: i64 = row.try_get("answered")?;
        let mut request: SamlRequest = from_row(&row)?;
        request.answered = answered != 0;
        Ok(Some(request))
    }

    async fn answer_saml_request(&self, id: &str, now: UnixTime) -> Result<bool> {
        // One conditional UPDATE: of two concurrent answers exactly one changes the row.
        let changed = sqlx::query(&self.backend.sql("UPDATE saml_requests SET answered = 1 WHERE id = $1 AND answered = 0 AND expires_at > $2"))
        .bind(id)
        .bind(now)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(changed == 1)
    }

    async fn remember_saml_assertion(&self, id: &str, expires_at: UnixTime) -> Result<bool> {
        // The primary key makes the check and the insert one atomic step across replicas.
        match sqlx::query(
            &self
                .backend
                .sql("INSERT INTO saml_assertions (id, expires_at) VALUES ($1, $2)"),
        )
        .bind(id)
        .bind(expires_at)
        .execute(&self.pool)
        .await
        {
            Ok(_) => Ok(true),
            Err(e) if is_unique_violation(&e) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    async fn begin_login_attempt(
        &self,
        keys: &[ThrottleKey],
        now: UnixTime,
        lease_until: UnixTime,
    ) -> Result<LoginGate> {
        self.sql_begin_login_attempt(keys, now, lease_until).await
    }

    async fn end_login_attempt(
        &self,
        keys: &[ThrottleKey],
        outcome: AttemptOutcome,
        now: UnixTime,
    ) -> Result<()> {
        self.sql_end_login_attempt(keys, outcome, now).await
    }

    async fn count_in_window(
        &self,
        key: &str,
        limit: i64,
        window_secs: i64,
        now: UnixTime,
    ) -> Result<bool> {
        self.sql_count_in_window(key, limit, window_secs, now).await
    }

    async fn delete_expired(&self, now: UnixTime) -> Result<GcStats> {
        let mut stats = GcStats::default();
        let run = |sql: &'static str| {
            let pool = self.pool.clone();
            async move {
                Ok::<u64, StorageError>(
                    sqlx::query(&self.backend.sql(&sql))
                        .bind(now)
                        .execute(&pool)
                        .await?
                        .rows_affected(),
                )
            }
        };
        stats.auth_requests = run("DELETE FROM auth_requests WHERE expires_at <= $1").await?;
        stats.auth_codes = run("DELETE FROM auth_codes WHERE expires_at <= $1").await?;
        run("DELETE FROM redeemed_codes WHERE expires_at <= $1").await?;
        stats.refresh_tokens = run("DELETE FROM refresh_tokens WHERE expires_at <= $1").await?;
        stats.signing_keys = run("DELETE FROM signing_keys WHERE verify_until <= $1").await?;
        stats.saml_requests = run("DELETE FROM saml_requests WHERE expires_at <= $1").await?;
        stats.saml_assertions = run("DELETE FROM saml_assertions WHERE expires_at <= $1").await?;
        stats.throttle_rows = self.sql_delete_expired_throttle(now).await?;
        Ok(stats)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn conformance() {
        let dir = tempfile::tempdir().unwrap();
        let storage = SqlStorage::open_sqlite(&dir.path().join("gatehouse.db"))
            .await
            .unwrap();
        conformance::run_all(std::sync::Arc::new(storage)).await;
    }

    #[tokio::test]
    async fn reopening_keeps_data_and_migrations_are_idempotent() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gatehouse.db");
        let key = conformance::signing_key("k1", 100);
        {
            let s = SqlStorage::open_sqlite(&path).await.unwrap();
            s.insert_signing_key(&key).await.unwrap();
        }
        let s = SqlStorage::open_sqlite(&path).await.unwrap();
        assert_eq!(s.list_signing_keys().await.unwrap(), vec![key]);
        let mode: String = sqlx::query("PRAGMA journal_mode")
            .fetch_one(&s.pool)
            .await
            .unwrap()
            .try_get(0)
            .unwrap();
        assert_eq!(mode.to_lowercase(), "wal");
    }
}
