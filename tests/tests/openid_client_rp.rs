//! Issue 2: against the broker alone, a relying party written by others — npm
//! `openid-client` (pinned in `tests/peers/openid-client`), run by node — completes
//! discovery, the code flow with PKCE S256, ID-token validation, userinfo and refresh.
//!
//! The RP script does the protocol with openid-client's own API and plays the browser with
//! fetch; it never fetches the redirect URI, so no Envoy runs here: the port in the
//! `gatehouse` client's redirect URI only has to be one nobody else uses.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use gatehouse_e2e::broker::{CLIENT_ID, CLIENT_SECRET};
use gatehouse_e2e::logs::current_test_name;
use gatehouse_e2e::paths::repo_root;
use gatehouse_e2e::ports::free_port;
use gatehouse_e2e::{Broker, BrokerConfig, LogDir, TestUser, ADMIN, BOB};
use serde_json::Value;

/// A whole login plus three token calls; far more than that means something hangs.
const RP_TIMEOUT: Duration = Duration::from_secs(90);

/// The real broker with the standard config, and the redirect URI of its `gatehouse` client.
struct Fixture {
    broker: Broker,
    redirect_uri: String,
    logs: LogDir,
    _dir: tempfile::TempDir,
}

impl Fixture {
    fn start() -> Self {
        Self::start_with("")
    }

    /// The standard broker with `extra` appended to its config.
    fn start_with(extra: &str) -> Self {
        let logs = LogDir::for_test(&current_test_name()).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let envoy_port = free_port().unwrap();
        let mut config = BrokerConfig::standard(free_port().unwrap(), envoy_port, dir.path());
        config.yaml.push_str(extra);
        let broker = Broker::start(&logs, dir.path(), &config).unwrap();
        Self {
            broker,
            redirect_uri: format!("http://127.0.0.1:{envoy_port}/oauth2/callback"),
            logs,
            _dir: dir,
        }
    }

    /// Runs the RP for `email`/`password`; `expect` is its `--expect` outcome.
    fn run_rp(&mut self, email: &str, password: &str, expect: &str) -> RpResult {
        let peer = peer_dir();
        let run = RpRun::start(
            Command::new("node")
                .arg(peer.join("rp.mjs"))
                .args(["--issuer", self.broker.issuer()])
                .args(["--client-id", CLIENT_ID])
                .args(["--redirect-uri", &self.redirect_uri])
                .args(["--email", email])
                .args(["--expect", expect])
                .env("RP_CLIENT_SECRET", CLIENT_SECRET)
                .env("RP_PASSWORD", password)
                .current_dir(&peer),
            &self.logs,
            &format!("{expect}-{email}"),
        );
        run.finish(&mut self.broker)
    }
}

/// `tests/peers/openid-client`, checked to have its pinned packages installed.
fn peer_dir() -> PathBuf {
    let peer = repo_root()
        .join("tests")
        .join("peers")
        .join("openid-client");
    let installed = peer
        .join("node_modules")
        .join("openid-client")
        .join("package.json");
    assert!(
        installed.is_file(),
        "{} is missing: run `make setup` (it runs `npm ci` in {})",
        installed.display(),
        peer.display()
    );
    let pinned = json_file(&peer.join("package.json"))["dependencies"]["openid-client"].clone();
    let version = json_file(&installed)["version"].clone();
    assert_eq!(
        version, pinned,
        "installed openid-client differs from the pinned one: run `make setup`"
    );
    peer
}

fn json_file(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The node process, killed if the test gives up on it; its output goes to the test's logs.
struct RpRun {
    child: Child,
    stdout: PathBuf,
    stderr: PathBuf,
}

impl RpRun {
    fn start(cmd: &mut Command, logs: &LogDir, label: &str) -> Self {
        let name = format!("openid-client-rp-{}", label.replace('@', "-at-"));
        let stdout = logs.file(&format!("{name}.stdout"));
        let stderr = logs.file(&format!("{name}.stderr"));
        cmd.stdin(Stdio::null())
            .stdout(File::create(&stdout).unwrap())
            .stderr(File::create(&stderr).unwrap());
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("starting node (is Node.js installed?): {e}"));
        Self {
            child,
            stdout,
            stderr,
        }
    }

    /// Waits for the script and reads what it printed.
    fn finish(mut self, broker: &mut Broker) -> RpResult {
        let deadline = Instant::now() + RP_TIMEOUT;
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(
                Instant::now() < deadline,
                "the openid-client RP did not finish within {RP_TIMEOUT:?}; broker log:\n{}",
                broker.process().log_tail(40)
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        RpResult {
            status,
            stdout: std::fs::read_to_string(&self.stdout).unwrap(),
            stderr: std::fs::read_to_string(&self.stderr).unwrap(),
            broker_log: broker.process().log_tail(40),
        }
    }
}

impl Drop for RpRun {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

struct RpResult {
    status: ExitStatus,
    stdout: String,
    stderr: String,
    broker_log: String,
}

impl RpResult {
    /// The JSON summary, after checking the script reached the outcome it was told to expect.
    fn summary(&self) -> Value {
        assert!(
            self.status.success(),
            "the openid-client RP failed ({}):\n{}\nstdout: {}\nbroker log:\n{}",
            self.status,
            self.stderr,
            self.stdout,
            self.broker_log
        );
        let line = self.stdout.lines().last().unwrap_or_default();
        serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("the RP's summary is not JSON ({e}): {}", self.stdout))
    }
}

/// Dex's subject for a local user: base64url (no padding) of the protobuf
/// `{1: user_id, 2: connector_id}`.
fn dex_subject(user_id: &str, connector_id: &str) -> String {
    let mut bytes = Vec::new();
    for (tag, field) in [(0x0a_u8, user_id), (0x12, connector_id)] {
        bytes.push(tag);
        bytes.push(u8::try_from(field.len()).unwrap());
        bytes.extend_from_slice(field.as_bytes());
    }
    URL_SAFE_NO_PAD.encode(bytes)
}

fn strings(value: &Value) -> Vec<&str> {
    value
        .as_array()
        .map(|items| items.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

/// Everything the RP learnt about `user` is right.
fn assert_signed_in_as(summary: &Value, user: &TestUser, issuer: &str) {
    assert_eq!(summary["outcome"], "signed-in", "{summary}");
    assert_eq!(summary["discovery"]["issuer"], issuer, "{summary}");
    assert_eq!(
        summary["discovery"]["pkce_s256_advertised"], true,
        "{summary}"
    );

    let claims = &summary["claims"];
    let subject = dex_subject(user.user_id, "local");
    assert_eq!(claims["iss"], issuer, "{summary}");
    assert!(
        claims["aud"] == CLIENT_ID || strings(&claims["aud"]) == [CLIENT_ID],
        "{summary}"
    );
    assert_eq!(claims["sub"], subject.as_str(), "{summary}");
    assert_eq!(claims["email"], user.email, "{summary}");
    assert_eq!(claims["email_verified"], true, "{summary}");
    assert_eq!(claims["preferred_username"], user.username, "{summary}");
    assert_eq!(claims["nonce_matched"], true, "{summary}");
    assert_eq!(strings(&claims["groups"]), user.groups, "{summary}");
    assert_eq!(
        claims["federated_claims"],
        serde_json::json!({"connector_id": "local", "user_id": user.user_id}),
        "{summary}"
    );

    assert_eq!(summary["userinfo"]["sub"], subject.as_str(), "{summary}");
    assert_eq!(summary["userinfo"]["email"], user.email, "{summary}");

    let refresh = &summary["refresh"];
    assert_eq!(refresh["rotated"], true, "{summary}");
    assert_eq!(
        refresh["old_token_refused_with"], "invalid_grant",
        "{summary}"
    );
    assert_eq!(refresh["userinfo_email"], user.email, "{summary}");
    if !refresh["id_token_sub"].is_null() {
        assert_eq!(refresh["id_token_sub"], subject.as_str(), "{summary}");
    }
}

#[test]
fn openid_client_signs_in_validates_the_id_token_reads_userinfo_and_rotates_refresh_tokens() {
    let mut fixture = Fixture::start();
    let summary = fixture
        .run_rp(ADMIN.email, ADMIN.password, "signed-in")
        .summary();
    assert_signed_in_as(&summary, &ADMIN, fixture.broker.issuer());
    assert_eq!(summary["claims"]["email"], "admin@example.com");
    assert!(strings(&summary["claims"]["groups"]).contains(&"admins"));

    // Claims follow the user, not the client: Bob is not an admin.
    let summary = fixture
        .run_rp(BOB.email, BOB.password, "signed-in")
        .summary();
    assert_signed_in_as(&summary, &BOB, fixture.broker.issuer());
    assert!(!strings(&summary["claims"]["groups"]).contains(&"admins"));
}

/// Issue 15: a broker signing with `alg` (Dex's `signer.config.algorithm`): openid-client
/// takes the algorithm from discovery and verifies the ID tokens (login and refresh) against
/// the EC / OKP JWKS, with every claim check it makes for RS256.
fn openid_client_against_a_broker_signing_with(alg: &str) {
    let mut fixture = Fixture::start_with(&format!(
        "signer:\n  type: local\n  config:\n    keysRotationPeriod: 6h\n    algorithm: {alg}\n"
    ));
    let summary = fixture
        .run_rp(ADMIN.email, ADMIN.password, "signed-in")
        .summary();
    assert_signed_in_as(&summary, &ADMIN, fixture.broker.issuer());
    assert_eq!(summary["id_token_alg"], alg, "{summary}");
    assert_eq!(summary["refreshed_id_token_alg"], alg, "{summary}");
    assert_eq!(
        summary["discovery"]["id_token_algs"],
        serde_json::json!([alg])
    );
}

#[test]
fn openid_client_signs_in_against_an_es256_broker() {
    openid_client_against_a_broker_signing_with("ES256");
}

#[test]
fn openid_client_signs_in_against_an_eddsa_broker() {
    openid_client_against_a_broker_signing_with("EdDSA");
}

#[test]
fn openid_client_gets_no_code_for_a_wrong_password_or_an_unknown_email() {
    let mut fixture = Fixture::start();
    for (email, password) in [
        (ADMIN.email, "not-the-password"),
        ("nobody@example.com", ADMIN.password),
    ] {
        let summary = fixture.run_rp(email, password, "login-refused").summary();
        assert_eq!(summary["outcome"], "login-refused", "{summary}");
        let login = &summary["login"];
        assert_eq!(login["form_shown_again"], true, "{summary}");
        assert!(
            login["error_text"].as_str().is_some_and(|t| !t.is_empty()),
            "the form shows no error message: {summary}"
        );
    }

    // The same broker still signs the right password in: the refusals were about the
    // credentials, not a broken flow.
    let summary = fixture
        .run_rp(ADMIN.email, ADMIN.password, "signed-in")
        .summary();
    assert_signed_in_as(&summary, &ADMIN, fixture.broker.issuer());
}
