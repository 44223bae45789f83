//! The real broker on PostgreSQL over TLS (a private `ssl=on` cluster with a test CA), set with
//! Dex's `storage.config.ssl` keys: it starts, issues tokens from that storage, and logs the
//! mode but never the password; with a CA that did not sign the server's certificate it does
//! not start, and says why.

use gatehouse_e2e::broker::{Broker, BrokerConfig, CLIENT_ID, CLIENT_SECRET};
use gatehouse_e2e::broker_token::password_grant;
use gatehouse_e2e::broker_yaml::enable_password_grant;
use gatehouse_e2e::logs::{current_test_name, LogDir};
use gatehouse_e2e::ports::free_port;
use gatehouse_e2e::postgres::tls::{shared_tls_cluster, TlsCluster, CERT_USER};
use gatehouse_e2e::postgres::TestDatabase;
use gatehouse_e2e::ADMIN;

const PASSWORD: &str = "storage-pw-never-logged";

/// Dex's keys for the TLS cluster: the client certificate user (the password is sent to no
/// one: `cert` authentication asks for none, but it must not reach a log either).
fn storage_yaml(tls: &TlsCluster, db: &TestDatabase, ca: &std::path::Path) -> String {
    format!(
        "storage:\n  type: postgres\n  config:\n    host: localhost\n    port: {}\n    database: {}\n    user: {CERT_USER}\n    password: {PASSWORD}\n    connectionTimeout: 3\n    ssl:\n      mode: verify-full\n      caFile: {}\n      certFile: {}\n      keyFile: {}\n",
        tls.port,
        db.name(),
        ca.display(),
        tls.client_cert.display(),
        tls.client_key.display()
    )
}

fn config(dir: &std::path::Path, storage: &str) -> BrokerConfig {
    let mut config = BrokerConfig::standard(free_port().unwrap(), free_port().unwrap(), dir);
    config.set_storage(storage).unwrap();
    enable_password_grant(&mut config.yaml);
    config
}

#[test]
fn the_broker_runs_on_postgres_over_verified_tls_with_a_client_certificate() {
    let tls = shared_tls_cluster().unwrap();
    let db = TestDatabase::create_on(&tls.admin_url).unwrap();
    let logs = LogDir::for_test(&current_test_name()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), &storage_yaml(tls, &db, &tls.ca));
    let broker = Broker::start(&logs, dir.path(), &config).unwrap();
    let tokens = password_grant(broker.issuer(), CLIENT_ID, CLIENT_SECRET, &ADMIN).unwrap();
    assert!(!tokens.id_token.is_empty());
    // The keys that signed it live in this database (read back without TLS, as postgres).
    let kids = db.query_strings("SELECT kid FROM signing_keys").unwrap();
    assert!(!kids.is_empty(), "no signing key stored");
    drop(broker);
    let log = std::fs::read_to_string(logs.file("broker")).unwrap();
    assert!(
        log.contains("opened PostgreSQL storage") && log.contains("verify-full"),
        "{log}"
    );
    assert!(
        !log.contains(PASSWORD),
        "the database password reached the log"
    );
    assert!(
        !log.contains("WARN"),
        "a verified connection warns of nothing:\n{log}"
    );
}

#[test]
fn a_database_certificate_from_another_ca_stops_the_broker_with_the_reason() {
    let tls = shared_tls_cluster().unwrap();
    let db = TestDatabase::create_on(&tls.admin_url).unwrap();
    let logs = LogDir::for_test(&current_test_name()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), &storage_yaml(tls, &db, &tls.other_ca));
    let e = format!(
        "{:#}",
        Broker::start(&logs, dir.path(), &config).unwrap_err()
    );
    assert!(e.contains("exited"), "{e}");
    let log = std::fs::read_to_string(logs.file("broker")).unwrap();
    assert!(
        log.contains(&format!(
            "cannot connect to localhost:{}/{} (storage.config.ssl.mode verify-full)",
            tls.port,
            db.name()
        )) && log.contains("UnknownIssuer"),
        "{log}"
    );
    assert!(
        !log.contains(PASSWORD),
        "the database password reached the log"
    );
}

#[test]
fn require_starts_with_a_warning_that_the_server_is_not_checked() {
    let tls = shared_tls_cluster().unwrap();
    let db = TestDatabase::create_on(&tls.admin_url).unwrap();
    let logs = LogDir::for_test(&current_test_name()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    // 127.0.0.1 is not a name in the certificate, and require does not care.
    let storage = format!(
        "storage:\n  type: postgres\n  config:\n    host: 127.0.0.1\n    port: {}\n    database: {}\n    user: tlsuser\n    ssl:\n      mode: require\n",
        tls.port,
        db.name()
    );
    let config = config(dir.path(), &storage);
    let broker = Broker::start(&logs, dir.path(), &config).unwrap();
    password_grant(broker.issuer(), CLIENT_ID, CLIENT_SECRET, &ADMIN).unwrap();
    drop(broker);
    let log = std::fs::read_to_string(logs.file("broker")).unwrap();
    assert!(
        log.contains("WARN") && log.contains("certificate is not checked"),
        "{log}"
    );
}
