//! The command line: config errors stop `serve` with the key named; check-config; hash-password.

mod support;

use std::process::{Command, Stdio};
use std::time::Duration;

use gatehouse_e2e::stdin_run::run_with_stdin;
use support::*;

fn write_config(dir: &std::path::Path, yaml: &str) -> std::path::PathBuf {
    let path = dir.join("config.yaml");
    std::fs::write(&path, yaml).unwrap();
    path
}

/// Runs `gatehouse-broker <command> <config>` to its end.
fn run(command: &str, config: &std::path::Path) -> std::process::Output {
    Command::new(BIN).arg(command).arg(config).output().unwrap()
}

/// Runs `command` with a config of this text, which it must refuse; its stderr.
fn refused(command: &str, dir: &std::path::Path, yaml: &str) -> String {
    let out = run(command, &write_config(dir, yaml));
    assert!(!out.status.success(), "{command} accepted {yaml}");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn good_yaml(dir: &std::path::Path) -> String {
    config_yaml(
        free_port(),
        &dir.join("g.db"),
        &Options {
            skip_approval: true,
            ..Options::default()
        },
    )
}

#[test]
fn serve_refuses_an_unknown_key_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let yaml = good_yaml(dir.path()).replace("redirectURIs", "redirectURLs");
    let config = write_config(dir.path(), &yaml);
    let mut child = Command::new(BIN)
        .arg("serve")
        .arg(&config)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Must exit by itself, not serve.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while child.try_wait().unwrap().is_none() {
        assert!(
            std::time::Instant::now() < deadline,
            "serve kept running with a bad config"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains(
            "unknown key \"staticClients[0].redirectURLs\": did you mean \"redirectURIs\"?"
        ),
        "{stderr}"
    );
    assert_eq!(stderr.trim().lines().count(), 1, "one-line error: {stderr}");
    assert!(!dir.path().join("g.db").exists(), "nothing started");
}

#[test]
fn serve_refuses_a_postgres_config_with_sqlite_keys_and_unsupported_connectors() {
    let dir = tempfile::tempdir().unwrap();
    let yaml = good_yaml(dir.path()).replace("type: sqlite3", "type: postgres");
    let stderr = refused("serve", dir.path(), &yaml);
    assert!(
        stderr.contains("storage.config.file: not used by type: postgres"),
        "{stderr}"
    );

    let yaml = format!(
        "{}connectors:\n- type: github\n  id: github\n  name: GitHub\n",
        good_yaml(dir.path())
    );
    let stderr = refused("serve", dir.path(), &yaml);
    assert!(stderr.contains("connectors[0].type"), "{stderr}");

    // A SAML connector without its settings is refused with the missing key named.
    let yaml = format!(
        "{}connectors:\n- type: saml\n  id: saml\n  name: SAML\n",
        good_yaml(dir.path())
    );
    let stderr = refused("serve", dir.path(), &yaml);
    assert!(
        stderr.contains("connectors[0].config.ssoURL: missing"),
        "{stderr}"
    );
    // check-config reads the connector blocks too.
    assert!(refused("check-config", dir.path(), &yaml).contains("connectors[0].config.ssoURL"));
}

#[test]
fn check_config_accepts_good_and_names_bad_keys() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(
        "check-config",
        &write_config(dir.path(), &good_yaml(dir.path())),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("config OK"));

    let yaml = good_yaml(dir.path()).replace("issuer: http://", "issuer: ftp://");
    assert!(refused("check-config", dir.path(), &yaml).contains("issuer:"));

    let out = run("check-config", &dir.path().join("missing.yaml"));
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing.yaml"));
}

#[test]
fn hash_password_prints_a_verifiable_bcrypt_hash() {
    let out = run_with_stdin(
        Command::new(BIN).args(["hash-password", "--cost", "4"]),
        b"s3cret pass\n",
    )
    .unwrap();
    assert!(out.status.success());
    let hash = String::from_utf8(out.stdout).unwrap();
    assert!(hash.starts_with("$2b$04$"));
    assert!(bcrypt::verify("s3cret pass", hash.trim()).unwrap());

    let out = Command::new(BIN)
        .arg("hash-password")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success(), "empty input refused");
}
