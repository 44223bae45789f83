//! Issue 18: Dex's `frontend:` block through the real broker. Every page a user can meet
//! (error, chooser, login, failed login, approval with the client's logo, device code, wrong
//! code, signed out, not allowed, throttled) is walked in Debian's headless Chromium in the
//! light and the dark theme and checked there by axe-core (npm, Deque's accessibility engine)
//! under the page's own CSP; screenshots of each are kept in `target/screenshots/frontend/`.
//! A Dex-layout `frontend.dir` is served with hostile paths refused, and `check-config` loads a
//! Dex config with a full `frontend` block.

use std::path::{Path, PathBuf};
use std::process::Command;

use gatehouse_e2e::broker::{yaml_quoted as q, BrokerConfig};
use gatehouse_e2e::logs::current_test_name;
use gatehouse_e2e::oidc_peer::{OidcPeer, Tamper, CLIENT_ID, CLIENT_SECRET};
use gatehouse_e2e::paths::{broker_binary, repo_root, target_dir};
use gatehouse_e2e::ports::free_port;
use gatehouse_e2e::raw_http::raw_get;
use gatehouse_e2e::{Broker, LogDir, ADMIN, BOB};
use serde_json::{json, Value};

const NAME: &str = "Acme <Corp> & Co";

/// Where the screenshots stay after the run (the issue asks for them).
fn shots_dir() -> PathBuf {
    let dir = target_dir().join("screenshots").join("frontend");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn chromium_peer() -> PathBuf {
    let dir = repo_root().join("tests/peers/chromium");
    assert!(
        dir.join("node_modules/axe-core").exists()
            && dir.join("node_modules/playwright-core").exists(),
        "run `make setup` (npm ci in {})",
        dir.display()
    );
    dir
}

/// Runs tests/peers/chromium/pages.mjs on `steps`; one JSON object per step.
fn walk(logs: &LogDir, suffix: &str, steps: Value) -> Vec<Value> {
    let plan = logs.dir().join(format!("plan-{suffix}.json"));
    let shots = shots_dir();
    std::fs::write(
        &plan,
        json!({"shots": shots, "suffix": suffix, "steps": steps}).to_string(),
    )
    .unwrap();
    let out = Command::new("node")
        .arg("pages.mjs")
        .arg(&plan)
        .current_dir(chromium_peer())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    std::fs::write(logs.dir().join(format!("pages-{suffix}.jsonl")), &stdout).unwrap();
    assert!(
        out.status.success(),
        "chromium failed: {}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn auth_url(issuer: &str, redirect: &str) -> String {
    let mut url = url::Url::parse(&format!("{issuer}/auth")).unwrap();
    url.query_pairs_mut()
        .append_pair("client_id", "gatehouse")
        .append_pair("redirect_uri", redirect)
        .append_pair("response_type", "code")
        .append_pair("scope", "openid email profile groups")
        .append_pair("state", "s");
    url.into()
}

/// The standard broker with the approval page, a logo on the client, a second connector (an
/// upstream OIDC provider, npm `oidc-provider`, whose user is outside its allowed groups) and
/// `frontend` = `frontend_yaml`.
struct Fixture {
    broker: Broker,
    logs: LogDir,
    redirect: String,
    _peer: OidcPeer,
    _dir: tempfile::TempDir,
}

fn start(frontend_yaml: &str) -> Fixture {
    let logs = LogDir::for_test(&current_test_name()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let envoy_port = free_port().unwrap();
    let mut config = BrokerConfig::standard(free_port().unwrap(), envoy_port, dir.path());
    let issuer = config.issuer.clone();
    let callback = format!("{issuer}/callback");
    config
        .replace("skipApprovalScreen: true", "skipApprovalScreen: false")
        .unwrap();
    // The client's logo is one of the broker's own files, named by an absolute URL.
    config
        .replace(
            "  name: Gatehouse\n",
            &format!(
                "  name: Gatehouse\n  logoURL: {}\n",
                q(&format!("{issuer}/theme/logo.png"))
            ),
        )
        .unwrap();
    let alice = json!({"sub": "alice-1", "email": "alice@example.org", "email_verified": true,
                       "name": "Alice", "groups": ["readers"]});
    let peer = OidcPeer::start(&logs, &callback, alice, Tamper::None, false).unwrap();
    config.yaml.push_str(&format!(
        "connectors:\n- type: oidc\n  id: upstream\n  name: Upstream OIDC\n  config:\n    issuer: {}\n    clientID: {CLIENT_ID}\n    clientSecret: {CLIENT_SECRET}\n    redirectURI: {}\n    scopes: [profile, email, groups]\n    insecureEnableGroups: true\n    allowedGroups: [developers]\n",
        q(&peer.issuer),
        q(&callback)
    ));
    config.yaml.push_str(frontend_yaml);
    let broker = Broker::start(&logs, dir.path(), &config).unwrap();
    Fixture {
        broker,
        logs,
        redirect: format!("http://127.0.0.1:{envoy_port}/oauth2/callback"),
        _peer: peer,
        _dir: dir,
    }
}

/// Every page, in the order a user meets them; (step, expected status).
fn every_page(f: &Fixture) -> (Value, Vec<(&'static str, u64)>) {
    let issuer = f.broker.issuer();
    let auth = auth_url(issuer, &f.redirect);
    let steps = json!([
        {"name": "error", "goto": format!("{issuer}/auth?client_id=nobody")},
        {"name": "chooser", "goto": auth},
        {"name": "login", "click": "Log in with Email"},
        {"name": "login-failed", "fill": {"Email Address": ADMIN.email, "Password": "wrong"}, "submit": "Sign in"},
        {"name": "approval", "fill": {"Password": ADMIN.password}, "submit": "Sign in"},
        {"name": "device", "goto": format!("{issuer}/device")},
        {"name": "device-wrong-code", "fill": {"Code": "BCDF-GHJK"}, "submit": "Continue"},
        {"name": "signed-out", "goto": format!("{issuer}/logout")},
        {"name": "chooser-again", "goto": auth},
        {"name": "not-allowed", "click": "Log in with Upstream OIDC"},
        {"name": "chooser-third", "goto": auth},
        {"name": "login-bob", "click": "Log in with Email"},
        {"name": "throttled", "fill": {"Email Address": BOB.email, "Password": "wrong"}, "submit": "Sign in",
         "repeat_until_status": 429},
    ]);
    let expected = vec![
        ("error", 400),
        ("chooser", 200),
        ("login", 200),
        ("login-failed", 401),
        ("approval", 200),
        ("device", 200),
        ("device-wrong-code", 400),
        ("signed-out", 200),
        ("chooser-again", 200),
        ("not-allowed", 403),
        ("chooser-third", 200),
        ("login-bob", 200),
        ("throttled", 429),
    ];
    (steps, expected)
}

/// What every page must show: status, the name and logo, both stylesheets under the CSP, no
/// axe violation, a visible focus ring on every control reached with Tab.
fn check_pages(pages: &[Value], expected: &[(&str, u64)], background: &str, theme: &str) {
    assert_eq!(pages.len(), expected.len(), "{pages:#?}");
    for (page, (name, status)) in pages.iter().zip(expected) {
        let ctx = format!("{name} ({theme}): {page:#}");
        assert_eq!(page["name"], *name);
        assert_eq!(page["status"], *status, "{ctx}");
        assert_eq!(page["lang"], "en", "{ctx}");
        assert!(
            page["title"]
                .as_str()
                .unwrap()
                .ends_with(&format!(" · {NAME}")),
            "{ctx}"
        );
        assert!(page["header"].as_str().unwrap().contains(NAME), "{ctx}");
        assert_eq!(page["logo_loaded"], true, "{ctx}");
        let sheets = page["stylesheets"].as_array().unwrap();
        assert!(
            sheets.len() == 2 && sheets.iter().all(|n| n.as_i64().unwrap() > 0),
            "main.css and the theme's styles.css, both applied: {ctx}"
        );
        assert_eq!(page["body_background"], background, "{ctx}");
        assert_eq!(page["csp_violations"], json!([]), "{ctx}");
        assert_eq!(page["axe"], json!([]), "axe-core violations: {ctx}");
        let passes: Vec<&str> = page["axe_passes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p.as_str().unwrap())
            .collect();
        for rule in [
            "color-contrast",
            "html-has-lang",
            "landmark-one-main",
            "page-has-heading-one",
        ] {
            assert!(passes.contains(&rule), "axe ran {rule}: {ctx}");
        }
        let focus = page["focus"].as_array().unwrap();
        assert_eq!(
            focus.len() as u64,
            page["controls"].as_u64().unwrap(),
            "every control is reached with Tab: {ctx}"
        );
        for f in focus {
            let outline = f["outline"].as_str().unwrap();
            assert!(
                outline.starts_with("solid 3px"),
                "visible focus on {}: {outline} ({name}, {theme})",
                f["what"]
            );
        }
        let shot = shots_dir().join(format!("{name}-{theme}.png"));
        assert!(
            std::fs::metadata(&shot).unwrap().len() > 2000,
            "{}",
            shot.display()
        );
    }
    let approval = &pages[4];
    assert!(
        approval["axe_passes"]
            .as_array()
            .unwrap()
            .contains(&json!("image-alt")),
        "the client's logo is checked: {approval:#}"
    );
}

fn walk_every_page(theme: &str, background: &str) {
    let f = start(&format!(
        "frontend:\n  issuer: {}\n  theme: {theme}\n",
        q(NAME)
    ));
    let (steps, expected) = every_page(&f);
    let pages = walk(&f.logs, theme, steps);
    check_pages(&pages, &expected, background, theme);
}

#[test]
fn every_page_in_the_light_theme_passes_axe_in_headless_chromium() {
    walk_every_page("light", "rgb(243, 244, 246)");
}

#[test]
fn every_page_in_the_dark_theme_passes_axe_in_headless_chromium() {
    walk_every_page("dark", "rgb(11, 17, 32)");
}

/// A Dex `web/` directory: static/main.css of its own, themes/acme/ with a Dex-style
/// styles.css, templates/ (not run), a link out of the directory and a file too large.
fn dex_web_dir(root: &Path, outside: &Path) {
    std::fs::create_dir_all(root.join("static/img")).unwrap();
    std::fs::create_dir_all(root.join("themes/acme")).unwrap();
    std::fs::create_dir_all(root.join("templates")).unwrap();
    std::fs::write(
        root.join("static/img/brand.svg"),
        "<svg xmlns=\"http://www.w3.org/2000/svg\"/>",
    )
    .unwrap();
    std::fs::write(
        root.join("themes/acme/styles.css"),
        ".theme-body{--gh-page:#fdf6e3;--gh-accent:#7c2d12}\n.theme-heading{letter-spacing:.02em}\n",
    )
    .unwrap();
    std::fs::write(
        root.join("templates/login.html"),
        "{{ template \"header.html\" . }}",
    )
    .unwrap();
    std::fs::write(outside.join("secret.css"), "secret").unwrap();
    std::os::unix::fs::symlink(outside.join("secret.css"), root.join("static/leak.css")).unwrap();
    let big = std::fs::File::create(root.join("static/img/huge.png")).unwrap();
    big.set_len(1024 * 1024 + 1).unwrap();
}

fn full_frontend_yaml(web: &Path) -> String {
    format!(
        "frontend:\n  dir: {}\n  theme: acme\n  issuer: {}\n  logoURL: /static/img/brand.svg\n  extra:\n    tagline: Welcome\n",
        q(&web.display().to_string()),
        q(NAME)
    )
}

#[test]
fn check_config_loads_a_dex_config_with_a_full_frontend_block_and_says_what_is_unused() {
    let dir = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    let web = dir.path().join("web");
    dex_web_dir(&web, outside.path());
    let mut config = BrokerConfig::standard(free_port().unwrap(), 9, dir.path());
    config.yaml.push_str(&full_frontend_yaml(&web));
    let path = dir.path().join("dex.yaml");
    std::fs::write(&path, &config.yaml).unwrap();
    let out = Command::new(broker_binary().unwrap())
        .arg("check-config")
        .arg(&path)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("WARNING: frontend.dir:") && stderr.contains("templates"),
        "{stderr}"
    );
    assert!(stderr.contains("WARNING: frontend.extra"), "{stderr}");
    // Each bad value is refused by name, with the fix.
    for (from, to, key) in [
        ("theme: acme", "theme: missing", "frontend.theme"),
        (
            "logoURL: /static/img/brand.svg",
            "logoURL: \"javascript:alert(1)\"",
            "frontend.logoURL",
        ),
        (web.to_str().unwrap(), "/nonexistent/web", "frontend.dir"),
        ("  extra:\n", "  colour: red\n  extra:\n", "frontend.colour"),
    ] {
        std::fs::write(&path, config.yaml.replace(from, to)).unwrap();
        let out = Command::new(broker_binary().unwrap())
            .arg("check-config")
            .arg(&path)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{to}");
        assert!(stderr.contains(key), "{key}: {stderr}");
    }
}

#[test]
fn a_dex_web_dir_is_served_and_hostile_paths_are_refused() {
    let outside = tempfile::tempdir().unwrap();
    let web_parent = tempfile::tempdir().unwrap();
    let web = web_parent.path().join("web");
    dex_web_dir(&web, outside.path());
    let f = start(&full_frontend_yaml(&web));
    let port = f.broker.port();
    let http = reqwest::blocking::Client::new();
    let issuer = f.broker.issuer().to_string();

    let css = http
        .get(format!("{issuer}/theme/styles.css"))
        .send()
        .unwrap();
    assert_eq!(css.status(), 200);
    assert_eq!(css.headers()["content-type"], "text/css; charset=utf-8");
    assert_eq!(css.headers()["cache-control"], "public, max-age=600");
    assert_eq!(css.headers()["x-content-type-options"], "nosniff");
    let etag = css.headers()["etag"].clone();
    assert!(css.text().unwrap().contains("#7c2d12"));
    let again = http
        .get(format!("{issuer}/theme/styles.css"))
        .header("if-none-match", etag)
        .send()
        .unwrap();
    assert_eq!(again.status(), 304);
    // What the dir lacks comes from the built-in files.
    let main = http
        .get(format!("{issuer}/static/main.css"))
        .send()
        .unwrap();
    assert!(main.text().unwrap().contains(".theme-panel"));
    let favicon = http
        .get(format!("{issuer}/theme/favicon.png"))
        .send()
        .unwrap();
    assert_eq!(favicon.headers()["content-type"], "image/png");
    let svg = http
        .get(format!("{issuer}/static/img/brand.svg"))
        .send()
        .unwrap();
    assert_eq!(svg.headers()["content-type"], "image/svg+xml");
    assert_eq!(
        svg.headers()["content-security-policy"],
        "default-src 'none'; sandbox"
    );

    // Exactly what an attacker sends, no client normalising it.
    for target in [
        "/dex/static/../dex.yaml",
        "/dex/static/../../broker.yaml",
        "/dex/static/%2e%2e/%2e%2e/broker.yaml",
        "/dex/static/..%2f..%2fbroker.yaml",
        "/dex/static/%252e%252e/broker.yaml",
        "/dex/theme/../static/img/brand.svg",
        "/dex/static//etc/passwd",
        "/dex/static/leak.css",
        "/dex/static/img/huge.png",
        "/dex/theme/..%5c..%5cbroker.yaml",
        "/dex/static/img/",
        "/dex/static/templates/login.html",
    ] {
        let r = raw_get(port, target, &[]).unwrap();
        assert!(
            r.status == 404 || r.status == 400,
            "{target}: {} {}",
            r.status,
            r.body
        );
        assert!(
            !r.body.contains("secret") && !r.body.contains("issuer:"),
            "{target}"
        );
    }
    let log = std::fs::read_to_string(f.logs.file("broker")).unwrap_or_default();
    assert!(
        log.contains("outside"),
        "the link out of the dir is logged: {log}"
    );

    // A page: the name, the logo under the issuer, the theme's stylesheet; CSP as strict.
    let page = http
        .get(format!("{issuer}/auth?client_id=nobody"))
        .send()
        .unwrap();
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert_eq!(
        csp,
        "default-src 'none'; style-src 'self'; img-src 'self'; frame-ancestors 'none'"
    );
    let html = page.text().unwrap();
    assert!(
        html.contains(" · Acme &lt;Corp&gt; &amp; Co</title>"),
        "{html}"
    );
    assert!(html.contains("src=\"/dex/static/img/brand.svg\""), "{html}");
    assert!(
        !html.contains("tagline") && !html.contains("Welcome"),
        "extra is not shown"
    );

    // And in Chromium: the Dex-style theme applies to the login page.
    let steps = json!([
        {"name": "chooser", "goto": auth_url(&issuer, &f.redirect)},
        {"name": "login", "click": "Log in with Email"},
    ]);
    let pages = walk(&f.logs, "acme-dir", steps);
    for p in &pages {
        assert_eq!(p["body_background"], "rgb(253, 246, 227)", "{p:#}");
        assert_eq!(p["logo_loaded"], true, "{p:#}");
        assert_eq!(p["csp_violations"], json!([]), "{p:#}");
        assert_eq!(p["axe"], json!([]), "{p:#}");
    }
}
