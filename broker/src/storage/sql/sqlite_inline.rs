//! SQLite's login and token endpoint statements (the auth request's life, the code, its
//! redemption, the session and refresh token it starts, the refresh grant's reads and
//! rotation), run in the calling task on their own connection (rusqlite), not through sqlx.
//! Why: sqlx's SQLite driver runs each statement on a worker thread and hands the result back,
//! two thread switches per statement; a refresh grant is ten statements of a few microseconds
//! each, so with ES256 or EdDSA signing the switches were most of the grant's CPU
//! (BENCHMARKS.md, "SQLite group commit"). Here a whole transaction runs between two awaits.
//!
//! The connection is a flow connection, as the sqlx `flow` pool's: `synchronous=NORMAL`, made
//! durable by the group commit (`wal_sync.rs`) before the token endpoint answers. It never
//! waits inside SQLite: while another connection holds the write lock it gets `SQLITE_BUSY` at
//! once, and the task retries after an async pause, so no runtime thread sleeps in SQLite's busy
//! handler. Nor does it checkpoint in a commit: checkpoints (their writes and fsyncs) run on a
//! blocking thread.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rusqlite::{params, Connection, ErrorCode, OpenFlags, OptionalExtension, TransactionBehavior};

use super::refresh_spend::{decide, Presented, Spend, StoredToken};
use super::rows::{from_json, taken, to_json, Record, Taken};
use crate::storage::{
    AuthCode, AuthRequest, CodeRedemption, RefreshPolicy, RefreshToken, RefreshUse, Result,
    SessionRecord, StorageError, UnixTime,
};

/// How long a statement may wait for another connection's write lock, as sqlx's default.
const BUSY_FOR: Duration = Duration::from_secs(5);

/// Commits between two checkpoints (SQLite's own default is 1000 pages of WAL; a rotation
/// writes about four).
const CHECKPOINT_EVERY: u64 = 256;

pub(super) struct InlineSqlite {
    conn: Arc<tokio::sync::Mutex<Connection>>,
    commits: AtomicU64,
}

impl InlineSqlite {
    /// Opens the database `file` (created and migrated by the pool before).
    pub(super) fn open(file: &Path) -> Result<Self> {
        let conn = Connection::open_with_flags(
            file,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(Duration::ZERO)?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "wal_autocheckpoint", 0)?;
        conn.set_prepared_statement_cache_capacity(32);
        Ok(InlineSqlite {
            conn: Arc::new(tokio::sync::Mutex::new(conn)),
            commits: AtomicU64::new(0),
        })
    }

    /// Runs `work` on the connection; again, after a pause, while another connection holds the
    /// write lock (`work` runs in one transaction or none, so an attempt that met the lock
    /// left nothing behind).
    pub(super) async fn run<R>(
        &self,
        mut work: impl FnMut(&mut Connection) -> Result<R>,
    ) -> Result<R> {
        let mut conn = self.conn.lock().await;
        let deadline = Instant::now() + BUSY_FOR;
        let mut pause = Duration::from_millis(1);
        loop {
            match work(&mut conn) {
                Err(StorageError::Sqlite(e)) if is_busy(&e) && Instant::now() < deadline => {
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_millis(20));
                }
                done => return done,
            }
        }
    }

    /// Runs `work` in one transaction that takes the write lock first (`BEGIN IMMEDIATE`), so a
    /// concurrent write of the same rows (on any connection) waits, and what `work` reads is the
    /// last commit; retried as [`InlineSqlite::run`]. A `work` that refuses and writes nothing
    /// commits an empty transaction.
    pub(super) async fn write<R>(
        &self,
        mut work: impl FnMut(&Connection) -> Result<R>,
    ) -> Result<R> {
        self.run(|conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let done = work(&tx)?;
            tx.commit()?;
            Ok(done)
        })
        .await
    }

    /// Notes a commit, and every [`CHECKPOINT_EVERY`] checkpoints the WAL on a blocking thread
    /// while this connection waits (without it the WAL would never restart: SQLite restarts it
    /// at a write after a checkpoint that caught up, which a checkpoint beside the writes
    /// rarely does under load).
    pub(super) fn committed(&self) {
        let n = self.commits.fetch_add(1, Ordering::Relaxed) + 1;
        if !n.is_multiple_of(CHECKPOINT_EVERY) {
            return;
        }
        let conn = self.conn.clone();
        tokio::spawn(async move {
            let conn = conn.lock_owned().await;
            let checkpoint = tokio::task::spawn_blocking(move || {
                // PASSIVE: copies what no reader still needs, and waits for no one.
                conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
            });
            match checkpoint.await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "SQLite checkpoint failed; the WAL grows until one succeeds")
                }
                Err(e) => tracing::warn!(error = %e, "SQLite checkpoint did not run"),
            }
        });
    }

    /// A flow write: a record of a key, expiry and JSON table (an auth request, a code).
    pub(super) async fn insert_record<R: Record>(&self, record: &R) -> Result<()> {
        let json = to_json(record)?;
        // `R::INSERT` numbers its parameters `$1`…`$3` in order, which SQLite binds by position.
        self.run(|conn| {
            inserted(conn.prepare_cached(R::INSERT)?.execute(params![
                record.key(),
                record.expires_at(),
                json
            ]))
        })
        .await?;
        self.committed();
        Ok(())
    }

    /// A live (unexpired) auth request.
    pub(super) async fn auth_request(
        &self,
        id: &str,
        now: UnixTime,
    ) -> Result<Option<AuthRequest>> {
        let data: Option<String> = self
            .run(|conn| {
                Ok(conn
                    .prepare_cached(
                        "SELECT data FROM auth_requests WHERE id = ?1 AND expires_at > ?2",
                    )?
                    .query_row(params![id, now], |row| row.get(0))
                    .optional()?)
            })
            .await?;
        data.map(|data| from_json(&data)).transpose()
    }

    /// Changes an auth request in one write transaction, so a concurrent change waits and then
    /// sees this one. False when the request is unknown or `change` refuses (returns false):
    /// then nothing is written.
    pub(super) async fn modify_auth_request(
        &self,
        id: &str,
        mut change: impl FnMut(&mut AuthRequest) -> bool,
    ) -> Result<bool> {
        let changed = self
            .write(|tx| {
                let data: Option<String> = tx
                    .prepare_cached("SELECT data FROM auth_requests WHERE id = ?1")?
                    .query_row([id], |row| row.get(0))
                    .optional()?;
                let Some(data) = data else { return Ok(false) };
                let mut request: AuthRequest = from_json(&data)?;
                if !change(&mut request) {
                    return Ok(false);
                }
                tx.prepare_cached("UPDATE auth_requests SET data = ?1 WHERE id = ?2")?
                    .execute(params![to_json(&request)?, id])?;
                Ok(true)
            })
            .await?;
        if changed {
            self.committed();
        }
        Ok(changed)
    }

    /// Deletes the auth request `id` and returns what it was, in one statement.
    pub(super) async fn take_auth_request(
        &self,
        id: &str,
        now: UnixTime,
    ) -> Result<Taken<AuthRequest>> {
        let row = self
            .run(|conn| delete_returning(conn, "auth_requests", id))
            .await?;
        if row.is_some() {
            self.committed();
        }
        taken(row, now)
    }

    /// A session's record as JSON.
    pub(super) async fn session_data(&self, sid: &str) -> Result<Option<String>> {
        self.run(|conn| {
            Ok(conn
                .prepare_cached("SELECT data FROM sessions WHERE sid = ?1")?
                .query_row([sid], |row| row.get(0))
                .optional()?)
        })
        .await
    }

    /// The live (unspent, unexpired) token of `presented`'s id, as JSON, when it matches.
    pub(super) async fn live_refresh_token(
        &self,
        presented: &Presented<'_>,
        now: UnixTime,
    ) -> Result<Option<String>> {
        let row: Option<(String, String, String)> = self
            .run(|conn| {
                Ok(conn
                    .prepare_cached(
                        "SELECT secret_hash, client_id, data FROM refresh_tokens
                         WHERE id = ?1 AND spent = 0 AND expires_at > ?2",
                    )?
                    .query_row(params![presented.id, now], |row| {
                        Ok((row.get(0)?, row.get(1)?, row.get(2)?))
                    })
                    .optional()?)
            })
            .await?;
        Ok(row
            .filter(|(hash, client, _)| presented.matches(hash, client))
            .map(|(_, _, data)| data))
    }

    /// A flow write: a refresh token minted at a code exchange.
    pub(super) async fn create_refresh_token(&self, token: &RefreshToken) -> Result<()> {
        let json = to_json(token)?;
        self.run(|conn| insert_refresh_token(conn, token, &json))
            .await?;
        self.committed();
        Ok(())
    }

    /// A flow write: a new sign-in session's row.
    pub(super) async fn create_session(&self, s: &SessionRecord) -> Result<()> {
        let json = to_json(s)?;
        self.run(|conn| {
            inserted(
                conn.prepare_cached(
                    "INSERT INTO sessions (sid, family, user_id, connector_id, seq, listed_until, expires_at, data)
                     VALUES (?1, ?2, ?3, ?4, 0, 0, ?5, ?6)",
                )?
                .execute(params![s.sid, s.family, s.user_id, s.connector_id, s.expires_at, json]),
            )
        })
        .await?;
        self.committed();
        Ok(())
    }

    /// A flow write: a live session's expiry moved up (never down).
    pub(super) async fn extend_session(&self, sid: &str, expires_at: UnixTime) -> Result<()> {
        self.run(|conn| extend_session(conn, sid, expires_at))
            .await?;
        self.committed();
        Ok(())
    }

    /// Spends the code of `code_hash` (deleted, and remembered as redeemed until
    /// `remembered_until`), as `SqlStorage::redeem_auth_code` does with sqlx.
    pub(super) async fn redeem_auth_code(
        &self,
        code_hash: &str,
        now: UnixTime,
        remembered_until: UnixTime,
    ) -> Result<CodeRedemption> {
        let redemption = self
            .write(|tx| {
                let row = delete_returning(tx, "auth_codes", code_hash)?;
                let redemption = match taken::<AuthCode>(row, now)? {
                    Taken::Unknown => {
                        let replayed = tx
                            .prepare_cached("SELECT 1 FROM redeemed_codes WHERE id = ?1")?
                            .exists([code_hash])?;
                        return Ok(if replayed {
                            CodeRedemption::Replayed
                        } else {
                            CodeRedemption::Unknown
                        });
                    }
                    Taken::Live(code) => {
                        tx.prepare_cached(
                            "INSERT INTO redeemed_codes (id, expires_at) VALUES (?1, ?2)",
                        )?
                        .execute(params![code_hash, remembered_until])?;
                        CodeRedemption::Redeemed(Box::new(code))
                    }
                    Taken::Expired => CodeRedemption::Expired,
                };
                Ok(redemption)
            })
            .await?;
        if changes_rows(&redemption) {
            self.committed();
        }
        Ok(redemption)
    }

    /// A rotating use of `presented` that stores `successor` and extends its session, in one
    /// transaction, as `SqlStorage::sql_spend_refresh_token` does with sqlx.
    pub(super) async fn rotate_refresh_token(
        &self,
        presented: &Presented<'_>,
        policy: &RefreshPolicy,
        now: UnixTime,
        successor: &RefreshToken,
    ) -> Result<RefreshUse> {
        let next_json = to_json(successor)?;
        let used = self
            .write(|tx| {
                if let Some(sid) = &successor.sid {
                    let live = tx
                        .prepare_cached("SELECT 1 FROM sessions WHERE sid = ?1 AND seq = 0")?
                        .exists([sid])?;
                    if !live {
                        return Ok(RefreshUse::Invalid);
                    }
                }
                let stored = tx
                    .prepare_cached(
                        "SELECT secret_hash, client_id, spent, expires_at, family, data
                         FROM refresh_tokens WHERE id = ?1",
                    )?
                    .query_row([presented.id], |row| {
                        Ok(StoredToken {
                            secret_hash: row.get(0)?,
                            client_id: row.get(1)?,
                            spent: row.get(2)?,
                            expires_at: row.get(3)?,
                            family: row.get(4)?,
                            data: row.get(5)?,
                        })
                    })
                    .optional()?;
                let Some(stored) = stored else {
                    return Ok(RefreshUse::Invalid);
                };
                let used =
                    match decide(stored, presented, policy, now)? {
                        Spend::Invalid => return Ok(RefreshUse::Invalid),
                        Spend::RecentlyRotated(token) => {
                            store_successor(tx, successor, &next_json)?;
                            RefreshUse::RecentlyRotated(token)
                        }
                        Spend::Reused { family } => {
                            tx.prepare_cached("DELETE FROM refresh_tokens WHERE family = ?1")?
                                .execute([family])?;
                            RefreshUse::Reused
                        }
                        Spend::Expired => {
                            tx.prepare_cached("DELETE FROM refresh_tokens WHERE id = ?1")?
                                .execute([presented.id])?;
                            RefreshUse::Expired
                        }
                        Spend::Rotate {
                            token,
                            spent_at,
                            keep_until,
                        } => {
                            tx.prepare_cached(
                            "UPDATE refresh_tokens SET spent = ?1, expires_at = ?2 WHERE id = ?3",
                        )?
                        .execute(params![spent_at, keep_until, presented.id])?;
                            store_successor(tx, successor, &next_json)?;
                            RefreshUse::Valid(token)
                        }
                        // The policy passed here always rotates.
                        Spend::Slide { .. } => {
                            return Err(StorageError::Corrupt(
                                "a rotation was asked to slide instead".into(),
                            ))
                        }
                    };
                Ok(used)
            })
            .await?;
        // Every answer but a refusal committed.
        if !matches!(used, RefreshUse::Invalid) {
            self.committed();
        }
        Ok(used)
    }
}

/// The successor's row, and its session's expiry moved up to the successor's (never down).
fn store_successor(tx: &Connection, next: &RefreshToken, json: &str) -> Result<()> {
    insert_refresh_token(tx, next, json)?;
    if let Some(sid) = &next.sid {
        extend_session(tx, sid, next.expires_at)?;
    }
    Ok(())
}

fn insert_refresh_token(conn: &Connection, token: &RefreshToken, json: &str) -> Result<()> {
    inserted(
        conn.prepare_cached(
            "INSERT INTO refresh_tokens (id, family, client_id, secret_hash, spent, expires_at, data)
             VALUES (?1, ?2, ?3, ?4, 0, ?5, ?6)",
        )?
        .execute(params![
            token.id,
            token.family,
            token.client_id,
            token.secret_hash,
            token.expires_at,
            json
        ]),
    )
}

/// Moves a live session's expiry up to `expires_at` (never down). The JSON copy keeps the
/// creation-time expiry; the column is what GC goes by.
fn extend_session(conn: &Connection, sid: &str, expires_at: UnixTime) -> Result<()> {
    conn.prepare_cached(
        "UPDATE sessions SET expires_at = ?1 WHERE sid = ?2 AND seq = 0 AND expires_at < ?1",
    )?
    .execute(params![expires_at, sid])?;
    Ok(())
}

/// Deletes the row `key` of a key, expiry and JSON `table`, returning its `(expires_at, data)`.
fn delete_returning(
    conn: &Connection,
    table: &'static str,
    key: &str,
) -> Result<Option<(UnixTime, String)>> {
    Ok(conn
        .prepare_cached(&format!(
            "DELETE FROM {table} WHERE id = ?1 RETURNING expires_at, data"
        ))?
        .query_row([key], |row| Ok((row.get(0)?, row.get(1)?)))
        .optional()?)
}

/// An INSERT's outcome: a taken key is [`StorageError::AlreadyExists`].
fn inserted(result: rusqlite::Result<usize>) -> Result<()> {
    match result {
        Err(rusqlite::Error::SqliteFailure(e, _)) if e.code == ErrorCode::ConstraintViolation => {
            Err(StorageError::AlreadyExists)
        }
        other => other.map(drop).map_err(StorageError::from),
    }
}

/// Whether a redemption deleted a code (a live or an expired one), so committed.
pub(super) fn changes_rows(redemption: &CodeRedemption) -> bool {
    matches!(
        redemption,
        CodeRedemption::Redeemed(_) | CodeRedemption::Expired
    )
}

fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(
        e,
        rusqlite::Error::SqliteFailure(f, _)
            if matches!(f.code, ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked)
    )
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use crate::storage::conformance::{refresh, ROTATE};
    use crate::storage::sql::SqlStorage;
    use crate::storage::{RefreshUse, Storage};

    const NOW: i64 = 1_700_000_000;

    /// A database with the token `{name}-old`, and a transaction of the sqlx flow pool (another
    /// connection) holding SQLite's write lock.
    async fn a_token_locked_elsewhere(
        name: &str,
    ) -> (
        tempfile::TempDir,
        Arc<SqlStorage>,
        sqlx::Transaction<'static, sqlx::Any>,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let s = Arc::new(
            SqlStorage::open_sqlite(&dir.path().join("gatehouse.db"))
                .await
                .unwrap(),
        );
        let old = refresh(&format!("{name}-old"), name, NOW + 500);
        s.create_refresh_token(&old).await.unwrap();
        let mut holder = s.flow.begin().await.unwrap();
        sqlx::query("UPDATE refresh_tokens SET spent = spent WHERE id = $1")
            .bind(&old.id)
            .execute(&mut *holder)
            .await
            .unwrap();
        (dir, s, holder)
    }

    /// On one runtime thread: if a rotation slept in SQLite's busy handler, the writer holding
    /// the lock could never commit, and this would time out.
    #[tokio::test]
    async fn a_rotation_waits_for_another_connections_write_lock_without_holding_the_thread() {
        let (_dir, s, holder) = a_token_locked_elsewhere("held").await;
        let rotating = {
            let s = s.clone();
            tokio::spawn(async move {
                let next = refresh("held-next", "held", NOW + 500);
                s.rotate_refresh_token("held-old", "hash-held-old", "c", &ROTATE, NOW, &next)
                    .await
            })
        };
        tokio::time::sleep(Duration::from_millis(60)).await;
        assert!(!rotating.is_finished(), "the rotation waits for the lock");
        holder.commit().await.unwrap();
        let used = tokio::time::timeout(Duration::from_secs(2), rotating)
            .await
            .expect("the rotation goes on once the lock is free")
            .unwrap()
            .unwrap();
        assert!(matches!(used, RefreshUse::Valid(_)), "{used:?}");
    }

    /// Takes the five seconds of [`super::BUSY_FOR`].
    #[tokio::test]
    async fn a_lock_held_past_the_busy_time_is_an_unavailable_database() {
        let (_dir, s, holder) = a_token_locked_elsewhere("stuck").await;
        let next = refresh("stuck-next", "stuck", NOW + 500);
        let e = s
            .rotate_refresh_token("stuck-old", "hash-stuck-old", "c", &ROTATE, NOW, &next)
            .await
            .unwrap_err();
        assert!(e.is_unavailable(), "{e}");
        holder.rollback().await.unwrap();
        assert!(s
            .live_refresh_token("stuck-old", "hash-stuck-old", "c", NOW)
            .await
            .unwrap()
            .is_some());
    }

    /// SQLite restarts the WAL only after a checkpoint that caught up; the inline connection's
    /// own checkpoints keep it from growing with every rotation.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_wal_stays_bounded_under_rotations() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gatehouse.db");
        let s = SqlStorage::open_sqlite(&path).await.unwrap();
        let mut current = refresh("wal-0", "wal", NOW + 500);
        s.create_refresh_token(&current).await.unwrap();
        for i in 1..=3000 {
            let next = refresh(&format!("wal-{i}"), "wal", NOW + 500);
            let used = s
                .rotate_refresh_token(&current.id, &current.secret_hash, "c", &ROTATE, NOW, &next)
                .await
                .unwrap();
            assert!(matches!(used, RefreshUse::Valid(_)), "{i}: {used:?}");
            current = next;
        }
        let wal = std::fs::metadata(dir.path().join("gatehouse.db-wal"))
            .unwrap()
            .len();
        // Unchecked, 3000 rotations leave tens of MiB of WAL; 256 of them a few.
        assert!(wal < 12 << 20, "WAL of {wal} bytes");
        let live = s
            .live_refresh_token(&current.id, &current.secret_hash, "c", NOW)
            .await
            .unwrap();
        assert!(live.is_some());
    }
}
