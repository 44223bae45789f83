//! Issue 10: login throttling, over real HTTP against the real broker binary, on SQLite and on
//! PostgreSQL (two replicas sharing one database). Client addresses come from X-Forwarded-For,
//! believed because the test's own address (127.0.0.1) is configured as the trusted proxy —
//! which also checks `web.clientRemoteIP`.

mod support;

use std::sync::{Arc, Barrier};

use gatehouse_e2e::postgres::TestDatabase;
use reqwest::blocking::Response;
use support::*;

const DEV: &str = "dev@example.com";
const DEV_PASSWORD: &str = "dev-password";

fn trusting_loopback(yaml: &str) -> String {
    let web = yaml.find("web:\n").expect("a web block");
    let line_end = yaml[web + 5..].find('\n').unwrap() + web + 6;
    let mut out = yaml.to_string();
    out.insert_str(
        line_end,
        "  clientRemoteIP:\n    header: X-Forwarded-For\n    trustedProxies: [127.0.0.1/32]\n",
    );
    out
}

fn postgres_storage(db: &TestDatabase) -> String {
    format!(
        "storage:\n  type: postgres\n  config:\n    host: \"{}\"\n    port: {}\n    database: \"{}\"\n    user: \"{}\"\n    ssl:\n      mode: disable\n",
        db.host(),
        db.port(),
        db.name(),
        db.user()
    )
}

/// A broker trusting X-Forwarded-For from loopback, with telemetry; `storage` replaces SQLite.
fn broker(storage: Option<&str>) -> Broker {
    let telemetry = free_port();
    let mut b = Broker::start(Options {
        skip_approval: true,
        password_grant: true,
        telemetry_port: Some(telemetry),
        ..Options::default()
    });
    b.stop();
    let mut yaml = trusting_loopback(&std::fs::read_to_string(&b.config).unwrap());
    if let Some(storage) = storage {
        let start = yaml.find("storage:\n").unwrap();
        let end = yaml.find("web:\n").unwrap();
        yaml.replace_range(start..end, storage);
    }
    std::fs::write(&b.config, yaml).unwrap();
    b.spawn();
    b
}

/// A second replica: same config (and database), own port.
fn replica_of(b: &Broker) -> Broker {
    let mut other = Broker::start(Options::default());
    other.stop();
    let yaml = std::fs::read_to_string(&b.config).unwrap().replace(
        &format!("127.0.0.1:{}", b.port),
        &format!("127.0.0.1:{}", other.port),
    );
    let telemetry = yaml
        .split("telemetry:\n  http: 127.0.0.1:")
        .nth(1)
        .and_then(|t| t.split('\n').next())
        .unwrap()
        .to_string();
    let yaml = yaml.replace(
        &format!("http: 127.0.0.1:{telemetry}"),
        &format!("http: 127.0.0.1:{}", free_port()),
    );
    std::fs::write(&other.config, yaml).unwrap();
    other.spawn();
    other
}

/// A fresh login form on `b`: (form URL, req).
fn form(b: &Broker) -> (String, String) {
    let p = pkce();
    open_login_form(
        b,
        &auth_url(b, CLIENT_ID, REDIRECT, "openid", "st", "n", Some(&p)),
    )
}

fn attempt(b: &Broker, from: &str, email: &str, password: &str) -> Response {
    let (url, req) = form(b);
    http()
        .post(url)
        .header("x-forwarded-for", from)
        .form(&[
            ("req", req.as_str()),
            ("login", email),
            ("password", password),
        ])
        .send()
        .unwrap()
}

fn metric(b: &Broker, series: &str) -> u64 {
    let port = std::fs::read_to_string(&b.config)
        .unwrap()
        .split("telemetry:\n  http: 127.0.0.1:")
        .nth(1)
        .and_then(|t| t.split('\n').next())
        .unwrap()
        .to_string();
    let text = http()
        .get(format!("http://127.0.0.1:{port}/metrics"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    text.lines()
        .find(|l| l.starts_with(series))
        .and_then(|l| l.rsplit(' ').next())
        .map(|v| v.parse::<f64>().unwrap() as u64)
        .unwrap_or(0)
}

const FAILED: &str = "gatehouse_logins_total{connector=\"local\",result=\"failed\"}";
const THROTTLED: &str = "gatehouse_logins_total{connector=\"local\",result=\"throttled\"}";

/// Wrong passwords for `email` until the broker answers 429; returns (401s before it, the 429).
fn fail_until_throttled(b: &Broker, from: &str, email: &str) -> (usize, Response) {
    let mut refused = 0;
    for _ in 0..12 {
        let r = attempt(b, from, email, "wrong");
        match r.status().as_u16() {
            401 => refused += 1,
            429 => return (refused, r),
            other => panic!("unexpected {other}: {}", r.text().unwrap_or_default()),
        }
    }
    panic!("never throttled after {refused} failures:\n{}", b.log());
}

fn throttling_backs_off_answers_429_and_checks_no_password(b: &Broker) {
    let failed_before = metric(b, FAILED);
    let (refused, throttled) = fail_until_throttled(b, "198.51.100.1", DEV);
    // Five free failures; the sixth earns the first wait.
    assert!(refused >= 6, "throttled after only {refused} failures");
    let retry: i64 = throttled
        .headers()
        .get("retry-after")
        .expect("Retry-After")
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry >= 1, "{retry}");
    let page = throttled.text().unwrap();
    assert!(page.contains("Too many sign-in attempts"), "{page}");
    assert!(page.contains("try again in"), "{page}");
    // Even the right password is refused while backing off, and no password was checked.
    let right = attempt(b, "198.51.100.1", DEV, DEV_PASSWORD);
    if right.status() == 429 {
        assert_eq!(
            metric(b, FAILED) - failed_before,
            refused as u64,
            "a throttled attempt ran bcrypt"
        );
        assert!(metric(b, THROTTLED) >= 2);
    }
    // The password grant at /token is throttled by the same account key.
    let r = http()
        .post(b.url("/token"))
        .header("x-forwarded-for", "198.51.100.9")
        .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
        .form(&[
            ("grant_type", "password"),
            ("username", DEV),
            ("password", "wrong"),
            ("scope", "openid"),
        ])
        .send()
        .unwrap();
    if r.status() == 429 {
        assert!(r.headers().get("retry-after").is_some());
    } else {
        // The back-off ran out meanwhile (a loaded machine): a normal refusal then.
        assert_eq!(r.status(), 400);
    }
    // Other accounts are not locked out, from another address or from this one.
    let other = attempt(b, "198.51.100.2", ADMIN_EMAIL, ADMIN_PASSWORD);
    assert_eq!(other.status(), 302, "{}", other.text().unwrap_or_default());
}

#[test]
fn sqlite_throttling_backs_off_answers_429_and_checks_no_password() {
    let b = broker(None);
    throttling_backs_off_answers_429_and_checks_no_password(&b);
}

#[test]
fn postgres_throttling_holds_across_replicas() {
    let db = TestDatabase::create().unwrap();
    let a = broker(Some(&postgres_storage(&db)));
    throttling_backs_off_answers_429_and_checks_no_password(&a);
    let b = replica_of(&a);
    // Failures on replica A count on replica B (the admin account was just cleared by its
    // successful sign-in).
    for _ in 0..6 {
        assert_eq!(
            attempt(&a, "198.51.100.3", ADMIN_EMAIL, "wrong").status(),
            401
        );
    }
    let (refused_on_b, throttled) = fail_until_throttled(&b, "198.51.100.3", ADMIN_EMAIL);
    assert!(refused_on_b < 6, "B did not see A's failures");
    assert!(throttled.headers().get("retry-after").is_some());
}

/// A flood against one account: at most one bcrypt for it at a time, the rest refused at once
/// (not queued), and another account signs in meanwhile.
#[test]
fn a_flood_against_one_account_is_refused_not_queued_and_others_sign_in() {
    let b = Arc::new(broker(None));
    let failed_before = metric(&b, FAILED);
    const FLOOD: usize = 8;
    let barrier = Arc::new(Barrier::new(FLOOD + 1));
    let forms: Vec<(String, String)> = (0..FLOOD).map(|_| form(&b)).collect();
    let flood: Vec<_> = forms
        .into_iter()
        .enumerate()
        .map(|(i, (url, req))| {
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                barrier.wait();
                // The admin hash is bcrypt cost 12 (hundreds of ms): the checks overlap.
                http()
                    .post(url)
                    .header("x-forwarded-for", format!("203.0.113.{}", i + 1))
                    .form(&[
                        ("req", req.as_str()),
                        ("login", ADMIN_EMAIL),
                        ("password", "wrong"),
                    ])
                    .send()
                    .unwrap()
                    .status()
                    .as_u16()
            })
        })
        .collect();
    barrier.wait();
    let legit = attempt(&b, "192.0.2.50", DEV, DEV_PASSWORD);
    let statuses: Vec<u16> = flood.into_iter().map(|t| t.join().unwrap()).collect();
    assert_eq!(legit.status(), 302, "{}", legit.text().unwrap_or_default());
    let checked = statuses.iter().filter(|s| **s == 401).count();
    let refused = statuses.iter().filter(|s| **s == 429).count();
    assert_eq!(checked + refused, FLOOD, "{statuses:?}");
    assert!(refused >= 1, "every attempt was checked: {statuses:?}");
    assert_eq!(
        metric(&b, FAILED) - failed_before,
        checked as u64,
        "a refused attempt ran bcrypt"
    );
}

/// Without `web.clientRemoteIP`, X-Forwarded-For is not believed: forging a new address per
/// attempt does not reset the address's count.
#[test]
fn forged_forwarded_for_is_ignored_without_a_trusted_proxy() {
    let b = Broker::start(Options {
        skip_approval: true,
        ..Options::default()
    });
    let mut throttled = false;
    for i in 0..30 {
        let r = attempt(
            &b,
            &format!("198.51.100.{i}"),
            &format!("u{i}@example.com"),
            "x",
        );
        if r.status() == 429 {
            throttled = true;
            break;
        }
        assert_eq!(r.status(), 401);
    }
    assert!(
        throttled,
        "30 failures from one address on 30 accounts were never throttled"
    );
}

#[test]
fn auth_requests_are_limited_per_client_address() {
    let b = broker(None);
    let p = pkce();
    let url = auth_url(&b, CLIENT_ID, REDIRECT, "openid", "st", "n", Some(&p));
    let c = http();
    let mut limited = None;
    for i in 0..700 {
        let r = c
            .get(&url)
            .header("x-forwarded-for", "198.51.100.77")
            .send()
            .unwrap();
        if r.status() == 429 {
            limited = Some((i, r));
            break;
        }
        assert_eq!(r.status(), 302);
    }
    let (i, r) = limited.expect("never limited");
    assert_eq!(i, 600, "limit at the 601st /auth in the minute");
    assert!(r.headers().get("retry-after").is_some());
    // Another address is not affected.
    let r = c
        .get(&url)
        .header("x-forwarded-for", "198.51.100.78")
        .send()
        .unwrap();
    assert_eq!(r.status(), 302);
}
