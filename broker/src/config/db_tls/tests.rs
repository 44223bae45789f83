//! Each mode to its check, each bad file or combination refused with its key and the fix.

use super::*;
use gatehouse_e2e::test_ca::TestCa;

struct Files {
    _dir: tempfile::TempDir,
    ca: String,
    cert: String,
    key: String,
    other_key: String,
    dir: std::path::PathBuf,
}

fn files() -> Files {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::create(dir.path(), "ca").unwrap();
    let client = ca.client("client", "gatehouse").unwrap();
    let other = ca.client("other", "someone").unwrap();
    let s = |p: &std::path::Path| p.display().to_string();
    Files {
        ca: s(&ca.pem()),
        cert: s(&client.cert),
        key: s(&client.key),
        other_key: s(&other.key),
        dir: dir.path().to_path_buf(),
        _dir: dir,
    }
}

fn ssl(mode: Option<&str>) -> RawPostgresSsl {
    RawPostgresSsl {
        mode: mode.map(String::from),
        ca_file: None,
        key_file: None,
        cert_file: None,
        server_name: None,
    }
}

fn with(
    mode: Option<&str>,
    ca: Option<&str>,
    cert: Option<&str>,
    key: Option<&str>,
) -> RawPostgresSsl {
    RawPostgresSsl {
        ca_file: ca.map(String::from),
        cert_file: cert.map(String::from),
        key_file: key.map(String::from),
        ..ssl(mode)
    }
}

fn pg_err(raw: &RawPostgresSsl) -> String {
    postgres(Some(raw), false).unwrap_err().to_string()
}

fn my_err(raw: &RawPostgresSsl) -> String {
    mysql(Some(raw), false).unwrap_err().to_string()
}

#[test]
fn postgres_modes_are_lib_pq_s_and_the_default_is_verify_full() {
    let f = files();
    assert_eq!(postgres(None, false).unwrap().verify, Verify::Full);
    assert!(postgres(None, false).unwrap().mode.contains("default"));
    let level = |raw: RawPostgresSsl| postgres(Some(&raw), false).unwrap().verify;
    assert_eq!(level(ssl(Some("disable"))), Verify::Off);
    assert_eq!(level(ssl(Some("require"))), Verify::EncryptOnly);
    assert_eq!(level(ssl(Some("verify-ca"))), Verify::Chain);
    assert_eq!(level(ssl(Some("verify-full"))), Verify::Full);
    // libpq: require with a root CA file checks the chain, as verify-ca.
    assert_eq!(
        level(with(Some("require"), Some(&f.ca), None, None)),
        Verify::Chain
    );
    let full = postgres(
        Some(&with(
            Some("verify-full"),
            Some(&f.ca),
            Some(&f.cert),
            Some(&f.key),
        )),
        false,
    )
    .unwrap();
    assert_eq!(full.ca_file.as_deref(), Some(f.ca.as_str()));
    assert_eq!(
        full.client,
        Some(ClientPair {
            cert_file: f.cert.clone(),
            key_file: f.key.clone()
        })
    );
    assert_eq!(full.postgres_sslmode(), "verify-full");
    for bad in ["prefer", "allow", "verify_full", "VERIFY-FULL", "true", " "] {
        let e = pg_err(&ssl(Some(bad)));
        assert!(e.starts_with("storage.config.ssl.mode"), "{bad}: {e}");
        assert!(
            e.contains("disable, require, verify-ca, verify-full"),
            "{e}"
        );
    }
}

#[test]
fn mysql_modes_are_dex_s_and_the_default_checks_chain_and_name() {
    let f = files();
    assert_eq!(mysql(None, false).unwrap().verify, Verify::Full);
    let level = |raw: RawPostgresSsl| mysql(Some(&raw), false).unwrap();
    assert_eq!(level(ssl(Some("true"))).mysql_ssl_mode(), "verify_identity");
    assert_eq!(level(ssl(Some("false"))).mysql_ssl_mode(), "disabled");
    assert_eq!(level(ssl(Some("skip-verify"))).mysql_ssl_mode(), "required");
    assert_eq!(level(ssl(Some("preferred"))).mysql_ssl_mode(), "preferred");
    // Dex's internal name for "the config built from the files".
    assert_eq!(
        level(with(Some("custom"), Some(&f.ca), None, None)).verify,
        Verify::Full
    );
    let e = my_err(&ssl(Some("custom")));
    assert!(
        e.starts_with("storage.config.ssl.mode") && e.contains("caFile"),
        "{e}"
    );
    // Dex would ignore these modes beside files and verify anyway: refused, with the fix.
    for mode in ["skip-verify", "preferred"] {
        let e = my_err(&with(Some(mode), Some(&f.ca), None, None));
        assert!(
            e.starts_with("storage.config.ssl.mode") && e.contains("\"true\""),
            "{e}"
        );
        let e = my_err(&with(Some(mode), None, Some(&f.cert), Some(&f.key)));
        assert!(e.starts_with("storage.config.ssl.mode"), "{e}");
    }
    for bad in ["verify-full", "TRUE", "yes", "disabled", "required"] {
        let e = my_err(&ssl(Some(bad)));
        assert!(e.starts_with("storage.config.ssl.mode"), "{bad}: {e}");
        assert!(e.contains("skip-verify"), "{e}");
    }
}

#[test]
fn files_without_tls_are_refused_by_name() {
    let f = files();
    for (raw, key) in [
        (with(Some("disable"), Some(&f.ca), None, None), "caFile"),
        (
            with(Some("disable"), None, Some(&f.cert), Some(&f.key)),
            "certFile",
        ),
        (with(Some("disable"), None, None, Some(&f.key)), "keyFile"),
    ] {
        let e = pg_err(&raw);
        assert!(e.starts_with(&format!("storage.config.ssl.{key}")), "{e}");
        assert!(e.contains("remove it"), "{e}");
    }
    let e = my_err(&with(Some("false"), Some(&f.ca), None, None));
    assert!(e.starts_with("storage.config.ssl.caFile"), "{e}");
}

#[test]
fn bad_ca_files_are_refused_by_name() {
    let f = files();
    let missing = f.dir.join("missing.pem").display().to_string();
    let e = pg_err(&with(Some("verify-full"), Some(&missing), None, None));
    assert!(
        e.starts_with("storage.config.ssl.caFile: cannot read"),
        "{e}"
    );
    // A private key where the CA belongs, and plain garbage: no certificate in them.
    for wrong in [&f.key, &f.dir.join("ca.srl").display().to_string()] {
        let e = my_err(&with(Some("true"), Some(wrong), None, None));
        assert!(e.starts_with("storage.config.ssl.caFile"), "{e}");
        assert!(e.contains("CERTIFICATE"), "{e}");
    }
    let broken = f.dir.join("broken.pem");
    std::fs::write(
        &broken,
        "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    let e = pg_err(&with(None, Some(&broken.display().to_string()), None, None));
    assert!(e.starts_with("storage.config.ssl.caFile"), "{e}");
    // An endless "file" is refused after 1 MiB instead of filling memory.
    let e = pg_err(&with(None, Some("/dev/zero"), None, None));
    assert!(e.contains("larger than 1 MiB"), "{e}");
    let e = pg_err(&with(None, None, Some(&f.cert), Some("/dev/zero")));
    assert!(
        e.starts_with("storage.config.ssl.keyFile") && e.contains("1 MiB"),
        "{e}"
    );
}

#[test]
fn half_a_client_pair_or_a_foreign_key_is_refused_by_name() {
    let f = files();
    let e = pg_err(&with(Some("verify-full"), Some(&f.ca), Some(&f.cert), None));
    assert!(e.starts_with("storage.config.ssl.keyFile: missing"), "{e}");
    let e = my_err(&with(None, None, None, Some(&f.key)));
    assert!(e.starts_with("storage.config.ssl.certFile: missing"), "{e}");
    let e = pg_err(&with(None, None, Some(&f.cert), Some(&f.other_key)));
    assert!(e.starts_with("storage.config.ssl.keyFile"), "{e}");
    assert!(e.contains("does not fit"), "{e}");
    let missing = f.dir.join("none.pem").display().to_string();
    let e = pg_err(&with(None, None, Some(&missing), Some(&f.key)));
    assert!(
        e.starts_with("storage.config.ssl.certFile: cannot read"),
        "{e}"
    );
    let e = pg_err(&with(None, None, Some(&f.cert), Some(&missing)));
    assert!(
        e.starts_with("storage.config.ssl.keyFile: cannot read"),
        "{e}"
    );
    // The key's bytes never appear in a message.
    let key_text = std::fs::read_to_string(&f.key).unwrap();
    let body = key_text.lines().nth(1).unwrap();
    let e = pg_err(&with(None, None, Some(&f.key), Some(&f.key)));
    assert!(e.starts_with("storage.config.ssl.certFile"), "{e}");
    assert!(!e.contains(body), "{e}");
}

#[test]
fn server_name_and_sockets_are_refused_with_the_fix() {
    let mut raw = ssl(Some("verify-full"));
    raw.server_name = Some("db.example.com".into());
    let e = pg_err(&raw);
    assert!(
        e.starts_with("storage.config.ssl.serverName") && e.contains("host"),
        "{e}"
    );
    raw.mode = Some("true".into());
    let e = my_err(&raw);
    assert!(e.starts_with("storage.config.ssl.serverName"), "{e}");
    let e = postgres(None, true).unwrap_err().to_string();
    assert!(
        e.starts_with("storage.config.ssl.mode") && e.contains("disable"),
        "{e}"
    );
    let e = mysql(Some(&ssl(Some("skip-verify"))), true)
        .unwrap_err()
        .to_string();
    assert!(e.contains("\"false\""), "{e}");
    assert!(postgres(Some(&ssl(Some("disable"))), true).is_ok());
    assert!(mysql(Some(&ssl(Some("false"))), true).is_ok());
}

#[test]
fn only_a_full_check_or_no_tls_starts_without_a_warning() {
    let f = files();
    let warn = |raw: RawPostgresSsl| postgres(Some(&raw), false).unwrap().warning();
    assert!(warn(ssl(Some("verify-full"))).is_none());
    assert!(warn(ssl(Some("disable"))).is_none());
    let w = warn(ssl(Some("require"))).unwrap();
    assert!(
        w.contains("not checked") && w.contains("verify-full"),
        "{w}"
    );
    let w = warn(with(Some("require"), Some(&f.ca), None, None)).unwrap();
    assert!(w.contains("also checks that the certificate names"), "{w}");
    assert!(warn(ssl(Some("verify-ca"))).is_some());
    let w = mysql(Some(&ssl(Some("preferred"))), false)
        .unwrap()
        .warning()
        .unwrap();
    assert!(w.contains("only if the server offers it"), "{w}");
    assert!(mysql(None, false).unwrap().warning().is_none());
}

#[test]
fn url_parameters_follow_libpq() {
    let f = files();
    let tls = postgres_url(Some("require"), Some(f.ca.clone()), None, None).unwrap();
    assert_eq!(tls.postgres_sslmode(), "verify-ca");
    assert_eq!(
        postgres_url(None, None, None, None).unwrap().verify,
        Verify::Opportunistic
    );
    assert_eq!(
        postgres_url(Some("allow"), None, None, None)
            .unwrap()
            .verify,
        Verify::Off
    );
    let e = postgres_url(Some("bogus"), None, None, None)
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("storage.config.url: sslmode=bogus"), "{e}");
    let e = postgres_url(Some("verify-full"), None, Some(f.cert.clone()), None)
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("storage.config.url: sslkey: missing"), "{e}");
    let e = postgres_url(Some("disable"), Some(f.ca.clone()), None, None)
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("storage.config.url: sslrootcert"), "{e}");
}
