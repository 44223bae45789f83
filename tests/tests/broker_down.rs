//! Issue 3, failure: with the broker stopped or hanging, a new login gets a 503 page within
//! `broker_timeout_ms`, while browsers with a valid session keep passing (the check is
//! local); once the broker is back, logins work again.

use std::time::{Duration, Instant};

use gatehouse_e2e::filter_counters::filter_counter;
use gatehouse_e2e::silent_listener::SilentListener;
use gatehouse_e2e::{Browser, Stack, StackOptions, ADMIN, BOB};
use serde_json::json;

/// The filter only probes the broker when it has not heard from it for 5 s (whole seconds);
/// before that it sends browsers straight on.
const SILENCE: Duration = Duration::from_millis(6500);

/// Generous for a busy machine, yet below the filter's default 5 s timeout, so a filter
/// that ignored `broker_timeout_ms: 1000` would fail here.
const UPPER_BOUND: Duration = Duration::from_secs(4);

fn ready_stack() -> (Stack, Browser) {
    let stack =
        Stack::start(StackOptions::default().filter("broker_timeout_ms", json!(1000))).unwrap();
    stack.wait_for_keys(Duration::from_secs(15)).unwrap();
    let mut browser = Browser::new().unwrap();
    let page = browser
        .login(&stack.url("/before"), ADMIN.email, ADMIN.password)
        .unwrap();
    assert_eq!(page.status, 200, "{}", browser.history_text());
    (stack, browser)
}

/// A new visitor gets the 503 page, fast.
#[track_caller]
fn new_login_is_unavailable(stack: &Stack) {
    let mut stranger = Browser::new().unwrap();
    let started = Instant::now();
    let page = stranger.get(&stack.url("/new")).unwrap();
    let took = started.elapsed();
    assert_eq!(
        page.status,
        503,
        "a new login while the broker is down: {:?} {}",
        page.location(),
        page.body
    );
    assert!(
        page.header("content-type")
            .is_some_and(|t| t.starts_with("text/html")),
        "{:?}",
        page.headers
    );
    assert!(took < UPPER_BOUND, "the 503 took {took:?}");
}

/// The logged-in browser still reaches the upstream as itself.
fn session_keeps_passing(stack: &Stack, browser: &mut Browser) {
    stack.echo.clear();
    let page = browser.get(&stack.url("/still-here")).unwrap();
    assert_eq!(page.status, 200, "{}", page.body);
    let seen = stack.echo.requests();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].header("x-auth-request-email"), Some(ADMIN.email));
}

fn login_works_again(stack: &Stack) {
    let mut browser = Browser::new().unwrap();
    let page = browser
        .login(&stack.url("/after"), BOB.email, BOB.password)
        .unwrap();
    assert_eq!(page.status, 200, "{}", browser.history_text());
    assert_eq!(page.url.as_str(), stack.url("/after"));
}

#[test]
fn with_the_broker_stopped_new_logins_get_503_and_sessions_keep_passing() {
    let (mut stack, mut browser) = ready_stack();
    stack.stop_broker();
    std::thread::sleep(SILENCE);

    new_login_is_unavailable(&stack);
    session_keeps_passing(&stack, &mut browser);
    assert!(filter_counter(&stack.envoy, "gatehouse_logins_failed").unwrap() >= 1);

    stack.start_broker().unwrap();
    login_works_again(&stack);
}

#[test]
fn with_a_broker_that_never_answers_new_logins_get_503_within_the_timeout() {
    let (mut stack, mut browser) = ready_stack();
    let port = stack.broker().unwrap().port();
    stack.stop_broker();
    let hanging = SilentListener::bind(port).unwrap();
    std::thread::sleep(SILENCE);

    new_login_is_unavailable(&stack);
    session_keeps_passing(&stack, &mut browser);

    drop(hanging);
    stack.start_broker().unwrap();
    login_works_again(&stack);
}

#[test]
fn a_failed_probe_is_no_sign_of_life_so_the_next_new_login_gets_503_too() {
    let (mut stack, _) = ready_stack();
    let port = stack.broker().unwrap().port();
    stack.stop_broker();
    std::thread::sleep(SILENCE);
    new_login_is_unavailable(&stack);
    new_login_is_unavailable(&stack);

    // The same with a broker that hangs: the probe's timeout is no answer either.
    let _hanging = SilentListener::bind(port).unwrap();
    std::thread::sleep(SILENCE);
    new_login_is_unavailable(&stack);
    new_login_is_unavailable(&stack);
}
