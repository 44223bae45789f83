//! Issue 10, "unverified e-mail addresses satisfy e-mail rules": a user whose upstream
//! provider reports `email_verified: false` (npm `oidc-provider` behind the broker's `oidc`
//! connector, which passes the flag on) must meet no `email_domains`/`allowed_emails` rule
//! and must not reach the upstream as `X-Auth-Request-Email` — unless the operator set the
//! documented opt-out `insecure_oidc_allow_unverified_email`.

use std::time::{Duration, Instant};

use gatehouse_e2e::oidc_peer::{OidcPeer, Tamper, CLIENT_ID, CLIENT_SECRET};
use gatehouse_e2e::{Browser, LogDir, Page, Stack, StackOptions, StackPorts};
use serde_json::{json, Value};

fn mallory(verified: bool) -> Value {
    json!({
        "sub": "mallory-0001",
        "email": "ceo@corp.example",
        "email_verified": verified,
        "name": "Mallory",
        "preferred_username": "mallory",
        "groups": ["staff"],
    })
}

fn routes() -> Value {
    json!([
        {"path_prefix": "/corp", "email_domains": ["corp.example"]},
        {"path_prefix": "/ceo", "allowed_emails": ["ceo@corp.example"]},
    ])
}

struct Setup {
    stack: Stack,
    browser: Browser,
    _peer: OidcPeer,
}

/// Signs in through Envoy + filter + broker + the OIDC provider, starting at `/`.
fn signed_in(name: &str, verified: bool, allow_unverified: bool) -> Setup {
    let ports = StackPorts::free().unwrap();
    let callback = format!("http://127.0.0.1:{}/dex/callback", ports.broker);
    let logs = LogDir::for_test(&format!("{name}_peer")).unwrap();
    let peer = OidcPeer::start(&logs, &callback, mallory(verified), Tamper::None, false).unwrap();
    let connector = format!(
        "connectors:\n- type: oidc\n  id: upstream\n  name: Upstream OIDC\n  config:\n    \
         issuer: \"{}\"\n    clientID: \"{CLIENT_ID}\"\n    clientSecret: \"{CLIENT_SECRET}\"\n    \
         redirectURI: \"{callback}\"\n    scopes: [profile, email]\n",
        peer.issuer
    );
    let mut opts = StackOptions {
        ports: Some(ports),
        extra_broker_yaml: Some(connector),
        ..StackOptions::named(name)
    }
    .filter("routes", routes());
    if allow_unverified {
        opts = opts.filter("insecure_oidc_allow_unverified_email", json!(true));
    }
    let stack = Stack::start(opts).unwrap();
    let mut browser = Browser::new().unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut page = browser.get(&stack.url("/")).unwrap();
    while page.status == 503 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
        page = browser.get(&stack.url("/")).unwrap();
    }
    let chooser = browser.follow_all(page).unwrap();
    let href = chooser
        .body
        .split("href=\"")
        .skip(1)
        .filter_map(|s| s.split('"').next())
        .find(|h| h.contains("/auth/upstream"))
        .unwrap_or_else(|| panic!("no upstream connector link:\n{}", chooser.body))
        .replace("&amp;", "&");
    let start = browser
        .get(&format!("http://127.0.0.1:{}{href}", ports.broker))
        .unwrap();
    let landed = browser.follow_all(start).unwrap();
    assert_eq!(
        landed.status,
        200,
        "{}\n{}",
        landed.body,
        browser.history_text()
    );
    Setup {
        stack,
        browser,
        _peer: peer,
    }
}

fn get(s: &mut Setup, path: &str) -> (Page, Option<String>) {
    s.stack.echo.clear();
    let page = s.browser.get(&s.stack.url(path)).unwrap();
    let email = s
        .stack
        .echo
        .requests()
        .last()
        .and_then(|r| r.header("x-auth-request-email").map(str::to_string));
    (page, email)
}

#[test]
fn an_unverified_address_meets_no_email_rule_and_is_not_sent_upstream() {
    let mut s = signed_in("unverified_email_refused", false, false);
    // Signed in (no e-mail rule on `/`), but the address is not part of the identity.
    let (page, email) = get(&mut s, "/");
    assert_eq!(page.status, 200, "{}", page.body);
    assert_eq!(email, None, "an unverified address reached the upstream");
    let seen = s.stack.echo.requests();
    assert_eq!(
        seen[0].header("x-auth-request-preferred-username"),
        Some("mallory")
    );
    for path in ["/corp/board", "/ceo/inbox"] {
        let (page, _) = get(&mut s, path);
        assert_eq!(page.status, 403, "{path}: {}", page.body);
        assert!(
            s.stack.echo.requests().is_empty(),
            "{path} reached the upstream"
        );
    }
    let info = s.browser.get(&s.stack.url("/oauth2/userinfo")).unwrap();
    assert_eq!(info.json().unwrap()["email"], "", "{}", info.body);
}

#[test]
fn a_verified_address_meets_the_rules() {
    let mut s = signed_in("verified_email_admitted", true, false);
    for path in ["/", "/corp/board", "/ceo/inbox"] {
        let (page, email) = get(&mut s, path);
        assert_eq!(page.status, 200, "{path}: {}", page.body);
        assert_eq!(email.as_deref(), Some("ceo@corp.example"), "{path}");
    }
}

#[test]
fn the_documented_opt_out_admits_unverified_addresses() {
    let mut s = signed_in("unverified_email_opt_out", false, true);
    let (page, email) = get(&mut s, "/corp/board");
    assert_eq!(page.status, 200, "{}", page.body);
    assert_eq!(email.as_deref(), Some("ceo@corp.example"));
}
