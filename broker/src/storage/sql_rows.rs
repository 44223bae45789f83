//! How records map to SQL rows: most tables hold a key, an expiry and the record as JSON, so
//! each record type declares its mapping once ([`Record`]) and every insert and one-time take
//! goes through one function.

use serde::de::DeserializeOwned;
use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::{Any, Row};

use super::sql_dialect::Backend;
use super::*;

pub(super) fn to_json<T: Serialize>(value: &T) -> Result<String> {
    serde_json::to_string(value).map_err(|e| StorageError::Corrupt(e.to_string()))
}

pub(super) fn from_row<T: DeserializeOwned>(row: &AnyRow) -> Result<T> {
    let data = text_column(row, "data")?;
    serde_json::from_str(&data).map_err(|e| StorageError::Corrupt(e.to_string()))
}

/// A text column's value. MySQL's LONGTEXT reaches the `Any` driver as a blob, so bytes are
/// accepted too (and must be UTF-8).
pub(super) fn text_column(row: &AnyRow, name: &str) -> Result<String> {
    match row.try_get::<String, _>(name) {
        Ok(text) => Ok(text),
        Err(_) => {
            let bytes: Vec<u8> = row.try_get(name)?;
            String::from_utf8(bytes).map_err(|e| StorageError::Corrupt(e.to_string()))
        }
    }
}

pub(super) fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.is_unique_violation())
}

pub(super) fn insert_error(e: sqlx::Error) -> StorageError {
    if is_unique_violation(&e) {
        StorageError::AlreadyExists
    } else {
        StorageError::Database(e)
    }
}

/// How a record maps to the row layout most tables share: a key, an expiry, the record as
/// JSON. Declared once per record type, so every insert of it is the same.
pub(super) trait Record: Serialize {
    /// Binds `$1` the key, `$2` the expiry, `$3` the JSON.
    const INSERT: &'static str;
    fn key(&self) -> &str;
    fn expires_at(&self) -> UnixTime;
}

impl Record for AuthRequest {
    const INSERT: &'static str =
        "INSERT INTO auth_requests (id, expires_at, data) VALUES ($1, $2, $3)";
    fn key(&self) -> &str {
        &self.id
    }
    fn expires_at(&self) -> UnixTime {
        self.expires_at
    }
}

impl Record for AuthCode {
    const INSERT: &'static str =
        "INSERT INTO auth_codes (id, expires_at, data) VALUES ($1, $2, $3)";
    fn key(&self) -> &str {
        &self.code_hash
    }
    fn expires_at(&self) -> UnixTime {
        self.expires_at
    }
}

impl Record for SigningKeyRecord {
    const INSERT: &'static str =
        "INSERT INTO signing_keys (kid, verify_until, data) VALUES ($1, $2, $3)";
    fn key(&self) -> &str {
        &self.kid
    }
    fn expires_at(&self) -> UnixTime {
        self.verify_until
    }
}

impl Record for SamlRequest {
    const INSERT: &'static str =
        "INSERT INTO saml_requests (id, expires_at, answered, data) VALUES ($1, $2, 0, $3)";
    fn key(&self) -> &str {
        &self.id
    }
    fn expires_at(&self) -> UnixTime {
        self.expires_at
    }
}

/// Inserts a record; a taken key is [`StorageError::AlreadyExists`].
pub(super) async fn insert<'e, E, R>(backend: Backend, executor: E, record: &R) -> Result<()>
where
    E: sqlx::Executor<'e, Database = Any>,
    R: Record,
{
    sqlx::query(&backend.sql(R::INSERT))
        .bind(record.key())
        .bind(record.expires_at())
        .bind(to_json(record)?)
        .execute(executor)
        .await
        .map_err(insert_error)?;
    Ok(())
}

/// What deleting a one-time record found.
pub(super) enum Taken<T> {
    Unknown,
    Expired,
    Live(T),
}

/// Deletes a one-time record and returns it, atomically (`delete` ends in
/// `RETURNING expires_at, data`); its JSON is read only when it is still live.
pub(super) async fn take_record<'e, E, T>(
    backend: Backend,
    executor: E,
    delete: &str,
    key: &str,
    now: UnixTime,
) -> Result<Taken<T>>
where
    E: sqlx::Executor<'e, Database = Any>,
    T: DeserializeOwned,
{
    let row = sqlx::query(&backend.sql(delete))
        .bind(key)
        .fetch_optional(executor)
        .await?;
    let Some(row) = row else {
        return Ok(Taken::Unknown);
    };
    let expires_at: i64 = row.try_get("expires_at")?;
    if expires_at <= now {
        return Ok(Taken::Expired);
    }
    from_row(&row).map(Taken::Live)
}
