//! The stack comes up, and a stranger is sent to the broker instead of the upstream.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use gatehouse_e2e::broker::CLIENT_ID;
use gatehouse_e2e::{Browser, Stack, StackOptions};

#[test]
fn the_gateway_comes_up_and_sends_strangers_to_the_broker() {
    let stack = Stack::start(StackOptions::default()).unwrap();
    let mut browser = Browser::new().unwrap();

    let discovery = browser
        .get_with(
            &format!("{}/.well-known/openid-configuration", stack.issuer()),
            &[("accept", "application/json")],
        )
        .unwrap();
    assert_eq!(discovery.status, 200, "{}", discovery.body);
    assert_eq!(discovery.json().unwrap()["issuer"], stack.issuer());

    // 503 is the right answer until the filter has fetched the broker's keys.
    let deadline = Instant::now() + Duration::from_secs(10);
    let page = loop {
        let page = browser.get(&stack.url("/private/page?x=1")).unwrap();
        match page.status {
            302 => break page,
            503 if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(100)),
            other => panic!(
                "expected 302 to the broker, got {other}:\n{}\nenvoy log: {}",
                page.body,
                stack.logs.file("envoy").display()
            ),
        }
    };
    let location = page.location().unwrap();
    assert!(
        location
            .as_str()
            .starts_with(&format!("{}/auth?", stack.issuer())),
        "{location}"
    );
    let params: HashMap<String, String> = location.query_pairs().into_owned().collect();
    assert_eq!(params.get("client_id").map(String::as_str), Some(CLIENT_ID));
    assert_eq!(
        params.get("response_type").map(String::as_str),
        Some("code")
    );
    assert_eq!(
        params.get("redirect_uri").map(String::as_str),
        Some(stack.url("/oauth2/callback").as_str())
    );
    assert_eq!(
        params.get("code_challenge_method").map(String::as_str),
        Some("S256")
    );
    for key in ["state", "nonce", "code_challenge", "scope"] {
        assert!(
            params.get(key).is_some_and(|v| !v.is_empty()),
            "{key} missing in {location}"
        );
    }
    assert!(
        stack.echo.requests().is_empty(),
        "the upstream was reached: {:?}",
        stack.echo.requests()
    );
}
