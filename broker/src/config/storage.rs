//! `storage:`: which backend, and for PostgreSQL Dex's connection keys (or one URL).

use std::path::PathBuf;
use std::time::Duration;

use super::db_keys::{int, split_host_port};
use super::db_tls::DbTls;
use super::error::ConfigError;
use super::raw::{RawStorage, RawStorageConfig};
use crate::secret::Secret;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StorageConfig {
    Memory,
    Sqlite {
        file: PathBuf,
    },
    Postgres(PostgresConfig),
    /// MySQL / MariaDB: the same pool settings, a `mysql://` URL.
    Mysql(PostgresConfig),
}

/// How to reach PostgreSQL and size the connection pool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostgresConfig {
    /// `postgres://…` with the password inside: never log it, log `display`.
    pub url: Secret,
    /// `host:port/database`, for logs and errors.
    pub display: String,
    /// How long to wait for a connection before a request fails (and answers 503).
    pub connection_timeout: Duration,
    pub max_open_conns: u32,
    /// Go's `SetMaxIdleConns`: with 0, connections are closed soon after use.
    pub max_idle_conns: Option<u32>,
    pub conn_max_lifetime: Option<Duration>,
    /// `ssl`: what is checked of the server, and the files (also inside `url`).
    pub tls: DbTls,
}

/// Dex waits forever when `connectionTimeout` is 0 or absent; a broker that must answer 503 while
/// the database is away cannot, so it waits this long.
pub const DEFAULT_CONNECTION_TIMEOUT: Duration = Duration::from_secs(5);
/// Go's database/sql has no limit; a pool needs one.
pub const DEFAULT_MAX_OPEN_CONNS: u32 = 10;

const POSTGRES_KEYS: &[&str] = &[
    "host",
    "port",
    "database",
    "user",
    "password",
    "ssl",
    "connectionTimeout",
    "maxOpenConns",
    "maxIdleConns",
    "connMaxLifetime",
    "url",
];

pub fn storage(raw: Option<RawStorage>) -> Result<StorageConfig, ConfigError> {
    let raw = raw.ok_or_else(|| {
        ConfigError::key(
            "storage",
            "missing: use type: sqlite3 with config.file, postgres, or memory",
        )
    })?;
    let kind = raw.kind.unwrap_or_default();
    let config = raw.config;
    match kind.as_str() {
        "memory" => {
            if let Some(c) = &config {
                refuse_keys(c, "memory", &["file"])?;
                refuse_keys(c, "memory", POSTGRES_KEYS)?;
            }
            Ok(StorageConfig::Memory)
        }
        "sqlite3" => {
            if let Some(c) = &config {
                refuse_keys(c, "sqlite3", POSTGRES_KEYS)?;
            }
            let file = config
                .and_then(|c| c.file)
                .filter(|f| !f.trim().is_empty())
                .ok_or_else(|| {
                    ConfigError::key("storage.config.file", "missing: the SQLite database file")
                })?;
            Ok(StorageConfig::Sqlite {
                file: PathBuf::from(file),
            })
        }
        "postgres" => {
            let config = config.ok_or_else(|| {
                ConfigError::key(
                    "storage.config",
                    "missing: host, port, database, user, password and ssl (or url)",
                )
            })?;
            refuse_keys(&config, "postgres", &["file"])?;
            postgres(config).map(StorageConfig::Postgres)
        }
        "mysql" => {
            let config = config.ok_or_else(|| {
                ConfigError::key(
                    "storage.config",
                    "missing: host, port, database, user, password and ssl",
                )
            })?;
            refuse_keys(&config, "mysql", &["file", "url"])?;
            let pool = pool(&config)?;
            let (url, display, tls) = super::mysql::url(&config)?;
            Ok(StorageConfig::Mysql(pool.with_url(url, display, tls)))
        }
        "etcd" => Err(ConfigError::key(
            "storage.type",
            "etcd is not supported (its key-value model does not fit this broker's transactional \
             storage); use postgres for several replicas, or sqlite3 for one",
        )),
        "kubernetes" => Err(ConfigError::key(
            "storage.type",
            "kubernetes (CRD) storage is not supported; use postgres for several replicas, or \
             sqlite3 for one",
        )),
        "" => Err(ConfigError::key(
            "storage.type",
            "missing: use sqlite3, postgres, mysql or memory",
        )),
        other => Err(ConfigError::key(
            "storage.type",
            format!("{other:?} is not supported; use sqlite3, postgres, mysql or memory"),
        )),
    }
}

/// Refuses any of `keys` present in `c`: they belong to another backend.
fn refuse_keys(c: &RawStorageConfig, kind: &str, keys: &[&str]) -> Result<(), ConfigError> {
    for key in keys {
        let present = match *key {
            "file" => c.file.is_some(),
            "host" => c.host.is_some(),
            "port" => c.port.is_some(),
            "database" => c.database.is_some(),
            "user" => c.user.is_some(),
            "password" => c.password.is_some(),
            "ssl" => c.ssl.is_some(),
            "connectionTimeout" => c.connection_timeout.is_some(),
            "maxOpenConns" => c.max_open_conns.is_some(),
            "maxIdleConns" => c.max_idle_conns.is_some(),
            "connMaxLifetime" => c.conn_max_lifetime.is_some(),
            "url" => c.url.is_some(),
            _ => false,
        };
        if present {
            return Err(ConfigError::key(
                format!("storage.config.{key}"),
                format!("not used by type: {kind}; remove it"),
            ));
        }
    }
    Ok(())
}

/// Dex's pool keys, shared by the network databases.
pub(super) struct Pool {
    connection_timeout: Duration,
    max_open_conns: u32,
    max_idle_conns: Option<u32>,
    conn_max_lifetime: Option<Duration>,
}

impl Pool {
    pub(super) fn with_url(self, url: String, display: String, tls: DbTls) -> PostgresConfig {
        PostgresConfig {
            url: Secret::new(url),
            display,
            tls,
            connection_timeout: self.connection_timeout,
            max_open_conns: self.max_open_conns,
            max_idle_conns: self.max_idle_conns,
            conn_max_lifetime: self.conn_max_lifetime,
        }
    }
}

fn pool(c: &RawStorageConfig) -> Result<Pool, ConfigError> {
    let connection_timeout = match int("connectionTimeout", &c.connection_timeout, 0, 86_400)? {
        None | Some(0) => DEFAULT_CONNECTION_TIMEOUT,
        Some(secs) => Duration::from_secs(secs),
    };
    let max_open_conns = match int("maxOpenConns", &c.max_open_conns, 0, 10_000)? {
        // Go: 0 means unlimited; a pool needs a number.
        None | Some(0) => DEFAULT_MAX_OPEN_CONNS,
        Some(n) => n as u32,
    };
    let max_idle_conns = int("maxIdleConns", &c.max_idle_conns, 0, 10_000)?.map(|n| n as u32);
    let conn_max_lifetime = match int("connMaxLifetime", &c.conn_max_lifetime, 0, 365 * 86_400)? {
        None | Some(0) => None,
        Some(secs) => Some(Duration::from_secs(secs)),
    };
    Ok(Pool {
        connection_timeout,
        max_open_conns,
        max_idle_conns,
        conn_max_lifetime,
    })
}

fn postgres(c: RawStorageConfig) -> Result<PostgresConfig, ConfigError> {
    let pool = pool(&c)?;
    let (url, display, tls) = match c.url {
        Some(url) => {
            for key in ["host", "port", "database", "user", "password", "ssl"] {
                let given = match key {
                    "host" => c.host.is_some(),
                    "port" => c.port.is_some(),
                    "database" => c.database.is_some(),
                    "user" => c.user.is_some(),
                    "password" => c.password.is_some(),
                    _ => c.ssl.is_some(),
                };
                if given {
                    return Err(ConfigError::key(
                        format!("storage.config.{key}"),
                        "give either url or the separate connection keys, not both",
                    ));
                }
            }
            from_url(&url)?
        }
        None => from_keys(&c)?,
    };
    Ok(pool.with_url(url, display, tls))
}

fn from_url(text: &str) -> Result<(String, String, DbTls), ConfigError> {
    let path = "storage.config.url";
    let url =
        url::Url::parse(text).map_err(|e| ConfigError::key(path, format!("not a URL ({e})")))?;
    if !matches!(url.scheme(), "postgres" | "postgresql") {
        return Err(ConfigError::key(
            path,
            "must start with postgres:// or postgresql://",
        ));
    }
    let mut url = url;
    let tls = url_tls(&mut url)?;
    let display = format!(
        "{}:{}{}",
        url.host_str().unwrap_or("localhost"),
        url.port().unwrap_or(5432),
        url.path()
    );
    Ok((url.to_string(), display, tls))
}

/// Takes the TLS parameters out of `url`, checks them, and puts back what sqlx must do (libpq's
/// `require` with a root certificate becomes `verify-ca`; sqlx would not check the chain).
fn url_tls(url: &mut url::Url) -> Result<DbTls, ConfigError> {
    let (mut mode, mut root, mut cert, mut key) = (None, None, None, None);
    let mut kept = Vec::new();
    for (name, value) in url.query_pairs() {
        let value = value.into_owned();
        match &*name {
            "sslmode" | "ssl-mode" => mode = Some(value),
            "sslrootcert" | "ssl-root-cert" | "ssl-ca" => root = Some(value),
            "sslcert" | "ssl-cert" => cert = Some(value),
            "sslkey" | "ssl-key" => key = Some(value),
            _ => kept.push((name.into_owned(), value)),
        }
    }
    let tls = super::db_tls::postgres_url(mode.as_deref(), root, cert, key)?;
    let mut query = url.query_pairs_mut();
    query.clear();
    for (name, value) in &kept {
        query.append_pair(name, value);
    }
    append_postgres_tls(&mut query, &tls);
    drop(query);
    Ok(tls)
}

/// sqlx's names for the PostgreSQL TLS settings.
fn append_postgres_tls(
    query: &mut url::form_urlencoded::Serializer<'_, url::UrlQuery<'_>>,
    tls: &DbTls,
) {
    query.append_pair("sslmode", tls.postgres_sslmode());
    if let Some(ca) = &tls.ca_file {
        query.append_pair("sslrootcert", ca);
    }
    if let Some(pair) = &tls.client {
        query.append_pair("sslcert", &pair.cert_file);
        query.append_pair("sslkey", &pair.key_file);
    }
}

fn from_keys(c: &RawStorageConfig) -> Result<(String, String, DbTls), ConfigError> {
    let user = c
        .user
        .clone()
        .filter(|u| !u.is_empty())
        .ok_or_else(|| ConfigError::key("storage.config.user", "missing"))?;
    let database = c
        .database
        .clone()
        .filter(|d| !d.is_empty())
        // PostgreSQL's own default, as lib/pq (Dex's driver) uses.
        .unwrap_or_else(|| user.clone());
    let port_key = int("port", &c.port, 1, 65_535)?.map(|p| p as u16);
    let host_text = c
        .host
        .clone()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into());
    // Dex accepts `host: name:port` for backwards compatibility, and a socket folder.
    let (host, port) = match split_host_port(&host_text) {
        Some((h, p)) if port_key.is_none() => (h.to_string(), p),
        Some(_) => {
            return Err(ConfigError::key(
                "storage.config.port",
                "given twice: in host and in port",
            ))
        }
        None => (host_text.clone(), port_key.unwrap_or(5432)),
    };
    let mut url = url::Url::parse("postgres://localhost/")
        .map_err(|e| ConfigError::key("storage.config", e.to_string()))?;
    let socket = host.starts_with('/');
    let tls = super::db_tls::postgres(c.ssl.as_ref(), socket)?;
    if !socket {
        let bracketed = if host.contains(':') {
            format!("[{host}]")
        } else {
            host.clone()
        };
        url.set_host(Some(&bracketed))
            .map_err(|e| ConfigError::key("storage.config.host", format!("{host:?}: {e}")))?;
    }
    let bad = |key: &str| {
        ConfigError::key(
            format!("storage.config.{key}"),
            "cannot be used in a connection URL",
        )
    };
    url.set_port(Some(port)).map_err(|_| bad("port"))?;
    url.set_username(&user).map_err(|_| bad("user"))?;
    if let Some(password) = c.password.as_deref().filter(|p| !p.is_empty()) {
        url.set_password(Some(password))
            .map_err(|_| bad("password"))?;
    }
    url.path_segments_mut()
        .map_err(|_| bad("database"))?
        .clear()
        .push(&database);
    {
        let mut query = url.query_pairs_mut();
        append_postgres_tls(&mut query, &tls);
        if socket {
            query.append_pair("host", &host);
        }
    }
    Ok((url.to_string(), format!("{host}:{port}/{database}"), tls))
}
