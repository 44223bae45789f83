//! Issue 3, sessions: several logins in flight in one browser (tabs), the bound on login
//! cookies, and callbacks whose login cookie is tampered with or belongs to another browser.

use std::time::Duration;

use gatehouse_e2e::session_parts::{login_cookies, session_parts, SESSION_COOKIE};
use gatehouse_e2e::{Browser, Page, Stack, StackOptions, TestUser, ADMIN, BOB};
use url::Url;

fn ready_stack(opts: StackOptions) -> Stack {
    let stack = Stack::start(opts).unwrap();
    stack.wait_for_keys(Duration::from_secs(15)).unwrap();
    stack
}

/// Opens `path` without a session: asserts the filter sends the browser to the broker and
/// returns that redirect (it carries the new login cookie).
fn start_login(stack: &Stack, browser: &mut Browser, path: &str) -> Page {
    let page = browser.get(&stack.url(path)).unwrap();
    let to_broker = page
        .location()
        .is_some_and(|l| l.as_str().starts_with(&format!("{}/auth", stack.issuer())));
    assert!(
        page.status == 302 && to_broker,
        "{path}: {} {:?} {}",
        page.status,
        page.location(),
        page.body
    );
    page
}

/// Follows a redirect to the broker up to its login form.
fn login_page(browser: &mut Browser, to_broker: &Page) -> Page {
    let page = browser.follow(to_broker).unwrap();
    let page = browser.follow_all(page).unwrap();
    assert!(page.login_form().is_ok(), "{}", browser.history_text());
    page
}

/// Submits a login form and follows the broker's answer up to (not including) the
/// filter's callback; returns the broker's redirect to the callback.
fn up_to_callback(stack: &Stack, browser: &mut Browser, form_page: &Page, user: TestUser) -> Page {
    let form = form_page.login_form().unwrap();
    let posted = browser
        .post_form(
            form.action.as_str(),
            &form.fields(user.email, user.password),
        )
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

/// Submits a login form and follows everything to the final page.
fn finish_login(browser: &mut Browser, form_page: &Page, user: TestUser) -> Page {
    let form = form_page.login_form().unwrap();
    let posted = browser
        .post_form(
            form.action.as_str(),
            &form.fields(user.email, user.password),
        )
        .unwrap();
    browser.follow_all(posted).unwrap()
}

/// The login cookie the filter names after a login's `state` (its first 16 characters).
fn login_cookie_for(to_broker: &Page) -> String {
    let state = to_broker
        .location()
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "state")
        .map(|(_, v)| v.into_owned())
        .unwrap();
    format!("{SESSION_COOKIE}_login_{}", &state[..16])
}

#[test]
fn two_tabs_logging_in_at_once_each_land_on_their_own_page() {
    let stack = ready_stack(StackOptions::default());
    let mut browser = Browser::new().unwrap();

    // Tab 1 and tab 2 each hit a protected page and get to the broker's form.
    let first = start_login(&stack, &mut browser, "/first?tab=1");
    let form1 = login_page(&mut browser, &first);
    let second = start_login(&stack, &mut browser, "/second?tab=2");
    let form2 = login_page(&mut browser, &second);
    assert_eq!(
        login_cookies(&browser.jar, SESSION_COOKIE).len(),
        2,
        "one login cookie per tab: {:?}",
        browser.jar.names()
    );

    // The second tab finishes first (as BOB), then the first (as ADMIN).
    let done2 = finish_login(&mut browser, &form2, BOB);
    assert_eq!(done2.status, 200, "{}", browser.history_text());
    assert_eq!(done2.url.as_str(), stack.url("/second?tab=2"));
    let done1 = finish_login(&mut browser, &form1, ADMIN);
    assert_eq!(done1.status, 200, "{}", browser.history_text());
    assert_eq!(done1.url.as_str(), stack.url("/first?tab=1"));

    let seen: Vec<(String, Option<String>)> = stack
        .echo
        .requests()
        .iter()
        .map(|r| {
            (
                r.path.clone(),
                r.header("x-auth-request-email").map(str::to_string),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("/second?tab=2".to_string(), Some(BOB.email.to_string())),
            ("/first?tab=1".to_string(), Some(ADMIN.email.to_string())),
        ]
    );
    assert!(
        login_cookies(&browser.jar, SESSION_COOKIE).is_empty(),
        "finished logins leave no login cookie: {:?}",
        browser.jar.names()
    );
}

#[test]
fn seven_logins_in_one_browser_keep_only_the_five_newest() {
    let stack = ready_stack(StackOptions::default());
    let mut browser = Browser::new().unwrap();
    let mut started = Vec::new();
    for i in 0..7 {
        if i > 0 {
            // The filter orders logins by creation time in whole seconds.
            std::thread::sleep(Duration::from_millis(1100));
        }
        started.push(start_login(&stack, &mut browser, &format!("/tab/{i}")));
    }
    let held = login_cookies(&browser.jar, SESSION_COOKIE);
    let mut newest: Vec<String> = started[2..].iter().map(login_cookie_for).collect();
    newest.sort();
    assert_eq!(held, newest, "the five newest logins are kept");

    // The newest login and the oldest kept one both complete…
    for i in [6, 2] {
        let form = login_page(&mut browser, &started[i]);
        let done = finish_login(&mut browser, &form, ADMIN);
        assert_eq!(done.status, 200, "{}", browser.history_text());
        assert_eq!(done.url.as_str(), stack.url(&format!("/tab/{i}")));
    }
    // …while an evicted one is refused at the callback.
    let mut fresh = Browser::new().unwrap();
    fresh.jar = browser.jar.clone();
    for name in session_parts(&fresh.jar, SESSION_COOKIE) {
        fresh.jar.remove(&name);
    }
    let form = login_page(&mut fresh, &started[0]);
    let done = finish_login(&mut fresh, &form, ADMIN);
    assert_eq!(done.status, 403, "{}", fresh.history_text());
    assert!(session_parts(&fresh.jar, SESSION_COOKIE).is_empty());
    let paths: Vec<String> = stack
        .echo
        .requests()
        .iter()
        .map(|r| r.path.clone())
        .collect();
    assert_eq!(paths, ["/tab/6", "/tab/2"]);
}

#[test]
fn a_tampered_login_cookie_at_the_callback_is_refused() {
    let stack = ready_stack(StackOptions::default());
    let mut browser = Browser::new().unwrap();
    let to_broker = start_login(&stack, &mut browser, "/wanted");
    let form = login_page(&mut browser, &to_broker);
    let to_callback = up_to_callback(&stack, &mut browser, &form, ADMIN);
    let name = login_cookie_for(&to_broker);
    let honest = browser.clone();

    let mut tampered = browser.clone();
    let cookie = tampered.jar.get_mut(&name).unwrap();
    let mut bytes = cookie.value.clone().into_bytes();
    let i = bytes.len() / 2;
    bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
    cookie.value = String::from_utf8(bytes).unwrap();
    let page = tampered.follow(&to_callback).unwrap();
    assert_eq!(page.status, 403, "{}", page.body);
    assert!(session_parts(&tampered.jar, SESSION_COOKIE).is_empty());
    assert!(stack.echo.requests().is_empty());

    // The same callback with the cookie as the filter set it works: the tampering was the cause.
    let mut honest = honest;
    let page = honest.follow(&to_callback).unwrap();
    let page = honest.follow_all(page).unwrap();
    assert_eq!(page.status, 200, "{}", honest.history_text());
    assert_eq!(page.url.as_str(), stack.url("/wanted"));
}

#[test]
fn a_callback_opened_in_another_browser_is_refused() {
    let stack = ready_stack(StackOptions::default());
    let mut victim = Browser::new().unwrap();
    let to_broker = start_login(&stack, &mut victim, "/wanted");
    let form = login_page(&mut victim, &to_broker);
    let to_callback = up_to_callback(&stack, &mut victim, &form, ADMIN);
    let callback: Url = to_callback.location().unwrap();

    // Another browser with a login of its own in flight opens the victim's callback…
    let mut other = Browser::new().unwrap();
    let own = start_login(&stack, &mut other, "/mine");
    let page = other.get(callback.as_str()).unwrap();
    assert_eq!(page.status, 403, "{}", page.body);
    assert!(session_parts(&other.jar, SESSION_COOKIE).is_empty());

    // …and again with its own login cookie presented under the victim's cookie name.
    let own_name = login_cookie_for(&own);
    let own_value = other.jar.get(&own_name).unwrap().value.clone();
    other
        .jar
        .insert("127.0.0.1", &login_cookie_for(&to_broker), &own_value);
    let page = other.get(callback.as_str()).unwrap();
    assert_eq!(page.status, 403, "{}", page.body);
    assert!(session_parts(&other.jar, SESSION_COOKIE).is_empty());
    assert!(stack.echo.requests().is_empty());

    // The victim's own browser still completes with that callback.
    let page = victim.follow(&to_callback).unwrap();
    let page = victim.follow_all(page).unwrap();
    assert_eq!(page.status, 200, "{}", victim.history_text());
    assert_eq!(page.url.as_str(), stack.url("/wanted"));
}
