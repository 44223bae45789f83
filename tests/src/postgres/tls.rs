//! A private PostgreSQL cluster with TLS, for the storage TLS tests: `ssl=on` with a server
//! certificate for `localhost` only (so dialing 127.0.0.1 is a wrong name), signed by a test CA
//! of its own; another CA that signed nothing the server trusts; and users that show what was
//! used: `tlsuser` may only connect over TLS, `certuser` only with a client certificate
//! (`hostssl … cert`: its CN must be the user name). `postgres` connects as before (trust).

use std::path::PathBuf;
use std::sync::OnceLock;

use anyhow::{anyhow, Result};
use url::Url;

use super::{admin, remove_at_exit, stop_at_exit, ClusterOptions, ClusterTls, PrivateCluster};
use crate::test_ca::TestCa;

/// Connects over TLS only, without a password.
pub const TLS_USER: &str = "tlsuser";
/// Connects over TLS with a client certificate (CN=certuser) only.
pub const CERT_USER: &str = "certuser";

/// The shared TLS cluster and the files a client needs.
#[derive(Debug)]
pub struct TlsCluster {
    pub port: u16,
    /// `postgres@127.0.0.1` without TLS: for creating databases ([`super::TestDatabase::create_on`]).
    pub admin_url: Url,
    /// The CA that signed the server's certificate (and the good client certificate).
    pub ca: PathBuf,
    /// A CA that signed neither.
    pub other_ca: PathBuf,
    /// CN=certuser, from [`TlsCluster::ca`].
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
    /// CN=certuser too, but from [`TlsCluster::other_ca`]: the server refuses it.
    pub stranger_cert: PathBuf,
    pub stranger_key: PathBuf,
}

static SHARED: OnceLock<std::result::Result<TlsCluster, String>> = OnceLock::new();

/// The TLS cluster all tests of this process share (started once, stopped at exit).
pub fn shared_tls_cluster() -> Result<&'static TlsCluster> {
    SHARED
        .get_or_init(|| start().map_err(|e| format!("{e:#}")))
        .as_ref()
        .map_err(|e| anyhow!("no TLS PostgreSQL for tests: {e}"))
}

fn start() -> Result<TlsCluster> {
    let files = tempfile::Builder::new()
        .prefix("gatehouse-pg-tls-")
        .tempdir()?;
    let ca = TestCa::create(files.path(), "db-ca")?;
    let other = TestCa::create(files.path(), "other-ca")?;
    let server = ca.server_for("server", &["DNS:localhost"])?;
    let client = ca.client("client", CERT_USER)?;
    let stranger = other.client("stranger", CERT_USER)?;
    let net = "127.0.0.1/32";
    let cluster = PrivateCluster::start_with(ClusterOptions {
        tls: Some(ClusterTls {
            cert: server.cert,
            key: server.key,
            client_ca: ca.pem(),
        }),
        hba_first: vec![
            format!("hostssl all {CERT_USER} {net} cert"),
            format!("host    all {CERT_USER} {net} reject"),
            format!("hostssl all {TLS_USER} {net} trust"),
            format!("host    all {TLS_USER} {net} reject"),
        ],
    })?;
    let admin_url = cluster.admin_url();
    admin(
        &admin_url,
        vec![
            format!("CREATE ROLE {TLS_USER} LOGIN SUPERUSER"),
            format!("CREATE ROLE {CERT_USER} LOGIN SUPERUSER"),
        ],
    )?;
    let port = cluster.port();
    stop_at_exit(cluster)?;
    // The client's files are needed until the last test ends, so until exit.
    remove_at_exit(files)?;
    Ok(TlsCluster {
        port,
        admin_url,
        ca: ca.pem(),
        other_ca: other.pem(),
        client_cert: client.cert,
        client_key: client.key,
        stranger_cert: stranger.cert,
        stranger_key: stranger.key,
    })
}
