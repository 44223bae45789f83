//! Sign out everywhere (issue 17): two Envoy gateways with the filter in front of one broker,
//! sharing a cookie secret (as replicas do). A session ended at the broker — by sign-out at one
//! gateway, by an administrator (the CLI, through the gRPC API), by deleting the user — is
//! refused at both within the revocation feed's period, a copied cookie included, and its
//! refresh token is dead. With the broker down, gateway A (default) refuses once its feed is
//! stale; gateway B (`revocation_admit_when_stale`) admits, but still refuses what it knows
//! ended. One stack for every case, in order (the broker stops last).

use std::process::Command;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use gatehouse_e2e::broker::CLIENT_ID;
use gatehouse_e2e::oidc_client::{jwt_claims, OidcClient};
use gatehouse_e2e::paths::{broker_binary, filter_wasm, repo_root};
use gatehouse_e2e::ports::free_port;
use gatehouse_e2e::raw_http::raw_get;
use gatehouse_e2e::stdin_run::run_with_stdin;
use gatehouse_e2e::{Browser, Envoy, EnvoyPorts, LogDir, Process, Stack, StackOptions, ADMIN, BOB};
use serde_json::json;

const POLL_S: u64 = 1;
const MAX_STALE_S: u64 = 5;

struct Gateways {
    stack: Stack,
    /// Gateway B: the same filter config, plus `revocation_admit_when_stale`.
    b: Envoy,
    api: String,
    /// The Back-Channel Logout receiver (npm jose) the gateways' client is registered with.
    receiver: Process,
    receiver_port: u16,
}

impl Gateways {
    fn a(&self, path: &str) -> String {
        self.stack.url(path)
    }
    fn b(&self, path: &str) -> String {
        format!("{}{path}", self.b.url())
    }
    fn ports(&self) -> [u16; 2] {
        [self.stack.envoy.ports().listen, self.b.ports().listen]
    }
}

fn start() -> Gateways {
    let api_port = free_port().unwrap();
    let receiver_port = free_port().unwrap();
    let backchannel = format!(
        "  name: Gatehouse\n  backchannelLogoutURI: \"http://127.0.0.1:{receiver_port}/backchannel_logout\"\n"
    );
    let stack = Stack::start(StackOptions {
        extra_broker_yaml: Some(format!("grpc:\n  addr: \"127.0.0.1:{api_port}\"\n")),
        broker_yaml_replace: vec![("  name: Gatehouse\n".into(), backchannel)],
        ..StackOptions::default()
            .filter("revocation_poll_s", json!(POLL_S))
            .filter("revocation_max_stale_s", json!(MAX_STALE_S))
    })
    .unwrap();
    let logs = LogDir::at(stack.logs.dir().join("gateway-b")).unwrap();
    let dir = stack.dir().join("gateway-b");
    std::fs::create_dir_all(&dir).unwrap();
    let mut config = stack.filter_config.clone();
    config["revocation_admit_when_stale"] = json!(true);
    let ports = EnvoyPorts {
        listen: free_port().unwrap(),
        admin: free_port().unwrap(),
        broker: stack.broker().unwrap().port(),
        upstream: stack.echo.port(),
    };
    let b = Envoy::start(&logs, &dir, ports, &filter_wasm().unwrap(), &config).unwrap();
    let peer = repo_root().join("tests/peers/backchannel-logout");
    assert!(
        peer.join("node_modules/jose").exists(),
        "run `make setup` (npm ci in {})",
        peer.display()
    );
    let mut cmd = Command::new("node");
    cmd.arg(peer.join("receiver.mjs"))
        .args(["--port", &receiver_port.to_string()])
        .args(["--issuer", stack.issuer(), "--client-id", CLIENT_ID]);
    let mut receiver = Process::spawn("backchannel-receiver", cmd, &stack.logs).unwrap();
    receiver
        .wait_http_ready(
            &format!("http://127.0.0.1:{receiver_port}/healthz"),
            Duration::from_secs(30),
        )
        .unwrap();
    let g = Gateways {
        stack,
        b,
        api: format!("127.0.0.1:{api_port}"),
        receiver,
        receiver_port,
    };
    for url in [g.a("/"), g.b("/")] {
        wait_status(&url, None, |s| s == 302, Duration::from_secs(30));
    }
    g
}

/// GET `url` (with `cookie`, as a browser asking for HTML) until `done(status)`; the time it
/// took. Panics after `timeout`.
fn wait_status(
    url: &str,
    cookie: Option<&str>,
    done: impl Fn(u16) -> bool,
    timeout: Duration,
) -> Duration {
    let u = url::Url::parse(url).unwrap();
    let port = u.port().unwrap();
    let mut headers = vec![("accept", "text/html")];
    if let Some(c) = cookie {
        headers.push(("cookie", c));
    }
    let start = Instant::now();
    loop {
        let r = raw_get(port, u.path(), &headers).unwrap();
        if done(r.status) {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < timeout,
            "{url}: still {} after {timeout:?}",
            r.status
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn status(url: &str, cookie: &str, accept: &str) -> u16 {
    let u = url::Url::parse(url).unwrap();
    raw_get(
        u.port().unwrap(),
        u.path(),
        &[("accept", accept), ("cookie", cookie)],
    )
    .unwrap()
    .status
}

/// Signs in at gateway A; the Cookie header both gateways then get (same host, same secret).
fn sign_in(g: &Gateways, email: &str, password: &str) -> (Browser, String) {
    let mut browser = Browser::new().unwrap();
    let page = browser.login(&g.a("/private"), email, password).unwrap();
    assert_eq!(page.status, 200, "{}", browser.history_text());
    let cookie = browser
        .jar
        .header_for(&url::Url::parse(&g.b("/private")).unwrap())
        .unwrap();
    for url in [g.a("/private"), g.b("/private")] {
        assert_eq!(status(&url, &cookie, "text/html"), 200, "{url}");
    }
    (browser, cookie)
}

/// Waits until the session is refused at both gateways; the longer of the two delays.
fn refused_at_both(g: &Gateways, cookie: &str) -> Duration {
    let limit = Duration::from_secs(POLL_S + 4);
    [g.a("/private"), g.b("/private")]
        .iter()
        .map(|url| wait_status(url, Some(cookie), |s| s != 200, limit))
        .max()
        .unwrap()
}

fn cli(args: &[&str], stdin: &str) -> String {
    let out = run_with_stdin(
        Command::new(broker_binary().unwrap()).args(args),
        stdin.as_bytes(),
    )
    .unwrap();
    assert!(
        out.status.success(),
        "gatehouse-broker {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A direct client of the broker (no gateway): its tokens, signed in as `email`.
fn client_tokens(g: &Gateways, email: &str, password: &str) -> (OidcClient, serde_json::Value) {
    let client = OidcClient::new(g.stack.issuer(), &g.a("/oauth2/callback")).unwrap();
    let tokens = client
        .password_sign_in("local", "openid email offline_access", email, password)
        .unwrap();
    (client, tokens)
}

/// The claims of the logout token the receiver accepted for `sid`.
fn wait_accepted(g: &Gateways, sid: &str) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let log = std::fs::read_to_string(g.receiver.log_path()).unwrap_or_default();
        let found = log
            .lines()
            .filter_map(|l| l.strip_prefix("ACCEPTED "))
            .filter_map(|j| serde_json::from_str::<serde_json::Value>(j).ok())
            .find(|c| c["sid"] == sid);
        if let Some(claims) = found {
            return claims;
        }
        assert!(
            Instant::now() < deadline,
            "no logout token for {sid}: {log}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn feed_claims(g: &Gateways, query: &str) -> (u16, serde_json::Value, serde_json::Value) {
    let r = reqwest::blocking::get(format!("{}/revocations{query}", g.stack.issuer())).unwrap();
    let status = r.status().as_u16();
    let body = r.text().unwrap();
    if status != 200 {
        return (status, json!(null), json!(body));
    }
    let header = body.split('.').next().unwrap();
    let header: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).unwrap()).unwrap();
    (status, header, jwt_claims(&body).unwrap())
}

#[test]
fn sessions_ended_at_the_broker_end_at_every_gateway() {
    let mut g = start();

    // 1. Sign-out at A (no rd: the filter revokes its refresh token at the broker) ends the
    //    session at B within the feed period; the cookie copied before is refused too.
    let (mut browser, copied) = sign_in(&g, ADMIN.email, ADMIN.password);
    let out = browser.get(&g.a("/oauth2/sign_out")).unwrap();
    assert_eq!(out.status, 302, "{}", out.body);
    let ended_at = Instant::now();
    let delay = wait_status(
        &g.b("/private"),
        Some(&copied),
        |s| s != 200,
        Duration::from_secs(POLL_S + 4),
    );
    println!(
        "cross-gateway delay: {:.0} ms (sign-out at A to refusal at B; poll {POLL_S} s)",
        ended_at.elapsed().as_secs_f64() * 1000.0
    );
    assert!(delay <= Duration::from_secs(POLL_S + 3), "{delay:?}");
    // Browser → a new login; API → 401.
    for port in g.ports() {
        let page = raw_get(
            port,
            "/private",
            &[("accept", "text/html"), ("cookie", &copied)],
        )
        .unwrap();
        assert_eq!(page.status, 302, "{page:?}");
        assert!(page
            .header("location")
            .unwrap()
            .starts_with(&format!("{}/auth", g.stack.issuer())));
        let api = raw_get(
            port,
            "/private",
            &[("accept", "application/json"), ("cookie", &copied)],
        )
        .unwrap();
        assert_eq!(api.status, 401, "{api:?}");
    }

    // The gateway reports the age of the feed it holds (an Envoy gauge).
    let age =
        g.b.stat("wasmcustom.gatehouse_revocation_feed_age_s")
            .unwrap();
    assert!(age.is_some_and(|a| a <= POLL_S + 2), "{age:?}");

    // 2. An administrator ends a user's sessions (CLI → gRPC `Sessions.EndSessions`): the
    //    gateway session ends at both, and a direct client's refresh token is refused.
    let (_bob_browser, bob_cookie) = sign_in(&g, BOB.email, BOB.password);
    let (client, tokens) = client_tokens(&g, BOB.email, BOB.password);
    let sid = jwt_claims(tokens["id_token"].as_str().unwrap()).unwrap()["sid"]
        .as_str()
        .expect("the ID token carries sid")
        .to_string();
    let said = cli(
        &[
            "sessions",
            "end",
            "--api",
            &g.api,
            "--user-id",
            BOB.user_id,
            "--connector",
            "local",
        ],
        "",
    );
    assert!(said.contains("ended 2 session"), "{said}");
    let delay = refused_at_both(&g, &bob_cookie);
    println!(
        "admin end: refused at both gateways after {} ms",
        delay.as_millis()
    );
    let (s, answer) = client
        .refresh(tokens["refresh_token"].as_str().unwrap())
        .unwrap();
    assert_eq!(
        (s, answer["error"].as_str()),
        (400, Some("invalid_grant")),
        "{answer}"
    );
    // The feed lists it; ending again ends nothing.
    let (_, header, feed) = feed_claims(&g, "");
    assert_eq!(header["typ"], "revocations+jwt");
    assert_eq!(feed["iss"], g.stack.issuer());
    assert!(
        feed["sids"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s == &json!(sid)),
        "{feed}"
    );
    let again = cli(&["sessions", "end", "--api", &g.api, "--sid", &sid], "");
    assert!(again.contains("ended 0 session"), "{again}");
    // Back-Channel Logout: the receiver (npm jose) accepted a logout token for that session.
    let accepted = wait_accepted(&g, &sid);
    assert_eq!(accepted["aud"], CLIENT_ID);
    assert_eq!(
        accepted["sub"],
        jwt_claims(tokens["id_token"].as_str().unwrap()).unwrap()["sub"]
    );
    // … and refuses what is not one: an ID token (typ JWT, no events) of the same issuer.
    let forged = reqwest::blocking::Client::new()
        .post(format!(
            "http://127.0.0.1:{}/backchannel_logout",
            g.receiver_port
        ))
        .form(&[("logout_token", tokens["id_token"].as_str().unwrap())])
        .send()
        .unwrap();
    assert_eq!(forged.status().as_u16(), 400);
    assert!(g.receiver.log_tail(50).contains("REFUSED"));

    // 3. A deleted user is signed out everywhere.
    cli(
        &[
            "users",
            "add",
            "--api",
            &g.api,
            "--email",
            "carol@example.com",
            "--username",
            "carol",
            "--user-id",
            "carol-id",
        ],
        "carol-password\n",
    );
    let (_carol, carol_cookie) = sign_in(&g, "carol@example.com", "carol-password");
    cli(
        &["users", "remove", "--api", &g.api, "carol@example.com"],
        "",
    );
    refused_at_both(&g, &carol_cookie);

    // 4. Hostile input at the feed endpoint: a clear 400, never a 500; a holder up to date
    //    gets no entries.
    for bad in [
        "?epoch=x&since=1",
        "?since=1",
        "?epoch=1&since=-2",
        "?epoch=1&epoch=2&since=0",
    ] {
        let (s, _, body) = feed_claims(&g, bad);
        assert_eq!(s, 400, "{bad}: {body}");
    }
    let held = format!("?epoch={}&since={}", feed["epoch"], feed["seq"]);
    let (_, _, delta) = feed_claims(&g, &held);
    assert!(delta["seq"].as_i64() >= feed["seq"].as_i64());

    // 5. The broker stops. A keeps admitting while its last feed is fresh, then refuses (503,
    //    fail closed); B (admit when stale) keeps admitting — but never a session it knows
    //    ended.
    let (_live, live_cookie) = sign_in(&g, ADMIN.email, ADMIN.password);
    g.stack.stop_broker();
    let stopped = Instant::now();
    assert_eq!(
        status(&g.a("/private"), &live_cookie, "text/html"),
        200,
        "the last feed is kept"
    );
    wait_status(
        &g.a("/private"),
        Some(&live_cookie),
        |s| s == 503,
        Duration::from_secs(MAX_STALE_S + 5),
    );
    let kept = stopped.elapsed();
    println!(
        "broker down: A admitted for {} ms, then 503 (revocation_max_stale_s {MAX_STALE_S})",
        kept.as_millis()
    );
    assert!(
        kept >= Duration::from_secs(MAX_STALE_S - POLL_S - 1),
        "{kept:?}"
    );
    assert_eq!(status(&g.b("/private"), &live_cookie, "text/html"), 200);
    assert_ne!(status(&g.b("/private"), &copied, "text/html"), 200);
    assert_eq!(
        status(&g.a("/private"), &live_cookie, "application/json"),
        503
    );
}
