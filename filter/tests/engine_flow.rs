//! The relying-party engine driven through whole flows, with tokens signed by a real RSA key.
//! Runs natively and, through the wasi runner, as wasm.

use gatehouse_filter::engine::{Engine, Event, Outcome, Pending, Reply, Request};
use gatehouse_filter::pages::LocalResponse;
use gatehouse_filter::provider::{KeySet, Provider};
use gatehouse_filter::revocation::held::HeldFeed;
use jsonwebtoken::{encode, EncodingKey, Header};
use serde_json::{json, Value};

const PEM: &str = include_str!("fixtures/test_rsa.pem");

mod support;
use support::{provider, provider_with, settings, ISSUER, JWKS, NOW};

fn sign(claims: &Value, kid: &str) -> String {
    let mut h = Header::new(jsonwebtoken::Algorithm::RS256);
    h.kid = Some(kid.to_string());
    encode(
        &h,
        claims,
        &EncodingKey::from_rsa_pem(PEM.as_bytes()).unwrap(),
    )
    .unwrap()
}

fn claims(nonce: &str) -> Value {
    json!({
        "iss": ISSUER, "sub": "CgR1c2VyEgVsb2NhbA", "aud": "gatehouse",
        "exp": NOW + 3600, "iat": NOW, "nonce": nonce,
        "email": "admin@example.com", "email_verified": true,
        "name": "Admin", "preferred_username": "admin",
        "groups": ["admins", "developers"],
    })
}

fn get<'a>(path: &'a str, cookie: Option<&'a str>) -> Request<'a> {
    Request {
        method: "GET",
        path,
        authority: "127.0.0.1:8080",
        scheme: "http",
        cookie,
        accept: Some("text/html,application/xhtml+xml"),
        ..Request::default()
    }
}

/// A call's answer as an outcome, to match like a request-time one (it is never a `Call`).
fn settled((reply, event): (Reply, Event)) -> (Outcome, Event) {
    (reply.into(), event)
}

fn header<'a>(r: &'a LocalResponse, name: &str) -> Vec<&'a str> {
    r.headers
        .iter()
        .filter(|(k, _)| *k == name)
        .map(|(_, v)| v.as_str())
        .collect()
}

/// `name=value` of every Set-Cookie that sets (not clears) a cookie.
fn set_cookies(r: &LocalResponse) -> Vec<String> {
    header(r, "set-cookie")
        .into_iter()
        .filter(|c| !c.contains("Max-Age=0"))
        .map(|c| c.split(';').next().unwrap().to_string())
        .collect()
}

fn query_param(url: &str, key: &str) -> String {
    let q = url.split_once('?').unwrap().1;
    form_urlencoded::parse(q.as_bytes())
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

struct Login {
    state: String,
    nonce: String,
    challenge: String,
    cookie: String,
}

fn start_login(engine: &Engine, p: &Provider, path: &str) -> Login {
    let (out, ev) = engine.on_request(&get(path, None), Some(p), NOW);
    assert_eq!(ev, Event::LoginStarted);
    let Outcome::Respond(r) = out else {
        panic!("expected a redirect")
    };
    assert_eq!(r.status, 302);
    let loc = header(&r, "location")[0];
    assert!(loc.starts_with(&format!("{ISSUER}/auth?")), "{loc}");
    assert_eq!(
        query_param(loc, "redirect_uri"),
        "http://127.0.0.1:8080/oauth2/callback"
    );
    assert_eq!(query_param(loc, "code_challenge_method"), "S256");
    assert_eq!(query_param(loc, "response_type"), "code");
    let cookies = set_cookies(&r);
    assert_eq!(cookies.len(), 1);
    Login {
        state: query_param(loc, "state"),
        nonce: query_param(loc, "nonce"),
        challenge: query_param(loc, "code_challenge"),
        cookie: cookies[0].clone(),
    }
}

fn callback(engine: &Engine, p: &Provider, login: &Login) -> Box<Pending> {
    let path = format!("/oauth2/callback?code=abc&state={}", login.state);
    let (out, ev) = engine.on_request(&get(&path, Some(&login.cookie)), Some(p), NOW);
    assert_eq!(ev, Event::None);
    let Outcome::Call { call, pending } = out else {
        panic!("expected a token call")
    };
    assert_eq!(call.path, "/dex/token");
    let body = String::from_utf8(call.body.clone()).unwrap();
    let verifier = form_urlencoded::parse(body.as_bytes())
        .find(|(k, _)| k == "code_verifier")
        .unwrap()
        .1
        .into_owned();
    assert_eq!(
        gatehouse_filter::login::pkce::s256_challenge(&verifier),
        login.challenge
    );
    pending
}

fn full_login(engine: &Engine, p: &Provider, path: &str) -> (String, LocalResponse) {
    let login = start_login(engine, p, path);
    let pending = callback(engine, p, &login);
    let body = json!({"id_token": sign(&claims(&login.nonce), "test-key-1"), "token_type": "Bearer",
        "access_token": "at", "refresh_token": "rt"});
    let (out, ev) = settled(engine.on_token_response(
        *pending,
        Some(200),
        body.to_string().as_bytes(),
        Some(p),
        NOW,
    ));
    assert_eq!(ev, Event::LoginCompleted);
    let Outcome::Respond(r) = out else {
        panic!("expected redirect")
    };
    let session = set_cookies(&r)
        .into_iter()
        .find(|c| c.starts_with("_gatehouse="))
        .unwrap();
    (session, r)
}

#[test]
fn login_lands_on_original_url_and_session_admits() {
    let engine = Engine::new(settings(json!({}))).unwrap();
    let p = provider();
    let (session, r) = full_login(&engine, &p, "/app/page?x=1");
    assert_eq!(header(&r, "location"), vec!["/app/page?x=1"]);
    let cookie = format!("theirs=1; {session}");
    let (out, _) = engine.on_request(&get("/app/page", Some(&cookie)), Some(&p), NOW + 10);
    let Outcome::Forward(f) = out else {
        panic!("expected forward")
    };
    assert!(f
        .identity
        .contains(&("x-auth-request-email", "admin@example.com".into())));
    assert!(f
        .identity
        .contains(&("x-auth-request-groups", "admins,developers".into())));
    // The session cookie is not passed upstream; other cookies are.
    assert_eq!(f.cookie, Some(Some("theirs=1".into())));
}

#[test]
fn tampered_session_cookie_starts_a_new_login() {
    let engine = Engine::new(settings(json!({}))).unwrap();
    let p = provider();
    let (session, _) = full_login(&engine, &p, "/");
    let mut bytes = session.into_bytes();
    let i = bytes.len() - 5;
    bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
    let forged = String::from_utf8(bytes).unwrap();
    let (out, ev) = engine.on_request(&get("/", Some(&forged)), Some(&p), NOW);
    assert!(matches!(ev, Event::InvalidCookie(_)));
    let Outcome::Respond(r) = out else { panic!() };
    assert_eq!(r.status, 302);
}

#[test]
fn callback_checks_state_and_token() {
    let engine = Engine::new(settings(json!({}))).unwrap();
    let p = provider();
    let login = start_login(&engine, &p, "/");
    // Missing, malformed and foreign states.
    for path in [
        "/oauth2/callback?code=abc".to_string(),
        "/oauth2/callback?code=abc&state=x".to_string(),
        format!("/oauth2/callback?code=abc&state={}", "A".repeat(43)),
    ] {
        let (out, ev) = engine.on_request(&get(&path, Some(&login.cookie)), Some(&p), NOW);
        assert!(matches!(ev, Event::LoginFailed(_)), "{path}");
        assert!(matches!(out, Outcome::Respond(ref r) if r.status == 403));
    }
    // Right state, but the login cookie is gone.
    let path = format!("/oauth2/callback?code=abc&state={}", login.state);
    let (_, ev) = engine.on_request(&get(&path, None), Some(&p), NOW);
    assert!(matches!(ev, Event::LoginFailed(_)));
    // Too late.
    let (_, ev) = engine.on_request(&get(&path, Some(&login.cookie)), Some(&p), NOW + 3600);
    assert!(matches!(ev, Event::LoginFailed(_)));

    let bad_tokens = [
        ("wrong nonce", claims("other-nonce"), "test-key-1"),
        (
            "wrong audience",
            {
                let mut c = claims(&login.nonce);
                c["aud"] = json!("someone-else");
                c
            },
            "test-key-1",
        ),
        (
            "wrong issuer",
            {
                let mut c = claims(&login.nonce);
                c["iss"] = json!("http://evil/dex");
                c
            },
            "test-key-1",
        ),
        (
            "expired",
            {
                let mut c = claims(&login.nonce);
                c["exp"] = json!(NOW - 3600);
                c
            },
            "test-key-1",
        ),
        (
            "future",
            {
                let mut c = claims(&login.nonce);
                c["iat"] = json!(NOW + 3600);
                c
            },
            "test-key-1",
        ),
        ("unknown kid", claims(&login.nonce), "other-key"),
    ];
    for (what, c, kid) in bad_tokens {
        let pending = callback(&engine, &p, &login);
        let body = json!({"id_token": sign(&c, kid), "token_type": "Bearer"});
        let (out, ev) = settled(engine.on_token_response(
            *pending,
            Some(200),
            body.to_string().as_bytes(),
            Some(&p),
            NOW,
        ));
        assert!(matches!(ev, Event::LoginFailed(_)), "{what}: {ev:?}");
        let Outcome::Respond(r) = out else { panic!() };
        assert_eq!(r.status, 403, "{what}");
        assert!(set_cookies(&r).is_empty(), "{what}: no session may be set");
    }
    // A refused code (replay) and an unreachable broker.
    let pending = callback(&engine, &p, &login);
    let (out, _) = settled(engine.on_token_response(
        *pending,
        Some(400),
        br#"{"error":"invalid_grant"}"#,
        Some(&p),
        NOW,
    ));
    assert!(matches!(out, Outcome::Respond(ref r) if r.status == 403));
    let pending = callback(&engine, &p, &login);
    let (out, _) = settled(engine.on_token_response(*pending, None, b"", Some(&p), NOW));
    assert!(matches!(out, Outcome::Respond(ref r) if r.status == 503));
}

#[test]
fn signature_by_another_key_is_refused() {
    let engine = Engine::new(settings(json!({}))).unwrap();
    let p = provider();
    let login = start_login(&engine, &p, "/");
    let pending = callback(&engine, &p, &login);
    let token = sign(&claims(&login.nonce), "test-key-1");
    // Swap the signature for another token's: same header and key id, different payload.
    let other = sign(&json!({"sub": "x"}), "test-key-1");
    let forged = format!(
        "{}.{}",
        token.rsplit_once('.').unwrap().0,
        other.rsplit_once('.').unwrap().1
    );
    let body = json!({"id_token": forged, "token_type": "Bearer"});
    let (_, ev) = settled(engine.on_token_response(
        *pending,
        Some(200),
        body.to_string().as_bytes(),
        Some(&p),
        NOW,
    ));
    assert!(
        matches!(ev, Event::LoginFailed(ref w) if w.contains("signature")),
        "{ev:?}"
    );
}

#[test]
fn group_rule_denies_and_public_routes_pass_without_session() {
    let engine = Engine::new(settings(json!({
        "allowed_groups": ["admins"],
        "routes": [
            {"path_prefix": "/public", "public": true},
            {"path_prefix": "/ops", "allowed_groups": ["sre"]},
            {"path_prefix": "/api", "api": true},
        ],
    })))
    .unwrap();
    let p = provider();
    let (session, _) = full_login(&engine, &p, "/");
    let (out, _) = engine.on_request(&get("/ops/x", Some(&session)), Some(&p), NOW);
    assert!(matches!(out, Outcome::Respond(ref r) if r.status == 403));
    let (out, ev) = engine.on_request(&get("/public/../ops/x", Some(&session)), Some(&p), NOW);
    assert!(
        matches!(out, Outcome::Respond(ref r) if r.status == 400),
        "dot-segments must not reach the public rule"
    );
    assert!(matches!(ev, Event::Refused(_)), "{ev:?}");
    let (out, _) = engine.on_request(&get("/public/x", None), None, NOW);
    assert!(
        matches!(out, Outcome::Forward(_)),
        "public routes pass even before keys load"
    );
    let (out, _) = engine.on_request(&get("/api/x", None), Some(&p), NOW);
    assert!(matches!(out, Outcome::Respond(ref r) if r.status == 401));
    let mut xhr = get("/page", None);
    xhr.xhr = true;
    let (out, _) = engine.on_request(&xhr, Some(&p), NOW);
    assert!(matches!(out, Outcome::Respond(ref r) if r.status == 401));
}

#[test]
fn nothing_protected_passes_before_keys_load() {
    let engine = Engine::new(settings(json!({}))).unwrap();
    let (out, ev) = engine.on_request(&get("/", None), None, NOW);
    assert_eq!(ev, Event::NoProvider);
    assert!(matches!(out, Outcome::Respond(ref r) if r.status == 503));
}

#[test]
fn expired_session_is_refreshed_and_reissued() {
    let engine = Engine::new(settings(json!({}))).unwrap();
    let p = provider();
    let (session, _) = full_login(&engine, &p, "/");
    let later = NOW + 7200;
    let (out, _) = engine.on_request(&get("/x", Some(&session)), Some(&p), later);
    let Outcome::Call { call, pending } = out else {
        panic!("expected refresh call")
    };
    assert!(String::from_utf8(call.body)
        .unwrap()
        .contains("grant_type=refresh_token"));
    let mut c = claims("");
    c.as_object_mut().unwrap().remove("nonce");
    c["exp"] = json!(later + 3600);
    c["iat"] = json!(later);
    let body =
        json!({"id_token": sign(&c, "test-key-1"), "token_type": "Bearer", "refresh_token": "rt2"});
    let (out, ev) = settled(engine.on_token_response(
        *pending,
        Some(200),
        body.to_string().as_bytes(),
        Some(&p),
        later,
    ));
    assert_eq!(ev, Event::Refreshed);
    let Outcome::Forward(f) = out else {
        panic!("expected forward")
    };
    assert_eq!(f.response_cookies.len(), 1);
    // A refused refresh starts a new login.
    let (out, _) = engine.on_request(&get("/x", Some(&session)), Some(&p), later);
    let Outcome::Call { pending, .. } = out else {
        panic!()
    };
    let (out, ev) = settled(engine.on_token_response(
        *pending,
        Some(400),
        br#"{"error":"invalid_grant"}"#,
        Some(&p),
        later,
    ));
    assert!(matches!(ev, Event::RefreshFailed(_)));
    assert!(matches!(out, Outcome::Respond(ref r) if r.status == 302));
}

#[test]
fn sign_out_clears_cookies_and_validates_rd() {
    let engine = Engine::new(settings(json!({}))).unwrap();
    let p = provider();
    let (session, _) = full_login(&engine, &p, "/");
    for (rd, want) in [
        ("/bye", "/bye"),
        ("//evil.example", "/"),
        ("https://evil.example", "/"),
    ] {
        let path = format!(
            "/oauth2/sign_out?rd={}",
            form_urlencoded::byte_serialize(rd.as_bytes()).collect::<String>()
        );
        let (out, ev) = engine.on_request(&get(&path, Some(&session)), Some(&p), NOW);
        assert_eq!(ev, Event::SignedOut);
        let Outcome::Respond(r) = out else { panic!() };
        assert_eq!(header(&r, "location"), vec![want]);
        assert!(header(&r, "set-cookie")
            .iter()
            .any(|c| c.starts_with("_gatehouse=;") && c.contains("Max-Age=0")));
    }
}

#[test]
fn open_redirect_return_urls_land_on_root() {
    let engine = Engine::new(settings(json!({}))).unwrap();
    let p = provider();
    // Such paths are refused before a login starts (the path decision)...
    for path in ["//evil.example", "/\\evil.example", "/%2F%2Fevil.example"] {
        let (out, _) = engine.on_request(&get(path, None), Some(&p), NOW);
        assert!(
            matches!(out, Outcome::Respond(ref r) if r.status == 400),
            "{path}"
        );
    }
    // ...and a stored return URL is sanitised again on the way back.
    let (_, r) = full_login(&engine, &p, "/app?x=1");
    assert_eq!(header(&r, "location"), vec!["/app?x=1"]);
}

#[test]
fn hundreds_of_groups_are_chunked_and_read_back() {
    let engine = Engine::new(settings(json!({}))).unwrap();
    let p = provider();
    let login = start_login(&engine, &p, "/");
    let pending = callback(&engine, &p, &login);
    let groups: Vec<String> = (0..400)
        .map(|i| format!("team-{i:04}-with-a-longish-name"))
        .collect();
    let mut c = claims(&login.nonce);
    c["groups"] = json!(groups);
    let body = json!({"id_token": sign(&c, "test-key-1"), "token_type": "Bearer"});
    let (out, ev) = settled(engine.on_token_response(
        *pending,
        Some(200),
        body.to_string().as_bytes(),
        Some(&p),
        NOW,
    ));
    assert_eq!(ev, Event::LoginCompleted);
    let Outcome::Respond(r) = out else { panic!() };
    let parts = set_cookies(&r);
    assert!(parts.len() >= 3, "expected chunks, got {}", parts.len());
    assert!(parts
        .iter()
        .all(|c| c.starts_with("_gatehouse_") && c.len() < 4000));
    let header = parts.join("; ");
    let (out, ev) = engine.on_request(&get("/", Some(&header)), Some(&p), NOW);
    assert_eq!(ev, Event::None);
    let Outcome::Forward(f) = out else {
        panic!("chunked session must be read back")
    };
    let sent = &f
        .identity
        .iter()
        .find(|(k, _)| *k == "x-auth-request-groups")
        .unwrap()
        .1;
    assert_eq!(sent.split(',').count(), 400);
    assert_eq!(
        f.cookie,
        Some(None),
        "no session chunk may reach the upstream"
    );
}

#[test]
fn login_to_a_silent_broker_is_probed_first() {
    let engine = Engine::new(settings(json!({}))).unwrap();
    let p = provider();
    let later = NOW + 60;
    let (out, _) = engine.on_request(&get("/app", None), Some(&p), later);
    let Outcome::Call { call, pending } = out else {
        panic!("expected a probe")
    };
    assert_eq!(call.path, "/dex/.well-known/openid-configuration");
    let (out, ev) = settled(engine.on_token_response(*pending, None, b"", Some(&p), later));
    assert!(matches!(ev, Event::LoginFailed(_)));
    assert!(matches!(out, Outcome::Respond(ref r) if r.status == 503));

    let (out, _) = engine.on_request(&get("/app", None), Some(&p), later);
    let Outcome::Call { pending, .. } = out else {
        panic!("still probing")
    };
    let (out, ev) = settled(engine.on_token_response(*pending, Some(200), b"{}", Some(&p), later));
    assert_eq!(ev, Event::LoginStarted);
    let Outcome::Respond(r) = out else { panic!() };
    assert_eq!(r.status, 302);
    // Heard from just now: the next login goes straight to the broker.
    let (out, _) = engine.on_request(&get("/app", None), Some(&p), later + 1);
    assert!(matches!(out, Outcome::Respond(ref r) if r.status == 302));
}

fn bearer_req<'a>(path: &'a str, auth: &'a str) -> Request<'a> {
    Request {
        accept: Some("application/json"),
        authorization: Some(auth),
        ..get(path, None)
    }
}

fn access_claims() -> Value {
    let mut c = claims("");
    c.as_object_mut().unwrap().remove("nonce");
    c
}

#[test]
fn bearer_tokens_are_verified_once_then_cached() {
    let engine = Engine::new(settings(json!({"skip_jwt_bearer_tokens": true}))).unwrap();
    let p = provider();
    let auth = format!("Bearer {}", sign(&access_claims(), "test-key-1"));
    let (out, ev) = engine.on_request(&bearer_req("/api/x", &auth), Some(&p), NOW);
    assert_eq!(ev, Event::None);
    let Outcome::Forward(f) = out else {
        panic!("valid bearer must pass")
    };
    assert!(f
        .identity
        .contains(&("x-auth-request-email", "admin@example.com".into())));
    // Cached: still accepted with the keys gone (no verification happens).
    *p.keys.borrow_mut() = KeySet::parse(JWKS.replace("test-key-1", "x").as_bytes()).unwrap();
    let (out, _) = engine.on_request(&bearer_req("/api/x", &auth), Some(&p), NOW + 1);
    assert!(
        matches!(out, Outcome::Forward(_)),
        "second request must hit the cache"
    );
    // ...until it expires.
    *p.keys.borrow_mut() = KeySet::parse(JWKS.as_bytes()).unwrap();
    let (out, _) = engine.on_request(&bearer_req("/api/x", &auth), Some(&p), NOW + 3600 + 61);
    assert!(matches!(out, Outcome::Respond(ref r) if r.status == 401));
}

#[test]
fn bad_bearer_tokens_get_401_invalid_token() {
    let engine = Engine::new(settings(
        json!({"skip_jwt_bearer_tokens": true, "jwt_bearer_audiences": ["api-a", "gatehouse"]}),
    ))
    .unwrap();
    let p = provider();
    let mut wrong_aud = access_claims();
    wrong_aud["aud"] = json!("api-b");
    let mut not_yet = access_claims();
    not_yet["nbf"] = json!(NOW + 600);
    let mut expired = access_claims();
    expired["exp"] = json!(NOW - 600);
    for (what, token) in [
        ("wrong audience", sign(&wrong_aud, "test-key-1")),
        ("not yet valid", sign(&not_yet, "test-key-1")),
        ("expired", sign(&expired, "test-key-1")),
        ("garbage", "a.b.c".to_string()),
    ] {
        let auth = format!("Bearer {token}");
        let (out, ev) = engine.on_request(&bearer_req("/api/x", &auth), Some(&p), NOW);
        assert!(matches!(ev, Event::BearerRejected(_)), "{what}: {ev:?}");
        let Outcome::Respond(r) = out else {
            panic!("{what}")
        };
        assert_eq!(r.status, 401, "{what}");
        assert!(
            header(&r, "www-authenticate")[0].contains("invalid_token"),
            "{what}"
        );
    }
    let mut other_api = access_claims();
    other_api["aud"] = json!("api-a");
    let auth = format!("Bearer {}", sign(&other_api, "test-key-1"));
    assert!(matches!(
        engine
            .on_request(&bearer_req("/api/x", &auth), Some(&p), NOW)
            .0,
        Outcome::Forward(_)
    ));
}

#[test]
fn unknown_kid_refetches_keys_once_then_refuses() {
    let engine = Engine::new(settings(json!({"skip_jwt_bearer_tokens": true}))).unwrap();
    // The filter still holds an old key set without our key.
    let p = provider();
    *p.keys.borrow_mut() = KeySet::parse(JWKS.replace("test-key-1", "old").as_bytes()).unwrap();
    let auth = format!("Bearer {}", sign(&access_claims(), "test-key-1"));
    let (out, _) = engine.on_request(&bearer_req("/api/x", &auth), Some(&p), NOW);
    let Outcome::Call { call, pending } = out else {
        panic!("expected a JWKS refetch")
    };
    assert_eq!(call.path, "/dex/keys");
    let (out, ev) =
        settled(engine.on_token_response(*pending, Some(200), JWKS.as_bytes(), Some(&p), NOW));
    assert_eq!(ev, Event::KeysRefetched);
    assert!(matches!(out, Outcome::Forward(_)));
    // A token with a kid nobody has: refetch is rate-limited, so it is refused at once.
    let auth = format!("Bearer {}", sign(&access_claims(), "nobody"));
    let (out, ev) = engine.on_request(&bearer_req("/api/x", &auth), Some(&p), NOW + 5);
    assert!(matches!(ev, Event::BearerRejected(_)));
    assert!(matches!(out, Outcome::Respond(ref r) if r.status == 401));
}

#[test]
fn bearer_tokens_of_an_ended_session_are_refused_like_its_cookies() {
    let engine = Engine::new(settings(json!({"skip_jwt_bearer_tokens": true}))).unwrap();
    let p = provider_with(&[("revocation_feed_endpoint", "/revocations")]);
    engine.set_started(NOW);
    let held = br#"{"epoch":1,"iat":1800000000,"first":1,"seq":1,"sids":["ended-sid"]}"#;
    engine.set_feed(HeldFeed::from_json(held).unwrap());
    let token = |sid: Option<&str>| {
        let mut c = access_claims();
        if let Some(sid) = sid {
            c["sid"] = json!(sid);
        }
        format!("Bearer {}", sign(&c, "test-key-1"))
    };
    let (ended, live, none) = (
        token(Some("ended-sid")),
        token(Some("live-sid")),
        token(None),
    );
    // Twice each: the second answer comes from the bearer cache and must not differ.
    for _ in 0..2 {
        let (out, ev) = engine.on_request(&bearer_req("/api/x", &ended), Some(&p), NOW + 1);
        assert!(
            matches!(out, Outcome::Respond(ref r) if r.status == 401),
            "{ev:?}"
        );
        assert!(matches!(ev, Event::BearerRejected(ref why) if why.contains("ended")));
        let (out, _) = engine.on_request(&bearer_req("/api/x", &live), Some(&p), NOW + 1);
        assert!(matches!(out, Outcome::Forward(_)));
        // No session behind it (client_credentials, token exchange): nothing to end.
        let (out, _) = engine.on_request(&bearer_req("/api/x", &none), Some(&p), NOW + 1);
        assert!(matches!(out, Outcome::Forward(_)));
    }
    // A feed too old to tell fails closed for a token with a session, as for a cookie.
    let (out, ev) = engine.on_request(&bearer_req("/api/x", &live), Some(&p), NOW + 3000);
    assert_eq!(ev, Event::FeedStale);
    assert!(matches!(out, Outcome::Respond(ref r) if r.status == 503));
}

#[test]
fn sign_out_with_rd_ends_the_broker_session() {
    let engine = Engine::new(settings(json!({}))).unwrap();
    let p = provider_with(&[("end_session_endpoint", "/logout")]);
    let (session, _) = full_login(&engine, &p, "/");
    // The session carries no ID token: a fresh one is fetched with the refresh token.
    let (out, _) = engine.on_request(
        &get("/oauth2/sign_out?rd=%2Fbye", Some(&session)),
        Some(&p),
        NOW,
    );
    let Outcome::Call { call, pending } = out else {
        panic!("expected a refresh for the hint")
    };
    assert!(String::from_utf8(call.body)
        .unwrap()
        .contains("grant_type=refresh_token"));
    let hint = sign(&access_claims(), "test-key-1");
    let body = json!({"id_token": hint, "token_type": "Bearer"});
    let (out, ev) = settled(engine.on_token_response(
        *pending,
        Some(200),
        body.to_string().as_bytes(),
        Some(&p),
        NOW,
    ));
    assert_eq!(ev, Event::None);
    let Outcome::Respond(r) = out else { panic!() };
    let loc = header(&r, "location")[0];
    assert!(loc.starts_with(&format!("{ISSUER}/logout?")), "{loc}");
    assert_eq!(
        query_param(loc, "post_logout_redirect_uri"),
        "http://127.0.0.1:8080/bye"
    );
    assert_eq!(query_param(loc, "id_token_hint"), hint);
    assert!(header(&r, "set-cookie")
        .iter()
        .any(|c| c.starts_with("_gatehouse=;")));
    // The broker cannot give a hint: a local sign-out to rd.
    let (out, _) = engine.on_request(
        &get("/oauth2/sign_out?rd=%2Fbye", Some(&session)),
        Some(&p),
        NOW,
    );
    let Outcome::Call { pending, .. } = out else {
        panic!()
    };
    let (out, _) = settled(engine.on_token_response(*pending, Some(400), b"{}", Some(&p), NOW));
    let Outcome::Respond(r) = out else { panic!() };
    assert_eq!(header(&r, "location"), vec!["/bye"]);
    // Without rd or sign_out_redirect: a local sign-out only.
    let (out, _) = engine.on_request(&get("/oauth2/sign_out", Some(&session)), Some(&p), NOW);
    let Outcome::Respond(r) = out else { panic!() };
    assert_eq!(header(&r, "location"), vec!["/"]);
}

#[test]
fn a_gateway_error_from_the_probe_is_no_sign_of_life() {
    let engine = Engine::new(settings(json!({}))).unwrap();
    let p = provider();
    let later = NOW + 60;
    for gateway_error in [502, 503, 504] {
        let (out, _) = engine.on_request(&get("/app", None), Some(&p), later);
        let Outcome::Call { pending, .. } = out else {
            panic!("expected a probe")
        };
        let (out, _) =
            settled(engine.on_token_response(*pending, Some(gateway_error), b"", Some(&p), later));
        assert!(matches!(out, Outcome::Respond(ref r) if r.status == 503));
    }
    // Still no contact recorded: the next login is probed again rather than sent to a dead broker.
    let (out, _) = engine.on_request(&get("/app", None), Some(&p), later + 1);
    assert!(matches!(out, Outcome::Call { .. }));
}

/// `name=value` of the first `Set-Cookie`: the one a local response keeps on Kong, whose host
/// sets local-response headers in "set" mode (the rest are added in the response-header
/// callback, see `LocalResponse::split_cookies`).
fn first_cookie(r: &LocalResponse) -> String {
    let (sent, _) = r.clone().split_cookies();
    let kept = header(&sent, "set-cookie");
    assert_eq!(kept.len(), 1, "{kept:?}");
    kept[0].to_string()
}

fn big_session(engine: &Engine, p: &Provider) -> LocalResponse {
    let login = start_login(engine, p, "/");
    let pending = callback(engine, p, &login);
    let mut c = claims(&login.nonce);
    c["groups"] = json!((0..400)
        .map(|i| format!("team-{i:04}-with-a-longish-name"))
        .collect::<Vec<_>>());
    let body = json!({"id_token": sign(&c, "test-key-1"), "token_type": "Bearer",
        "refresh_token": "rt"});
    let (out, _) = settled(engine.on_token_response(
        *pending,
        Some(200),
        body.to_string().as_bytes(),
        Some(p),
        NOW,
    ));
    let Outcome::Respond(r) = out else { panic!() };
    r
}

#[test]
fn each_local_response_leads_with_the_cookie_it_depends_on() {
    let engine = Engine::new(settings(json!({}))).unwrap();
    let p = provider();

    // Callback: the session first, the login cookie's deletion after it.
    let (session, r) = full_login(&engine, &p, "/");
    assert!(first_cookie(&r).starts_with(&format!("{session};")));
    assert!(header(&r, "set-cookie")[1].starts_with("_gatehouse_login_"));

    // A chunked session: chunk 0 first, then the other chunks in order.
    let r = big_session(&engine, &p);
    assert!(first_cookie(&r).starts_with("_gatehouse_0="));
    let chunks = set_cookies(&r);
    let names: Vec<&str> = chunks
        .iter()
        .map(|c| c.split('=').next().unwrap())
        .collect();
    let want: Vec<String> = (0..names.len())
        .map(|i| format!("_gatehouse_{i}"))
        .collect();
    assert_eq!(names, want);

    // Sign-out of a chunked session: the deletion of chunk 0 comes first, and a browser that
    // got only that one holds no session any more (the other chunks alone are never read).
    let held = chunks.join("; ");
    let (out, _) = engine.on_request(&get("/oauth2/sign_out", Some(&held)), Some(&p), NOW);
    let Outcome::Respond(r) = out else { panic!() };
    let first = first_cookie(&r);
    assert!(first.starts_with("_gatehouse_0=;") && first.contains("Max-Age=0"));
    let cleared: Vec<&str> = header(&r, "set-cookie")
        .into_iter()
        .map(|c| c.split('=').next().unwrap())
        .collect();
    for name in &names {
        assert!(cleared.contains(name), "{name} not cleared: {cleared:?}");
    }
    let leftover = chunks[1..].join("; ");
    let (out, ev) = engine.on_request(&get("/", Some(&leftover)), Some(&p), NOW);
    assert!(matches!(out, Outcome::Respond(ref r) if r.status == 302));
    assert_ne!(ev, Event::None);

    // A tampered session: the new login cookie first, the deletion after it.
    let mut forged = session.into_bytes();
    let i = forged.len() - 5;
    forged[i] = if forged[i] == b'A' { b'B' } else { b'A' };
    let forged = String::from_utf8(forged).unwrap();
    let (out, ev) = engine.on_request(&get("/", Some(&forged)), Some(&p), NOW);
    assert!(matches!(ev, Event::InvalidCookie(_)));
    let Outcome::Respond(r) = out else { panic!() };
    assert!(first_cookie(&r).starts_with("_gatehouse_login_"));
    assert!(header(&r, "set-cookie")
        .iter()
        .any(|c| c.starts_with("_gatehouse=;") && c.contains("Max-Age=0")));
}

#[test]
fn forged_identity_headers_and_ambiguous_paths_are_refused_on_every_route() {
    let engine = Engine::new(settings(json!({
        "routes": [{"path_prefix": "/public", "public": true}],
    })))
    .unwrap();
    let p = provider();
    let (session, _) = full_login(&engine, &p, "/");
    for path in [
        "/public/x",
        "/app",
        "/oauth2/callback?code=a&state=b",
        "/oauth2/sign_out",
    ] {
        for cookie in [None, Some(session.as_str())] {
            let req = Request {
                forged: Some("X_Auth_Request_Groups"),
                ..get(path, cookie)
            };
            let (out, ev) = engine.on_request(&req, Some(&p), NOW);
            assert!(
                matches!(out, Outcome::Respond(ref r) if r.status == 400),
                "{path}"
            );
            assert!(matches!(ev, Event::Refused(ref why) if why.contains("X_Auth_Request_Groups")));
        }
    }
    // A header the filter reads that is not UTF-8 (the glue names it): refused the same way,
    // on every route, with or without a session.
    for path in ["/public/x", "/app", "/oauth2/callback?code=a&state=b"] {
        for cookie in [None, Some(session.as_str())] {
            let req = Request {
                unreadable: Some("Cookie"),
                ..get(path, cookie)
            };
            let (out, ev) = engine.on_request(&req, Some(&p), NOW);
            assert!(
                matches!(out, Outcome::Respond(ref r) if r.status == 400),
                "{path}"
            );
            assert!(matches!(ev, Event::Refused(ref why) if why.contains("not UTF-8")));
        }
    }
    for path in [
        "/admin/x%2F..%2F..%2Fpublic",
        "/public/%2e%2e/app",
        "/public;a/../app",
    ] {
        let (out, _) = engine.on_request(&get(path, None), None, NOW);
        assert!(
            matches!(out, Outcome::Respond(ref r) if r.status == 400),
            "{path}"
        );
    }
}

#[test]
fn the_filter_cookies_are_replaced_away_and_never_sit_in_a_second_cookie_header() {
    let engine = Engine::new(settings(json!({
        "routes": [{"path_prefix": "/public", "public": true}],
    })))
    .unwrap();
    let p = provider();
    let (session, _) = full_login(&engine, &p, "/");
    // Only the filter's cookie: nothing is left of the header (the glue replaces it).
    let (out, _) = engine.on_request(&get("/app", Some(&session)), Some(&p), NOW);
    let Outcome::Forward(f) = out else { panic!() };
    assert_eq!(f.cookie, Some(None));
    let both = format!("app=1; {session}");
    let (out, _) = engine.on_request(&get("/public/x", Some(&both)), Some(&p), NOW);
    let Outcome::Forward(f) = out else { panic!() };
    assert_eq!(f.cookie, Some(Some("app=1".to_string())));
    // No filter cookie: the header is left alone (no host call).
    let (out, _) = engine.on_request(&get("/public/x", Some("app=1")), Some(&p), NOW);
    let Outcome::Forward(f) = out else { panic!() };
    assert_eq!(f.cookie, None);
    // Several Cookie headers, one of them the filter's: refused.
    let req = Request {
        cookie_headers: 2,
        ..get("/public/x", Some(&both))
    };
    let (out, _) = engine.on_request(&req, Some(&p), NOW);
    assert!(matches!(out, Outcome::Respond(ref r) if r.status == 400));
    let req = Request {
        cookie_headers: 2,
        ..get("/public/x", Some("a=1; b=2"))
    };
    assert!(matches!(
        engine.on_request(&req, Some(&p), NOW).0,
        Outcome::Forward(_)
    ));
}

#[test]
fn authorization_is_the_filters_with_pass_access_token_and_never_doubled() {
    let engine = Engine::new(settings(json!({"pass_access_token": true}))).unwrap();
    let p = provider();
    let (session, _) = full_login(&engine, &p, "/");
    let (out, _) = engine.on_request(&get("/app", Some(&session)), Some(&p), NOW);
    let Outcome::Forward(f) = out else { panic!() };
    assert!(f
        .identity
        .contains(&("authorization", "Bearer at".to_string())));
    let req = Request {
        authorization: Some("Bearer forged"),
        authorizations: 1,
        ..get("/app", Some(&session))
    };
    assert!(
        matches!(engine.on_request(&req, Some(&p), NOW).0, Outcome::Respond(ref r) if r.status == 400)
    );
    let engine = Engine::new(settings(json!({"skip_jwt_bearer_tokens": true}))).unwrap();
    let auth = format!("Bearer {}", sign(&access_claims(), "test-key-1"));
    let req = Request {
        authorizations: 2,
        ..bearer_req("/api/x", &auth)
    };
    assert!(
        matches!(engine.on_request(&req, Some(&p), NOW).0, Outcome::Respond(ref r) if r.status == 400)
    );
}

fn unverified(mut c: Value) -> Value {
    c["email_verified"] = json!(false);
    c
}

#[test]
fn an_unverified_address_meets_no_email_rule_in_sessions_and_bearer_tokens() {
    for allow in [false, true] {
        let engine = Engine::new(settings(json!({
            "email_domains": ["example.com"],
            "skip_jwt_bearer_tokens": true,
            "insecure_oidc_allow_unverified_email": allow,
        })))
        .unwrap();
        let p = provider();
        let login = start_login(&engine, &p, "/");
        let pending = callback(&engine, &p, &login);
        let body = json!({"id_token": sign(&unverified(claims(&login.nonce)), "test-key-1"),
            "token_type": "Bearer", "access_token": "at"});
        let (out, _) = settled(engine.on_token_response(
            *pending,
            Some(200),
            body.to_string().as_bytes(),
            Some(&p),
            NOW,
        ));
        let Outcome::Respond(r) = out else { panic!() };
        let session = set_cookies(&r)
            .into_iter()
            .find(|c| c.starts_with("_gatehouse="))
            .unwrap();
        let (out, _) = engine.on_request(&get("/", Some(&session)), Some(&p), NOW);
        let status = match out {
            Outcome::Respond(r) => r.status,
            Outcome::Forward(f) => {
                assert!(f
                    .identity
                    .contains(&("x-auth-request-email", "admin@example.com".into())));
                200
            }
            Outcome::Call { .. } => panic!(),
        };
        assert_eq!(
            status,
            if allow { 200 } else { 403 },
            "session, allow {allow}"
        );

        let auth = format!(
            "Bearer {}",
            sign(&unverified(access_claims()), "test-key-1")
        );
        let (out, _) = engine.on_request(&bearer_req("/api/x", &auth), Some(&p), NOW);
        let status = match out {
            Outcome::Respond(r) => r.status,
            Outcome::Forward(_) => 200,
            Outcome::Call { .. } => panic!(),
        };
        assert_eq!(
            status,
            if allow { 200 } else { 403 },
            "bearer, allow {allow}"
        );
    }
}
