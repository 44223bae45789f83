//! Issue 10 (lower): `__Host-`-prefixed cookie names, so that a sibling subdomain cannot plant
//! or overwrite the filter's cookies. Such a name makes every cookie of the filter Secure,
//! `Path=/`, without `Domain` (browsers drop it otherwise), and a configuration that
//! contradicts the prefix refuses to start, naming the key.

use gatehouse_e2e::keys_loaded::start_with_keys;
use gatehouse_e2e::raw_http::raw_get;
use gatehouse_e2e::{Browser, Stack, StackOptions, ADMIN};
use serde_json::json;

const NAV: &str = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";

fn assert_host_prefixed(set_cookie: &str) {
    let attrs: Vec<String> = set_cookie
        .split(';')
        .map(|a| a.trim().to_ascii_lowercase())
        .collect();
    assert!(set_cookie.starts_with("__Host-gatehouse"), "{set_cookie}");
    assert!(attrs.iter().any(|a| a == "secure"), "{set_cookie}");
    assert!(attrs.iter().any(|a| a == "path=/"), "{set_cookie}");
    assert!(
        !attrs.iter().any(|a| a.starts_with("domain=")),
        "{set_cookie}"
    );
}

#[test]
fn a_host_prefixed_cookie_name_gives_secure_root_cookies_without_domain_and_logs_in() {
    let opts = StackOptions::default().filter("cookie_name", json!("__Host-gatehouse"));
    let stack = start_with_keys(opts).unwrap();
    let r = raw_get(stack.envoy.ports().listen, "/app", &[("accept", NAV)]).unwrap();
    assert_eq!(r.status, 302, "{}", r.body);
    let set: Vec<&str> = r.headers_named("set-cookie").collect();
    assert!(!set.is_empty());
    set.iter().for_each(|c| assert_host_prefixed(c));

    let mut browser = Browser::new().unwrap();
    let page = browser
        .login(&stack.url("/app"), ADMIN.email, ADMIN.password)
        .unwrap();
    assert_eq!(page.status, 200, "{}", browser.history_text());
    assert!(
        browser.jar.names().iter().any(|n| n == "__Host-gatehouse"),
        "{:?}",
        browser.jar.names()
    );
    let seen = stack.echo.requests();
    let last = seen.last().unwrap();
    assert_eq!(last.header("x-auth-request-email"), Some(ADMIN.email));
    assert!(!last.cookie_names().iter().any(|n| n.starts_with("__Host-")));
}

#[test]
fn a_configuration_contradicting_the_prefix_refuses_to_start_naming_the_key() {
    for (key, value) in [
        ("cookie_domain", json!("example.com")),
        ("cookie_secure", json!(false)),
        ("cookie_path", json!("/app")),
    ] {
        let name = format!("host_prefix_refused_{key}");
        let opts = StackOptions::named(&name)
            .filter("cookie_name", json!("__Host-gatehouse"))
            .filter(key, value);
        // Envoy either refuses the listener (start fails) or serves nothing through it.
        if let Ok(stack) = Stack::start(opts) {
            let r = raw_get(stack.envoy.ports().listen, "/", &[("accept", NAV)]).unwrap();
            assert!(r.status >= 500, "{key}: the gateway served {}", r.status);
            assert!(stack.echo.requests().is_empty());
        }
        let log = std::fs::read_to_string(
            gatehouse_e2e::paths::target_dir()
                .join("e2e-logs")
                .join(&name)
                .join("envoy.log"),
        )
        .unwrap_or_default();
        assert!(
            log.contains("refusing to start") && log.contains(key),
            "{key}: Envoy's log does not name the key:\n{log}"
        );
    }
}
