//! Issue 10 (medium): password guessing through the real Envoy + .wasm + broker. Failed
//! sign-ins for one account earn a growing back-off; a throttled attempt gets 429 with
//! `Retry-After` and a page saying when to try again; another account still signs in.

use std::time::{Duration, Instant};

use gatehouse_e2e::{Browser, Stack, StackOptions, ADMIN, BOB};

#[test]
fn guessing_one_password_is_throttled_and_other_users_still_sign_in() {
    let stack = Stack::start(StackOptions::named("login_throttle_e2e")).unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut probe = Browser::new().unwrap();
    while probe.get(&stack.url("/")).unwrap().status == 503 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    let mut guesser = Browser::new().unwrap();
    let mut failures = 0;
    let throttled = loop {
        assert!(failures < 12, "never throttled after {failures} failures");
        let posted = guesser
            .submit_login(&stack.url("/private"), BOB.email, "not-the-password")
            .unwrap();
        match posted.status {
            401 => failures += 1,
            429 => break posted,
            other => panic!("unexpected {other}: {}", posted.body),
        }
    };
    assert!(failures >= 5, "throttled after {failures} failures");
    let retry: u64 = throttled
        .header("retry-after")
        .expect("Retry-After")
        .parse()
        .unwrap();
    assert!(retry >= 1);
    assert!(
        throttled.body.contains("Too many sign-in attempts") && throttled.body.contains("UTC"),
        "{}",
        throttled.body
    );
    assert!(stack.echo.requests().is_empty());
    // Another account is not locked out by the flood against Bob's.
    let mut admin = Browser::new().unwrap();
    let page = admin
        .login(&stack.url("/private"), ADMIN.email, ADMIN.password)
        .unwrap();
    assert_eq!(page.status, 200, "{}", admin.history_text());
    assert!(page.body.contains(ADMIN.email));
}
