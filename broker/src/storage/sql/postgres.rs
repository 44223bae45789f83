//! Opening PostgreSQL: the pool is sized and timed from Dex's keys so that, while the database is
//! away, requests fail within `connectionTimeout` (and answer 503) instead of hanging, and dead
//! connections are replaced once it is back.

use std::time::Duration;

use sqlx::any::AnyPoolOptions;
use sqlx::AnyPool;

use super::{Backend, SqlStorage};
use crate::config::PostgresConfig;
use crate::storage::{Result, StorageError};

/// How long an idle connection is kept when `maxIdleConns` is 0 (Go closes them at once).
const SHORT_IDLE: Duration = Duration::from_secs(1);

/// A pool sized and timed from Dex's keys (PostgreSQL and MySQL alike).
pub(super) fn pool_options(config: &PostgresConfig) -> AnyPoolOptions {
    let options = AnyPoolOptions::new()
        .max_connections(config.max_open_conns)
        .acquire_timeout(config.connection_timeout)
        // A connection broken by a database restart is noticed here, not by a request.
        .test_before_acquire(true)
        .max_lifetime(config.conn_max_lifetime);
    if config.max_idle_conns == Some(0) {
        options.idle_timeout(SHORT_IDLE)
    } else {
        options
    }
}

impl SqlStorage {
    /// Connects, then migrates the schema (one replica at a time).
    pub async fn open_postgres(config: &PostgresConfig) -> Result<Self> {
        SqlStorage::install_drivers();
        let pool = connect(pool_options(config), config).await?;
        let storage = SqlStorage::committing_durably(pool, Backend::Postgres);
        storage.migrate().await?;
        tracing::info!(database = %config.display, tls = %config.tls.mode, "opened PostgreSQL storage");
        Ok(storage)
    }
}

/// Opens the pool (its first connection), warning first when the server will not be fully
/// checked. The URL holds the password: only `display` and the mode reach logs and errors.
pub(super) async fn connect(options: AnyPoolOptions, config: &PostgresConfig) -> Result<AnyPool> {
    if let Some(warning) = config.tls.warning() {
        tracing::warn!(database = %config.display, "{warning}");
    }
    options
        .connect(config.url.expose())
        .await
        .map_err(|source| StorageError::Connect {
            database: config.display.clone(),
            tls: config.tls.mode.clone(),
            source,
        })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::secret::Secret;
    use crate::storage::{conformance, Storage};
    use gatehouse_e2e::postgres::TestDatabase;

    fn config(db: &TestDatabase) -> PostgresConfig {
        PostgresConfig {
            url: Secret::new(db.url().to_string()),
            display: db.name().to_string(),
            connection_timeout: Duration::from_secs(5),
            max_open_conns: 10,
            max_idle_conns: None,
            conn_max_lifetime: None,
            tls: crate::config::DbTls::off(),
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn conformance() {
        let db = TestDatabase::create().unwrap();
        let storage = SqlStorage::open_postgres(&config(&db)).await.unwrap();
        conformance::run_all(std::sync::Arc::new(storage)).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn replicas_migrating_together_agree_and_reopening_keeps_data() {
        let db = TestDatabase::create().unwrap();
        let cfg = config(&db);
        let (a, b, c) = tokio::join!(
            SqlStorage::open_postgres(&cfg),
            SqlStorage::open_postgres(&cfg),
            SqlStorage::open_postgres(&cfg)
        );
        let (a, _b, _c) = (a.unwrap(), b.unwrap(), c.unwrap());
        let key = conformance::signing_key("pg-k", 100);
        a.insert_signing_key(&key).await.unwrap();
        drop(a);
        let again = SqlStorage::open_postgres(&cfg).await.unwrap();
        assert_eq!(again.list_signing_keys().await.unwrap(), vec![key]);
        assert_eq!(again.signing_key_generation().await.unwrap(), 0);
    }
}
