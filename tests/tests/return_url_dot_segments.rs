//! Issue 10 (lower): a return URL is same-origin only after dot segments are resolved, as a
//! browser resolves them: `rd=/.//evil.example` lands on `//evil.example`, a path that any
//! later relative redirect turns into another site. Sign-out's `rd` through the real gateway.

use gatehouse_e2e::keys_loaded::start_with_keys;
use gatehouse_e2e::raw_http::raw_get;
use gatehouse_e2e::StackOptions;
use url::Url;

const NAV: &str = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";

/// `rd` values as written in the raw query string.
const DOT_ATTACKS: [&str; 10] = [
    "/.//evil.example",
    "%2F.%2F%2Fevil.example",
    "/..//evil.example",
    "/a/..//evil.example",
    "/a/b/../..//evil.example",
    "/%2e//evil.example",
    "/%2E%2E//evil.example",
    "/./%2Fevil.example",
    "/x/.././/evil.example?y=1",
    "/.%2F/evil.example",
];

#[test]
fn sign_out_rd_with_dot_segments_never_resolves_to_another_host() {
    let stack = start_with_keys(StackOptions::default()).unwrap();
    let port = stack.envoy.ports().listen;
    let gateway = Url::parse(&stack.url("/")).unwrap();

    // Control: dot segments that stay inside the site are followed as given.
    let r = raw_get(port, "/oauth2/sign_out?rd=/a/../bye", &[("accept", NAV)]).unwrap();
    assert_eq!(r.status, 302, "{}", r.body);
    assert_eq!(r.header("location"), Some("/a/../bye"));

    for rd in DOT_ATTACKS {
        let target = format!("/oauth2/sign_out?rd={rd}");
        let r = raw_get(port, &target, &[("accept", NAV)]).unwrap();
        assert_eq!(r.status, 302, "{target}: {}", r.body);
        let location = r.header("location").unwrap_or_default();
        let landed = gateway.join(location).unwrap();
        assert!(
            !landed.path().starts_with("//"),
            "{target}: Location {location:?} lands on {landed}, whose path is another host"
        );
        assert_eq!(location, "/", "{target}");
    }
}
