//! One conversation with the directory: a fresh connection per sign-in or refresh (no pool: a
//! sign-in binds as the user on it, and a new connection costs a round trip or a TLS handshake
//! against the seconds a sign-in may take), with a deadline on connecting and on every
//! operation, so a slow or silent directory fails the sign-in quickly instead of hanging it.
//! Every failure here is a directory failure ([`ConnectorError::Unavailable`]); only a refused
//! user bind is a wrong password, and the caller decides that from [`Bind`].

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use ldap3::{Ldap, LdapConnAsync, LdapConnSettings, LdapError, SearchEntry};
use rustls::ClientConfig;

use super::config::Scope;
use crate::connector::ConnectorError;

/// Connecting, TLS and StartTLS included.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// Each bind or search (for a search: between two of its replies).
const OPERATION_TIMEOUT: Duration = Duration::from_secs(3);

/// LDAP result codes a bind answers for a wrong password (RFC 4511 appendix A): Dex treats
/// constraintViolation (often "password expired/locked") as a wrong password too.
const INVALID_CREDENTIALS: u32 = 49;
const CONSTRAINT_VIOLATION: u32 = 19;
/// A search base that does not exist.
pub const NO_SUCH_OBJECT: u32 = 32;

/// Where and how to connect.
pub struct Directory {
    pub url: String,
    pub start_tls: bool,
    /// None for `insecureNoSSL`.
    pub tls: Option<Arc<ClientConfig>>,
}

/// The answer to a bind.
#[derive(Debug, PartialEq, Eq)]
pub enum Bind {
    Accepted,
    /// Wrong password (or a constraint the user must fix, such as an expired password).
    Refused,
}

/// An open connection; dropping it closes the connection.
pub struct Session {
    ldap: Ldap,
    driver: tokio::task::JoinHandle<()>,
}

impl Drop for Session {
    fn drop(&mut self) {
        self.driver.abort();
    }
}

pub fn unavailable(what: &str, e: impl std::fmt::Display) -> ConnectorError {
    ConnectorError::Unavailable(format!("LDAP {what}: {e}"))
}

impl Directory {
    pub async fn open(&self) -> Result<Session, ConnectorError> {
        let mut settings = LdapConnSettings::new().set_conn_timeout(CONNECT_TIMEOUT);
        if let Some(tls) = &self.tls {
            settings = settings
                .set_config(tls.clone())
                .set_starttls(self.start_tls);
        }
        let (conn, ldap) = LdapConnAsync::with_settings(settings, &self.url)
            .await
            .map_err(|e| unavailable(&format!("connecting to {}", self.url), describe(&e)))?;
        let driver = tokio::spawn(async move {
            if let Err(e) = conn.drive().await {
                tracing::debug!(error = %e, "LDAP connection ended");
            }
        });
        Ok(Session { ldap, driver })
    }
}

impl Session {
    /// A simple bind. Never called with an empty password (that is an unauthenticated bind,
    /// which "succeeds" on many servers): the caller refuses those first.
    pub async fn bind(&mut self, dn: &str, password: &str) -> Result<Bind, ConnectorError> {
        if password.is_empty() {
            return Ok(Bind::Refused);
        }
        let result = self
            .ldap
            .with_timeout(OPERATION_TIMEOUT)
            .simple_bind(dn, password)
            .await
            .map_err(|e| unavailable("bind", describe(&e)))?;
        match result.rc {
            0 => Ok(Bind::Accepted),
            INVALID_CREDENTIALS | CONSTRAINT_VIOLATION => Ok(Bind::Refused),
            rc => Err(unavailable(
                "bind",
                format!("result code {rc} {}", result.text),
            )),
        }
    }

    /// An anonymous search bind (no `bindDN`/`bindPW`), as Dex does.
    pub async fn anonymous(&mut self) -> Result<(), ConnectorError> {
        let result = self
            .ldap
            .with_timeout(OPERATION_TIMEOUT)
            .simple_bind("", "")
            .await
            .map_err(|e| unavailable("anonymous bind", describe(&e)))?;
        if result.rc == 0 {
            Ok(())
        } else {
            Err(unavailable(
                "anonymous bind",
                format!("result code {}", result.rc),
            ))
        }
    }

    /// The entries under `base` matching `filter`, with `attributes`; a search base that does
    /// not exist is `Err(Some(32))` for the caller to judge, every other failure `Err(None)`
    /// after logging nothing (the caller's error carries the reason).
    pub async fn search(
        &mut self,
        base: &str,
        scope: Scope,
        filter: &str,
        attributes: &[&str],
    ) -> Result<Result<Vec<SearchEntry>, u32>, ConnectorError> {
        let scope = match scope {
            Scope::Sub => ldap3::Scope::Subtree,
            Scope::One => ldap3::Scope::OneLevel,
        };
        let result = self
            .ldap
            .with_timeout(OPERATION_TIMEOUT)
            .search(base, scope, filter, attributes.to_vec())
            .await
            .map_err(|e| unavailable("search", describe(&e)))?;
        let (entries, outcome) = (result.0, result.1);
        if outcome.rc != 0 {
            return Ok(Err(outcome.rc));
        }
        entries
            .into_iter()
            .map(|raw| {
                // The crate panics on a malformed entry; a hostile server must not take the
                // task down with it.
                std::panic::catch_unwind(AssertUnwindSafe(|| SearchEntry::construct(raw)))
                    .map_err(|_| unavailable("search", "the server sent a malformed entry"))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Ok)
    }

    /// Ends the session politely; failures do not matter (the socket is closed on drop).
    pub async fn close(mut self) {
        let _ = tokio::time::timeout(OPERATION_TIMEOUT, self.ldap.unbind()).await;
    }
}

/// An error without anything from the request in it (the crate's messages hold no
/// credentials: binds report result codes only).
fn describe(e: &LdapError) -> String {
    match e {
        LdapError::Timeout { .. } => "timed out".into(),
        other => other.to_string(),
    }
}
