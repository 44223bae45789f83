//! How records map to SQL rows: most tables hold a key, an expiry and the record as JSON, so
//! each record type declares its mapping once ([`Record`]) and every insert and one-time take
//! goes through one function.

use serde::de::DeserializeOwned;
use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::{Any, Row};

use super::Backend;
use crate::storage::*;

pub(super) fn to_json<T: Serialize>(value: &T) -> Result<String> {
    serde_json::to_string(value).map_err(|e| StorageError::Corrupt(e.to_string()))
}

pub(super) fn from_row<T: DeserializeOwned>(row: &AnyRow) -> Result<T> {
    from_json(&text_column(row, "data")?)
}

pub(super) fn from_json<T: DeserializeOwned>(data: &str) -> Result<T> {
    serde_json::from_str(data).map_err(|e| StorageError::Corrupt(e.to_string()))
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

/// Deletes a one-time record of `table` (keyed by `id`) and returns it, atomically; its JSON
/// is read only when it is still live.
pub(super) async fn take_record<T: DeserializeOwned>(
    backend: Backend,
    conn: &mut sqlx::AnyConnection,
    table: &str,
    key: &str,
    now: UnixTime,
) -> Result<Taken<T>> {
    let row = if backend == Backend::Mysql {
        take_row_mysql(conn, table, key).await?
    } else {
        let delete = format!("DELETE FROM {table} WHERE id = $1 RETURNING expires_at, data");
        match sqlx::query(&delete)
            .bind(key)
            .fetch_optional(&mut *conn)
            .await?
        {
            Some(row) => Some((row.try_get("expires_at")?, text_column(&row, "data")?)),
            None => None,
        }
    };
    taken(row, now)
}

/// What a deleted row `(expires_at, data)` (or none) was at `now`.
pub(super) fn taken<T: DeserializeOwned>(
    row: Option<(UnixTime, String)>,
    now: UnixTime,
) -> Result<Taken<T>> {
    let Some((expires_at, data)) = row else {
        return Ok(Taken::Unknown);
    };
    if expires_at <= now {
        return Ok(Taken::Expired);
    }
    from_json(&data).map(Taken::Live)
}

/// MariaDB answers `DELETE … RETURNING` without column names through the binary protocol, so
/// MySQL reads the row and deletes it only if it is still exactly that row: of two takers,
/// one deletes it, the other finds it gone (or changed, and reads again).
async fn take_row_mysql(
    conn: &mut sqlx::AnyConnection,
    table: &str,
    key: &str,
) -> Result<Option<(i64, String)>> {
    let select = format!("SELECT expires_at, data FROM {table} WHERE id = ?");
    let delete = format!("DELETE FROM {table} WHERE id = ? AND data = ?");
    loop {
        let Some(row) = sqlx::query(&select)
            .bind(key)
            .fetch_optional(&mut *conn)
            .await?
        else {
            return Ok(None);
        };
        let expires_at: i64 = row.try_get("expires_at")?;
        let data = text_column(&row, "data")?;
        let deleted = sqlx::query(&delete)
            .bind(key)
            .bind(&data)
            .execute(&mut *conn)
            .await?
            .rows_affected();
        if deleted == 1 {
            return Ok(Some((expires_at, data)));
        }
    }
}
