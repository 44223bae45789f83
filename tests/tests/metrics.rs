//! Issue 3, metrics: the filter's proxy-wasm counters in Envoy's `/stats`
//! (`wasmcustom.gatehouse_*`) follow logins, failures, denials, invalid cookies, sign-outs
//! and broker trouble.

use std::time::Duration;

use gatehouse_e2e::keys_loaded::{start_with_keys, wait_for_keys};
use gatehouse_e2e::{Browser, Page, Stack, StackOptions, ADMIN, BOB};
use serde_json::json;

const COUNTERS: [&str; 12] = [
    "gatehouse_logins_started",
    "gatehouse_logins_completed",
    "gatehouse_logins_failed",
    "gatehouse_invalid_cookies",
    "gatehouse_denied",
    "gatehouse_refreshes",
    "gatehouse_refresh_failures",
    "gatehouse_sign_outs",
    "gatehouse_unavailable",
    "gatehouse_broker_call_failures",
    "gatehouse_bearer_rejected",
    "gatehouse_keys_refetched",
];

/// Every filter counter, read from one `/stats` snapshot by its exact Envoy name.
fn snapshot(stack: &Stack) -> Vec<(&'static str, u64)> {
    let stats = stack.envoy.stats().unwrap();
    COUNTERS
        .iter()
        .map(|name| {
            let key = format!("wasmcustom.{name}");
            let value = stats
                .lines()
                .find_map(|l| l.strip_prefix(&key)?.strip_prefix(": "))
                .unwrap_or_else(|| panic!("{key} is not in /stats"))
                .trim()
                .parse()
                .unwrap();
            (*name, value)
        })
        .collect()
}

/// Asserts that, from `before` to now, exactly the counters in `changed` grew by the
/// given amounts and every other one stayed put.
fn assert_delta(stack: &Stack, before: &[(&str, u64)], changed: &[(&str, u64)], what: &str) {
    let problems = deltas(before, &snapshot(stack), changed, what);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn counters_follow_logins_denials_invalid_cookies_failed_logins_and_sign_outs() {
    let stack = start_with_keys(StackOptions::default().filter(
        "routes",
        json!([{"path_prefix": "/admin", "allowed_groups": ["admins"]}]),
    ))
    .unwrap();
    let start = snapshot(&stack);
    assert!(
        start
            .iter()
            .all(|(n, v)| *v == 0 || *n == "gatehouse_unavailable"),
        "{start:?}"
    );

    // A login: started and completed.
    let mut bob = Browser::new().unwrap();
    let page = bob.login(&stack.url("/"), BOB.email, BOB.password).unwrap();
    assert_eq!(page.status, 200, "{}", bob.history_text());
    let before = start;
    assert_delta(
        &stack,
        &before,
        &[
            ("gatehouse_logins_started", 1),
            ("gatehouse_logins_completed", 1),
        ],
        "login",
    );

    // A denial by rule.
    let before = snapshot(&stack);
    assert_eq!(bob.get(&stack.url("/admin/x")).unwrap().status, 403);
    assert_delta(&stack, &before, &[("gatehouse_denied", 1)], "denial");

    // An invalid session cookie (sent by an API client: no new login is started).
    let before = snapshot(&stack);
    let mut forger = bob.clone();
    let cookie = forger.jar.get_mut("_gatehouse").unwrap();
    cookie.value = cookie.value.chars().rev().collect();
    let page = forger
        .get_with(&stack.url("/x"), &[("accept", "application/json")])
        .unwrap();
    assert_eq!(page.status, 401);
    assert_delta(
        &stack,
        &before,
        &[("gatehouse_invalid_cookies", 1)],
        "bad cookie",
    );

    // A failed login: a callback whose state matches no login cookie.
    let before = snapshot(&stack);
    let page = Browser::new()
        .unwrap()
        .get(&stack.url("/oauth2/callback?code=abc&state=0123456789abcdef0123"))
        .unwrap();
    assert_eq!(page.status, 403, "{}", page.body);
    assert_delta(
        &stack,
        &before,
        &[("gatehouse_logins_failed", 1)],
        "bad callback",
    );

    // A sign-out.
    let before = snapshot(&stack);
    assert_eq!(bob.get(&stack.url("/oauth2/sign_out")).unwrap().status, 302);
    assert_delta(&stack, &before, &[("gatehouse_sign_outs", 1)], "sign-out");
}

/// Runs a login up to the broker's redirect to the filter's callback (not followed).
fn up_to_callback(stack: &Stack) -> (Browser, Page) {
    let mut browser = Browser::new().unwrap();
    let posted = browser
        .submit_login(&stack.url("/"), ADMIN.email, ADMIN.password)
        .unwrap();
    let callback = stack.url("/oauth2/callback");
    let page = browser
        .follow_until(posted, |p| {
            p.location()
                .is_some_and(|l| l.as_str().starts_with(&callback))
        })
        .unwrap();
    assert!(page.is_redirect(), "{}", browser.history_text());
    (browser, page)
}

/// Envoy answers a call to an unreachable cluster with its own 503 ("upstream connect
/// error"); for the filter that is a failed broker call all the same, and the browser gets
/// the 503 "sign-in unavailable" page.
#[test]
fn calls_to_an_unreachable_broker_count_as_broker_call_failures() {
    let mut stack = start_with_keys(StackOptions::default()).unwrap();
    let (mut browser, to_callback) = up_to_callback(&stack);
    stack.stop_broker();
    let mut problems = Vec::new();

    // The code exchange at the callback fails.
    let before = snapshot(&stack);
    let page = browser.follow(&to_callback).unwrap();
    if page.status != 503 {
        problems.push(format!("callback: status {} instead of 503", page.status));
    }
    let after = snapshot(&stack);
    problems.extend(deltas(
        &before,
        &after,
        &[
            ("gatehouse_broker_call_failures", 1),
            ("gatehouse_logins_failed", 1),
        ],
        "callback",
    ));

    // Once the broker has been silent for over 5 s, a new login probes it and fails.
    std::thread::sleep(Duration::from_secs(6));
    let before = snapshot(&stack);
    let page = Browser::new().unwrap().get(&stack.url("/")).unwrap();
    if page.status != 503 {
        problems.push(format!("new login: status {} instead of 503", page.status));
    }
    let after = snapshot(&stack);
    problems.extend(deltas(
        &before,
        &after,
        &[
            ("gatehouse_broker_call_failures", 1),
            ("gatehouse_logins_failed", 1),
        ],
        "new login",
    ));
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// Like `assert_delta`, but returns the differences as messages.
fn deltas(
    before: &[(&str, u64)],
    after: &[(&str, u64)],
    changed: &[(&str, u64)],
    what: &str,
) -> Vec<String> {
    let mut out = Vec::new();
    for ((name, old), (_, new)) in before.iter().zip(after) {
        let want = changed
            .iter()
            .find(|(n, _)| n == name)
            .map_or(0, |(_, d)| *d);
        if new - old != want {
            out.push(format!(
                "{what}: {name} went from {old} to {new}, expected +{want}"
            ));
        }
    }
    out
}

#[test]
fn requests_refused_before_the_keys_are_loaded_count_as_unavailable() {
    let mut stack = Stack::start(StackOptions {
        without_broker: true,
        ..StackOptions::default()
    })
    .unwrap();
    let before = snapshot(&stack);
    for _ in 0..3 {
        let page = Browser::new().unwrap().get(&stack.url("/")).unwrap();
        assert_eq!(page.status, 503);
    }
    let after = snapshot(&stack);
    let unavailable = |s: &[(&str, u64)]| {
        s.iter()
            .find(|(n, _)| *n == "gatehouse_unavailable")
            .unwrap()
            .1
    };
    assert_eq!(unavailable(&after) - unavailable(&before), 3);
    stack.start_broker().unwrap();
    wait_for_keys(&stack, Duration::from_secs(30)).unwrap();
}
