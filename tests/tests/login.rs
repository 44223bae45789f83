//! Issue 2's login tests: a browser-like client against the real Envoy + filter + broker.

use std::time::{Duration, Instant};

use gatehouse_e2e::broker::CLIENT_SECRET;
use gatehouse_e2e::{Browser, Page, Stack, StackOptions, TestUser, ADMIN, BOB};

/// The filter's default session cookie name (`_gatehouse`, or `_gatehouse_N` chunks).
const SESSION: &str = "_gatehouse";

fn is_session_part(name: &str) -> bool {
    name == SESSION
        || name
            .strip_prefix("_gatehouse_")
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

fn session_parts(browser: &Browser) -> Vec<String> {
    browser
        .jar
        .names()
        .into_iter()
        .filter(|n| is_session_part(n))
        .collect()
}

/// Starts a stack and waits until the filter has the broker's keys (302, not 503).
fn ready_stack(opts: StackOptions) -> Stack {
    let stack = Stack::start(opts).unwrap();
    let mut probe = Browser::new().unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let page = probe.get(&stack.url("/")).unwrap();
        match page.status {
            302 => break,
            503 if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(100)),
            other => panic!("gateway not ready: {other} {}", page.body),
        }
    }
    stack
}

fn is_broker_auth(page: &Page, stack: &Stack) -> bool {
    page.status == 302
        && page
            .location()
            .is_some_and(|l| l.as_str().starts_with(&format!("{}/auth", stack.issuer())))
}

/// Logs `user` in and returns the browser, with the page the login landed on.
fn logged_in(stack: &Stack, path: &str, user: TestUser) -> (Browser, Page) {
    let mut browser = Browser::new().unwrap();
    let page = browser
        .login(&stack.url(path), user.email, user.password)
        .unwrap();
    (browser, page)
}

/// Runs a login up to the broker's redirect to the filter's callback (not followed).
fn up_to_callback(stack: &Stack, browser: &mut Browser, user: TestUser) -> Page {
    let posted = browser
        .submit_login(&stack.url("/wanted?q=1"), user.email, user.password)
        .unwrap();
    let callback = stack.url("/oauth2/callback");
    let page = browser
        .follow_until(posted, |p| {
            p.location()
                .is_some_and(|l| l.as_str().starts_with(&callback))
        })
        .unwrap();
    assert!(page.is_redirect(), "{}", browser.history_text());
    page
}

#[test]
fn login_lands_on_the_original_url_and_the_upstream_sees_who() {
    let stack = ready_stack(StackOptions::default());
    let (browser, page) = logged_in(&stack, "/private/page?x=1", ADMIN);
    assert_eq!(
        page.status,
        200,
        "{}\n{}",
        browser.history_text(),
        page.body
    );
    assert_eq!(page.url.as_str(), stack.url("/private/page?x=1"));
    assert!(page.body.contains(ADMIN.email), "{}", page.body);
    assert!(
        !session_parts(&browser).is_empty(),
        "{:?}",
        browser.jar.names()
    );

    let requests = stack.echo.requests();
    assert_eq!(requests.len(), 1, "{requests:?}");
    let seen = &requests[0];
    assert_eq!(seen.path, "/private/page?x=1");
    assert_eq!(seen.header("x-auth-request-email"), Some(ADMIN.email));
    assert_eq!(
        seen.header("x-auth-request-groups"),
        Some("admins,developers")
    );
    assert_eq!(
        seen.header("x-auth-request-preferred-username"),
        Some(ADMIN.username)
    );
    assert!(seen
        .header("x-auth-request-user")
        .is_some_and(|u| !u.is_empty()));
    assert!(
        !seen.cookie_names().iter().any(|n| n.starts_with(SESSION)),
        "session/login cookies reached the upstream: {:?}",
        seen.cookie_names()
    );
}

#[test]
fn wrong_password_shows_the_form_again_and_gives_no_session() {
    let stack = ready_stack(StackOptions::default());
    for (login, password) in [(ADMIN.email, "wrong"), ("nobody@example.com", "password")] {
        let mut browser = Browser::new().unwrap();
        let posted = browser
            .submit_login(&stack.url("/"), login, password)
            .unwrap();
        let page = browser.follow_all(posted).unwrap();
        assert!(
            page.url.as_str().starts_with(stack.issuer()),
            "left the broker: {}",
            browser.history_text()
        );
        assert!(page.login_form().is_ok(), "no form again: {}", page.body);
        assert!(session_parts(&browser).is_empty());
        assert!(
            !browser
                .history
                .iter()
                .any(|(_, u)| u.path() == "/oauth2/callback"),
            "a code was issued: {}",
            browser.history_text()
        );
    }
    assert!(stack.echo.requests().is_empty());
}

#[test]
fn a_flipped_byte_in_the_session_cookie_means_a_new_login() {
    let stack = ready_stack(StackOptions::default());
    let (mut browser, page) = logged_in(&stack, "/", ADMIN);
    assert_eq!(page.status, 200);
    let name = session_parts(&browser).into_iter().next().unwrap();
    let cookie = browser.jar.get_mut(&name).unwrap();
    let mut bytes = cookie.value.clone().into_bytes();
    let i = bytes.len() / 2;
    bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
    cookie.value = String::from_utf8(bytes).unwrap();
    stack.echo.clear();

    let page = browser.get(&stack.url("/")).unwrap();
    assert!(
        is_broker_auth(&page, &stack),
        "{} {}",
        page.status,
        page.body
    );
    assert!(stack.echo.requests().is_empty());
}

#[test]
fn client_sent_identity_headers_never_reach_the_upstream() {
    let stack = ready_stack(StackOptions::default());
    let forged = [
        ("accept", "text/html"),
        ("x-auth-request-email", "evil@example.com"),
        ("x-auth-request-groups", "admins"),
        ("x-auth-request-user", "evil"),
    ];
    // Refused (400) rather than stripped: removal does not reach the upstream on every host.
    let mut stranger = Browser::new().unwrap();
    let page = stranger.get_with(&stack.url("/"), &forged).unwrap();
    assert_eq!(page.status, 400, "{}", page.body);
    assert!(stack.echo.requests().is_empty());

    let (mut browser, _) = logged_in(&stack, "/", BOB);
    stack.echo.clear();
    let page = browser.get_with(&stack.url("/x"), &forged).unwrap();
    assert_eq!(page.status, 400, "{}", page.body);
    assert!(stack.echo.requests().is_empty());
    let page = browser.get(&stack.url("/x")).unwrap();
    assert_eq!(page.status, 200);
    let requests = stack.echo.requests();
    assert_eq!(requests.len(), 1);
    let emails: Vec<&str> = requests[0].headers_named("x-auth-request-email").collect();
    assert_eq!(emails, [BOB.email]);
}

#[test]
fn callback_with_a_wrong_or_missing_state_or_a_replayed_code_is_refused() {
    let mut stack = ready_stack(StackOptions::default());
    let mut browser = Browser::new().unwrap();
    let to_callback = up_to_callback(&stack, &mut browser, ADMIN);
    let callback = to_callback.location().unwrap();
    // Keep the browser as it is before the callback, to replay the code later.
    let mut replayer = browser.clone();

    let with_query = |pairs: Vec<(String, String)>| {
        let mut url = callback.clone();
        url.query_pairs_mut().clear().extend_pairs(pairs);
        url
    };
    let pairs: Vec<(String, String)> = callback.query_pairs().into_owned().collect();
    let no_state = with_query(
        pairs
            .iter()
            .filter(|(k, _)| k != "state")
            .cloned()
            .collect(),
    );
    let wrong_state = with_query(
        pairs
            .iter()
            .map(|(k, v)| {
                if k == "state" {
                    (k.clone(), flip_last_char(v))
                } else {
                    (k.clone(), v.clone())
                }
            })
            .collect(),
    );
    for bad in [&no_state, &wrong_state] {
        let mut attempt = browser.clone();
        let page = attempt.get(bad.as_str()).unwrap();
        assert!(page.status >= 400, "{bad}: {} {}", page.status, page.body);
        assert!(session_parts(&attempt).is_empty(), "{bad}");
    }

    // The real callback works once…
    let page = browser.follow(&to_callback).unwrap();
    let page = browser.follow_all(page).unwrap();
    assert_eq!(page.status, 200, "{}", browser.history_text());
    assert_eq!(page.url.as_str(), stack.url("/wanted?q=1"));
    assert!(!session_parts(&browser).is_empty());

    // …and the same code, with the login cookie still in hand, is refused.
    let page = replayer.get(callback.as_str()).unwrap();
    assert!(page.status >= 400, "replay: {} {}", page.status, page.body);
    assert!(session_parts(&replayer).is_empty());
    assert_eq!(
        stack.echo.requests().len(),
        1,
        "only the good login reached it"
    );

    // No secret of this login in any log (stopped first, so the logs are complete).
    stack.envoy.process().stop();
    stack.broker_mut().unwrap().process().stop();
    let code = pairs.iter().find(|(k, _)| k == "code").unwrap().1.clone();
    let cookie_secret = stack.filter_config["cookie_secret"].as_str().unwrap();
    let mut secrets = vec![
        ("the authorization code", code),
        ("the client secret", CLIENT_SECRET.to_string()),
        ("the cookie secret", cookie_secret.to_string()),
    ];
    for name in session_parts(&browser) {
        let value = browser.jar.get(&name).unwrap().value.clone();
        secrets.push(("the session cookie", value));
    }
    for log in ["envoy", "broker"] {
        let path = stack.logs.file(log);
        let text = std::fs::read_to_string(&path).unwrap();
        for (what, secret) in &secrets {
            assert!(
                !text.contains(secret.as_str()),
                "{what} is in {}",
                path.display()
            );
        }
    }
}

fn flip_last_char(v: &str) -> String {
    let mut s = v.to_string();
    let last = s.pop().unwrap_or('A');
    s.push(if last == 'A' { 'B' } else { 'A' });
    s
}

#[test]
fn users_outside_allowed_groups_get_403() {
    let stack = ready_stack(
        StackOptions::default().filter("allowed_groups", serde_json::json!(["admins"])),
    );
    let (browser, page) = logged_in(&stack, "/", BOB);
    assert_eq!(
        page.status,
        403,
        "{}\n{}",
        browser.history_text(),
        page.body
    );
    assert!(stack.echo.requests().is_empty());

    let (_, page) = logged_in(&stack, "/", ADMIN);
    assert_eq!(page.status, 200);
    assert_eq!(stack.echo.requests().len(), 1);
}

#[test]
fn after_sign_out_the_next_request_must_log_in_again() {
    let stack = ready_stack(StackOptions::default());
    let (mut browser, page) = logged_in(&stack, "/", ADMIN);
    assert_eq!(page.status, 200);

    let out = browser.get(&stack.url("/oauth2/sign_out")).unwrap();
    assert!(out.status < 500, "{} {}", out.status, out.body);
    assert!(
        session_parts(&browser).is_empty(),
        "{:?}",
        browser.jar.names()
    );
    stack.echo.clear();
    let page = browser.get(&stack.url("/")).unwrap();
    assert!(
        is_broker_auth(&page, &stack),
        "{} {}",
        page.status,
        page.body
    );
    assert!(stack.echo.requests().is_empty());
}
