//! Issue 10, "the filter decides on one path and forwards another": the filter must judge
//! exactly the path the upstream is handed. Through the shipped Envoy config (path hardening
//! on) and through the same config with Envoy's hardening taken out, as on a host that hands
//! the raw path (Kong): either way an ambiguous path never reaches the upstream, and a path
//! that does reach it is the one the rules were applied to.

use gatehouse_e2e::keys_loaded::start_with_keys;
use gatehouse_e2e::raw_http::raw_get;
use gatehouse_e2e::{Stack, StackOptions};
use serde_json::json;

const NAV: &str = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";

/// `/public` is public, everything else needs a session.
fn stack(envoy_yaml: Option<fn(&mut String)>) -> Stack {
    let opts = StackOptions {
        envoy_yaml,
        ..StackOptions::default()
    }
    .filter(
        "routes",
        json!([{"path_prefix": "/public", "public": true}]),
    );
    start_with_keys(opts).unwrap()
}

/// The shipped template without Envoy's own path hardening: the filter sees the raw path.
fn without_envoy_path_hardening(yaml: &mut String) {
    for line in [
        "          normalize_path: true\n",
        "          merge_slashes: true\n",
        "          path_with_escaped_slashes_action: REJECT_REQUEST\n",
    ] {
        assert!(yaml.contains(line), "envoy.yaml lost {line:?}");
        *yaml = yaml.replace(line, "");
    }
}

/// Paths whose meaning depends on how often, or whether, the upstream decodes them.
const AMBIGUOUS: [&str; 20] = [
    // The reproduction: judged `/public` after decoding, routed as `/admin/{id}`.
    "/admin/x%2F..%2F..%2Fpublic",
    "/admin/x%2f..%2f..%2fpublic",
    "/public/..%2Fadmin",
    "/public%2F..%2Fadmin",
    "/public%5C..%5Cadmin",
    "/public/%2e%2e/admin",
    "/public/.%2E/admin",
    "/public/%252e%252e/admin",
    "/public%252F..%252Fadmin",
    "/public/..;/admin",
    "/public;x=1/../admin",
    "/public%3B/admin",
    "/publi%63",
    "/%70ublic",
    "/public//admin",
    "/public/%00/admin",
    "/public/%0d%0aX:1",
    "/public/%zz",
    "/public\\..\\admin",
    "/public/%FF",
];

/// Whether `path` (as the upstream got it) has a single reading: nothing a decoder, a
/// dot-segment resolver or a path-parameter stripper would change the segments of.
fn one_reading(path: &str) -> bool {
    let p = path
        .split('?')
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    !["%2f", "%5c", "%2e", "%3b", ";", "\\", "//", "%25"]
        .iter()
        .any(|bad| p.contains(bad))
        && !p.split('/').any(|seg| seg == "." || seg == "..")
}

fn assert_refused_and_nothing_reached(stack: &Stack, only_filter: bool) {
    let port = stack.envoy.ports().listen;
    for target in AMBIGUOUS {
        stack.echo.clear();
        let r = raw_get(port, target, &[("accept", NAV)]).unwrap();
        let reached = stack.echo.requests();
        if only_filter {
            assert!(
                reached.is_empty(),
                "{target}: reached the upstream as {:?} ({})",
                reached.iter().map(|r| &r.path).collect::<Vec<_>>(),
                r.status
            );
            assert_eq!(
                r.status,
                400,
                "{target}: {} {:?}",
                r.status,
                r.header("location")
            );
            // The filter's own 400 (a JSON problem), not a refusal by Envoy's parser.
            assert!(r.body.contains("bad_request"), "{target}: {}", r.body);
        } else {
            // Envoy refuses it, or normalises it first; then the filter judges the normalised
            // path and the upstream gets exactly that path, which has one reading.
            for seen in &reached {
                assert!(
                    one_reading(&seen.path),
                    "{target}: upstream got {}",
                    seen.path
                );
            }
            assert!(
                r.status == 400 || r.status == 302 || (r.status == 200 && reached.len() == 1),
                "{target}: {} {:?}",
                r.status,
                r.header("location")
            );
        }
    }
    if !only_filter {
        // The reproduction is refused outright, never judged public.
        let r = raw_get(port, AMBIGUOUS[0], &[("accept", NAV)]).unwrap();
        assert_eq!(r.status, 400, "{}", r.body);
    }
}

#[test]
fn an_encoded_traversal_into_a_public_prefix_is_refused_by_the_shipped_gateway() {
    let stack = stack(None);
    assert_refused_and_nothing_reached(&stack, false);
}

#[test]
fn the_filter_itself_refuses_ambiguous_paths_when_the_host_hands_them_raw() {
    let stack = stack(Some(without_envoy_path_hardening));
    assert_refused_and_nothing_reached(&stack, true);
    // Raw dot segments too, which Envoy would otherwise have resolved.
    let port = stack.envoy.ports().listen;
    for target in ["/public/../admin", "/public/./x", "//public", "/public/.."] {
        let r = raw_get(port, target, &[("accept", NAV)]).unwrap();
        assert_eq!(r.status, 400, "{target}: {} {}", r.status, r.body);
    }
    assert!(stack.echo.requests().is_empty());
}

#[test]
fn plain_paths_pass_and_the_upstream_gets_the_path_that_was_judged() {
    for hardened in [true, false] {
        let stack = stack((!hardened).then_some(without_envoy_path_hardening as fn(&mut String)));
        let port = stack.envoy.ports().listen;
        for target in [
            "/public",
            "/public/",
            "/public/my%20docs/r%C3%A9sum%C3%A9.pdf",
            "/public/100%25?q=a%2Fb&x=../..",
            "/public/a..b/.well-known",
        ] {
            stack.echo.clear();
            let r = raw_get(port, target, &[("accept", NAV)]).unwrap();
            assert_eq!(r.status, 200, "{target} (hardened {hardened}): {}", r.body);
            let seen = stack.echo.requests();
            assert_eq!(seen.len(), 1, "{target}");
            assert_eq!(seen[0].path, target, "hardened {hardened}");
        }
        // Protected paths start a login rather than pass.
        stack.echo.clear();
        let r = raw_get(port, "/admin/x", &[("accept", NAV)]).unwrap();
        assert_eq!(r.status, 302, "{}", r.body);
        assert!(stack.echo.requests().is_empty());
    }
}

#[test]
fn with_envoy_normalising_the_upstream_is_handed_the_normalised_path_that_was_judged() {
    let stack = stack(None);
    let port = stack.envoy.ports().listen;
    // Envoy resolves these before the filter runs and forwards the result: judged as public,
    // handed over as the public path (never as `/admin/../public/x`).
    for (target, upstream) in [
        ("/admin/../public/x", "/public/x"),
        ("/admin/./../public", "/public"),
    ] {
        stack.echo.clear();
        let r = raw_get(port, target, &[("accept", NAV)]).unwrap();
        assert_eq!(r.status, 200, "{target}: {} {}", r.status, r.body);
        let seen = stack.echo.requests();
        assert_eq!(seen.len(), 1, "{target}");
        assert_eq!(seen[0].path, upstream, "{target}");
    }
    // And the other way round: a public prefix cannot be walked out of.
    for target in ["/public/../admin", "/public/x/../../admin"] {
        stack.echo.clear();
        let r = raw_get(port, target, &[("accept", NAV)]).unwrap();
        assert_eq!(r.status, 302, "{target}: {} {}", r.status, r.body);
        assert!(stack.echo.requests().is_empty(), "{target}");
    }
}
