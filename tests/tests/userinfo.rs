//! Issue 3, `/oauth2/userinfo`: the session's identity as JSON, 401 JSON without one —
//! even where a public route covers every path.

use gatehouse_e2e::keys_loaded::start_with_keys;
use gatehouse_e2e::{Browser, Page, StackOptions, ADMIN, BOB};
use serde_json::json;

fn assert_unauthenticated(what: &str, page: &Page) {
    assert_eq!(page.status, 401, "{what}: {}", page.body);
    assert_eq!(page.header("location"), None, "{what}: redirected");
    assert!(
        page.header("www-authenticate")
            .is_some_and(|v| v.starts_with("Bearer realm=")),
        "{what}: {:?}",
        page.header("www-authenticate")
    );
    assert_eq!(page.json().unwrap()["error"], "unauthorized", "{what}");
}

#[test]
fn userinfo_shows_the_session_identity_and_401_json_without_a_session() {
    // Everything but /private is public: userinfo must still require a session.
    let stack = start_with_keys(StackOptions::default().filter(
        "routes",
        json!([
            {"path_prefix": "/private", "allowed_groups": ["admins", "contractors"]},
            {"path_prefix": "/", "public": true}
        ]),
    ))
    .unwrap();
    let userinfo = stack.url("/oauth2/userinfo");

    // No session: 401 JSON, for a browser navigation as well as for an API client.
    let mut anonymous = Browser::new().unwrap();
    assert_unauthenticated("navigation", &anonymous.get(&userinfo).unwrap());
    let page = anonymous
        .get_with(&userinfo, &[("accept", "application/json")])
        .unwrap();
    assert_unauthenticated("API client", &page);

    for user in [ADMIN, BOB] {
        let mut browser = Browser::new().unwrap();
        stack.echo.clear();
        let page = browser
            .login(&stack.url("/private/x"), user.email, user.password)
            .unwrap();
        assert_eq!(page.status, 200, "{}", browser.history_text());
        let sub = stack.echo.requests()[0]
            .header("x-auth-request-user")
            .unwrap()
            .to_string();

        stack.echo.clear();
        let page = browser.get(&userinfo).unwrap();
        assert_eq!(page.status, 200, "{}", page.body);
        assert!(page
            .header("content-type")
            .is_some_and(|v| v.starts_with("application/json")));
        let info = page.json().unwrap();
        assert_eq!(info["user"], sub.as_str(), "{info}");
        assert_eq!(info["email"], user.email, "{info}");
        assert_eq!(info["preferred_username"], user.username, "{info}");
        assert!(info["name"].is_string(), "{info}");
        assert_eq!(info["groups"], json!(user.groups), "{info}");
        // Answered by the filter: the upstream never sees it.
        assert!(stack.echo.requests().is_empty());

        // A damaged session cookie is no session.
        let cookie = browser.jar.get_mut("_gatehouse").unwrap();
        cookie.value = cookie.value.chars().rev().collect();
        assert_unauthenticated("damaged cookie", &browser.get(&userinfo).unwrap());
    }
}
