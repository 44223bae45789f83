//! Issue 3, return URLs: the open-redirect patterns behind oauth2-proxy's advisories, as a
//! login's starting path and as sign-out's `rd`. Each lands on the gateway's own origin
//! (usually `/`) or is refused; none sends the browser off-site.

use gatehouse_e2e::keys_loaded::start_with_keys;
use gatehouse_e2e::raw_http::{raw_get, RawResponse};
use gatehouse_e2e::{Browser, Stack, StackOptions, ADMIN};
use url::Url;

const NAV: &str = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";

fn ready_stack() -> Stack {
    start_with_keys(StackOptions::default()).unwrap()
}

/// Fails unless a browser following `location` stays on the gateway: a path, not `//` or
/// `/\` (browsers read both as another host), no control characters or spaces, and the
/// same scheme, host and port once resolved.
fn assert_same_origin(what: &str, location: &str, stack: &Stack) {
    assert!(
        location.starts_with('/')
            && !location.starts_with("//")
            && !location.contains('\\')
            && !location
                .chars()
                .any(|c| c.is_control() || c.is_whitespace()),
        "{what}: Location {location:?} is not a plain same-origin path"
    );
    let gateway = Url::parse(&stack.url("/")).unwrap();
    let target = gateway.join(location).unwrap();
    assert_eq!(
        target.origin(),
        gateway.origin(),
        "{what}: Location {location:?} leaves the gateway ({target})"
    );
}

/// Starts a login at the raw request target `target`, completes it as ADMIN and returns
/// the filter's answer to the callback: `Ok(Location)` of its redirect, or `Err(status)`
/// when the gateway refused the starting request.
fn login_from(stack: &Stack, target: &str) -> Result<String, u16> {
    let port = stack.envoy.ports().listen;
    let start: RawResponse = raw_get(port, target, &[("accept", NAV)]).unwrap();
    let auth = format!("{}/auth?", stack.issuer());
    match start.header("location") {
        Some(l) if start.status == 302 && l.starts_with(&auth) => {}
        _ => {
            assert!(
                (400..500).contains(&start.status),
                "{target:?}: neither a login nor a refusal: {} {:?}",
                start.status,
                start.header("location")
            );
            return Err(start.status);
        }
    }
    let mut browser = Browser::new().unwrap();
    let gateway = Url::parse(&stack.url("/")).unwrap();
    for set_cookie in start.headers_named("set-cookie") {
        browser.jar.store(&gateway, set_cookie).unwrap();
    }
    let to_broker = browser.get(start.header("location").unwrap()).unwrap();
    let login_page = browser.follow_all(to_broker).unwrap();
    let form = login_page.login_form().unwrap();
    let posted = browser
        .post_form(
            form.action.as_str(),
            &form.fields(ADMIN.email, ADMIN.password),
        )
        .unwrap();
    let callback = browser
        .follow_until(posted, |p| p.url.path() == "/oauth2/callback")
        .unwrap();
    assert_eq!(
        callback.url.path(),
        "/oauth2/callback",
        "{target:?}: {}",
        browser.history_text()
    );
    assert_eq!(
        callback.status, 302,
        "{target:?}: the login did not complete: {}",
        callback.body
    );
    Ok(callback.header("location").unwrap().to_string())
}

/// `target` with every run of `/` made one, as Envoy's `merge_slashes` does.
fn merge_slashes(target: &str) -> String {
    let mut out = String::with_capacity(target.len());
    for c in target.chars() {
        if !(c == '/' && out.ends_with('/')) {
            out.push(c);
        }
    }
    out
}

#[test]
fn a_login_started_at_an_open_redirect_pattern_returns_to_the_gateway() {
    let stack = ready_stack();

    // Control: an ordinary path comes back exactly.
    assert_eq!(
        login_from(&stack, "/app/page?x=1").as_deref(),
        Ok("/app/page?x=1")
    );

    let attacks = [
        "//evil.example",
        "//evil.example/",
        "///evil.example",
        "/\\evil.example",
        "/\\\\evil.example",
        "/%2F%2Fevil.example",
        "/%2f%2fevil.example",
        "/%2F/evil.example",
        "/%5Cevil.example",
        "/%5C%5Cevil.example",
        "/%09/evil.example",
        "/%0a/evil.example",
        "/%0d%0a/evil.example",
        "/%09%2F%2Fevil.example",
        "//user@evil.example",
        "//user@evil.example/",
        "/\\user@evil.example",
        "https:evil.example",
        "/\t/evil.example",
        "/\u{b}/evil.example",
    ];
    let mut refused = Vec::new();
    for target in attacks {
        match login_from(&stack, target) {
            Ok(location) => {
                assert_same_origin(target, &location, &stack);
                // Home, or the gateway path Envoy made of it (merge_slashes turns
                // `//evil.example`, and normalize_path `/\\evil.example`, into the harmless
                // `/evil.example`).
                assert!(
                    location == "/" || location == merge_slashes(&target.replace('\\', "/")),
                    "{target:?}: {location}"
                );
            }
            Err(status) => refused.push((target, status)),
        }
    }
    // A refusal is fine too: most of these are ambiguous paths, refused (400) by the path
    // decision before a login starts (tests/tests/path_decision.rs).
    assert!(
        refused.iter().all(|(_, status)| *status == 400),
        "refused: {refused:?}"
    );

    // `@` inside a path is harmless: it stays a path of the gateway.
    for target in ["/@evil.example", "/a@evil.example/x"] {
        let location = login_from(&stack, target).unwrap();
        assert_same_origin(target, &location, &stack);
        assert_eq!(location, target);
    }
}

/// `rd` values as they appear in the raw query string.
const RD_ATTACKS: [&str; 16] = [
    "//evil.example",
    "%2F%2Fevil.example",
    "/%2F%2Fevil.example",
    "/%2f/evil.example",
    "/%5Cevil.example",
    "%2F%5Cevil.example",
    "/\\evil.example",
    "https:evil.example",
    "https%3Aevil.example",
    "https://evil.example/",
    "https%3A%2F%2Fevil.example%2F",
    "/%09/evil.example",
    "%09//evil.example",
    "/%0a/evil.example",
    "//user@evil.example",
    "%2F%2Fuser%40evil.example",
];

#[test]
fn sign_out_rd_never_leaves_the_gateway() {
    let stack = ready_stack();
    let port = stack.envoy.ports().listen;

    // Control: a same-origin rd is followed as given.
    let r = raw_get(port, "/oauth2/sign_out?rd=%2Fbye", &[("accept", NAV)]).unwrap();
    assert_eq!(r.status, 302);
    assert_eq!(r.header("location"), Some("/bye"));

    for rd in RD_ATTACKS {
        let target = format!("/oauth2/sign_out?rd={rd}");
        let r = raw_get(port, &target, &[("accept", NAV)]).unwrap();
        if r.status == 400 {
            continue;
        }
        assert_eq!(r.status, 302, "{target}: {}", r.body);
        let location = r.header("location").unwrap_or_default();
        assert_same_origin(&target, location, &stack);
        assert_eq!(location, "/", "{target}");
    }

    // Signed in, sign-out goes through the broker's logout: the way back must be the
    // gateway's `/`, never the attacker's rd. Each sign-out spends the session's refresh
    // token (for the broker's id_token_hint), so each attempt signs in afresh.
    let home = stack.url("/");
    for rd in RD_ATTACKS {
        let mut browser = Browser::new().unwrap();
        let page = browser
            .login(&stack.url("/"), ADMIN.email, ADMIN.password)
            .unwrap();
        assert_eq!(page.status, 200, "{}", browser.history_text());
        let cookie = browser
            .jar
            .header_for(&Url::parse(&stack.url("/")).unwrap())
            .unwrap();
        let target = format!("/oauth2/sign_out?rd={rd}");
        let r = raw_get(port, &target, &[("accept", NAV), ("cookie", &cookie)]).unwrap();
        if r.status == 400 {
            continue;
        }
        assert_eq!(r.status, 302, "{target}: {}", r.body);
        let location = Url::parse(r.header("location").unwrap()).unwrap();
        assert!(
            location.as_str().starts_with(stack.issuer()),
            "{target}: {location}"
        );
        let back: Vec<String> = location
            .query_pairs()
            .filter(|(k, _)| k == "post_logout_redirect_uri")
            .map(|(_, v)| v.into_owned())
            .collect();
        assert_eq!(back, std::slice::from_ref(&home), "{target}: {location}");
    }
}
