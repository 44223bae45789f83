//! Sign-out through the gateway ends at the broker too: the filter clears its cookies and sends
//! the browser to the broker's end-session endpoint (RP-initiated logout), which sends it back
//! to the gateway page named by `rd`.

use std::time::{Duration, Instant};

use gatehouse_e2e::broker::CLIENT_ID;
use gatehouse_e2e::{Browser, Stack, StackOptions, ADMIN};

/// The filter's session cookie (`_gatehouse`, or `_gatehouse_N` chunks).
fn session_parts(browser: &Browser) -> Vec<String> {
    browser
        .jar
        .names()
        .into_iter()
        .filter(|n| {
            n == "_gatehouse"
                || n.strip_prefix("_gatehouse_")
                    .is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
        })
        .collect()
}

/// A stack whose filter already has the broker's discovery and keys (302, not 503).
fn ready_stack() -> Stack {
    let stack = Stack::start(StackOptions::default()).unwrap();
    let mut probe = Browser::new().unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let page = probe.get(&stack.url("/")).unwrap();
        match page.status {
            302 => return stack,
            503 if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(100)),
            other => panic!("gateway not ready: {other} {}", page.body),
        }
    }
}

#[test]
fn sign_out_with_rd_ends_the_broker_session_and_comes_back_to_the_gateway() {
    let stack = ready_stack();
    let mut browser = Browser::new().unwrap();
    let landed = browser
        .login(&stack.url("/private"), ADMIN.email, ADMIN.password)
        .unwrap();
    assert_eq!(landed.status, 200, "{}", browser.history_text());
    assert!(!session_parts(&browser).is_empty(), "signed in");

    // 1. The filter clears its cookies and sends the browser to the broker's /logout.
    let out = browser.get(&stack.url("/oauth2/sign_out?rd=/bye")).unwrap();
    assert_eq!(out.status, 302, "{}", out.body);
    assert!(
        session_parts(&browser).is_empty(),
        "session cookies left: {:?}",
        browser.jar.names()
    );
    let to_broker = out.location().unwrap();
    assert!(
        to_broker
            .as_str()
            .starts_with(&format!("{}/logout?", stack.issuer())),
        "{to_broker}"
    );
    let param = |name: &str| {
        to_broker
            .query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    };
    let back = stack.url("/bye");
    assert_eq!(
        param("post_logout_redirect_uri").as_deref(),
        Some(back.as_str())
    );
    assert_eq!(param("client_id").as_deref(), Some(CLIENT_ID));
    let hint = param("id_token_hint").unwrap_or_default();
    assert_eq!(hint.split('.').count(), 3, "a JWT: {hint}");

    // 2. The broker verifies the hint and sends the browser back to the gateway's /bye (same
    //    origin as the client's registered callback).
    let from_broker = browser.follow(&out).unwrap();
    assert_eq!(from_broker.status, 302, "{}", from_broker.body);
    assert_eq!(from_broker.location().unwrap().as_str(), back);

    // 3. Back at the gateway the browser is a stranger again: /bye asks for a login.
    stack.echo.clear();
    let bye = browser.follow(&from_broker).unwrap();
    assert_eq!(bye.status, 302, "{}", bye.body);
    assert!(
        bye.location()
            .is_some_and(|l| l.as_str().starts_with(&format!("{}/auth", stack.issuer()))),
        "{:?}",
        bye.location()
    );
    assert!(
        stack.echo.requests().is_empty(),
        "nothing reached the upstream"
    );
    assert!(session_parts(&browser).is_empty());

    // The broker logged the sign-out, and not the token it was given.
    let log = std::fs::read_to_string(stack.logs.file("broker")).unwrap();
    assert!(log.contains("signed out"), "{log}");
    assert!(
        !log.contains(&hint),
        "the id_token_hint is in the broker log"
    );
}
