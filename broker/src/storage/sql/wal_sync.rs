//! Group commit for SQLite: flow writes commit without waiting for the disk
//! (`synchronous=NORMAL` in WAL mode), and [`WalSync::sync`] makes every write committed before
//! it durable with one `fdatasync` of the WAL, shared by all callers waiting at that moment.
//!
//! Why this is sound: in WAL mode SQLite's `synchronous=FULL` is `NORMAL` plus an fsync of the
//! WAL after the commit (sqlite.org/pragma.html#pragma_synchronous, wal.html); a commit has
//! written its frames with `write()` before it returns, so a later sync of the same file covers
//! them, and the WAL is replayed in order, so a power loss keeps a prefix of the commits. SQLite
//! holds its write lock through a FULL commit's fsync, so it cannot share one; here the fsync
//! runs after the lock is released, and concurrent grants share it (16–64 per fsync under load).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::storage::{Result, StorageError};

pub(super) struct WalSync {
    /// The database file; its WAL is `<database>-wal` (SQLite's name for it).
    database: PathBuf,
    /// Flow commits so far.
    committed: AtomicU64,
    /// Of those, how many the last completed sync covered.
    synced: AtomicU64,
    /// One sync at a time; who waits here is served by the next one (or the one that ended).
    running: tokio::sync::Mutex<()>,
}

impl WalSync {
    pub(super) fn new(database: &Path) -> Arc<Self> {
        Arc::new(WalSync {
            database: database.to_path_buf(),
            committed: AtomicU64::new(0),
            synced: AtomicU64::new(0),
            running: tokio::sync::Mutex::new(()),
        })
    }

    /// Records that a flow write committed (called after its commit returned).
    pub(super) fn committed(&self) {
        self.committed.fetch_add(1, Ordering::SeqCst);
    }

    /// True while a flow write committed since the last sync began.
    #[cfg(test)]
    pub(super) fn pending(&self) -> bool {
        self.synced.load(Ordering::SeqCst) < self.committed.load(Ordering::SeqCst)
    }

    /// Returns once every flow write committed before this call is on disk.
    pub(super) async fn sync(&self) -> Result<()> {
        let target = self.committed.load(Ordering::SeqCst);
        if self.synced.load(Ordering::SeqCst) >= target {
            return Ok(());
        }
        let _running = self.running.lock().await;
        // A sync that started after our commit may have ended while we waited.
        if self.synced.load(Ordering::SeqCst) >= target {
            return Ok(());
        }
        // Every commit counted here has written its frames; later ones wait for the next sync.
        let covered = self.committed.load(Ordering::SeqCst);
        let database = self.database.clone();
        tokio::task::spawn_blocking(move || sync_files(&database))
            .await
            .map_err(|e| StorageError::Durability(format!("the sync task failed: {e}")))??;
        self.synced.fetch_max(covered, Ordering::SeqCst);
        Ok(())
    }
}

fn sync_files(database: &Path) -> Result<()> {
    let mut wal = database.as_os_str().to_owned();
    wal.push("-wal");
    match std::fs::File::open(&wal) {
        Ok(file) => file.sync_data().map_err(|e| durability(&wal, e)),
        // No WAL: the last connection closed and checkpointed it into the database file (a
        // checkpoint syncs the database at synchronous=NORMAL); sync that file to be sure.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => std::fs::File::open(database)
            .and_then(|f| f.sync_data())
            .map_err(|e| durability(database.as_os_str(), e)),
        Err(e) => Err(durability(&wal, e)),
    }
}

fn durability(path: &std::ffi::OsStr, e: std::io::Error) -> StorageError {
    StorageError::Durability(format!("syncing {}: {e}", Path::new(path).display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_sync_covers_what_committed_before_it_and_only_runs_when_needed() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("gatehouse.db");
        std::fs::write(&db, b"").unwrap();
        let wal = WalSync::new(&db);
        // Nothing committed: no sync, not even of a missing file.
        wal.sync().await.unwrap();
        assert_eq!(wal.synced.load(Ordering::SeqCst), 0);
        wal.committed();
        wal.committed();
        wal.sync().await.unwrap();
        assert_eq!(wal.synced.load(Ordering::SeqCst), 2);
        std::fs::write(dir.path().join("gatehouse.db-wal"), b"frames").unwrap();
        wal.committed();
        wal.sync().await.unwrap();
        assert_eq!(wal.synced.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn concurrent_callers_share_syncs() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("gatehouse.db");
        std::fs::write(&db, b"").unwrap();
        std::fs::write(dir.path().join("gatehouse.db-wal"), b"frames").unwrap();
        let wal = WalSync::new(&db);
        let mut tasks = Vec::new();
        for _ in 0..64 {
            let wal = wal.clone();
            tasks.push(tokio::spawn(async move {
                wal.committed();
                wal.sync().await
            }));
        }
        for t in tasks {
            t.await.unwrap().unwrap();
        }
        assert_eq!(wal.synced.load(Ordering::SeqCst), 64);
    }

    #[tokio::test]
    async fn a_failed_sync_is_an_error_not_a_silent_success() {
        let dir = tempfile::tempdir().unwrap();
        // Neither the WAL nor the database exists.
        let wal = WalSync::new(&dir.path().join("gone.db"));
        wal.committed();
        let err = wal.sync().await.unwrap_err();
        assert!(matches!(err, StorageError::Durability(_)), "{err}");
        assert!(err.to_string().contains("gone.db"), "{err}");
        assert_eq!(wal.synced.load(Ordering::SeqCst), 0);
    }
}
