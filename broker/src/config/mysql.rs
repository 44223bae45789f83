//! `storage: {type: mysql}` (MySQL / MariaDB) with Dex's keys: host (or `host:port`, or a
//! socket path), port, database, user, password, ssl (`db_tls.rs`; Dex's default is TLS with
//! the server's certificate and name checked).

use super::db_keys::{int, split_host_port};
use super::db_tls::DbTls;
use super::error::ConfigError;
use super::raw::RawStorageConfig;

/// The `mysql://` URL (password inside: a secret), `host:port/database` for logs, and the TLS
/// settings (also inside the URL, in sqlx's names).
pub(super) fn url(c: &RawStorageConfig) -> Result<(String, String, DbTls), ConfigError> {
    let key = |k: &str| format!("storage.config.{k}");
    let user = c
        .user
        .clone()
        .filter(|u| !u.is_empty())
        .ok_or_else(|| ConfigError::key(key("user"), "missing"))?;
    let database = c
        .database
        .clone()
        .filter(|d| !d.is_empty())
        .ok_or_else(|| ConfigError::key(key("database"), "missing"))?;
    let port_key = int("port", &c.port, 1, 65_535)?.map(|p| p as u16);
    let host_text = c
        .host
        .clone()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into());
    let (host, port) = match split_host_port(&host_text) {
        Some((h, p)) if port_key.is_none() => (h.to_string(), p),
        Some(_) => {
            return Err(ConfigError::key(
                key("port"),
                "given twice: in host and in port",
            ))
        }
        None => (host_text.clone(), port_key.unwrap_or(3306)),
    };
    let mut url = url::Url::parse("mysql://localhost/")
        .map_err(|e| ConfigError::key("storage.config", e.to_string()))?;
    let socket = host.starts_with('/');
    let tls = super::db_tls::mysql(c.ssl.as_ref(), socket)?;
    if !socket {
        let bracketed = if host.contains(':') {
            format!("[{host}]")
        } else {
            host.clone()
        };
        url.set_host(Some(&bracketed))
            .map_err(|e| ConfigError::key(key("host"), format!("{host:?}: {e}")))?;
        url.set_port(Some(port))
            .map_err(|_| ConfigError::key(key("port"), "cannot be used in a URL"))?;
    }
    let bad = |k: &str| ConfigError::key(key(k), "cannot be used in a connection URL");
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
        query.append_pair("ssl-mode", tls.mysql_ssl_mode());
        if let Some(ca) = &tls.ca_file {
            query.append_pair("ssl-ca", ca);
        }
        if let Some(pair) = &tls.client {
            query.append_pair("ssl-cert", &pair.cert_file);
            query.append_pair("ssl-key", &pair.key_file);
        }
        if socket {
            query.append_pair("socket", &host);
        }
    }
    Ok((url.to_string(), format!("{host}:{port}/{database}"), tls))
}
