//! Issue 18: the device authorization grant (RFC 8628) with peers written by others. npm
//! `openid-client` plays the device (its own device grant: it waits `interval` between polls
//! and lengthens it on `slow_down`, and validates the ID token); Debian's headless Chromium
//! plays the user: opens the verification page, types the user code, signs in, and approves
//! or cancels on the approval page.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};

use gatehouse_e2e::logs::current_test_name;
use gatehouse_e2e::paths::repo_root;
use gatehouse_e2e::ports::free_port;
use gatehouse_e2e::{Broker, BrokerConfig, LogDir, ADMIN};
use serde_json::Value;

const DEVICE_CLIENT: &str = "device-cli";

struct Fixture {
    broker: Broker,
    logs: LogDir,
    _dir: tempfile::TempDir,
}

/// The standard broker with the approval page on and a public device client (listing Dex's
/// `/device/callback` marker, as Dex's docs have device clients do).
fn start() -> Fixture {
    let logs = LogDir::for_test(&current_test_name()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut config = BrokerConfig::standard(free_port().unwrap(), free_port().unwrap(), dir.path());
    config.yaml = config
        .yaml
        .replace("skipApprovalScreen: true", "skipApprovalScreen: false")
        .replace(
            "enablePasswordDB: true\n",
            &format!(
                "- id: {DEVICE_CLIENT}\n  public: true\n  name: Device CLI\n  redirectURIs: [\"/device/callback\"]\nenablePasswordDB: true\n"
            ),
        );
    let broker = Broker::start(&logs, dir.path(), &config).unwrap();
    Fixture {
        broker,
        logs,
        _dir: dir,
    }
}

fn peer(name: &str, module: &str) -> PathBuf {
    let dir = repo_root().join("tests/peers").join(name);
    assert!(
        dir.join("node_modules").join(module).exists(),
        "run `make setup` (npm ci in {})",
        dir.display()
    );
    dir
}

/// The openid-client device, running; its first line (what it shows the user) already read.
struct Device {
    child: Child,
    lines: std::io::Lines<BufReader<ChildStdout>>,
    shown: Value,
    stderr: PathBuf,
}

impl Device {
    fn start(f: &Fixture) -> Device {
        let stderr = f.logs.file("openid-client-device.stderr");
        let mut child = Command::new("node")
            .arg("device.mjs")
            .args(["--issuer", f.broker.issuer(), "--client-id", DEVICE_CLIENT])
            .current_dir(peer("openid-client", "openid-client"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&stderr).unwrap())
            .spawn()
            .expect("node");
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let first = lines.next().and_then(|l| l.ok()).unwrap_or_else(|| {
            panic!(
                "the device printed nothing: {}",
                std::fs::read_to_string(&stderr).unwrap_or_default()
            )
        });
        Device {
            child,
            lines,
            shown: serde_json::from_str(&first).unwrap(),
            stderr,
        }
    }

    /// Its outcome line, once it stopped polling.
    fn outcome(mut self) -> Value {
        let line = self.lines.next().and_then(|l| l.ok());
        let status = self.child.wait().unwrap();
        let err = std::fs::read_to_string(&self.stderr).unwrap_or_default();
        assert!(status.success(), "the device failed ({status}): {err}");
        serde_json::from_str(&line.unwrap_or_default())
            .unwrap_or_else(|e| panic!("the device's outcome is not JSON ({e}): {err}"))
    }
}

impl Drop for Device {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

/// The user, in headless Chromium: enters `code` at `uri`, signs in, and approves or denies.
fn user_decides(uri: &str, code: &str, decision: &str, shot: &Path) -> Value {
    let out = Command::new("node")
        .arg("device.mjs")
        .args([uri, code, ADMIN.email, decision])
        .arg(shot)
        .env("DEVICE_PASSWORD", ADMIN.password)
        .current_dir(peer("chromium", "playwright-core"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn openid_client_device_gets_tokens_once_the_user_approves_in_chromium() {
    let mut f = start();
    let device = Device::start(&f);
    let shown = device.shown.clone();
    let issuer = f.broker.issuer().to_string();
    assert_eq!(
        shown["verification_uri"],
        format!("{issuer}/device"),
        "{shown}"
    );
    assert_eq!(
        shown["advertised"]["device_authorization_endpoint"],
        format!("{issuer}/device/code")
    );
    assert!(shown["advertised"]["grant_types"]
        .as_array()
        .unwrap()
        .contains(&"urn:ietf:params:oauth:grant-type:device_code".into()));
    let code = shown["user_code"].as_str().unwrap();
    assert!(
        code.len() == 9 && code.as_bytes()[4] == b'-',
        "Dex's XXXX-XXXX: {code}"
    );
    assert_eq!(shown["interval"], 5);
    // The user types it in lower case and without the dash: still their code.
    let typed = code.replace('-', "").to_lowercase();
    let shot = f.logs.dir().join("device-approved.png");
    let page = user_decides(
        shown["verification_uri"].as_str().unwrap(),
        &typed,
        "approve",
        &shot,
    );
    assert_eq!(page["heading"], "Device connected", "{page}");
    assert!(
        page["text"].as_str().unwrap().contains("Device CLI"),
        "{page}"
    );
    assert!(std::fs::metadata(&shot).unwrap().len() > 1000);

    let outcome = device.outcome();
    assert_eq!(
        outcome["outcome"],
        "tokens",
        "{outcome}\n{}",
        f.broker.process().log_tail(30)
    );
    assert_eq!(outcome["claims"]["iss"], issuer);
    assert_eq!(outcome["claims"]["email"], ADMIN.email);
    assert_eq!(outcome["userinfo_email"], ADMIN.email);
    assert_eq!(outcome["has_refresh_token"], true);
    assert_eq!(outcome["refreshed"], true);
}

#[test]
fn openid_client_device_is_told_access_denied_when_the_user_cancels() {
    let f = start();
    let device = Device::start(&f);
    let uri = device.shown["verification_uri_complete"]
        .as_str()
        .unwrap()
        .to_string();
    let code = device.shown["user_code"].as_str().unwrap().to_string();
    let shot = f.logs.dir().join("device-denied.png");
    let page = user_decides(&uri, &code, "deny", &shot);
    assert_eq!(page["heading"], "Device not connected", "{page}");
    let outcome = device.outcome();
    assert_eq!(outcome["outcome"], "error", "{outcome}");
    assert_eq!(outcome["error"], "access_denied", "{outcome}");
}
