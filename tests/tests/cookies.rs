//! Issue 3, the session cookie: sessions split over `NAME_0 … NAME_n` with stale chunks
//! cleared, `cookie_secrets` rotation, and the configurable cookie attributes.

use std::time::Duration;

use cookie::{Cookie, SameSite};
use gatehouse_e2e::crowd_user::{add_crowd_user, crowd_groups, CROWD_EMAIL, CROWD_PASSWORD};
use gatehouse_e2e::filter_counters::filter_counter;
use gatehouse_e2e::secrets::random_cookie_secret;
use gatehouse_e2e::session_parts::{
    is_deletion, is_session_part, session_parts, set_cookie_name, set_cookies, SESSION_COOKIE,
};
use gatehouse_e2e::{Browser, Page, Stack, StackOptions, ADMIN, BOB};
use serde_json::json;

fn ready(stack: Stack) -> Stack {
    stack.wait_for_keys(Duration::from_secs(15)).unwrap();
    stack
}

fn is_broker_auth(page: &Page, stack: &Stack) -> bool {
    page.status == 302
        && page
            .location()
            .is_some_and(|l| l.as_str().starts_with(&format!("{}/auth", stack.issuer())))
}

/// Logs in from `path` and returns the callback's response (its `Set-Cookie`s) and the
/// final page.
fn login_via_callback(
    stack: &Stack,
    browser: &mut Browser,
    path: &str,
    email: &str,
    password: &str,
    callback_path: &str,
) -> (Page, Page) {
    let posted = browser
        .submit_login(&stack.url(path), email, password)
        .unwrap();
    let callback = browser
        .follow_until(posted, |p| p.url.path() == callback_path)
        .unwrap();
    assert_eq!(
        callback.url.path(),
        callback_path,
        "{}",
        browser.history_text()
    );
    let last = browser.follow_all(callback.clone()).unwrap();
    (callback, last)
}

/// The crowd user (300 groups), and ID tokens of 6 s without refresh tokens, so a session
/// simply ends and the same browser can log in as someone else.
fn crowd_and_short_sessions(yaml: &mut String) {
    add_crowd_user(yaml);
    yaml.push_str("expiry:\n  idTokens: 6s\n");
}

#[test]
fn a_user_with_hundreds_of_groups_gets_a_chunked_session_and_stale_chunks_are_cleared() {
    let stack = ready(
        Stack::start(
            StackOptions {
                broker_yaml: Some(crowd_and_short_sessions),
                ..StackOptions::default()
            }
            .filter("scopes", json!(["openid", "email", "profile", "groups"])),
        )
        .unwrap(),
    );
    let mut browser = Browser::new().unwrap();
    let (callback, page) = login_via_callback(
        &stack,
        &mut browser,
        "/big",
        CROWD_EMAIL,
        CROWD_PASSWORD,
        "/oauth2/callback",
    );
    assert_eq!(page.status, 200, "{}", browser.history_text());
    assert_eq!(page.url.as_str(), stack.url("/big"));

    let set = set_cookies(&callback);
    let chunks: Vec<&String> = set
        .iter()
        .filter(|c| is_session_part(SESSION_COOKIE, set_cookie_name(c)) && !is_deletion(c))
        .collect();
    let names: Vec<&str> = chunks.iter().map(|c| set_cookie_name(c)).collect();
    let expected: Vec<String> = (0..names.len())
        .map(|i| format!("{SESSION_COOKIE}_{i}"))
        .collect();
    assert!(names.len() >= 2, "a chunked session: {names:?}");
    assert_eq!(names, expected);
    for chunk in &chunks {
        assert!(
            chunk.len() < 4096,
            "{} is {} bytes",
            set_cookie_name(chunk),
            chunk.len()
        );
    }
    assert_eq!(session_parts(&browser.jar, SESSION_COOKIE), expected);

    let seen = stack.echo.requests().pop().unwrap();
    assert_eq!(seen.header("x-auth-request-email"), Some(CROWD_EMAIL));
    assert_eq!(
        seen.header("x-auth-request-groups"),
        Some(crowd_groups().join(",").as_str())
    );
    assert!(
        !seen
            .cookie_names()
            .iter()
            .any(|n| n.starts_with(SESSION_COOKIE)),
        "{:?}",
        seen.cookie_names()
    );

    // The session ends (no refresh token); the same browser logs in as a small user.
    std::thread::sleep(Duration::from_millis(7500));
    let (callback, page) = login_via_callback(
        &stack,
        &mut browser,
        "/small",
        ADMIN.email,
        ADMIN.password,
        "/oauth2/callback",
    );
    assert_eq!(page.status, 200, "{}", browser.history_text());
    assert_eq!(page.url.as_str(), stack.url("/small"));
    let set = set_cookies(&callback);
    for name in &expected {
        assert!(
            set.iter()
                .any(|c| set_cookie_name(c) == name && is_deletion(c)),
            "{name} is not cleared: {set:?}"
        );
    }
    assert_eq!(
        session_parts(&browser.jar, SESSION_COOKIE),
        [SESSION_COOKIE]
    );
    assert_eq!(
        stack
            .echo
            .requests()
            .pop()
            .unwrap()
            .header("x-auth-request-email"),
        Some(ADMIN.email)
    );

    // Sign-out clears every chunk of a big session.
    let mut big = Browser::new().unwrap();
    let page = big
        .login(&stack.url("/big"), CROWD_EMAIL, CROWD_PASSWORD)
        .unwrap();
    assert_eq!(page.status, 200, "{}", big.history_text());
    let held = session_parts(&big.jar, SESSION_COOKIE);
    assert!(held.len() >= 2, "{held:?}");
    let out = big.get(&stack.url("/oauth2/sign_out")).unwrap();
    assert!(out.status < 500, "{} {}", out.status, out.body);
    let set = set_cookies(&out);
    for name in &held {
        assert!(
            set.iter()
                .any(|c| set_cookie_name(c) == name && is_deletion(c)),
            "{name} is not cleared: {set:?}"
        );
    }
    assert!(session_parts(&big.jar, SESSION_COOKIE).is_empty());
}

#[test]
fn cookie_secrets_rotate_first_seals_all_open() {
    let secret_a = random_cookie_secret().unwrap();
    let secret_b = random_cookie_secret().unwrap();
    let mut stack = ready(
        Stack::start(StackOptions {
            cookie_secret: Some(secret_a.clone()),
            ..StackOptions::default()
        })
        .unwrap(),
    );
    let mut under_a = Browser::new().unwrap();
    let page = under_a
        .login(&stack.url("/a"), ADMIN.email, ADMIN.password)
        .unwrap();
    assert_eq!(page.status, 200, "{}", under_a.history_text());

    let with_secrets = |stack: &Stack, secrets: &[&str]| {
        let mut config = stack.filter_config.clone();
        let object = config.as_object_mut().unwrap();
        object.remove("cookie_secret");
        object.insert("cookie_secrets".into(), json!(secrets));
        config
    };

    // [B, A]: the session sealed under A still opens; a new login is sealed under B.
    let config = with_secrets(&stack, &[&secret_b, &secret_a]);
    stack.restart_envoy(config).unwrap();
    stack.wait_for_keys(Duration::from_secs(15)).unwrap();
    stack.echo.clear();
    let page = under_a.get(&stack.url("/a-again")).unwrap();
    assert_eq!(page.status, 200, "{} {}", page.status, page.body);
    let seen = stack.echo.requests();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].header("x-auth-request-email"), Some(ADMIN.email));

    let mut under_b = Browser::new().unwrap();
    let page = under_b
        .login(&stack.url("/b"), BOB.email, BOB.password)
        .unwrap();
    assert_eq!(page.status, 200, "{}", under_b.history_text());

    // [B] alone: B's session opens, A's is refused with a new login, never a 5xx.
    let config = with_secrets(&stack, &[&secret_b]);
    stack.restart_envoy(config).unwrap();
    stack.wait_for_keys(Duration::from_secs(15)).unwrap();
    stack.echo.clear();
    let page = under_b.get(&stack.url("/b-again")).unwrap();
    assert_eq!(page.status, 200, "{} {}", page.status, page.body);
    let seen = stack.echo.requests();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].header("x-auth-request-email"), Some(BOB.email));

    stack.echo.clear();
    let page = under_a.get(&stack.url("/a-last")).unwrap();
    assert!(
        is_broker_auth(&page, &stack),
        "{} {:?} {}",
        page.status,
        page.location(),
        page.body
    );
    assert!(stack.echo.requests().is_empty());
    assert!(
        set_cookies(&page)
            .iter()
            .any(|c| set_cookie_name(c) == SESSION_COOKIE && is_deletion(c)),
        "the unreadable session is cleared: {:?}",
        set_cookies(&page)
    );
    assert_eq!(
        filter_counter(&stack.envoy, "gatehouse_invalid_cookies").unwrap(),
        1
    );
}

/// Registers the callback under `/app` (the custom cookie path) at the broker.
fn callback_under_app(yaml: &mut String) {
    *yaml = yaml.replace("/oauth2/callback\"", "/app/oauth2/callback\"");
}

fn parse(set_cookie: &str) -> Cookie<'static> {
    Cookie::parse(set_cookie.to_string()).unwrap()
}

/// Max-Age in seconds.
fn max_age(cookie: &Cookie<'_>) -> i64 {
    cookie.max_age().unwrap().whole_seconds()
}

#[test]
fn default_cookie_attributes_are_host_only_secure_lax_and_a_week() {
    let stack = ready(Stack::start(StackOptions::default()).unwrap());
    let mut browser = Browser::new().unwrap();
    let first = browser.get(&stack.url("/")).unwrap();
    let login = set_cookies(&first);
    assert_eq!(login.len(), 1, "{login:?}");
    let login = parse(&login[0]);
    assert!(login.name().starts_with("_gatehouse_login_"));
    assert_eq!(login.path(), Some("/"));
    assert_eq!(login.domain(), None);
    assert_eq!(login.secure(), Some(true));
    assert_eq!(login.http_only(), Some(true));
    assert_eq!(login.same_site(), Some(SameSite::Lax));
    assert_eq!(max_age(&login), 600, "login_timeout_s");

    let (callback, page) = login_via_callback(
        &stack,
        &mut browser,
        "/",
        ADMIN.email,
        ADMIN.password,
        "/oauth2/callback",
    );
    assert_eq!(page.status, 200, "{}", browser.history_text());
    let session = set_cookies(&callback)
        .into_iter()
        .find(|c| set_cookie_name(c) == SESSION_COOKIE && !is_deletion(c))
        .unwrap();
    let session = parse(&session);
    assert_eq!(session.path(), Some("/"));
    assert_eq!(session.domain(), None);
    assert_eq!(session.secure(), Some(true));
    assert_eq!(session.http_only(), Some(true));
    assert_eq!(session.same_site(), Some(SameSite::Lax));
    assert!(
        (604_790..=604_800).contains(&max_age(&session)),
        "{session}"
    );
}

#[test]
fn cookie_name_domain_path_lifetime_samesite_and_secure_are_configurable() {
    let stack = ready(
        Stack::start(
            StackOptions {
                broker_yaml: Some(callback_under_app),
                ..StackOptions::default()
            }
            .filter("cookie_name", json!("corp_sso"))
            .filter("cookie_domain", json!("127.0.0.1"))
            .filter("cookie_path", json!("/app"))
            .filter("cookie_expire_s", json!(3600))
            .filter("cookie_samesite", json!("strict"))
            .filter("cookie_secure", json!(false))
            .filter("redirect_path", json!("/app/oauth2/callback")),
        )
        .unwrap(),
    );
    let mut browser = Browser::new().unwrap();
    let first = browser.get(&stack.url("/app/page")).unwrap();
    assert!(is_broker_auth(&first, &stack), "{}", first.status);
    let login = set_cookies(&first);
    assert_eq!(login.len(), 1, "{login:?}");
    let login = parse(&login[0]);
    assert!(login.name().starts_with("corp_sso_login_"), "{login}");
    assert_eq!(login.path(), Some("/app"));
    assert_eq!(login.domain(), Some("127.0.0.1"));
    assert_eq!(login.secure(), None, "{login}");
    assert_eq!(login.http_only(), Some(true));
    assert_eq!(login.same_site(), Some(SameSite::Strict));

    let (callback, page) = login_via_callback(
        &stack,
        &mut browser,
        "/app/page",
        ADMIN.email,
        ADMIN.password,
        "/app/oauth2/callback",
    );
    assert_eq!(page.status, 200, "{}", browser.history_text());
    assert_eq!(page.url.as_str(), stack.url("/app/page"));
    let set = set_cookies(&callback);
    let session = set
        .iter()
        .find(|c| set_cookie_name(c) == "corp_sso" && !is_deletion(c))
        .unwrap_or_else(|| panic!("no corp_sso cookie: {set:?}"));
    let session = parse(session);
    assert_eq!(session.path(), Some("/app"));
    assert_eq!(session.domain(), Some("127.0.0.1"));
    assert_eq!(session.secure(), None, "{session}");
    assert_eq!(session.http_only(), Some(true));
    assert_eq!(session.same_site(), Some(SameSite::Strict));
    assert!((3590..=3600).contains(&max_age(&session)), "{session}");
    assert!(
        !set.iter()
            .any(|c| set_cookie_name(c).starts_with("_gatehouse")),
        "{set:?}"
    );

    let seen = stack.echo.requests().pop().unwrap();
    assert_eq!(seen.header("x-auth-request-email"), Some(ADMIN.email));
    assert!(
        !seen
            .cookie_names()
            .iter()
            .any(|n| n.starts_with("corp_sso")),
        "{:?}",
        seen.cookie_names()
    );
    // Outside the cookie path the browser sends no session: a new login starts.
    let page = browser.get(&stack.url("/elsewhere")).unwrap();
    assert!(is_broker_auth(&page, &stack), "{}", page.status);
}
