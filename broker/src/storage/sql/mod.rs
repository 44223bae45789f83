//! SQL storage through sqlx's `Any` driver: SQLite and PostgreSQL run the same statements (the
//! subset both share); only opening the pool and locking migrations differ per backend.
//! Here: the [`Storage`] methods for auth requests, codes, keys and SAML; beside it, opening
//! (`sqlite.rs`, `postgres.rs`), the schema (`migrations.rs`), refresh tokens, throttling, the
//! API's users and clients (`directory.rs`), and how records map to rows (`rows.rs`). On SQLite
//! the login's auth requests and codes and the token endpoint's statements bypass sqlx
//! (`sqlite_inline.rs`).

mod device;
mod dialect;
mod directory;
mod migrations;
mod mysql;
mod postgres;
mod refresh;
mod refresh_spend;
mod rows;
mod session_expiry;
mod sessions;
mod sqlite;
mod sqlite_inline;
mod throttle;
#[cfg(test)]
mod tls_mysql_tests;
#[cfg(test)]
mod tls_postgres_tests;
mod wal_sync;

use std::sync::Once;

use async_trait::async_trait;
use sqlx::AnyPool;
use sqlx::Row;

use refresh_spend::Presented;
use rows::{from_row, insert, is_unique_violation, take_record, to_json, Taken};

use super::memory::SPENT_MEMORY_SECS;
use super::*;

static INSTALL_DRIVERS: Once = Once::new();

pub(super) use dialect::Backend;

pub struct SqlStorage {
    /// Writes here wait for the disk at their commit; reads use it too.
    pub(super) pool: AnyPool,
    /// Flow writes (a sign-in in progress, the token endpoint's): on SQLite one connection at
    /// `synchronous=NORMAL`, made durable by [`Storage::sync`]; elsewhere the same pool.
    pub(super) flow: AnyPool,
    /// SQLite only: the group commit behind [`Storage::sync`].
    wal: Option<std::sync::Arc<wal_sync::WalSync>>,
    /// SQLite only: the refresh grant's statements without sqlx's thread hops.
    inline: Option<sqlite_inline::InlineSqlite>,
    pub(super) backend: Backend,
}

impl SqlStorage {
    /// A database whose every commit is durable (PostgreSQL, MySQL): flow writes share the pool.
    pub(super) fn committing_durably(pool: AnyPool, backend: Backend) -> Self {
        SqlStorage {
            flow: pool.clone(),
            pool,
            wal: None,
            inline: None,
            backend,
        }
    }

    /// Notes a flow write's commit, for the next [`Storage::sync`].
    pub(super) fn flow_committed(&self) {
        if let Some(wal) = &self.wal {
            wal.committed();
        }
    }

    pub(super) fn install_drivers() {
        INSTALL_DRIVERS.call_once(sqlx::any::install_default_drivers);
    }

    /// Changes an auth request's data in one transaction: the write comes first, so it takes
    /// the write lock (SQLite) / row lock (PostgreSQL) before the read. False when unknown or
    /// when `change` refuses (returns false).
    async fn modify_auth_request(
        &self,
        id: &str,
        mut change: impl FnMut(&mut AuthRequest) -> bool + Send,
    ) -> Result<bool> {
        if let Some(inline) = &self.inline {
            let changed = inline.modify_auth_request(id, change).await?;
            if changed {
                self.flow_committed();
            }
            return Ok(changed);
        }
        let mut tx = self.flow.begin().await?;
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
        self.flow_committed();
        Ok(true)
    }
}

#[async_trait]
impl Storage for SqlStorage {
    async fn ping(&self) -> Result<()> {
        sqlx::query(&self.backend.sql("SELECT 1"))
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn sync(&self) -> Result<()> {
        match &self.wal {
            Some(wal) => wal.sync().await,
            None => Ok(()),
        }
    }

    async fn create_auth_request(&self, request: &AuthRequest) -> Result<()> {
        match &self.inline {
            Some(inline) => inline.insert_record(request).await?,
            None => insert(self.backend, &self.flow, request).await?,
        }
        self.flow_committed();
        Ok(())
    }

    async fn get_auth_request(&self, id: &str, now: UnixTime) -> Result<Option<AuthRequest>> {
        if let Some(inline) = &self.inline {
            return inline.auth_request(id, now).await;
        }
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
        let taken = match &self.inline {
            Some(inline) => inline.take_auth_request(id, now).await?,
            None => {
                let mut conn = self.flow.acquire().await?;
                take_record(self.backend, &mut conn, "auth_requests", id, now).await?
            }
        };
        self.flow_committed();
        Ok(match taken {
            Taken::Live(request) => Some(request),
            Taken::Unknown | Taken::Expired => None,
        })
    }

    async fn create_auth_code(&self, code: &AuthCode) -> Result<()> {
        match &self.inline {
            Some(inline) => inline.insert_record(code).await?,
            None => insert(self.backend, &self.flow, code).await?,
        }
        self.flow_committed();
        Ok(())
    }

    async fn redeem_auth_code(&self, code_hash: &str, now: UnixTime) -> Result<CodeRedemption> {
        if let Some(inline) = &self.inline {
            let redemption = inline
                .redeem_auth_code(code_hash, now, now + SPENT_MEMORY_SECS)
                .await?;
            if sqlite_inline::changes_rows(&redemption) {
                self.flow_committed();
            }
            return Ok(redemption);
        }
        let mut tx = self.flow.begin().await?;
        match take_record::<AuthCode>(self.backend, &mut tx, "auth_codes", code_hash, now).await? {
            Taken::Expired => {
                tx.commit().await?;
                self.flow_committed();
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
                self.flow_committed();
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
        match &self.inline {
            Some(inline) => {
                inline.create_refresh_token(token).await?;
                self.flow_committed();
                Ok(())
            }
            None => self.sql_create_refresh_token(token).await,
        }
    }

    async fn use_refresh_token(
        &self,
        id: &str,
        secret_hash: &str,
        client_id: &str,
        policy: &RefreshPolicy,
        now: UnixTime,
    ) -> Result<RefreshUse> {
        self.sql_use_refresh_token(id, secret_hash, client_id, policy, now)
            .await
    }

    async fn rotate_refresh_token(
        &self,
        id: &str,
        secret_hash: &str,
        client_id: &str,
        policy: &RefreshPolicy,
        now: UnixTime,
        successor: &RefreshToken,
    ) -> Result<RefreshUse> {
        let rotating = RefreshPolicy {
            rotate: true,
            ..*policy
        };
        let presented = Presented {
            id,
            secret_hash,
            client_id,
        };
        let used = match &self.inline {
            Some(inline) => {
                inline
                    .rotate_refresh_token(&presented, &rotating, now, successor)
                    .await?
            }
            None => {
                self.sql_spend_refresh_token(&self.flow, presented, &rotating, now, Some(successor))
                    .await?
            }
        };
        self.flow_committed();
        Ok(used)
    }

    async fn live_refresh_token(
        &self,
        id: &str,
        secret_hash: &str,
        client_id: &str,
        now: UnixTime,
    ) -> Result<Option<RefreshToken>> {
        let Some(inline) = &self.inline else {
            return self
                .sql_live_refresh_token(id, secret_hash, client_id, now)
                .await;
        };
        let presented = Presented {
            id,
            secret_hash,
            client_id,
        };
        inline
            .live_refresh_token(&presented, now)
            .await?
            .map(|data| rows::from_json(&data))
            .transpose()
    }

    async fn revoke_refresh_family(&self, family: &str) -> Result<u64> {
        self.sql_revoke_refresh_family(family).await
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
                    sqlx::query(&self.backend.sql(sql))
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
