//! Opening SQLite: a file created as needed, in WAL mode, migrated.

use std::path::Path;

use sqlx::any::AnyPoolOptions;

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
}
