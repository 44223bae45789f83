//! The worker's cache of opened session cookies: a hit decides exactly as a miss (rules are
//! applied per request), is never served past the session's expiry, and a tampered cookie
//! never finds an entry. Runs natively and, through the wasi runner, as wasm.

use gatehouse_filter::config::Settings;
use gatehouse_filter::cookie::codec::CookieCodec;
use gatehouse_filter::engine::{Engine, Outcome, Request};
use gatehouse_filter::session;
use gatehouse_filter::session::Session;
use serde_json::json;

const COOKIE: &str = "_gatehouse";

mod support;
use support::{provider, NOW};

/// The base settings with a group rule on /admin.
fn settings() -> Settings {
    support::settings(json!({"routes": [{"path_prefix": "/admin", "allowed_groups": ["admins"]}]}))
}

fn session(groups: &[&str]) -> Session {
    Session {
        sub: "CgR1c2VyEgVsb2NhbA".into(),
        email: "dev@example.com".into(),
        name: "Dev".into(),
        preferred_username: "dev".into(),
        groups: groups.iter().map(|g| g.to_string()).collect(),
        issued_at: NOW,
        expires_at: NOW + 600,
        ends_at: NOW + 3600,
        refresh_token: Some("rt".into()),
        access_token: None,
    }
}

/// The `Cookie` header a browser sends for `s` (chunked when large), next to another cookie.
fn cookie_header(settings: &Settings, s: &Session) -> String {
    let codec = CookieCodec::new(&settings.cookie_secrets).unwrap();
    let sealed = s.seal(&codec, COOKIE).unwrap();
    let parts: Vec<String> = session::cookies::write(&settings.cookie, COOKIE, &sealed, 3600, &[])
        .iter()
        .map(|c| c.split(';').next().unwrap().to_string())
        .collect();
    format!("app=1; {}", parts.join("; "))
}

fn get<'a>(path: &'a str, cookie: &'a str) -> Request<'a> {
    Request {
        method: "GET",
        path,
        authority: "app.example",
        scheme: "https",
        cookie: Some(cookie),
        cookie_headers: 1,
        accept: Some("text/html"),
        ..Request::default()
    }
}

/// What the request came to, comparable across engines.
fn decision(engine: &Engine, path: &str, cookie: &str, now: u64) -> String {
    let (outcome, event) = engine.on_request(&get(path, cookie), Some(&provider()), now);
    let what = match outcome {
        Outcome::Forward(f) => format!("forward {f:?}"),
        Outcome::Respond(r) => format!("respond {}", r.status),
        Outcome::Call { call, .. } => format!("call {} {}", call.method, call.path),
    };
    format!("{what} / {event:?}")
}

#[test]
fn a_hit_decides_exactly_as_a_miss() {
    let many: Vec<String> = (0..150).map(|i| format!("team-{i:03}")).collect();
    let many: Vec<&str> = many.iter().map(String::as_str).collect();
    for groups in [vec!["admins"], vec!["devs"], many] {
        let s = settings();
        let cookie = cookie_header(&s, &session(&groups));
        let cached = Engine::new(s).unwrap();
        for path in ["/app", "/admin/x", "/oauth2/userinfo"] {
            for now in [NOW, NOW + 1, NOW + 599] {
                // A fresh engine opens the cookie every time: the reference decision.
                let fresh = Engine::new(settings()).unwrap();
                let want = decision(&fresh, path, &cookie, now);
                assert_eq!(
                    decision(&cached, path, &cookie, now),
                    want,
                    "{path} at {now}"
                );
            }
        }
        assert_eq!(cached.cached_sessions(), 1);
    }
    // The rule still applies on a hit: the same cached session is denied /admin.
    let s = settings();
    let cookie = cookie_header(&s, &session(&["devs"]));
    let engine = Engine::new(s).unwrap();
    assert!(decision(&engine, "/app", &cookie, NOW).starts_with("forward"));
    assert_eq!(
        decision(&engine, "/admin", &cookie, NOW),
        "respond 403 / Denied"
    );
}

#[test]
fn never_served_past_the_identity_expiry() {
    let s = settings();
    let cookie = cookie_header(&s, &session(&["admins"]));
    let engine = Engine::new(s).unwrap();
    assert!(decision(&engine, "/app", &cookie, NOW).starts_with("forward"));
    assert_eq!(engine.cached_sessions(), 1);
    // At the identity's expiry the refresh is due, cached or not.
    let fresh = Engine::new(settings()).unwrap();
    let want = decision(&fresh, "/app", &cookie, NOW + 600);
    assert!(want.starts_with("call POST"), "{want}");
    assert_eq!(decision(&engine, "/app", &cookie, NOW + 600), want);
    // Past the session's end: a new login, as without the cache.
    let mut ended = session(&["admins"]);
    ended.expires_at = NOW + 7200;
    let cookie = cookie_header(&settings(), &ended);
    assert!(decision(&engine, "/app", &cookie, NOW).starts_with("forward"));
    let fresh = Engine::new(settings()).unwrap();
    assert_eq!(
        decision(&engine, "/app", &cookie, NOW + 3600),
        decision(&fresh, "/app", &cookie, NOW + 3600)
    );
    // (A login, after probing the broker heard from an hour ago.)
    assert!(!decision(&engine, "/app", &cookie, NOW + 3600).starts_with("forward"));
}

#[test]
fn a_tampered_cookie_never_hits_a_cached_entry() {
    let s = settings();
    let cookie = cookie_header(&s, &session(&["admins"]));
    let engine = Engine::new(s).unwrap();
    assert!(decision(&engine, "/admin", &cookie, NOW).starts_with("forward"));
    // Every single-character change of the sealed value, and cut or extended values.
    let value_at = cookie.find("_gatehouse=").unwrap() + "_gatehouse=".len();
    let mut forgeries = Vec::new();
    for i in value_at + 3..cookie.len() {
        let mut b = cookie.clone().into_bytes();
        b[i] = if b[i] == b'A' { b'B' } else { b'A' };
        forgeries.push(String::from_utf8(b).unwrap());
    }
    forgeries.push(cookie[..cookie.len() - 1].to_string());
    forgeries.push(format!("{cookie}A"));
    for forged in &forgeries {
        let got = decision(&engine, "/admin", forged, NOW);
        assert!(
            got.contains("InvalidCookie") && !got.starts_with("forward"),
            "{forged}: {got}"
        );
    }
    assert_eq!(engine.cached_sessions(), 1);
    // The genuine cookie still hits.
    assert!(decision(&engine, "/admin", &cookie, NOW).starts_with("forward"));
}

#[test]
fn the_cache_stays_bounded() {
    let s = settings();
    let engine = Engine::new(s).unwrap();
    let cfg = settings();
    for i in 0..gatehouse_filter::engine::SESSION_CACHE_ENTRIES + 20 {
        let mut one = session(&["admins"]);
        one.sub = format!("user-{i}");
        let cookie = cookie_header(&cfg, &one);
        assert!(decision(&engine, "/app", &cookie, NOW).starts_with("forward"));
    }
    assert_eq!(
        engine.cached_sessions(),
        gatehouse_filter::engine::SESSION_CACHE_ENTRIES
    );
}
