//! Everything the provider remembers between requests, behind one trait.
//!
//! Endpoints only see [`Storage`]; `memory` serves tests and single-process demos, `sql` serves
//! SQLite, PostgreSQL and MySQL with one set of statements (rewritten for MySQL in `sql/dialect.rs`) (sqlx `Any`, `$n` parameters, TEXT/BIGINT
//! columns, `DELETE … RETURNING`). Records are stored as JSON in a `data` column beside the
//! columns queries filter on. Every read-modify-write takes its row lock first (an UPDATE),
//! so replicas on one PostgreSQL serialise on the row instead of both passing a check.

mod device;
mod directory;
mod gc;
mod memory;
mod records;
mod sessions;
mod sql;
mod throttle;

#[cfg(test)]
mod conformance;

use async_trait::async_trait;

pub use device::{DeviceDecision, DevicePoll, DeviceRequest, DeviceRequests, SLOW_DOWN_STEP_SECS};
pub use directory::{Change, ClientRecord, Directory, PasswordRecord, UserRef};
pub use gc::spawn_garbage_collector;
pub use memory::MemoryStorage;
pub use records::*;
pub use sessions::{EndCause, Ended, FeedPage, SessionRecord, SessionSelector, Sessions};
pub use sql::SqlStorage;
pub use throttle::{AttemptOutcome, Backoff, LoginGate, ThrottleKey};

/// Seconds since the Unix epoch.
pub type UnixTime = i64;

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// From SQLite's inline connection (`sql/sqlite_inline.rs`).
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The first connection at start failed: which database, and the TLS mode (a refused
    /// certificate reads better next to the mode that refused it).
    #[error("cannot connect to {database} (storage.config.{tls}): {source}")]
    Connect {
        database: String,
        tls: String,
        source: sqlx::Error,
    },
    #[error("database migration failed: {0}")]
    Migration(String),
    #[error("stored record is corrupt: {0}")]
    Corrupt(String),
    #[error("record already exists")]
    AlreadyExists,
    /// Committed writes could not be made durable (SQLite's WAL sync failed).
    #[error("cannot make writes durable: {0}")]
    Durability(String),
}

impl StorageError {
    /// True when the database could not be reached or answered with an error: the request may
    /// succeed later (503), as opposed to corrupt data.
    pub fn is_unavailable(&self) -> bool {
        matches!(
            self,
            StorageError::Database(_)
                | StorageError::Sqlite(_)
                | StorageError::Connect { .. }
                | StorageError::Durability(_)
        )
    }
}

pub type Result<T> = std::result::Result<T, StorageError>;

/// What happened when an authorization code was presented.
#[derive(Debug)]
pub enum CodeRedemption {
    /// First use: the code is gone now, here is what it stood for.
    Redeemed(Box<AuthCode>),
    /// Used before: the caller must treat it as an attack (RFC 6749 §4.1.2).
    Replayed,
    /// Never issued, or garbage-collected.
    Unknown,
    /// Issued but past its expiry; it is deleted now.
    Expired,
}

/// What happened when a refresh token was presented.
#[derive(Debug)]
pub enum RefreshUse {
    /// Valid. With rotation the token is now spent and the caller stores its successor.
    Valid(Box<RefreshToken>),
    /// Unknown id, wrong secret, or a different client: refused, nothing changed.
    Invalid,
    /// Past its lifetime.
    Expired,
    /// A spent token was presented again after the reuse interval: its whole family is revoked.
    Reused,
    /// A spent token was presented again within the reuse interval (a client's concurrent
    /// refreshes, e.g. a page and its XHRs through the gateway): nothing is revoked and, as
    /// Dex allows within `reuseInterval`, the caller may issue a second successor in the
    /// same family. Carries the token as it was when spent.
    RecentlyRotated(Box<RefreshToken>),
}

/// Counts of rows removed by one garbage-collection pass.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct GcStats {
    pub auth_requests: u64,
    pub auth_codes: u64,
    pub refresh_tokens: u64,
    pub signing_keys: u64,
    pub saml_requests: u64,
    pub saml_assertions: u64,
    pub throttle_rows: u64,
}

/// Users and clients managed at run time are the [`Directory`] part (issue 13); sign-in
/// sessions and the revocation feed the [`Sessions`] part (issue 17).
#[async_trait]
pub trait Storage: Directory + Sessions + DeviceRequests + Send + Sync + 'static {
    /// Cheap round-trip, for health checks.
    async fn ping(&self) -> Result<()>;

    /// Returns once every write committed before the call survives a power loss. On SQLite the
    /// writes of a sign-in in progress and of the token endpoint (auth requests, login
    /// throttling, codes, their redemption, sessions, refresh tokens) commit without waiting for
    /// the disk, and the token endpoint calls this once before it answers, so concurrent grants
    /// share one fsync (`sql/wal_sync.rs`); every other write waits for the disk itself. The
    /// other backends commit durably: nothing to do.
    async fn sync(&self) -> Result<()> {
        Ok(())
    }

    // --- authorization requests (one per /auth visit, until a code is issued) ---
    async fn create_auth_request(&self, request: &AuthRequest) -> Result<()>;
    /// None when unknown or expired.
    async fn get_auth_request(&self, id: &str, now: UnixTime) -> Result<Option<AuthRequest>>;
    /// Records who signed in and the hash binding the request to their browser, once, atomically:
    /// false when the request is gone or someone already signed in on it.
    async fn set_auth_request_identity(
        &self,
        id: &str,
        connector_id: &str,
        identity: &Identity,
        browser_binding: &str,
    ) -> Result<bool>;
    /// Remembers the upstream login a redirect connector started; false when the request is gone
    /// or already signed in.
    async fn set_auth_request_upstream(&self, id: &str, upstream: &UpstreamLogin) -> Result<bool>;
    /// Removes and returns the request, atomically, so it finishes at most once.
    async fn take_auth_request(&self, id: &str, now: UnixTime) -> Result<Option<AuthRequest>>;

    // --- authorization codes ---
    async fn create_auth_code(&self, code: &AuthCode) -> Result<()>;
    /// One-time: deletes the code and remembers it was used, atomically.
    async fn redeem_auth_code(&self, code_hash: &str, now: UnixTime) -> Result<CodeRedemption>;

    // --- refresh tokens ---
    async fn create_refresh_token(&self, token: &RefreshToken) -> Result<()>;
    /// Checks id, secret (constant time), client and expiry, atomically. With rotation the token
    /// is spent (kept a while only to detect reuse); without, its idle expiry is extended.
    async fn use_refresh_token(
        &self,
        id: &str,
        secret_hash: &str,
        client_id: &str,
        policy: &RefreshPolicy,
        now: UnixTime,
    ) -> Result<RefreshUse>;
    /// A rotating use (`policy.rotate` is taken as set) that also stores the token's `successor`
    /// when the use is `Valid`, or `RecentlyRotated` (then a sibling in the family), and moves
    /// the successor's session's expiry up to the successor's, all in one atomic step: one
    /// commit per refresh grant. A successor whose session has ended (or is gone) is refused as
    /// `Invalid`, and nothing changes.
    async fn rotate_refresh_token(
        &self,
        id: &str,
        secret_hash: &str,
        client_id: &str,
        policy: &RefreshPolicy,
        now: UnixTime,
        successor: &RefreshToken,
    ) -> Result<RefreshUse>;
    /// The token, when it is live (not spent, not expired) and `client_id`'s, secret checked in
    /// constant time; changes nothing (introspection reads, it does not use).
    async fn live_refresh_token(
        &self,
        id: &str,
        secret_hash: &str,
        client_id: &str,
        now: UnixTime,
    ) -> Result<Option<RefreshToken>>;
    /// Revokes every refresh token descended from one authorization code; returns how many.
    async fn revoke_refresh_family(&self, family: &str) -> Result<u64>;

    // --- signing keys (rotation keeps old public keys until their tokens expire) ---
    async fn list_signing_keys(&self) -> Result<Vec<SigningKeyRecord>>;
    /// Adds a key unconditionally (imports, tests); rotation uses [`Storage::rotate_signing_key`].
    async fn insert_signing_key(&self, key: &SigningKeyRecord) -> Result<()>;
    /// The rotation generation: bumped by every successful [`Storage::rotate_signing_key`].
    async fn signing_key_generation(&self) -> Result<i64>;
    /// Compare-and-swap: adds `key` and bumps the generation only if it is still `seen`.
    /// Returns false (and changes nothing) when another replica rotated first.
    async fn rotate_signing_key(&self, seen: i64, key: &SigningKeyRecord) -> Result<bool>;

    // --- SAML: requests in flight, and assertion IDs seen (replay cache) ---
    async fn create_saml_request(&self, request: &SamlRequest) -> Result<()>;
    /// None when unknown or expired (an answered request is returned, marked `answered`).
    async fn get_saml_request(&self, id: &str, now: UnixTime) -> Result<Option<SamlRequest>>;
    /// Marks the request answered, atomically: true for the first answer only, so one
    /// response is accepted per request.
    async fn answer_saml_request(&self, id: &str, now: UnixTime) -> Result<bool>;
    /// Remembers an assertion ID until `expires_at`; false when it was already seen (a replay).
    async fn remember_saml_assertion(&self, id: &str, expires_at: UnixTime) -> Result<bool>;

    // --- login throttling and rate limits (shared by every replica) ---
    /// Admits one password check for all `keys` together, or none: refused while any key is in
    /// its back-off or already has a check in flight. Admitted, every key is held until
    /// [`Storage::end_login_attempt`] or `lease_until`, whichever comes first.
    async fn begin_login_attempt(
        &self,
        keys: &[ThrottleKey],
        now: UnixTime,
        lease_until: UnixTime,
    ) -> Result<LoginGate>;
    /// Releases the keys of an admitted attempt; a failure counts against each of them.
    async fn end_login_attempt(
        &self,
        keys: &[ThrottleKey],
        outcome: AttemptOutcome,
        now: UnixTime,
    ) -> Result<()>;
    /// Counts one event for `key` in a fixed window of `window_secs`: false (not counted) once
    /// `limit` events were counted in the current window.
    async fn count_in_window(
        &self,
        key: &str,
        limit: i64,
        window_secs: i64,
        now: UnixTime,
    ) -> Result<bool>;

    // Room for offline sessions, connector data, passwords and clients in storage: later issues.

    /// Deletes every expired row.
    async fn delete_expired(&self, now: UnixTime) -> Result<GcStats>;
}

pub use crate::identity::Identity;

/// Opens the configured backend and migrates its schema (creating a SQLite file as needed).
pub async fn open(config: &crate::config::StorageConfig) -> Result<std::sync::Arc<dyn Storage>> {
    Ok(match config {
        crate::config::StorageConfig::Memory => std::sync::Arc::new(MemoryStorage::new()),
        crate::config::StorageConfig::Sqlite { file } => {
            std::sync::Arc::new(SqlStorage::open_sqlite(file).await?)
        }
        crate::config::StorageConfig::Postgres(pg) => {
            std::sync::Arc::new(SqlStorage::open_postgres(pg).await?)
        }
        crate::config::StorageConfig::Mysql(my) => {
            std::sync::Arc::new(SqlStorage::open_mysql(my).await?)
        }
    })
}

/// The current time as [`UnixTime`].
pub fn now() -> UnixTime {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}
