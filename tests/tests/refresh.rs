//! Issue 3, refresh: a session whose ID token expired is renewed through the broker's token
//! endpoint while the request waits; a failed refresh means a new login (401 for APIs).

use std::time::Duration;

use gatehouse_e2e::filter_counters::filter_counter;
use gatehouse_e2e::session_parts::{is_deletion, set_cookie_name, set_cookies, SESSION_COOKIE};
use gatehouse_e2e::{Browser, Page, Stack, StackOptions, ADMIN};

/// ID tokens (and so sessions) that expire 5 s after a login or a refresh: short, yet long
/// enough for a login to land before it ends on a busy machine.
fn short_id_tokens(yaml: &mut String) {
    yaml.push_str("expiry:\n  idTokens: 5s\n");
}

/// Longer than the ID-token lifetime, with a margin for whole-second clocks.
const PAST_EXPIRY: Duration = Duration::from_millis(6500);

fn ready_stack() -> Stack {
    let stack = Stack::start(StackOptions {
        broker_yaml: Some(short_id_tokens),
        ..StackOptions::default()
    })
    .unwrap();
    stack.wait_for_keys(Duration::from_secs(15)).unwrap();
    stack
}

/// Successful answers of the broker's token endpoint so far (its access log).
fn token_grants(stack: &Stack) -> usize {
    let log = std::fs::read_to_string(stack.logs.file("broker")).unwrap();
    log.lines()
        .filter(|l| l.contains("path=/dex/token ") && l.contains("status=200"))
        .count()
}

/// Waits until the broker's access log shows `n` token grants (it is flushed asynchronously).
fn wait_for_token_grants(stack: &Stack, n: usize) -> usize {
    for _ in 0..50 {
        if token_grants(stack) >= n {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    token_grants(stack)
}

/// The session cookie values set by a response (not deletions).
fn session_values(page: &Page) -> Vec<String> {
    set_cookies(page)
        .into_iter()
        .filter(|c| set_cookie_name(c) == SESSION_COOKIE && !is_deletion(c))
        .collect()
}

fn is_broker_auth(page: &Page, stack: &Stack) -> bool {
    page.status == 302
        && page
            .location()
            .is_some_and(|l| l.as_str().starts_with(&format!("{}/auth", stack.issuer())))
}

#[test]
fn an_expired_session_is_refreshed_while_the_request_waits() {
    let stack = ready_stack();
    let mut browser = Browser::new().unwrap();
    let page = browser
        .login(&stack.url("/first"), ADMIN.email, ADMIN.password)
        .unwrap();
    assert_eq!(page.status, 200, "{}", browser.history_text());
    let first = stack.echo.requests().pop().unwrap();
    let user = first.header("x-auth-request-user").unwrap().to_string();
    let before = browser.jar.get(SESSION_COOKIE).unwrap().value.clone();
    let grants = wait_for_token_grants(&stack, 1);
    let refreshes = filter_counter(&stack.envoy, "gatehouse_refreshes").unwrap();

    std::thread::sleep(PAST_EXPIRY);
    stack.echo.clear();
    let page = browser.get(&stack.url("/later")).unwrap();
    assert_eq!(page.status, 200, "{} {:?}", page.body, page.headers);
    let requests = stack.echo.requests();
    assert_eq!(requests.len(), 1, "the upstream was reached once");
    assert_eq!(requests[0].path, "/later");
    assert_eq!(
        requests[0].header("x-auth-request-user"),
        Some(user.as_str())
    );
    assert_eq!(
        requests[0].header("x-auth-request-email"),
        Some(ADMIN.email)
    );
    let set = session_values(&page);
    assert_eq!(
        set.len(),
        1,
        "a new session cookie: {:?}",
        set_cookies(&page)
    );
    let after = browser.jar.get(SESSION_COOKIE).unwrap().value.clone();
    assert_ne!(after, before, "the session cookie was replaced");
    assert_eq!(
        wait_for_token_grants(&stack, grants + 1),
        grants + 1,
        "one more token grant: the refresh"
    );
    assert_eq!(
        filter_counter(&stack.envoy, "gatehouse_refreshes").unwrap(),
        refreshes + 1
    );

    // The renewed session is valid as is: no further refresh, no new cookie.
    let page = browser.get(&stack.url("/again")).unwrap();
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(session_values(&page).is_empty(), "{:?}", set_cookies(&page));
    assert_eq!(token_grants(&stack), grants + 1);
}

#[test]
fn a_failed_refresh_means_a_new_login_or_401_for_an_api() {
    let stack = ready_stack();
    let mut browser = Browser::new().unwrap();
    let page = browser
        .login(&stack.url("/first"), ADMIN.email, ADMIN.password)
        .unwrap();
    assert_eq!(page.status, 200, "{}", browser.history_text());
    // Copies of the browser that keep the first session (and so its refresh token).
    let mut stale_browser = browser.clone();
    let mut stale_api = browser.clone();
    let refreshes = filter_counter(&stack.envoy, "gatehouse_refreshes").unwrap();

    std::thread::sleep(PAST_EXPIRY);
    // The original refreshes, which spends (rotates) the refresh token…
    let page = browser.get(&stack.url("/refreshed")).unwrap();
    assert_eq!(page.status, 200, "{}", page.body);
    assert_eq!(
        filter_counter(&stack.envoy, "gatehouse_refreshes").unwrap(),
        refreshes + 1
    );
    stack.echo.clear();
    // Past the broker's reuse grace (Dex's default 3 s, in which a concurrent reuse still
    // gets tokens), presenting the spent token is a replay.
    std::thread::sleep(std::time::Duration::from_millis(3500));

    // …so a copy presenting the spent token fails to refresh: a browser is sent to log in…
    let page = stale_browser.get(&stack.url("/stale?x=1")).unwrap();
    assert!(
        is_broker_auth(&page, &stack),
        "{} {:?} {}",
        page.status,
        page.location(),
        page.body
    );
    assert!(
        set_cookies(&page)
            .iter()
            .any(|c| set_cookie_name(c) == SESSION_COOKIE && is_deletion(c)),
        "the dead session is cleared: {:?}",
        set_cookies(&page)
    );
    assert!(stale_browser.jar.get(SESSION_COOKIE).is_none());

    // …and an API client gets 401 with a JSON body.
    let page = stale_api
        .get_with(&stack.url("/api/data"), &[("accept", "application/json")])
        .unwrap();
    assert_eq!(page.status, 401, "{}", page.body);
    assert!(page.header("www-authenticate").is_some());
    page.json().unwrap();
    assert!(
        stack.echo.requests().is_empty(),
        "nothing reached the upstream"
    );
    assert_eq!(
        filter_counter(&stack.envoy, "gatehouse_refresh_failures").unwrap(),
        2
    );
}

#[test]
fn requests_in_parallel_after_expiry_all_pass() {
    let stack = ready_stack();
    let mut browser = Browser::new().unwrap();
    let page = browser
        .login(&stack.url("/first"), ADMIN.email, ADMIN.password)
        .unwrap();
    assert_eq!(page.status, 200, "{}", browser.history_text());

    // A page and its XHRs go out together once the ID token has expired.
    std::thread::sleep(PAST_EXPIRY);
    stack.echo.clear();
    let workers: Vec<_> = (0..3)
        .map(|i| {
            let mut tab = browser.clone();
            let url = stack.url(&format!("/parallel/{i}"));
            std::thread::spawn(move || tab.get(&url).unwrap())
        })
        .collect();
    let pages: Vec<Page> = workers.into_iter().map(|w| w.join().unwrap()).collect();
    let statuses: Vec<(u16, Option<String>)> = pages
        .iter()
        .map(|p| (p.status, p.location().map(|l| l.path().to_string())))
        .collect();
    assert!(
        pages.iter().all(|p| p.status == 200),
        "every parallel request passes: {statuses:?}"
    );
    assert_eq!(stack.echo.requests().len(), 3);
}
