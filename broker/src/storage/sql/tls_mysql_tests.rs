//! TLS to a real MariaDB (a private `mariadbd` with `--ssl-cert/--ssl-key/--ssl-ca`, started per
//! test), set with Dex's keys through the config parser: `"true"` checks chain and name,
//! `skip-verify` only encrypts, client certificates for `REQUIRE X509` users, and the storage
//! conformance suite over TLS.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use gatehouse_e2e::mariadb_server::{MariadbTls, PrivateMariadb};
use gatehouse_e2e::mysql::TestDatabase;
use gatehouse_e2e::test_ca::TestCa;
use gatehouse_e2e::LogDir;

use super::SqlStorage;
use crate::config::{Config, PostgresConfig, StorageConfig};
use crate::storage::{conformance, Storage, StorageError};

/// A server whose certificate names localhost only, from `ca`; `tlsuser` must use TLS,
/// `certuser` a client certificate from `ca`.
struct Fixture {
    server: PrivateMariadb,
    ca: PathBuf,
    other_ca: PathBuf,
    client: (PathBuf, PathBuf),
    stranger: (PathBuf, PathBuf),
    _dir: tempfile::TempDir,
}

fn fixture(test: &str) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::create(dir.path(), "db-ca").unwrap();
    let other = TestCa::create(dir.path(), "other-ca").unwrap();
    let cert = ca.server_for("server", &["DNS:localhost"]).unwrap();
    let client = ca.client("client", "certuser").unwrap();
    let stranger = other.client("stranger", "certuser").unwrap();
    let logs = LogDir::for_test(test).unwrap();
    let server = PrivateMariadb::start(
        &logs,
        Some(&MariadbTls {
            cert: cert.cert,
            key: cert.key,
            client_ca: ca.pem(),
        }),
    )
    .unwrap();
    server
        .admin(
            "CREATE USER 'tlsuser'@'%' REQUIRE SSL; GRANT ALL ON *.* TO 'tlsuser'@'%';
             CREATE USER 'certuser'@'%' REQUIRE X509; GRANT ALL ON *.* TO 'certuser'@'%';",
        )
        .unwrap();
    Fixture {
        server,
        ca: ca.pem(),
        other_ca: other.pem(),
        client: (client.cert, client.key),
        stranger: (stranger.cert, stranger.key),
        _dir: dir,
    }
}

fn config(host: &str, port: u16, user: &str, db: &str, ssl: &str) -> PostgresConfig {
    let yaml = format!(
        "issuer: http://127.0.0.1:5556/dex\nenablePasswordDB: true\nweb:\n  http: 127.0.0.1:5556\nstorage:\n  type: mysql\n  config:\n    host: {host}\n    port: {port}\n    user: {user}\n    database: {db}\n    connectionTimeout: 5\n{ssl}"
    );
    match Config::from_yaml(&yaml).unwrap().storage {
        StorageConfig::Mysql(m) => m,
        other => panic!("{other:?}"),
    }
}

fn ssl(mode: &str, ca: &Path) -> String {
    format!(
        "    ssl:\n      mode: {mode:?}\n      caFile: {}\n",
        ca.display()
    )
}

async fn refused(config: &PostgresConfig) -> String {
    match SqlStorage::open_mysql(config).await {
        Ok(_) => panic!("connected with {:?}", config.tls),
        Err(e @ StorageError::Connect { .. }) => e.to_string(),
        Err(other) => panic!("not a connection error: {other}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_mode_checks_what_it_says_against_a_private_mariadb() {
    let f = fixture("mysql_tls_modes");
    let port = f.server.port();
    let db = TestDatabase::create_on(&f.server.root_url()).unwrap();
    // Dex's default mode ("true") with the CA: chain and name checked.
    let default = format!("    ssl:\n      caFile: {}\n", f.ca.display());
    let cfg = config("localhost", port, "tlsuser", db.name(), &default);
    assert!(cfg.tls.warning().is_none());
    SqlStorage::open_mysql(&cfg)
        .await
        .unwrap()
        .ping()
        .await
        .unwrap();
    let e = refused(&config(
        "localhost",
        port,
        "tlsuser",
        db.name(),
        &ssl("true", &f.other_ca),
    ))
    .await;
    assert!(
        e.contains("UnknownIssuer") && e.contains("ssl.mode \"true\""),
        "{e}"
    );
    let e = refused(&config(
        "127.0.0.1",
        port,
        "tlsuser",
        db.name(),
        &ssl("true", &f.ca),
    ))
    .await;
    assert!(
        e.contains("certificate not valid for name \"127.0.0.1\""),
        "{e}"
    );
    // skip-verify: any certificate, any name (and a warning at start).
    let skip = config(
        "127.0.0.1",
        port,
        "tlsuser",
        db.name(),
        "    ssl: {mode: skip-verify}\n",
    );
    assert!(skip.tls.warning().is_some());
    SqlStorage::open_mysql(&skip)
        .await
        .unwrap()
        .ping()
        .await
        .unwrap();
    // A REQUIRE X509 user: with the pair it connects; without, or with a stranger's, it does not.
    let pair = |(cert, key): &(PathBuf, PathBuf)| {
        format!(
            "{}      certFile: {}\n      keyFile: {}\n",
            ssl("true", &f.ca),
            cert.display(),
            key.display()
        )
    };
    let good = config("localhost", port, "certuser", db.name(), &pair(&f.client));
    SqlStorage::open_mysql(&good)
        .await
        .unwrap()
        .ping()
        .await
        .unwrap();
    let e = refused(&config(
        "localhost",
        port,
        "certuser",
        db.name(),
        &ssl("true", &f.ca),
    ))
    .await;
    assert!(e.contains("Access denied"), "{e}");
    refused(&config(
        "localhost",
        port,
        "certuser",
        db.name(),
        &pair(&f.stranger),
    ))
    .await;
    drop(db);
    let pid = f.server.pid();
    drop(f);
    // Stopped by its PID (and reaped): the process is gone.
    assert!(
        !Path::new(&format!("/proc/{pid}")).exists(),
        "mariadbd {pid} still running"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_storage_suite_passes_over_tls() {
    let f = fixture("mysql_tls_conformance");
    let db = TestDatabase::create_on(&f.server.root_url()).unwrap();
    let cfg = config(
        "localhost",
        f.server.port(),
        "tlsuser",
        db.name(),
        &ssl("true", &f.ca),
    );
    let storage = SqlStorage::open_mysql(&cfg).await.unwrap();
    conformance::run_all(Arc::new(storage)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_without_tls_is_refused_unless_tls_is_only_preferred() {
    let logs = LogDir::for_test("mysql_without_tls").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::create(dir.path(), "ca").unwrap();
    let server = PrivateMariadb::start(&logs, None).unwrap();
    let db = TestDatabase::create_on(&server.root_url()).unwrap();
    for extra in [
        "    ssl: {mode: skip-verify}\n".to_string(),
        ssl("true", &ca.pem()),
    ] {
        let cfg = config("localhost", server.port(), "root", db.name(), &extra);
        let e = refused(&cfg).await;
        assert!(e.contains("server does not support TLS"), "{e}");
    }
    let preferred = config(
        "localhost",
        server.port(),
        "root",
        db.name(),
        "    ssl: {mode: preferred}\n",
    );
    assert!(preferred
        .tls
        .warning()
        .unwrap()
        .contains("only if the server offers it"));
    SqlStorage::open_mysql(&preferred).await.unwrap();
}
