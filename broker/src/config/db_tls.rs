//! `storage.config.ssl` of the network databases, with Dex's keys (`mode`, `caFile`, `certFile`,
//! `keyFile`): what each mode asks the driver to check, and the files it needs, read here so a
//! bad one names its key before any connection is tried.
//!
//! PostgreSQL's modes are lib/pq's (Dex's driver, which follows libpq): `disable`, `require`,
//! `verify-ca`, `verify-full`, default `verify-full`; `require` with a `caFile` checks the chain as
//! `verify-ca` does (libpq's backwards-compatible rule). MySQL's are go-sql-driver's `tls` values
//! as Dex passes them: `"true"` (default: chain and name), `"false"`, `skip-verify`, `preferred`;
//! when Dex is given certificate files it ignores the mode and verifies, so the modes that would
//! not are refused beside files instead of silently changing meaning.
//!
//! sqlx does the TLS (rustls, ring). For a verifying mode its trust store is the system's CAs
//! with `caFile` added (it never replaces them); the name check (`verify-full`, `"true"`) is what
//! keeps a certificate from another of those CAs out. sqlx 0.8.6 cannot check a chain alone: its
//! verifier for that misses the name-mismatch error current rustls returns (sqlx issue 3793,
//! fixed in 0.9), so `verify-ca` checks the name as well, which is stricter than asked; its
//! warning says so.

use super::error::ConfigError;
use super::raw::RawPostgresSsl;

/// What the client checks of the database server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verify {
    /// No TLS.
    Off,
    /// TLS when the server offers it, plain text otherwise; any certificate accepted.
    Opportunistic,
    /// TLS required; any certificate accepted.
    EncryptOnly,
    /// TLS; the certificate must chain to a trusted CA, whatever name it carries.
    Chain,
    /// TLS; the chain and the host name (`storage.config.host`) are checked.
    Full,
}

/// A client certificate and its key (PEM files), for servers that require one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientPair {
    pub cert_file: String,
    pub key_file: String,
}

/// The database TLS settings, checked: files readable and well-formed, pair matching.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DbTls {
    pub verify: Verify,
    /// Trusted in addition to the system's CAs. Re-read by the driver for every new
    /// connection, so a replaced file is used without a restart.
    pub ca_file: Option<String>,
    pub client: Option<ClientPair>,
    /// Where the mode was set and its value, as logs and errors show it after
    /// `storage.config.` (`ssl.mode verify-full`, `ssl.mode "true"`, `url sslmode=prefer`).
    pub mode: String,
}

impl DbTls {
    /// No TLS (SQLite, tests).
    pub fn off() -> DbTls {
        DbTls {
            verify: Verify::Off,
            ca_file: None,
            client: None,
            mode: "ssl.mode disable".into(),
        }
    }

    /// sqlx's PostgreSQL `sslmode` for this level.
    pub fn postgres_sslmode(&self) -> &'static str {
        match self.verify {
            Verify::Off => "disable",
            Verify::Opportunistic => "prefer",
            Verify::EncryptOnly => "require",
            Verify::Chain => "verify-ca",
            Verify::Full => "verify-full",
        }
    }

    /// sqlx's MySQL `ssl-mode` for this level.
    pub fn mysql_ssl_mode(&self) -> &'static str {
        match self.verify {
            Verify::Off => "disabled",
            Verify::Opportunistic => "preferred",
            Verify::EncryptOnly => "required",
            Verify::Chain => "verify_ca",
            Verify::Full => "verify_identity",
        }
    }

    /// The warning logged at every start when the server is not fully checked; None when it is
    /// (or when there is no TLS at all: that was asked for in so many words).
    pub fn warning(&self) -> Option<String> {
        let mode = &self.mode;
        match self.verify {
            Verify::Off | Verify::Full => None,
            Verify::EncryptOnly => Some(format!(
                "storage.config.{mode}: the database connection is encrypted but the \
                 server's certificate is not checked, so anyone on the path can pose as the \
                 database; use verify-full (PostgreSQL) or \"true\" (MySQL) with ssl.caFile"
            )),
            Verify::Opportunistic => Some(format!(
                "storage.config.{mode}: TLS only if the server offers it, and its \
                 certificate is not checked; use verify-full (PostgreSQL) or \"true\" (MySQL) \
                 with ssl.caFile"
            )),
            Verify::Chain => Some(format!(
                "storage.config.{mode}: asks for the certificate chain only, but the driver \
                 (sqlx 0.8) also checks that the certificate names storage.config.host, as \
                 verify-full; a chain-only check would accept any certificate from the \
                 system's CAs as well as ssl.caFile: write verify-full"
            )),
        }
    }
}

/// Which database the block belongs to (modes and messages differ).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Dialect {
    Postgres,
    Mysql,
}

const KEY: &str = "storage.config.ssl";

/// `storage.config.ssl` of `type: postgres` (Dex's default mode: verify-full).
pub(super) fn postgres(raw: Option<&RawPostgresSsl>, socket: bool) -> Result<DbTls, ConfigError> {
    let mode = raw.and_then(|s| s.mode.clone()).unwrap_or_default();
    let ca_given = given(raw.and_then(|s| s.ca_file.as_deref()));
    let verify = match mode.as_str() {
        "disable" => Verify::Off,
        "" | "verify-full" => Verify::Full,
        "verify-ca" => Verify::Chain,
        // libpq (and lib/pq): with a root CA file, require checks the chain as verify-ca does.
        "require" if ca_given => Verify::Chain,
        "require" => Verify::EncryptOnly,
        other => {
            return Err(ConfigError::key(
                format!("{KEY}.mode"),
                format!("{other:?} is not one of disable, require, verify-ca, verify-full"),
            ))
        }
    };
    let shown = if mode.is_empty() {
        "ssl.mode verify-full (Dex's default)".to_string()
    } else {
        format!("ssl.mode {mode}")
    };
    finish(raw, verify, shown, socket, Dialect::Postgres)
}

/// `storage.config.ssl` of `type: mysql` (Dex's default mode: "true").
pub(super) fn mysql(raw: Option<&RawPostgresSsl>, socket: bool) -> Result<DbTls, ConfigError> {
    let mode = raw.and_then(|s| s.mode.clone()).unwrap_or_default();
    let files = raw.is_some_and(|s| {
        [&s.ca_file, &s.cert_file, &s.key_file]
            .iter()
            .any(|f| given(f.as_deref()))
    });
    let verify =
        match mode.as_str() {
            "false" => Verify::Off,
            "" | "true" => Verify::Full,
            // Dex's name for the TLS config it builds from the files; meaningless without them.
            "custom" if files => Verify::Full,
            "custom" => return Err(ConfigError::key(
                format!("{KEY}.mode"),
                "custom is the TLS config Dex builds from ssl.caFile/certFile/keyFile, and none \
                 is given: give them, or use \"true\"",
            )),
            "skip-verify" | "preferred" if files => {
                return Err(ConfigError::key(
                    format!("{KEY}.mode"),
                    format!(
                        "{mode} with certificate files: Dex then ignores the mode and checks the \
                     server's certificate and name; write mode: \"true\" (or leave it out) for \
                     that, or remove the files"
                    ),
                ))
            }
            "skip-verify" => Verify::EncryptOnly,
            "preferred" => Verify::Opportunistic,
            other => {
                return Err(ConfigError::key(
                    format!("{KEY}.mode"),
                    format!(
                        "{other:?} is not one of \"true\", \"false\", skip-verify, preferred \
                     (quote true and false: they are strings)"
                    ),
                ))
            }
        };
    let shown = if mode.is_empty() {
        "ssl.mode \"true\" (Dex's default)".to_string()
    } else {
        format!("ssl.mode {mode:?}")
    };
    finish(raw, verify, shown, socket, Dialect::Mysql)
}

/// The TLS parameters of a PostgreSQL `storage.config.url` (libpq's names, which sqlx reads),
/// checked as the keys are; absent `sslmode` is libpq's default, prefer. Errors name the URL
/// key and the parameter.
pub(super) fn postgres_url(
    mode: Option<&str>,
    root_cert: Option<String>,
    cert: Option<String>,
    key: Option<String>,
) -> Result<DbTls, ConfigError> {
    let ca_given = given(root_cert.as_deref());
    let verify = match mode.unwrap_or("prefer") {
        // sqlx does not implement allow: it connects without TLS, as disable.
        "disable" | "allow" => Verify::Off,
        "prefer" => Verify::Opportunistic,
        "require" if ca_given => Verify::Chain,
        "require" => Verify::EncryptOnly,
        "verify-ca" => Verify::Chain,
        "verify-full" => Verify::Full,
        other => {
            return Err(ConfigError::key(
                "storage.config.url",
                format!(
                    "sslmode={other}: not one of disable, allow, prefer, require, verify-ca,                      verify-full"
                ),
            ))
        }
    };
    let raw = RawPostgresSsl {
        mode: None,
        ca_file: root_cert,
        key_file: key,
        cert_file: cert,
        server_name: None,
    };
    let shown = format!("url sslmode={}", mode.unwrap_or("prefer (libpq's default)"));
    finish(Some(&raw), verify, shown, false, Dialect::Postgres).map_err(|e| match e {
        ConfigError::Key { path, message } => {
            let param = match path.rsplit('.').next() {
                Some("caFile") => "sslrootcert",
                Some("certFile") => "sslcert",
                Some("keyFile") => "sslkey",
                _ => "sslmode",
            };
            ConfigError::key("storage.config.url", format!("{param}: {message}"))
        }
        other => other,
    })
}

/// The files of a `ssl` block for `verify`, checked; and the Unix-socket rule.
fn finish(
    raw: Option<&RawPostgresSsl>,
    verify: Verify,
    mode: String,
    socket: bool,
    dialect: Dialect,
) -> Result<DbTls, ConfigError> {
    let off = match dialect {
        Dialect::Postgres => "disable",
        Dialect::Mysql => "\"false\"",
    };
    if let Some(name) = raw
        .and_then(|s| s.server_name.as_deref())
        .filter(|n| given(Some(n)))
    {
        return Err(ConfigError::key(
            format!("{KEY}.serverName"),
            format!(
                "{name:?}: not a key of Dex's SQL storage (only etcd has it); the certificate is \
                 checked against storage.config.host, so set host to a name the certificate holds"
            ),
        ));
    }
    let ca = raw
        .and_then(|s| s.ca_file.clone())
        .filter(|f| given(Some(f)));
    let cert = raw
        .and_then(|s| s.cert_file.clone())
        .filter(|f| given(Some(f)));
    let key = raw
        .and_then(|s| s.key_file.clone())
        .filter(|f| given(Some(f)));
    if verify == Verify::Off {
        for (name, value) in [("caFile", &ca), ("certFile", &cert), ("keyFile", &key)] {
            if value.is_some() {
                return Err(ConfigError::key(
                    format!("{KEY}.{name}"),
                    format!(
                        "not used with ssl.mode: {off} (no TLS); remove it, or choose a TLS mode"
                    ),
                ));
            }
        }
        return Ok(DbTls {
            verify,
            ca_file: None,
            client: None,
            mode,
        });
    }
    if socket {
        return Err(ConfigError::key(
            format!("{KEY}.mode"),
            format!(
                "{}, but storage.config.host is a Unix socket, which carries no TLS: set \
                 ssl.mode: {off}, or connect over TCP",
                mode.trim_start_matches("ssl.mode ")
            ),
        ));
    }
    if let Some(path) = &ca {
        check_ca_file(path, &format!("{KEY}.caFile"))?;
    }
    let client = client_pair(cert, key, KEY)?;
    Ok(DbTls {
        verify,
        ca_file: ca,
        client,
        mode,
    })
}

fn given(value: Option<&str>) -> bool {
    value.is_some_and(|v| !v.trim().is_empty())
}

/// PEM files of certificates and keys are small; a bigger "file" (`/dev/zero`, a disk image)
/// is a mistake, refused before it fills memory.
const MAX_PEM_BYTES: u64 = 1 << 20;

fn read_bounded(path: &str, key: &str) -> Result<Vec<u8>, ConfigError> {
    use std::io::Read;
    let cannot = |e: std::io::Error| ConfigError::key(key, format!("cannot read {path:?}: {e}"));
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .map_err(cannot)?
        .take(MAX_PEM_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(cannot)?;
    if bytes.len() as u64 > MAX_PEM_BYTES {
        return Err(ConfigError::key(
            key,
            format!("{path:?} is larger than 1 MiB: not a PEM certificate or key file"),
        ));
    }
    Ok(bytes)
}

/// The file holds at least one certificate, and every one of them parses as a trust anchor.
pub(super) fn check_ca_file(path: &str, key: &str) -> Result<(), ConfigError> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::CertificateDer;
    let bytes = read_bounded(path, key)?;
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(&bytes) {
        let cert = cert.map_err(|e| {
            ConfigError::key(key, format!("{path:?} is not a PEM certificate file: {e}"))
        })?;
        roots.add(cert).map_err(|e| {
            ConfigError::key(
                key,
                format!("{path:?} holds a certificate that does not parse: {e}"),
            )
        })?;
    }
    if roots.is_empty() {
        return Err(ConfigError::key(
            key,
            format!("{path:?} holds no PEM CERTIFICATE block: give the CA certificate(s) in PEM"),
        ));
    }
    Ok(())
}

/// `certFile` and `keyFile`: both or neither, readable, and the key belongs to the certificate.
pub(super) fn client_pair(
    cert: Option<String>,
    key: Option<String>,
    block: &str,
) -> Result<Option<ClientPair>, ConfigError> {
    match (cert, key) {
        (None, None) => Ok(None),
        (Some(_), None) => Err(ConfigError::key(
            format!("{block}.keyFile"),
            "missing: certFile needs the private key that goes with it",
        )),
        (None, Some(_)) => Err(ConfigError::key(
            format!("{block}.certFile"),
            "missing: keyFile needs the certificate that goes with it",
        )),
        (Some(cert_file), Some(key_file)) => {
            let cert_pem = read_bounded(&cert_file, &format!("{block}.certFile"))?;
            let key_pem = read_bounded(&key_file, &format!("{block}.keyFile"))?;
            super::tls_files::certified_key(&cert_file, &cert_pem, &key_file, &key_pem).map_err(
                |e| {
                    let at = match e {
                        super::TlsFileError::NoCertificate { .. } => "certFile",
                        _ => "keyFile",
                    };
                    ConfigError::key(format!("{block}.{at}"), e.to_string())
                },
            )?;
            Ok(Some(ClientPair {
                cert_file,
                key_file,
            }))
        }
    }
}

#[cfg(test)]
mod tests;
