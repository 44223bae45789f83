//! Opening SQLite: a file created as needed, in WAL mode, migrated; a second, one-connection
//! pool for flow writes, which commit without an fsync until `Storage::sync` (`wal_sync.rs`).

use std::path::Path;

use sqlx::any::AnyPoolOptions;
use sqlx::Executor;

use super::sqlite_inline::InlineSqlite;
use super::wal_sync::WalSync;
use super::{Backend, SqlStorage};
use crate::storage::{Result, StorageError};

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
        SqlStorage::install_drivers();
        let pool = AnyPoolOptions::new()
            .max_connections(4)
            .connect(&url)
            .await?;
        // WAL lets readers proceed during a write; it is a property of the file, so once is enough.
        sqlx::query("PRAGMA journal_mode=WAL")
            .execute(&pool)
            .await?;
        // Flow writes: one connection (SQLite has one writer at a time; more would only wait in
        // its busy handler's sleeps) that commits without an fsync; `Storage::sync` adds it.
        let flow = AnyPoolOptions::new()
            .max_connections(1)
            .after_connect(|conn, _| {
                Box::pin(async move {
                    conn.execute("PRAGMA synchronous = NORMAL").await?;
                    Ok(())
                })
            })
            .connect(&url)
            .await?;
        let mut storage = SqlStorage {
            pool,
            flow,
            wal: Some(WalSync::new(file)),
            inline: None,
            backend: Backend::Sqlite,
        };
        storage.migrate().await?;
        storage.inline = Some(InlineSqlite::open(file)?);
        Ok(storage)
    }
}

#[cfg(test)]
mod tests {
    use sqlx::Row;

    use super::*;
    use crate::storage::{conformance, Storage};

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

    async fn synchronous(pool: &sqlx::AnyPool) -> i64 {
        sqlx::query("PRAGMA synchronous")
            .fetch_one(pool)
            .await
            .unwrap()
            .try_get(0)
            .unwrap()
    }

    #[tokio::test]
    async fn flow_writes_skip_the_fsync_until_sync_and_other_writes_wait_for_it() {
        let dir = tempfile::tempdir().unwrap();
        let s = SqlStorage::open_sqlite(&dir.path().join("gatehouse.db"))
            .await
            .unwrap();
        // SQLite's values: 1 = NORMAL, 2 = FULL.
        assert_eq!(synchronous(&s.flow).await, 1);
        assert_eq!(synchronous(&s.pool).await, 2);
        let wal = s.wal.clone().unwrap();
        let request = conformance::auth_request("r1", 4_000_000_000);
        s.create_auth_request(&request).await.unwrap();
        assert!(wal.pending(), "a flow write waits for the next sync");
        s.sync().await.unwrap();
        assert!(!wal.pending());
        // A durable write leaves nothing for sync to do.
        s.insert_signing_key(&conformance::signing_key("k1", 100))
            .await
            .unwrap();
        assert!(!wal.pending());
    }
}
