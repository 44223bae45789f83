//! Issue 2, test 8: until the filter has the broker's keys, nothing reaches the upstream.

use std::time::{Duration, Instant};

use gatehouse_e2e::{Browser, Stack, StackOptions};

#[test]
fn requests_before_the_filter_has_keys_are_refused_then_login_starts_once_it_has_them() {
    let mut stack = Stack::start(StackOptions {
        without_broker: true,
        ..StackOptions::default()
    })
    .unwrap();
    let mut browser = Browser::new().unwrap();

    // Broker down: a browser and an API client get 503, a forged identity 400.
    for _ in 0..3 {
        let page = browser.get(&stack.url("/")).unwrap();
        assert_eq!(page.status, 503, "{}", page.body);
        let api = browser
            .get_with(&stack.url("/api/data"), &[("accept", "application/json")])
            .unwrap();
        assert_eq!(api.status, 503, "{}", api.body);
        // A forged identity is refused before anything else.
        let forged = browser
            .get_with(
                &stack.url("/api/data"),
                &[
                    ("accept", "application/json"),
                    ("x-auth-request-email", "admin@example.com"),
                ],
            )
            .unwrap();
        assert_eq!(forged.status, 400, "{}", forged.body);
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(
        stack.echo.requests().is_empty(),
        "the upstream was reached: {:?}",
        stack.echo.requests()
    );

    // Once the broker is up, the filter's timer fetches the keys and logins start.
    stack.start_broker().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let page = browser.get(&stack.url("/")).unwrap();
        match page.status {
            302 => break,
            503 if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(200)),
            other => panic!(
                "expected 302 once the broker is up, got {other}: {}",
                page.body
            ),
        }
    }
    assert!(stack.echo.requests().is_empty());
}
