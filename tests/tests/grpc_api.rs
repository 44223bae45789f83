//! Issue 13: the broker's own user database and Dex's gRPC API, against the real broker.
//!
//! The API's client here is mostly written by others: Python `grpcio` with stubs that
//! `grpcio-tools` generates at test time from `broker/proto/dex_api.proto`
//! (`tests/grpc/dex_api_check.py`, pinned in `tests/requirements.txt`). The broker's own
//! `users`/`clients` subcommands are exercised too; a user they create signs in through
//! Envoy and the filter, a client they create completes a code flow with npm
//! `openid-client`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use gatehouse_e2e::broker::{CLIENT_ID, PASSWORD_HASH};
use gatehouse_e2e::logs::current_test_name;
use gatehouse_e2e::oidc_client::{OidcClient, Outcome};
use gatehouse_e2e::paths::{broker_binary, repo_root, venv_python};
use gatehouse_e2e::ports::free_port;
use gatehouse_e2e::postgres::TestDatabase;
use gatehouse_e2e::replicas::postgres_storage_yaml;
use gatehouse_e2e::stdin_run::run_with_stdin;
use gatehouse_e2e::test_ca::TestCa;
use gatehouse_e2e::{Broker, BrokerConfig, Browser, LogDir, Stack, StackOptions, ADMIN};
use serde_json::Value;

const CAROL: (&str, &str, &str) = ("Carol@Example.com", "carol", "carol-secret-pw");

fn grpc_yaml(port: u16) -> String {
    format!("grpc:\n  addr: \"127.0.0.1:{port}\"\n  reflection: true\n")
}

/// A broker with the standard config (SQLite, or `storage`) and the API on a free port.
struct ApiBroker {
    broker: Broker,
    api: String,
    logs: LogDir,
    redirect_uri: String,
    dir: tempfile::TempDir,
}

impl ApiBroker {
    fn start(storage: Option<String>) -> Self {
        Self::start_with(storage, |_, port| grpc_yaml(port))
    }

    fn start_with(storage: Option<String>, grpc: impl Fn(&Path, u16) -> String) -> Self {
        let logs = LogDir::for_test(&current_test_name()).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let envoy_port = free_port().unwrap();
        let api_port = free_port().unwrap();
        let mut config = BrokerConfig::standard(free_port().unwrap(), envoy_port, dir.path());
        if let Some(storage) = storage {
            config.set_storage(&storage).unwrap();
        }
        config.yaml.push_str(&grpc(dir.path(), api_port));
        let broker = Broker::start(&logs, dir.path(), &config).unwrap();
        ApiBroker {
            broker,
            api: format!("127.0.0.1:{api_port}"),
            logs,
            redirect_uri: format!("http://127.0.0.1:{envoy_port}/oauth2/callback"),
            dir,
        }
    }

    fn oidc(&self) -> OidcClient {
        OidcClient::new(self.broker.issuer(), &self.redirect_uri).unwrap()
    }
}

/// Runs `tests/grpc/dex_api_check.py MODE --addr ADDR ARGS…`; returns its JSON summary.
fn checker(mode: &str, addr: &str, args: &[&str]) -> (bool, Value, String) {
    let root = repo_root();
    let out = Command::new(venv_python().unwrap())
        .arg(root.join("tests").join("grpc").join("dex_api_check.py"))
        .arg(mode)
        .args(["--addr", addr])
        .arg("--proto-dir")
        .arg(root.join("broker").join("proto"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("running the Python gRPC client");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    let summary = stdout
        .lines()
        .last()
        .and_then(|l| serde_json::from_str(l).ok())
        .unwrap_or(Value::Null);
    (out.status.success(), summary, format!("{stdout}\n{stderr}"))
}

/// `gatehouse-broker ARGS…` with `stdin`.
fn cli(args: &[&str], stdin: &str) -> Output {
    run_with_stdin(
        Command::new(broker_binary().unwrap()).args(args),
        stdin.as_bytes(),
    )
    .unwrap()
}

fn cli_ok(args: &[&str], stdin: &str) -> String {
    let out = cli(args, stdin);
    assert!(
        out.status.success(),
        "gatehouse-broker {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

fn add_carol(api: &str) {
    let (email, username, password) = CAROL;
    cli_ok(
        &[
            "users",
            "add",
            "--api",
            api,
            "--email",
            email,
            "--username",
            username,
            "--user-id",
            "carol-id",
        ],
        &format!("{password}\n"),
    );
}

fn dex_subject(user_id: &str, connector_id: &str) -> String {
    let mut bytes = Vec::new();
    for (tag, field) in [(0x0a_u8, user_id), (0x12, connector_id)] {
        bytes.push(tag);
        bytes.push(u8::try_from(field.len()).unwrap());
        bytes.extend_from_slice(field.as_bytes());
    }
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Signs in at the broker through its login form; the code, or None when refused.
fn sign_in(client: &OidcClient, email: &str, password: &str) -> Option<String> {
    let mut browser = Browser::new().unwrap();
    let page = match client
        .authorize(&mut browser, Some("local"), "openid email offline_access")
        .unwrap()
    {
        Outcome::Code(code) => return Some(code),
        Outcome::Page(page) => page,
    };
    let form = page.login_form().unwrap();
    let posted = browser
        .post_form(form.action.as_str(), &form.fields(email, password))
        .unwrap();
    let back = client.redirect_uri.clone();
    let landed = browser
        .follow_until(posted, |p| {
            p.location().is_some_and(|l| l.as_str().starts_with(&back))
        })
        .unwrap();
    let location = landed
        .location()
        .filter(|l| l.as_str().starts_with(&back))?;
    location
        .query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
}

/// Signs in and redeems the code: the refresh token.
fn refresh_token_for(client: &OidcClient, email: &str, password: &str) -> String {
    let code = sign_in(client, email, password).expect("sign-in refused");
    let (status, body) = client.redeem(&code).unwrap();
    assert_eq!(status, 200, "{body}");
    body["refresh_token"].as_str().unwrap().to_string()
}

fn every_rpc(storage: Option<String>) {
    let b = ApiBroker::start(storage);
    let cheap = bcrypt::hash("password", 4).unwrap();
    let (ok, summary, output) = checker(
        "every-rpc",
        &b.api,
        &[
            "--issuer",
            b.broker.issuer(),
            "--hash",
            PASSWORD_HASH,
            "--cheap-hash",
            &cheap,
        ],
    );
    assert!(ok, "{output}");
    let checked: Vec<&str> = summary["checked"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for rpc in [
        "GetVersion",
        "GetDiscovery",
        "GetClient",
        "CreateClient",
        "UpdateClient",
        "DeleteClient",
        "ListClients",
        "CreatePassword",
        "UpdatePassword",
        "DeletePassword",
        "ListPasswords",
        "VerifyPassword",
        "ListRefresh",
        "RevokeRefresh",
        "CreateConnector",
        "UpdateConnector",
        "DeleteConnector",
        "ListConnectors",
    ] {
        assert!(checked.contains(&rpc), "{rpc} not checked: {summary}");
    }
    // Every call is logged, without secrets or hashes.
    let log = std::fs::read_to_string(b.logs.file("broker")).unwrap();
    assert!(
        log.contains("rpc=\"CreatePassword\"") || log.contains("rpc=CreatePassword"),
        "{log}"
    );
    assert!(log.contains("py.user@example.com") || log.contains("Py.User@Example.com"));
    assert!(!log.contains(&PASSWORD_HASH[7..]), "a hash reached the log");
    assert!(!log.contains(&cheap[7..]), "a refused hash reached the log");
}

#[test]
fn python_grpc_client_calls_every_rpc_on_sqlite() {
    every_rpc(None);
}

#[test]
fn python_grpc_client_calls_every_rpc_on_postgres() {
    let db = TestDatabase::create().unwrap();
    every_rpc(Some(postgres_storage_yaml(&db)));
}

#[test]
fn user_created_over_grpc_signs_in_through_envoy_and_stops_when_deleted() {
    let api_port = free_port().unwrap();
    let api = format!("127.0.0.1:{api_port}");
    let stack = Stack::start(StackOptions {
        extra_broker_yaml: Some(grpc_yaml(api_port)),
        ..StackOptions::default()
    })
    .unwrap();
    add_carol(&api);
    let listed = cli_ok(&["users", "list", "--api", &api], "");
    assert!(
        listed.contains("carol@example.com\tcarol\tcarol-id"),
        "{listed}"
    );
    assert!(
        listed.contains(ADMIN.email),
        "static users are listed: {listed}"
    );

    let (_, _, password) = CAROL;
    // The filter answers 503 until it has the broker's keys.
    let mut probe = Browser::new().unwrap();
    for _ in 0..150 {
        if probe.get(&stack.url("/")).unwrap().status != 503 {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let mut browser = Browser::new().unwrap();
    let page = browser
        .login(&stack.url("/private"), "carol@EXAMPLE.com", password)
        .unwrap();
    assert_eq!(page.status, 200, "{}", page.body);
    let requests = stack.echo.requests();
    let seen = requests.last().expect("the upstream was reached");
    assert_eq!(
        seen.header("x-auth-request-email"),
        Some("carol@example.com")
    );
    let sub = dex_subject("carol-id", "local");
    assert_eq!(seen.header("x-auth-request-user"), Some(sub.as_str()));

    cli_ok(
        &["users", "set-password", "--api", &api, "carol@example.com"],
        "new-pw\n",
    );
    let mut browser = Browser::new().unwrap();
    let refused = browser
        .login(&stack.url("/private"), "carol@example.com", password)
        .unwrap();
    assert_eq!(refused.status, 401, "the old password no longer works");

    cli_ok(&["users", "remove", "--api", &api, "carol@example.com"], "");
    let mut browser = Browser::new().unwrap();
    let refused = browser
        .login(&stack.url("/private"), "carol@example.com", "new-pw")
        .unwrap();
    assert_eq!(refused.status, 401, "a deleted user cannot sign in");
    let again = cli(&["users", "remove", "--api", &api, "carol@example.com"], "");
    assert!(!again.status.success(), "removing twice reports not found");
}

/// `tests/peers/openid-client` with its pinned packages installed.
fn rp_dir() -> PathBuf {
    let peer = repo_root()
        .join("tests")
        .join("peers")
        .join("openid-client");
    assert!(
        peer.join("node_modules").join("openid-client").is_dir(),
        "run `make setup` (npm ci in {})",
        peer.display()
    );
    peer
}

#[test]
fn client_created_over_grpc_completes_a_code_flow_with_openid_client() {
    let b = ApiBroker::start(None);
    let redirect = format!("http://127.0.0.1:{}/rp/callback", free_port().unwrap());
    let added = cli_ok(
        &[
            "clients",
            "add",
            "--api",
            &b.api,
            "--id",
            "rp-app",
            "--name",
            "RP app",
            "--redirect-uri",
            &redirect,
        ],
        "",
    );
    let secret = added
        .lines()
        .find_map(|l| l.strip_prefix("secret: "))
        .expect("the secret is printed")
        .to_string();
    let listed = cli_ok(&["clients", "list", "--api", &b.api], "");
    assert!(listed.contains("rp-app\tconfidential\tRP app"), "{listed}");
    assert!(!listed.contains(&secret), "secrets are not listed");

    let rp = rp_dir();
    let out = Command::new("node")
        .arg(rp.join("rp.mjs"))
        .args(["--issuer", b.broker.issuer()])
        .args(["--client-id", "rp-app"])
        .args(["--redirect-uri", &redirect])
        .args(["--email", ADMIN.email])
        .env("RP_CLIENT_SECRET", &secret)
        .env("RP_PASSWORD", ADMIN.password)
        .current_dir(&rp)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "openid-client failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary: Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    assert_eq!(summary["outcome"], "signed-in", "{summary}");
    assert_eq!(summary["refresh"]["rotated"], true, "{summary}");
    assert_eq!(summary["claims"]["email"], ADMIN.email, "{summary}");
    let aud = &summary["claims"]["aud"];
    assert!(aud == "rp-app" || aud[0] == "rp-app", "{summary}");

    // Deleted: the authorization endpoint and the token endpoint no longer know it.
    cli_ok(&["clients", "remove", "--api", &b.api, "rp-app"], "");
    let http = reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let auth = http
        .get(format!(
            "{}/auth?client_id=rp-app&redirect_uri={}&response_type=code&scope=openid",
            b.broker.issuer(),
            redirect
        ))
        .send()
        .unwrap();
    assert_eq!(auth.status().as_u16(), 400);
    let token = http
        .post(format!("{}/token", b.broker.issuer()))
        .basic_auth("rp-app", Some(&secret))
        .form(&[("grant_type", "refresh_token"), ("refresh_token", "x.y")])
        .send()
        .unwrap();
    assert_eq!(
        token.status().as_u16(),
        401,
        "a deleted client cannot authenticate"
    );
}

#[test]
fn revoke_refresh_makes_the_next_refresh_fail() {
    let b = ApiBroker::start(None);
    let client = b.oidc();
    let refresh = refresh_token_for(&client, ADMIN.email, ADMIN.password);
    let sub = dex_subject(ADMIN.user_id, "local");
    let (ok, listed, out) = checker("list-refresh", &b.api, &["--sub", &sub]);
    assert!(ok, "{out}");
    let tokens = listed["refresh_tokens"].as_array().unwrap();
    assert_eq!(tokens.len(), 1, "{listed}");
    assert_eq!(tokens[0]["client_id"], CLIENT_ID);
    assert!(refresh.starts_with(tokens[0]["id"].as_str().unwrap()));

    let (ok, revoked, out) = checker(
        "revoke-refresh",
        &b.api,
        &["--sub", &sub, "--client-id", CLIENT_ID],
    );
    assert!(ok, "{out}");
    assert_eq!(revoked["not_found"], false, "{revoked}");
    let (status, body) = client.refresh(&refresh).unwrap();
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"], "invalid_grant");
    let (_, again, _) = checker(
        "revoke-refresh",
        &b.api,
        &["--sub", &sub, "--client-id", CLIENT_ID],
    );
    assert_eq!(again["not_found"], true, "{again}");
}

#[test]
fn user_deleted_on_one_replica_cannot_sign_in_or_refresh_on_the_other() {
    let db = TestDatabase::create().unwrap();
    let logs = LogDir::for_test(&current_test_name()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let callback_port = free_port().unwrap();
    let api_port = free_port().unwrap();
    let api = format!("127.0.0.1:{api_port}");
    let mut replicas = Vec::new();
    for (name, with_api) in [("broker-a", true), ("broker-b", false)] {
        let mut config = BrokerConfig::standard(free_port().unwrap(), callback_port, dir.path());
        config.set_storage(&postgres_storage_yaml(&db)).unwrap();
        if with_api {
            config.yaml.push_str(&grpc_yaml(api_port));
        }
        replicas.push(Broker::start_named(&logs, dir.path(), &config, name, &[]).unwrap());
    }
    let redirect = format!("http://127.0.0.1:{callback_port}/oauth2/callback");
    let on_b = OidcClient::new(replicas[1].issuer(), &redirect).unwrap();
    let on_a = OidcClient::new(replicas[0].issuer(), &redirect).unwrap();

    add_carol(&api); // through replica A
    let (email, _, password) = CAROL;
    let refresh = refresh_token_for(&on_b, email, password);
    let (status, body) = on_b.refresh(&refresh).unwrap();
    assert_eq!(
        status, 200,
        "replica B refreshes a user created on A: {body}"
    );
    let refresh = body["refresh_token"].as_str().unwrap().to_string();

    cli_ok(&["users", "remove", "--api", &api, email], "");
    let (status, body) = on_b.refresh(&refresh).unwrap();
    assert_eq!(status, 400, "refresh on B after deletion on A: {body}");
    assert_eq!(body["error"], "invalid_grant");
    assert!(
        sign_in(&on_b, email, password).is_none(),
        "sign-in on B after deletion on A"
    );
    assert!(
        sign_in(&on_a, email, password).is_none(),
        "sign-in on A after deletion"
    );
}

/// A CA (`ca.pem`), a server certificate for 127.0.0.1 (`server.pem`) and a client
/// certificate for `CN=admin-tool` (`client.pem`).
fn make_certificates(dir: &Path) {
    let ca = TestCa::create(dir, "ca").unwrap();
    ca.server("server").unwrap();
    ca.client("client", "admin-tool").unwrap();
}

#[test]
fn mtls_refuses_a_client_without_a_certificate() {
    let b = ApiBroker::start_with(None, |dir, port| {
        make_certificates(dir);
        let p = |f: &str| dir.join(f).to_string_lossy().to_string();
        // Client certificates are required, so the API may listen on every interface.
        format!(
            "grpc:\n  addr: \"0.0.0.0:{port}\"\n  tlsCert: \"{}\"\n  tlsKey: \"{}\"\n  tlsClientCA: \"{}\"\n",
            p("server.pem"),
            p("server.key"),
            p("ca.pem")
        )
    });
    let d = b.dir.path();
    let p = |f: &str| d.join(f).to_string_lossy().to_string();
    let sub = dex_subject("nobody", "local");
    let (ok, summary, out) = checker(
        "list-refresh",
        &b.api,
        &[
            "--sub",
            &sub,
            "--ca-cert",
            &p("ca.pem"),
            "--client-cert",
            &p("client.pem"),
            "--client-key",
            &p("client.key"),
        ],
    );
    assert!(ok, "with a client certificate: {out}");
    assert_eq!(summary["refresh_tokens"], serde_json::json!([]));

    let (ok, summary, out) = checker(
        "list-refresh",
        &b.api,
        &["--sub", &sub, "--ca-cert", &p("ca.pem")],
    );
    assert!(
        !ok,
        "without a client certificate the call must fail: {out}"
    );
    assert!(
        summary["failed"]
            .as_str()
            .unwrap_or_default()
            .contains("UNAVAILABLE"),
        "{summary}"
    );

    let with_cert = [
        "--api",
        &b.api,
        "--ca-cert",
        &p("ca.pem"),
        "--client-cert",
        &p("client.pem"),
        "--client-key",
        &p("client.key"),
    ];
    let mut args = vec!["users", "list"];
    args.extend(with_cert);
    assert!(cli_ok(&args, "").contains(ADMIN.email));
    let no_cert = cli(
        &["users", "list", "--api", &b.api, "--ca-cert", &p("ca.pem")],
        "",
    );
    assert!(
        !no_cert.status.success(),
        "the CLI without a certificate is refused"
    );

    let log = std::fs::read_to_string(b.logs.file("broker")).unwrap();
    assert!(
        log.contains("CN=admin-tool"),
        "the caller's certificate subject is logged"
    );
}

/// Dex reloads the API's certificate when its files change: a renewed server certificate
/// (here from another CA, moved into place) is served without a restart, with Dex's
/// `tlsMinVersion` set, and client certificates are still required.
#[test]
fn renewed_server_certificate_is_served_without_a_restart() {
    let b = ApiBroker::start_with(None, |dir, port| {
        make_certificates(dir);
        let p = |f: &str| dir.join(f).to_string_lossy().to_string();
        format!(
            "grpc:\n  addr: \"127.0.0.1:{port}\"\n  tlsCert: \"{}\"\n  tlsKey: \"{}\"\n  tlsClientCA: \"{}\"\n  tlsMinVersion: \"1.3\"\n",
            p("server.pem"),
            p("server.key"),
            p("ca.pem")
        )
    });
    let d = b.dir.path();
    let p = |f: &str| d.join(f).to_string_lossy().to_string();
    let list = |ca: &str| {
        cli(
            &[
                "users",
                "list",
                "--api",
                &b.api,
                "--ca-cert",
                &p(ca),
                "--client-cert",
                &p("client.pem"),
                "--client-key",
                &p("client.key"),
            ],
            "",
        )
    };
    assert!(list("ca.pem").status.success());
    // The renewal: a new CA and server pair made beside, then moved over the served files.
    let renewed = d.join("renewed");
    std::fs::create_dir(&renewed).unwrap();
    make_certificates(&renewed);
    std::fs::copy(renewed.join("ca.pem"), d.join("ca2.pem")).unwrap();
    for f in ["server.key", "server.pem"] {
        std::fs::rename(renewed.join(f), d.join(f)).unwrap();
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    while !list("ca2.pem").status.success() {
        assert!(
            std::time::Instant::now() < deadline,
            "the renewed certificate is not served"
        );
        std::thread::sleep(std::time::Duration::from_millis(300));
    }
    assert!(
        !list("ca.pem").status.success(),
        "the old certificate is still served"
    );
    let no_cert = cli(
        &["users", "list", "--api", &b.api, "--ca-cert", &p("ca2.pem")],
        "",
    );
    assert!(
        !no_cert.status.success(),
        "client certificates are still required"
    );
    let log = std::fs::read_to_string(b.logs.file("broker")).unwrap();
    assert!(log.contains("TLS certificate reloaded"), "{log}");
}

/// `grpc.tlsClientCA` follows its file as the server certificate does: a CA moved into place
/// checks the next callers (the old CA's clients are refused from then on), and a file broken
/// in place is logged as an error while the CA read last keeps being used.
#[test]
fn replaced_client_ca_is_used_without_a_restart_and_a_broken_one_keeps_the_last() {
    let b = ApiBroker::start_with(None, |dir, port| {
        make_certificates(dir);
        let p = |f: &str| dir.join(f).to_string_lossy().to_string();
        std::fs::copy(p("ca.pem"), p("client-ca.pem")).unwrap();
        format!(
            "grpc:\n  addr: \"127.0.0.1:{port}\"\n  tlsCert: \"{}\"\n  tlsKey: \"{}\"\n  tlsClientCA: \"{}\"\n",
            p("server.pem"),
            p("server.key"),
            p("client-ca.pem")
        )
    });
    let d = b.dir.path();
    let p = |f: &str| d.join(f).to_string_lossy().to_string();
    // A second CA with its own admin-tool client, for the callers after the change.
    let next = d.join("next");
    std::fs::create_dir(&next).unwrap();
    let next_ca = TestCa::create(&next, "ca").unwrap();
    let next_client = next_ca.client("client", "admin-tool").unwrap();
    let list = |cert: &Path, key: &Path| {
        cli(
            &[
                "users",
                "list",
                "--api",
                &b.api,
                "--ca-cert",
                &p("ca.pem"),
                "--client-cert",
                &cert.to_string_lossy(),
                "--client-key",
                &key.to_string_lossy(),
            ],
            "",
        )
        .status
        .success()
    };
    let first = (d.join("client.pem"), d.join("client.key"));
    let second = (next_client.cert.clone(), next_client.key.clone());
    assert!(list(&first.0, &first.1), "the first CA's client");
    assert!(
        !list(&second.0, &second.1),
        "a client of a CA not yet trusted"
    );
    // The replacement, moved into place.
    std::fs::copy(next_ca.pem(), d.join("client-ca.new")).unwrap();
    std::fs::rename(d.join("client-ca.new"), d.join("client-ca.pem")).unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    while !list(&second.0, &second.1) {
        assert!(
            std::time::Instant::now() < deadline,
            "the replaced client CA is not used"
        );
        std::thread::sleep(Duration::from_millis(300));
    }
    assert!(!list(&first.0, &first.1), "the old CA still admits callers");
    // Broken in place (a truncated write): an error in the log, the last CA still decides.
    std::fs::write(d.join("client-ca.pem"), "-----BEGIN CERTIFICATE-----\nMIIB").unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        let log = std::fs::read_to_string(b.logs.file("broker")).unwrap();
        if log.contains("client CA file changed but cannot be used") {
            assert!(log.contains("ERROR"), "{log}");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no error logged for the broken client CA:\n{log}"
        );
        std::thread::sleep(Duration::from_millis(300));
    }
    assert!(
        list(&second.0, &second.1),
        "the last good CA is no longer used"
    );
    assert!(
        !list(&first.0, &first.1),
        "a broken file let the old CA back in"
    );
    let no_cert = cli(
        &["users", "list", "--api", &b.api, "--ca-cert", &p("ca.pem")],
        "",
    );
    assert!(
        !no_cert.status.success(),
        "a caller without a certificate got in"
    );
    let log = std::fs::read_to_string(b.logs.file("broker")).unwrap();
    assert!(log.contains("client CA reloaded"), "{log}");
}

#[test]
fn non_loopback_addr_without_client_ca_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = BrokerConfig::standard(free_port().unwrap(), free_port().unwrap(), dir.path());
    config.yaml.push_str(&format!(
        "grpc:\n  addr: \"0.0.0.0:{}\"\n",
        free_port().unwrap()
    ));
    let path = dir.path().join("broker.yaml");
    std::fs::write(&path, &config.yaml).unwrap();
    let out = Command::new(broker_binary().unwrap())
        .arg("serve")
        .arg(&path)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("grpc.tlsClientCA"), "{stderr}");
    assert!(stderr.contains("127.0.0.1"), "the fix is named: {stderr}");
}

#[test]
fn dex_response_types_start_the_broker_with_a_warning() {
    let logs = LogDir::for_test(&current_test_name()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut config = BrokerConfig::standard(free_port().unwrap(), free_port().unwrap(), dir.path());
    config
        .replace(
            "oauth2:\n  skipApprovalScreen: true\n",
            "oauth2:\n  skipApprovalScreen: true\n  responseTypes: [\"code\", \"token\", \"id_token\"]\n",
        )
        .unwrap();
    let _broker = Broker::start(&logs, dir.path(), &config).unwrap();
    let log = std::fs::read_to_string(logs.file("broker")).unwrap();
    assert!(
        log.contains("\"token\" is not served; only the code flow"),
        "{log}"
    );
}
