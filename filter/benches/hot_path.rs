//! The filter's per-request path, natively: open the session cookie (XChaCha20-Poly1305 +
//! JSON), check the rule, build the identity headers — through `Engine::on_request`, the
//! same entry point the proxy-wasm glue calls. Sessions of about 1 KB (one cookie) and
//! 4 KB (chunked), and a cached bearer JWT; and the 1 KB session with the broker's revocation
//! feed loaded with 10 000 ended sessions (issue 17), beside the same engine without a feed.
//! Run by `make bench`; see BENCHMARKS.md.

use std::hint::black_box;
use std::time::Duration;

use base64::Engine as _;
use criterion::{criterion_group, criterion_main, Criterion};
use gatehouse_filter::config::Settings;
use gatehouse_filter::cookie::codec::CookieCodec;
use gatehouse_filter::engine::{Engine, Outcome, Request};
use gatehouse_filter::provider::{parse_discovery, KeySet, Provider};
use gatehouse_filter::revocation::held::HeldFeed;
use gatehouse_filter::session;
use gatehouse_filter::session::Session;
use jsonwebtoken::{encode, EncodingKey, Header};
use serde_json::json;

const PEM: &str = include_str!("../tests/fixtures/test_rsa.pem");
const JWKS: &str = include_str!("../tests/fixtures/test_jwks.json");
const ISSUER: &str = "http://127.0.0.1:5556/dex";
const NOW: u64 = 1_800_000_000;
const COOKIE: &str = "_gatehouse";

fn settings() -> Settings {
    let cfg = json!({
        "issuer": ISSUER,
        "broker_upstream": "broker",
        "client_id": "gatehouse",
        "client_secret": "gatehouse-secret",
        "cookie_secret": base64::engine::general_purpose::STANDARD.encode([9u8; 32]),
        "skip_jwt_bearer_tokens": true,
        "allowed_groups": ["developers"],
    });
    Settings::from_json(cfg.to_string().as_bytes()).expect("valid config")
}

fn provider() -> Provider {
    provider_with(json!({}))
}

/// The provider with extra discovery fields (e.g. the revocation feed's endpoint).
fn provider_with(extra: serde_json::Value) -> Provider {
    let mut doc = json!({
        "issuer": ISSUER,
        "authorization_endpoint": format!("{ISSUER}/auth"),
        "token_endpoint": format!("{ISSUER}/token"),
        "jwks_uri": format!("{ISSUER}/keys"),
    });
    if let (Some(d), Some(e)) = (doc.as_object_mut(), extra.as_object()) {
        d.extend(e.clone());
    }
    Provider::new(
        parse_discovery(doc.to_string().as_bytes(), ISSUER).expect("discovery"),
        KeySet::parse(JWKS.as_bytes()).expect("jwks"),
        NOW,
    )
}

/// A session with `groups` groups and a refresh token, as the filter stores one.
fn session(groups: usize) -> Session {
    let mut g = vec!["admins".to_string(), "developers".to_string()];
    g.extend((0..groups).map(|i| format!("team-{i:03}-platform")));
    Session {
        sub: "CiQwOGE4Njg0Yi1kYjg4LTRiNzMtOTBhOS0zY2QxNjYxZjU0NjYSBWxvY2Fs".into(),
        email: "admin@example.com".into(),
        name: "admin".into(),
        preferred_username: "admin".into(),
        groups: g,
        issued_at: NOW,
        expires_at: NOW + 3600,
        ends_at: NOW + 86_400,
        refresh_token: Some("r".repeat(43)),
        access_token: None,
        sid: "live-session-0001".into(),
    }
}

/// A feed as the broker lists it: `n` ended sessions (16-character ids, as the broker's),
/// numbered 1..=n, issued now.
fn feed(n: usize) -> HeldFeed {
    let sids: Vec<String> = (0..n).map(|i| format!("ended{i:011}")).collect();
    let record = json!({"epoch": 7, "iat": NOW, "first": 1, "seq": n, "sids": sids});
    HeldFeed::from_json(record.to_string().as_bytes()).expect("a consistent feed record")
}

/// The `Cookie` header a browser sends for `session` (chunked above the chunk size).
fn cookie_header(settings: &Settings, s: &Session) -> String {
    let codec = CookieCodec::new(&settings.cookie_secrets).expect("codec");
    let sealed = s.seal(&codec, COOKIE).expect("seal");
    session::cookies::write(&settings.cookie, COOKIE, &sealed, 3600, &[])
        .iter()
        .filter_map(|c| c.split(';').next().map(str::to_string))
        .collect::<Vec<_>>()
        .join("; ")
}

fn request<'a>(cookie: Option<&'a str>, authorization: Option<&'a str>) -> Request<'a> {
    Request {
        method: "GET",
        path: "/app/page?x=1",
        authority: "127.0.0.1:8080",
        scheme: "http",
        cookie,
        cookie_headers: cookie.is_some() as usize,
        accept: Some("text/html,application/xhtml+xml"),
        authorization,
        authorizations: authorization.is_some() as usize,
        ..Request::default()
    }
}

fn forwards(engine: &Engine, p: &Provider, req: &Request<'_>) -> bool {
    matches!(engine.on_request(req, Some(p), NOW).0, Outcome::Forward(_))
}

fn hot_path(c: &mut Criterion) {
    let settings = settings();
    let codec = CookieCodec::new(&settings.cookie_secrets).expect("codec");
    let small = cookie_header(&settings, &session(30));
    let large = cookie_header(&settings, &session(150));
    let engine = Engine::new(settings).expect("engine");
    let p = provider();
    eprintln!(
        "hot_path: session cookies of {} B and {} B ({} cookies)",
        small.len(),
        large.len(),
        large.split("; ").count()
    );
    for cookie in [&small, &large] {
        assert!(
            forwards(&engine, &p, &request(Some(cookie), None)),
            "session must admit"
        );
    }
    let mut header = Header::new(jsonwebtoken::Algorithm::RS256);
    header.kid = Some("test-key-1".into());
    let claims = json!({
        "iss": ISSUER, "sub": "CgR1c2VyEgVsb2NhbA", "aud": "gatehouse",
        "exp": NOW + 3600, "iat": NOW,
        "email": "admin@example.com", "name": "Admin", "preferred_username": "admin",
        "groups": ["admins", "developers"],
    });
    let key = EncodingKey::from_rsa_pem(PEM.as_bytes()).expect("pem");
    let bearer = format!("Bearer {}", encode(&header, &claims, &key).expect("sign"));
    // The first request verifies the RS256 signature; later ones hit the cache.
    assert!(
        forwards(&engine, &p, &request(None, Some(&bearer))),
        "bearer must admit"
    );

    let mut g = c.benchmark_group("hot_path");
    let one_cookie = small.split_once('=').map(|(_, v)| v).unwrap_or_default();
    g.bench_function("cookie_open_1k", |b| {
        b.iter(|| Session::open(&codec, COOKIE, black_box(one_cookie)).expect("open"))
    });
    g.bench_function("on_request_session_1k", |b| {
        b.iter(|| forwards(&engine, &p, black_box(&request(Some(&small), None))))
    });
    g.bench_function("on_request_session_4k_chunked", |b| {
        b.iter(|| forwards(&engine, &p, black_box(&request(Some(&large), None))))
    });
    g.bench_function("on_request_bearer_cached", |b| {
        b.iter(|| forwards(&engine, &p, black_box(&request(None, Some(&bearer)))))
    });
    // The same small session with the revocation feed loaded: 10 000 ended sessions, this
    // session not among them (it is admitted after the set lookup).
    let fed = Engine::new(self::settings()).expect("engine");
    let fed_provider = provider_with(json!({
        "revocation_feed_endpoint": format!("{ISSUER}/revocations"),
    }));
    fed.set_started(NOW);
    fed.set_feed(feed(10_000));
    assert!(
        forwards(&fed, &fed_provider, &request(Some(&small), None)),
        "a session the feed does not list must admit"
    );
    // And the feed is really consulted: a listed session is refused.
    let mut listed = session(30);
    listed.sid = "ended00000004242".into();
    let listed_cookie = cookie_header(&fed.settings, &listed);
    assert!(
        !forwards(&fed, &fed_provider, &request(Some(&listed_cookie), None)),
        "a session the feed lists must be refused"
    );
    g.bench_function("on_request_session_1k_feed_10k", |b| {
        b.iter(|| forwards(&fed, &fed_provider, black_box(&request(Some(&small), None))))
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(30);
    targets = hot_path
}
criterion_main!(benches);
