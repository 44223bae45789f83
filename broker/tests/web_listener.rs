//! The web layer through the real broker binary: `web.https` with a test CA made by openssl at
//! test time (a client trusting another CA is refused; a replaced certificate is served without
//! a restart; Dex's TLS versions), `web.headers`, and CORS (`allowedOrigins`/`allowedHeaders`)
//! with reqwest and, once, from a page on another origin in headless Chromium.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use gatehouse_e2e::test_ca::TestCa;
use support::*;

fn trusting(ca: &Path) -> reqwest::blocking::ClientBuilder {
    let pem = std::fs::read(ca).unwrap();
    reqwest::blocking::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap())
        .timeout(Duration::from_secs(10))
}

struct Tls {
    dir: tempfile::TempDir,
    cert: PathBuf,
    key: PathBuf,
}

/// CA `ca1` with a leaf, and CA `ca2` (with its own leaf `leaf2`) that the server does not use yet.
fn test_pki() -> Tls {
    let dir = tempfile::tempdir().unwrap();
    let ca1 = TestCa::create(dir.path(), "ca1").unwrap();
    let ca2 = TestCa::create(dir.path(), "ca2").unwrap();
    let leaf1 = ca1.server("leaf1").unwrap();
    ca2.server("leaf2").unwrap();
    // The served files, replaced later.
    let served_cert = dir.path().join("tls.crt");
    let served_key = dir.path().join("tls.key");
    std::fs::copy(leaf1.cert, &served_cert).unwrap();
    std::fs::copy(leaf1.key, &served_key).unwrap();
    Tls {
        dir,
        cert: served_cert,
        key: served_key,
    }
}

fn https_broker(tls: &Tls, extra: &str) -> (Broker, u16) {
    let https = free_port();
    let b = Broker::start(Options {
        web_extra: format!(
            "  https: 127.0.0.1:{https}\n  tlsCert: {}\n  tlsKey: {}\n{extra}",
            tls.cert.display(),
            tls.key.display()
        ),
        ..Options::default()
    });
    (b, https)
}

fn discovery_over_tls(client: &reqwest::blocking::Client, port: u16) -> Result<String, String> {
    let url = format!("https://127.0.0.1:{port}/dex/.well-known/openid-configuration");
    let r = client.get(url).send().map_err(|e| format!("{e:?}"))?;
    if r.status() != 200 {
        return Err(format!("status {}", r.status()));
    }
    r.text().map_err(|e| e.to_string())
}

/// Moves `from` over `to` (a rename, as cert-manager and certbot do).
fn replace(from: &Path, to: &Path) {
    let tmp = to.with_extension("new");
    std::fs::copy(from, &tmp).unwrap();
    std::fs::rename(&tmp, to).unwrap();
}

#[test]
fn https_serves_the_configured_certificate_and_follows_its_files() {
    let tls = test_pki();
    let (b, https) = https_broker(&tls, "");
    let ca1 = trusting(&tls.dir.path().join("ca1.pem")).build().unwrap();
    let ca2 = trusting(&tls.dir.path().join("ca2.pem")).build().unwrap();
    let doc = discovery_over_tls(&ca1, https).expect("CA1 client is served");
    assert!(doc.contains("\"issuer\""), "{doc}");
    // The plain listener runs beside it, as in Dex when both web.http and web.https are set.
    assert_eq!(http().get(b.url("/healthz")).send().unwrap().status(), 200);
    let refused = discovery_over_tls(&ca2, https).unwrap_err();
    assert!(refused.to_lowercase().contains("certificate"), "{refused}");

    // A half-finished renewal (garbage certificate) is not taken: the old pair is still served.
    std::fs::write(
        &tls.cert,
        "-----BEGIN CERTIFICATE-----\nnot a certificate\n",
    )
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !b.log().contains("cannot be used yet") {
        assert!(Instant::now() < deadline, "no warning:\n{}", b.log());
        std::thread::sleep(Duration::from_millis(100));
    }
    discovery_over_tls(&ca1, https).expect("old certificate still served");

    // The renewal completes: key, then certificate, signed by CA2. No restart.
    let dir = tls.dir.path();
    replace(&dir.join("leaf2.key"), &tls.key);
    replace(&dir.join("leaf2.pem"), &tls.cert);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let fresh = trusting(&dir.join("ca2.pem")).build().unwrap();
        if discovery_over_tls(&fresh, https).is_ok() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "new certificate not served:\n{}",
            b.log()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let old = trusting(&dir.join("ca1.pem")).build().unwrap();
    assert!(discovery_over_tls(&old, https).is_err());
    assert!(b.log().contains("TLS certificate reloaded"), "{}", b.log());
}

#[test]
fn tls_versions_follow_dex_keys() {
    let tls = test_pki();
    let ca = tls.dir.path().join("ca1.pem");
    let (_b, https) = https_broker(&tls, "  tlsMinVersion: \"1.3\"\n");
    let tls12_only = trusting(&ca)
        .max_tls_version(reqwest::tls::Version::TLS_1_2)
        .build()
        .unwrap();
    assert!(discovery_over_tls(&tls12_only, https).is_err());
    discovery_over_tls(&trusting(&ca).build().unwrap(), https).expect("TLS 1.3 served");

    let (_b, https) = https_broker(&tls, "  tlsMaxVersion: \"1.2\"\n");
    let tls13_only = trusting(&ca)
        .min_tls_version(reqwest::tls::Version::TLS_1_3)
        .build()
        .unwrap();
    assert!(discovery_over_tls(&tls13_only, https).is_err());
    discovery_over_tls(&tls12_only, https).expect("TLS 1.2 served");
}

#[test]
fn hostile_clients_of_the_tls_port_hold_up_no_one() {
    use std::io::{Read, Write};
    let tls = test_pki();
    let (b, https) = https_broker(&tls, "");
    // Silent connections that never start a handshake, and plaintext HTTP to the TLS port.
    let silent: Vec<_> = (0..20)
        .map(|_| std::net::TcpStream::connect(("127.0.0.1", https)).unwrap())
        .collect();
    let mut plain = std::net::TcpStream::connect(("127.0.0.1", https)).unwrap();
    plain
        .write_all(b"GET /dex/healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    plain
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut answer = Vec::new();
    let _ = plain.read_to_end(&mut answer);
    assert!(
        !String::from_utf8_lossy(&answer).contains("200 OK"),
        "plaintext was served"
    );
    let started = Instant::now();
    let ca1 = trusting(&tls.dir.path().join("ca1.pem")).build().unwrap();
    discovery_over_tls(&ca1, https).expect("served despite silent connections");
    assert!(started.elapsed() < Duration::from_secs(5));
    drop(silent);
    assert_eq!(http().get(b.url("/healthz")).send().unwrap().status(), 200);
}

#[test]
fn web_headers_replace_the_defaults_on_every_response() {
    let b = Broker::start(Options {
        web_extra:
            "  headers:\n    X-Frame-Options: SAMEORIGIN\n    X-Content-Type-Options: nosniff\n    \
                    Strict-Transport-Security: max-age=31536000; includeSubDomains\n    \
                    content-security-policy: \"default-src 'self'\"\n    X-XSS-Protection: \"0\"\n"
                .into(),
        ..Options::default()
    });
    for path in [
        "/.well-known/openid-configuration",
        "/auth?client_id=nobody",
    ] {
        let r = http().get(b.url(path)).send().unwrap();
        let h = r.headers();
        assert_eq!(h["x-frame-options"], "SAMEORIGIN", "{path}");
        assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(
            h["strict-transport-security"],
            "max-age=31536000; includeSubDomains"
        );
        assert_eq!(h["content-security-policy"], "default-src 'self'", "{path}");
        assert_eq!(h["x-xss-protection"], "0");
        assert_eq!(h.get_all("x-frame-options").iter().count(), 1);
    }
    // Without web.headers the pages keep their strict defaults.
    let plain = Broker::start(Options::default());
    let r = http()
        .get(plain.url("/auth?client_id=nobody"))
        .send()
        .unwrap();
    assert_eq!(r.headers()["x-frame-options"], "DENY");
    assert!(r.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .starts_with("default-src 'none'"));
    assert!(r.headers().get("strict-transport-security").is_none());
}

const APP: &str = "http://127.0.0.1:3000";

fn cors_broker(origins: &str) -> Broker {
    Broker::start(Options {
        web_extra: format!("  allowedOrigins: {origins}\n  allowedHeaders: [Authorization]\n"),
        ..Options::default()
    })
}

fn preflight(
    b: &Broker,
    path: &str,
    origin: &str,
    method: &str,
    headers: Option<&str>,
) -> reqwest::blocking::Response {
    let mut r = http()
        .request(reqwest::Method::OPTIONS, b.url(path))
        .header("origin", origin)
        .header("access-control-request-method", method);
    if let Some(h) = headers {
        r = r.header("access-control-request-headers", h);
    }
    r.send().unwrap()
}

#[test]
fn cors_answers_listed_origins_on_the_browser_facing_endpoints_only() {
    let b = cors_broker(&format!("[\"{APP}\", \"https://other.example\"]"));
    for path in [
        "/.well-known/openid-configuration",
        "/keys",
        "/token",
        "/userinfo",
    ] {
        let r = preflight(&b, path, APP, "POST", Some("authorization, content-type"));
        // Content-Type is not in allowedHeaders (nor gorilla's always-allowed list): refused.
        assert_eq!(r.status(), 403, "{path}");
        let r = preflight(&b, path, APP, "POST", Some("Authorization"));
        assert_eq!(r.status(), 200, "{path}");
        assert_eq!(r.headers()["access-control-allow-origin"], APP, "{path}");
        assert_eq!(r.headers()["access-control-allow-headers"], "Authorization");
        assert_eq!(r.headers()["vary"], "Origin");
    }
    let discovery = http()
        .get(b.url("/.well-known/openid-configuration"))
        .header("origin", APP)
        .send()
        .unwrap();
    assert_eq!(discovery.status(), 200);
    assert_eq!(discovery.headers()["access-control-allow-origin"], APP);
    let token = http()
        .post(b.url("/token"))
        .header("origin", APP)
        .form(&[("grant_type", "authorization_code"), ("code", "x")])
        .send()
        .unwrap();
    assert_eq!(token.status(), 401);
    assert_eq!(token.headers()["access-control-allow-origin"], APP);

    // Another origin: no CORS headers at all, preflight or not; the answer itself is unchanged.
    for origin in [
        "http://evil.example",
        "http://127.0.0.1:3000.evil.example",
        "null",
        "HTTP://127.0.0.1:3000",
    ] {
        let r = preflight(&b, "/token", origin, "POST", Some("Authorization"));
        assert_eq!(r.status(), 200);
        assert!(
            r.headers().get("access-control-allow-origin").is_none(),
            "{origin}"
        );
        assert!(r.headers().get("access-control-allow-headers").is_none());
        let r = http()
            .get(b.url("/keys"))
            .header("origin", origin)
            .send()
            .unwrap();
        assert_eq!(r.status(), 200);
        assert!(
            r.headers().get("access-control-allow-origin").is_none(),
            "{origin}"
        );
    }
    // The browser pages are never opened to other origins.
    let r = http()
        .get(b.url("/auth?client_id=x"))
        .header("origin", APP)
        .send()
        .unwrap();
    assert!(r.headers().get("access-control-allow-origin").is_none());
    let r = preflight(&b, "/auth/local", APP, "POST", None);
    assert!(r.headers().get("access-control-allow-origin").is_none());

    // Malformed preflights from a listed origin, as gorilla/handlers answers them.
    let r = http()
        .request(reqwest::Method::OPTIONS, b.url("/token"))
        .header("origin", APP)
        .send()
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(preflight(&b, "/token", APP, "DELETE", None).status(), 405);
    assert_eq!(
        preflight(&b, "/token", APP, "POST", Some("X-Evil")).status(),
        403
    );
}

#[test]
fn cors_star_allows_any_origin_and_no_setting_means_no_cors() {
    let b = cors_broker("[\"*\"]");
    let r = preflight(
        &b,
        "/userinfo",
        "http://anything.example",
        "GET",
        Some("authorization"),
    );
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["access-control-allow-origin"], "*");
    let plain = Broker::start(Options::default());
    let r = http()
        .get(plain.url("/keys"))
        .header("origin", APP)
        .send()
        .unwrap();
    assert!(r.headers().get("access-control-allow-origin").is_none());
    // Without CORS an OPTIONS is just a method the endpoint does not serve.
    let r = preflight(&plain, "/token", APP, "POST", None);
    assert_eq!(r.status(), 405);
}

/// A page served from another loopback origin fetches discovery and preflights `/token` with
/// an Authorization header in headless Chromium: allowed from the listed origin, blocked by the
/// browser from an unlisted one.
#[test]
fn chromium_page_on_another_origin_uses_cors() {
    let peer = gatehouse_e2e::paths::repo_root().join("tests/peers/chromium");
    assert!(
        peer.join("node_modules/playwright-core").exists(),
        "run `make setup` (npm ci in tests/peers/chromium)"
    );
    let allowed = free_port();
    let b = cors_broker(&format!("[\"http://127.0.0.1:{allowed}\"]"));
    let run = |port: u16| -> serde_json::Value {
        let out = Command::new("node")
            .current_dir(&peer)
            .arg("cors.mjs")
            .arg(port.to_string())
            .arg(b.issuer())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "chromium failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let ok = run(allowed);
    assert_eq!(ok["discovery"], b.issuer(), "{ok}");
    // The preflighted POST reached the token endpoint, which refused the made-up client.
    assert_eq!(ok["token_status"], 401, "{ok}");
    let other = run(free_port());
    assert_eq!(other["discovery"], "blocked", "{other}");
    assert_eq!(other["token_status"], "blocked", "{other}");
}

/// Every Dex key the broker supports (`web` and `grpc` TLS, CORS, headers, client address,
/// `expiry`, `logger`, every grant of `oauth2.grantTypes`, `telemetry`, `signer`, `frontend`,
/// a connector's `grantTypes`, the client and user keys), in one file that `check-config`
/// accepts (files made by openssl now, variables set for the run); then one misspelt key.
#[test]
fn a_dex_config_with_every_supported_key_passes_check_config() {
    let tls = test_pki();
    let dir = tls.dir.path();
    let (cert, key) = (tls.cert.display(), tls.key.display());
    let ca = dir.join("ca1.pem");
    let hash = bcrypt::hash("pw", 4).unwrap();
    let yaml = format!(
        r#"issuer: https://127.0.0.1:5554/dex
storage:
  type: sqlite3
  config:
    file: {db}
web:
  http: 127.0.0.1:5556
  https: 127.0.0.1:5554
  tlsCert: {cert}
  tlsKey: {key}
  tlsMinVersion: "1.2"
  tlsMaxVersion: "1.3"
  allowedOrigins: ["https://app.example", "http://127.0.0.1:3000"]
  allowedHeaders: ["Authorization", "X-Requested-With"]
  headers:
    X-Frame-Options: DENY
    Content-Security-Policy: "default-src 'none'"
    X-Content-Type-Options: nosniff
    X-XSS-Protection: "1; mode=block"
    Strict-Transport-Security: max-age=31536000
  clientRemoteIP:
    header: X-Forwarded-For
    trustedProxies: ["127.0.0.1/32"]
grpc:
  addr: 127.0.0.1:5557
  tlsCert: {cert}
  tlsKey: {key}
  tlsClientCA: {ca}
  tlsMinVersion: "1.3"
  tlsMaxVersion: "1.3"
expiry:
  idTokens: 15m
  authRequests: 10m
  signingKeys: 6h
  deviceRequests: 5m
  refreshTokens:
    validIfNotUsedFor: 168h
    absoluteLifetime: 720h
    reuseInterval: 3s
    disableRotation: false
logger:
  level: info
  format: json
oauth2:
  skipApprovalScreen: false
  alwaysShowLoginScreen: false
  responseTypes: [code]
  passwordConnector: local
  pkce:
    enforce: false
    codeChallengeMethodsSupported: [S256, plain]
  grantTypes:
  - authorization_code
  - refresh_token
  - password
  - urn:ietf:params:oauth:grant-type:device_code
  - urn:ietf:params:oauth:grant-type:token-exchange
  - client_credentials
telemetry:
  http: 127.0.0.1:5558
  enableProfiling: false
signer:
  type: local
  config:
    keysRotationPeriod: 6h
    algorithm: ES256
frontend:
  issuer: Example Corp
  logoURL: https://app.example/logo.png
  theme: dark
connectors:
- type: oidc
  id: upstream
  name: Upstream
  grantTypes: [authorization_code, refresh_token, urn:ietf:params:oauth:grant-type:token-exchange]
  config:
    issuer: https://idp.example
    clientID: gatehouse
    clientSecret: upstream-secret
    redirectURI: https://127.0.0.1:5554/dex/callback
    getUserInfo: true
enablePasswordDB: true
staticClients:
- idEnv: GH_DEX_CLIENT_ID
  secretEnv: GH_DEX_CLIENT_SECRET
  name: Example App
  logoURL: https://app.example/logo.svg
  redirectURIs: ["https://app.example/callback"]
- id: api
  secret: api-secret
  name: API
  trustedPeers: [example-app]
  redirectURIs: ["https://api.example/callback"]
  postLogoutRedirectURIs: ["https://api.example/"]
  backchannelLogoutURI: https://api.example/backchannel-logout
  clientCredentialsClaims:
    groups: [services]
- id: cli
  name: CLI
  public: true
  redirectURIs: ["http://127.0.0.1:8000/callback"]
staticPasswords:
- email: admin@example.com
  hashFromEnv: GH_DEX_ADMIN_HASH
  username: admin
  userID: "08a8684b-db88-4b73-90a9-3cd1661f5466"
  groups: [admins]
"#,
        db = dir.join("dex.db").display(),
        ca = ca.display(),
    );
    let path = dir.join("dex.yaml");
    std::fs::write(&path, &yaml).unwrap();
    let check = |env: &[(&str, &str)]| {
        Command::new(BIN)
            .arg("check-config")
            .arg(&path)
            .envs(env.iter().copied())
            .output()
            .unwrap()
    };
    let out = check(&[
        ("GH_DEX_CLIENT_ID", "example-app"),
        ("GH_DEX_CLIENT_SECRET", "example-secret"),
        ("GH_DEX_ADMIN_HASH", &hash),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A truly unknown key is still refused with its path.
    std::fs::write(
        &path,
        yaml.replace(
            "  tlsMaxVersion: \"1.3\"\nexpiry",
            "  tlsMaxVersoin: \"1.3\"\nexpiry",
        ),
    )
    .unwrap();
    let out = check(&[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("unknown key \"grpc.tlsMaxVersoin\""), "{err}");
}
