//! Opening MySQL / MariaDB: a pool sized and timed from Dex's keys as for PostgreSQL, every
//! connection in READ COMMITTED (the isolation the shared statements are written for: each
//! read-modify-write locks its row first), then the schema migrated one replica at a time.

use sqlx::Executor;

use super::postgres::pool_options;
use super::{Backend, SqlStorage};
use crate::config::PostgresConfig;
use crate::storage::Result;

impl SqlStorage {
    pub async fn open_mysql(config: &PostgresConfig) -> Result<Self> {
        SqlStorage::install_drivers();
        let options = pool_options(config).after_connect(|conn, _| {
            Box::pin(async move {
                conn.execute("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED")
                    .await?;
                Ok(())
            })
        });
        let pool = super::postgres::connect(options, config).await?;
        let storage = SqlStorage::committing_durably(pool, Backend::Mysql);
        storage.migrate().await?;
        tracing::info!(database = %config.display, tls = %config.tls.mode, "opened MySQL storage");
        Ok(storage)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::secret::Secret;
    use crate::storage::{conformance, Storage};
    use gatehouse_e2e::mysql::TestDatabase;

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
        let storage = SqlStorage::open_mysql(&config(&db)).await.unwrap();
        conformance::run_all(std::sync::Arc::new(storage)).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn replicas_migrating_together_agree_and_reopening_keeps_data() {
        let db = TestDatabase::create().unwrap();
        let cfg = config(&db);
        let (a, b, c) = tokio::join!(
            SqlStorage::open_mysql(&cfg),
            SqlStorage::open_mysql(&cfg),
            SqlStorage::open_mysql(&cfg)
        );
        let (a, _b, _c) = (a.unwrap(), b.unwrap(), c.unwrap());
        let key = conformance::signing_key("my-k", 100);
        a.insert_signing_key(&key).await.unwrap();
        drop(a);
        let again = SqlStorage::open_mysql(&cfg).await.unwrap();
        assert_eq!(again.list_signing_keys().await.unwrap(), vec![key]);
        assert_eq!(again.signing_key_generation().await.unwrap(), 0);
    }
}
