//! Runs the real `gatehouse-broker` binary on a free loopback port with a temp-dir SQLite
//! config, and drives it over real HTTP like a browser and a relying party would.

#![allow(dead_code)]

use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use reqwest::blocking::{Client, Response};
use reqwest::redirect::Policy;
use serde_json::Value;
use sha2::{Digest, Sha256};

pub const BIN: &str = env!("CARGO_BIN_EXE_gatehouse-broker");
pub const CLIENT_ID: &str = "gatehouse";
pub const CLIENT_SECRET: &str = "gatehouse-secret";
pub const PUBLIC_CLIENT: &str = "cli";
pub const REDIRECT: &str = "http://127.0.0.1:8080/oauth2/callback";
/// The `gatehouse` client's registered `postLogoutRedirectURIs` entry.
pub const POST_LOGOUT: &str = "https://app.example/signed-out";
pub const ADMIN_EMAIL: &str = "admin@example.com";
pub const ADMIN_PASSWORD: &str = "password";
pub const ADMIN_ID: &str = "08a8684b-db88-4b73-90a9-3cd1661f5466";
/// The second seed's base64 hash of "password" (bcrypt cost 12).
pub const SEED_HASH_B64: &str =
    "JDJhJDEyJEwycXBiTjRjNThHTHd1YXo4Wnhoa2UvSzF1cHMvWnVyRnhvNU9iRnAxQWhILmllNGdUNXZD";

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub fn http() -> Client {
    Client::builder()
        .redirect(Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

#[derive(Default)]
pub struct Options {
    pub skip_approval: bool,
    pub always_show_login_screen: bool,
    pub password_grant: bool,
    /// Adds `telemetry: {http: 127.0.0.1:PORT}`.
    pub telemetry_port: Option<u16>,
    /// `expiry.idTokens` (Go duration); default: the broker's.
    pub id_tokens_expiry: Option<&'static str>,
    /// `expiry.refreshTokens.reuseInterval`; None leaves Dex's default (3s).
    pub reuse_interval: Option<&'static str>,
    /// YAML lines added under `web:` (each indented by two spaces).
    pub web_extra: String,
    /// YAML list entries added to `staticClients:` / `staticPasswords:`.
    pub clients_extra: String,
    pub passwords_extra: String,
    /// YAML lines added under `oauth2:` / `expiry:` (each indented by two spaces).
    pub oauth2_extra: String,
    pub expiry_extra: String,
    /// Environment of the broker process (`idEnv`, `secretEnv`, `hashFromEnv`).
    pub env: Vec<(String, String)>,
}

pub fn config_yaml(port: u16, db: &Path, options: &Options) -> String {
    let low_cost = bcrypt::hash("dev-password", 4).unwrap();
    format!(
        r#"issuer: http://127.0.0.1:{port}/dex
storage:
  type: sqlite3
  config:
    file: {db}
web:
  http: 127.0.0.1:{port}
{web_extra}logger:
  level: debug
oauth2:
  skipApprovalScreen: {skip}
  alwaysShowLoginScreen: {always}
{password_connector}{oauth2_extra}enablePasswordDB: true
staticClients:
- id: {CLIENT_ID}
  secret: {CLIENT_SECRET}
  name: Gatehouse
  redirectURIs: ["{REDIRECT}"]
  postLogoutRedirectURIs: ["{POST_LOGOUT}"]
- id: {PUBLIC_CLIENT}
  public: true
  name: Command line
  redirectURIs: ["http://127.0.0.1:9999/cb"]
{clients_extra}staticPasswords:
- email: {ADMIN_EMAIL}
  hash: "{SEED_HASH_B64}"
  username: admin
  userID: "{ADMIN_ID}"
  groups: ["admins", "developers"]
- email: dev@example.com
  hash: "{low_cost}"
  username: dev
  userID: dev-1
{passwords_extra}{telemetry}{expiry}"#,
        db = db.display(),
        skip = options.skip_approval,
        always = options.always_show_login_screen,
        password_connector = if options.password_grant {
            "  passwordConnector: local\n"
        } else {
            ""
        },
        telemetry = options
            .telemetry_port
            .map(|p| format!("telemetry:\n  http: 127.0.0.1:{p}\n"))
            .unwrap_or_default(),
        expiry = expiry_yaml(options),
        web_extra = options.web_extra,
        oauth2_extra = options.oauth2_extra,
        clients_extra = options.clients_extra,
        passwords_extra = options.passwords_extra,
    )
}

/// The `expiry:` block for the options that set one (empty when none does).
fn expiry_yaml(options: &Options) -> String {
    let mut out = String::new();
    if let Some(d) = options.id_tokens_expiry {
        out.push_str(&format!("  idTokens: {d}\n"));
    }
    if let Some(d) = options.reuse_interval {
        out.push_str(&format!("  refreshTokens:\n    reuseInterval: {d}\n"));
    }
    out.push_str(&options.expiry_extra);
    if out.is_empty() {
        out
    } else {
        format!("expiry:\n{out}")
    }
}

/// A running broker; killed on drop.
pub struct Broker {
    pub port: u16,
    pub dir: PathBuf,
    pub config: PathBuf,
    child: Option<Child>,
    env: Vec<(String, String)>,
    _tmp: Option<tempfile::TempDir>,
}

impl Broker {
    pub fn start(options: Options) -> Broker {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        let port = free_port();
        let config = dir.join("config.yaml");
        std::fs::write(
            &config,
            config_yaml(port, &dir.join("gatehouse.db"), &options),
        )
        .unwrap();
        let mut broker = Broker {
            port,
            dir,
            config,
            child: None,
            env: options.env.clone(),
            _tmp: Some(tmp),
        };
        broker.spawn();
        broker
    }

    pub fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("broker.log"))
            .unwrap();
        let child = Command::new(BIN)
            .arg("serve")
            .arg(&self.config)
            .envs(self.env.iter().cloned())
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        self.child = Some(child);
        self.wait_healthy();
    }

    fn wait_healthy(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        let client = http();
        while Instant::now() < deadline {
            if let Ok(r) = client.get(self.url("/healthz")).send() {
                if r.status() == 200 {
                    return;
                }
            }
            if let Some(status) = self.child.as_mut().and_then(|c| c.try_wait().unwrap()) {
                panic!("broker exited early with {status}:\n{}", self.log());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("broker not healthy in time:\n{}", self.log());
    }

    /// SIGTERM, then wait: graceful shutdown must exit 0.
    pub fn stop(&mut self) -> ExitStatus {
        let mut child = self.child.take().expect("running");
        let status = Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .status()
            .unwrap();
        assert!(status.success());
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(s) = child.try_wait().unwrap() {
                return s;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("broker did not stop on SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGKILL, no shutdown: what a crash leaves behind.
    pub fn kill(&mut self) {
        let mut child = self.child.take().expect("running");
        child.kill().unwrap();
        child.wait().unwrap();
    }

    pub fn log(&self) -> String {
        let mut s = String::new();
        if let Ok(mut f) = std::fs::File::open(self.dir.join("broker.log")) {
            let _ = f.read_to_string(&mut s);
        }
        s
    }

    pub fn issuer(&self) -> String {
        format!("http://127.0.0.1:{}/dex", self.port)
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.issuer(), path)
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

pub struct Pkce {
    pub verifier: String,
    pub challenge: String,
}

pub fn pkce() -> Pkce {
    let verifier = format!(
        "{}{}",
        URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>()),
        "-._~"
    );
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    Pkce {
        verifier,
        challenge,
    }
}

pub fn location(r: &Response) -> String {
    r.headers()
        .get("location")
        .unwrap_or_else(|| panic!("no Location on {}", r.status()))
        .to_str()
        .unwrap()
        .to_string()
}

pub fn query_param(url: &str, name: &str) -> Option<String> {
    let url = reqwest::Url::parse(url).unwrap();
    url.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// The value of `<input … name="NAME" value="…">` in a page.
pub fn hidden_input(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} input in:\n{html}"))
        + marker.len();
    let end = html[start..].find('"').unwrap() + start;
    html[start..end].to_string()
}

pub fn auth_url(
    b: &Broker,
    client_id: &str,
    redirect: &str,
    scope: &str,
    state: &str,
    nonce: &str,
    pkce: Option<&Pkce>,
) -> String {
    let mut url = reqwest::Url::parse(&b.url("/auth")).unwrap();
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("client_id", client_id)
            .append_pair("redirect_uri", redirect)
            .append_pair("response_type", "code")
            .append_pair("scope", scope)
            .append_pair("state", state)
            .append_pair("nonce", nonce);
        if let Some(p) = pkce {
            q.append_pair("code_challenge", &p.challenge)
                .append_pair("code_challenge_method", "S256");
        }
    }
    url.to_string()
}

/// GET /auth → 302 to the login form → returns (form action URL, req id).
pub fn open_login_form(b: &Broker, auth_url: &str) -> (String, String) {
    let c = http();
    let r = c.get(auth_url).send().unwrap();
    assert_eq!(r.status(), 302, "auth: {}", r.text().unwrap_or_default());
    let login_path = location(&r);
    assert!(
        login_path.starts_with("/dex/auth/local?req="),
        "{login_path}"
    );
    let form_url = format!("http://127.0.0.1:{}{}", b.port, login_path);
    let r = c.get(&form_url).send().unwrap();
    assert_eq!(r.status(), 200);
    let html = r.text().unwrap();
    assert!(html.contains("<form method=\"post\""), "{html}");
    let req = hidden_input(&html, "req");
    (format!("http://127.0.0.1:{}/dex/auth/local", b.port), req)
}

pub fn submit_login(form_url: &str, req: &str, email: &str, password: &str) -> Response {
    http()
        .post(form_url)
        .form(&[("req", req), ("login", email), ("password", password)])
        .send()
        .unwrap()
}

/// After a successful login: passes the approval screen if shown, returns the client redirect URL.
pub fn approve(b: &Broker, login_response: Response) -> String {
    assert_eq!(login_response.status(), 302);
    let loc = location(&login_response);
    if !loc.starts_with("/dex/approval") {
        return loc;
    }
    // Only the browser that signed in may answer: it holds the binding cookie.
    let cookie = approval_cookie(&login_response);
    let c = http();
    let page = c
        .get(format!("http://127.0.0.1:{}{}", b.port, loc))
        .header("cookie", &cookie)
        .send()
        .unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().unwrap();
    assert!(html.contains("Grant access"), "{html}");
    let req = hidden_input(&html, "req");
    let r = c
        .post(b.url("/approval"))
        .header("cookie", &cookie)
        .form(&[("req", req.as_str()), ("approval", "approve")])
        .send()
        .unwrap();
    assert_eq!(r.status(), 302);
    location(&r)
}

/// The approval binding cookie (`name=value`) a completed login sets for the approval step.
pub fn approval_cookie(login_response: &Response) -> String {
    login_response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("gatehouse_approval_"))
        .and_then(|c| c.split(';').next())
        .unwrap_or_else(|| panic!("no approval cookie on {}", login_response.status()))
        .to_string()
}

/// Full browser leg: returns the code (state checked).
pub fn login_for_code(b: &Broker, scope: &str, state: &str, nonce: &str, pkce: &Pkce) -> String {
    let url = auth_url(b, CLIENT_ID, REDIRECT, scope, state, nonce, Some(pkce));
    let (form, req) = open_login_form(b, &url);
    let back = approve(b, submit_login(&form, &req, ADMIN_EMAIL, ADMIN_PASSWORD));
    assert!(back.starts_with(REDIRECT), "{back}");
    assert_eq!(query_param(&back, "state").as_deref(), Some(state));
    query_param(&back, "code").expect("code")
}

/// Signs the admin in with `scope` and exchanges the code: the token response.
pub fn sign_in(b: &Broker, scope: &str) -> Value {
    let p = pkce();
    let code = login_for_code(b, scope, "s", "n", &p);
    json(exchange(b, &code, &p.verifier))
}

pub fn exchange(b: &Broker, code: &str, verifier: &str) -> Response {
    http()
        .post(b.url("/token"))
        .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", verifier),
        ])
        .send()
        .unwrap()
}

pub fn refresh(b: &Broker, refresh_token: &str) -> Response {
    http()
        .post(b.url("/token"))
        .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
        ])
        .send()
        .unwrap()
}

pub fn json(r: Response) -> Value {
    r.json().unwrap()
}

/// Verifies a JWT against the broker's JWKS (signature by kid, iss, exp, and aud when given).
pub fn verify_jwt(b: &Broker, token: &str, audience: &str) -> Value {
    let header = jsonwebtoken::decode_header(token).unwrap();
    assert_eq!(header.alg, jsonwebtoken::Algorithm::RS256);
    let kid = header.kid.expect("kid");
    let jwks = json(http().get(b.url("/keys")).send().unwrap());
    let key = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == kid.as_str())
        .unwrap_or_else(|| panic!("kid {kid} not in JWKS {jwks}"));
    let decoding = jsonwebtoken::DecodingKey::from_rsa_components(
        key["n"].as_str().unwrap(),
        key["e"].as_str().unwrap(),
    )
    .unwrap();
    let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    v.set_issuer(&[b.issuer()]);
    v.set_audience(&[audience]);
    jsonwebtoken::decode::<Value>(token, &decoding, &v)
        .unwrap_or_else(|e| panic!("token does not verify: {e}"))
        .claims
}

/// Runs `attempt` on `n` threads at once; the HTTP statuses they got.
pub fn concurrently(n: usize, attempt: impl Fn() -> u16 + Sync) -> Vec<u16> {
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..n).map(|_| s.spawn(&attempt)).collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

/// Of concurrent uses of one one-time credential, exactly one succeeds and the rest get 400.
pub fn assert_exactly_one_won(statuses: &[u16]) {
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 400),
        "{statuses:?}"
    );
}
