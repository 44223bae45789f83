//! Schema, applied in order at start. Portable SQL: TEXT and BIGINT only, so the same
//! statements run on SQLite and PostgreSQL.

/// (version, statements). Never edit a released entry: add a new version.
pub const MIGRATIONS: &[(i64, &[&str])] = &[(
    1,
    &[
        "CREATE TABLE IF NOT EXISTS auth_requests (
            id TEXT PRIMARY KEY,
            expires_at BIGINT NOT NULL,
            data TEXT NOT NULL)",
        "CREATE TABLE IF NOT EXISTS auth_codes (
            id TEXT PRIMARY KEY,
            expires_at BIGINT NOT NULL,
            data TEXT NOT NULL)",
        "CREATE TABLE IF NOT EXISTS redeemed_codes (
            id TEXT PRIMARY KEY,
            expires_at BIGINT NOT NULL)",
        "CREATE TABLE IF NOT EXISTS refresh_tokens (
            id TEXT PRIMARY KEY,
            family TEXT NOT NULL,
            client_id TEXT NOT NULL,
            secret_hash TEXT NOT NULL,
            spent BIGINT NOT NULL,
            expires_at BIGINT NOT NULL,
            data TEXT NOT NULL)",
        "CREATE INDEX IF NOT EXISTS refresh_tokens_family ON refresh_tokens (family)",
        "CREATE TABLE IF NOT EXISTS signing_keys (
            kid TEXT PRIMARY KEY,
            verify_until BIGINT NOT NULL,
            data TEXT NOT NULL)",
    ],
)];
