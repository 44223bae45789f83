//! Issue 6: the broker at scale and under faults, end to end through Envoy and the filter —
//! replicas on PostgreSQL, crashes (SIGKILL), a database restart, graceful shutdown — and the
//! second seed's Dex settings on PostgreSQL.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gatehouse_e2e::broker::{CLIENT_ID, CLIENT_SECRET};
use gatehouse_e2e::postgres::{shared_server, PrivateCluster, Source, TestDatabase};
use gatehouse_e2e::replicas::{postgres_storage_yaml, ReplicaStack};
use gatehouse_e2e::{Browser, Page, Stack, StackOptions, ADMIN, BOB};

/// Polls the gateway until the filter has the broker's keys (a login redirect, not 503).
fn wait_gateway(url: &str) {
    let mut probe = Browser::new().unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let page = probe.get(url).unwrap();
        match page.status {
            302 => return,
            503 if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(100)),
            other => panic!("gateway not ready: {other} {}", page.body),
        }
    }
}

fn landed(page: &Page, browser: &Browser, want: &str, email: &str) -> Result<(), String> {
    if page.status == 200 && page.url.as_str() == want && page.body.contains(email) {
        Ok(())
    } else {
        Err(format!(
            "{} {}\n{}",
            page.status,
            page.url,
            browser.history_text()
        ))
    }
}

fn count(db: &TestDatabase, sql: &str) -> i64 {
    db.query_strings(sql).unwrap()[0].parse().unwrap()
}

fn get_status(url: &str) -> u16 {
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(15))
        .build()
        .unwrap()
        .get(url)
        .send()
        .map(|r| r.status().as_u16())
        .unwrap_or(0)
}

#[test]
fn postgres_for_tests_is_found_and_the_private_fallback_works() {
    // Whatever the machine offers, tests get a database of their own.
    let server = shared_server().unwrap();
    let db = TestDatabase::create().unwrap();
    db.execute(&["CREATE TABLE t (x TEXT)", "INSERT INTO t VALUES ('a')"])
        .unwrap();
    assert_eq!(db.query_strings("SELECT x FROM t").unwrap(), vec!["a"]);
    let other = TestDatabase::create().unwrap();
    assert_ne!(db.name(), other.name());
    let name = db.name().to_string();
    drop(db);
    let left = other
        .query_strings(&format!(
            "SELECT datname::text FROM pg_database WHERE datname = '{name}'"
        ))
        .unwrap();
    assert!(left.is_empty(), "the test database was not dropped");
    eprintln!("shared PostgreSQL: {:?}", server.source);

    // The fallback used on machines without a server, forced here: initdb + pg_ctl.
    let cluster = PrivateCluster::start().unwrap();
    let private = TestDatabase::create_on(&cluster.admin_url()).unwrap();
    private.execute(&["CREATE TABLE t (x TEXT)"]).unwrap();
    cluster.stop().unwrap();
    assert!(private.query_strings("SELECT x FROM t").is_err(), "stopped");
    cluster.start_again().unwrap();
    assert!(private.query_strings("SELECT x FROM t").unwrap().is_empty());
    if server.source == Source::PrivateCluster {
        eprintln!("(the shared server is a private cluster too)");
    }
}

/// (started, finished, result) of one login.
type LoginOutcome = (Instant, Instant, Result<(), String>);

#[test]
fn logins_survive_a_replica_killed_mid_batch_with_nothing_lost_or_duplicated() {
    let stack = ReplicaStack::start().unwrap();
    wait_gateway(&stack.url("/"));
    // Both replicas serve the same keys.
    let jwks: Vec<String> = (0..2)
        .map(|i| {
            reqwest::blocking::get(format!("{}/keys", stack.replica_issuer(i)))
                .unwrap()
                .text()
                .unwrap()
        })
        .collect();
    assert_eq!(jwks[0], jwks[1]);

    const LOGINS: usize = 24;
    const WORKERS: usize = 4;
    let results: Arc<Mutex<Vec<LoginOutcome>>> = Arc::new(Mutex::new(Vec::new()));
    let next = Arc::new(Mutex::new(0usize));
    let killed_at: Arc<Mutex<Option<Instant>>> = Arc::new(Mutex::new(None));
    let stop = AtomicBool::new(false);
    std::thread::scope(|s| {
        for _ in 0..WORKERS {
            let results = results.clone();
            let next = next.clone();
            let stack = &stack;
            let stop = &stop;
            s.spawn(move || loop {
                let n = {
                    let mut g = next.lock().unwrap();
                    if *g >= LOGINS || stop.load(Ordering::Relaxed) {
                        return;
                    }
                    *g += 1;
                    *g
                };
                let user = if n.is_multiple_of(2) { ADMIN } else { BOB };
                let want = stack.url(&format!("/page/{n}"));
                let started = Instant::now();
                let mut browser = Browser::new().unwrap();
                let result = match browser.login(&want, user.email, user.password) {
                    Ok(page) => landed(&page, &browser, &want, user.email),
                    Err(e) => Err(format!("{e:#}\n{}", browser.history_text())),
                };
                results
                    .lock()
                    .unwrap()
                    .push((started, Instant::now(), result));
            });
        }
        // Kill replica A once a third of the logins are done.
        let deadline = Instant::now() + Duration::from_secs(60);
        while results.lock().unwrap().len() < LOGINS / 3 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        *killed_at.lock().unwrap() = Some(Instant::now());
        stack.kill(0).unwrap();
    });
    let killed_at = killed_at.lock().unwrap().unwrap();
    // A request sent just after the kill can still go out on a pooled connection to the
    // dead replica, until Envoy's health checks (50 ms) and outlier detection take it out
    // of the balancer: such a login also had a request in flight on the killed replica.
    let window_end = killed_at + Duration::from_secs(2);
    let results = results.lock().unwrap();
    assert_eq!(results.len(), LOGINS);
    let mut ok = 0;
    for (started, finished, result) in results.iter() {
        let in_flight_at_kill = *started <= window_end && *finished >= killed_at;
        match result {
            Ok(()) => ok += 1,
            Err(e) if in_flight_at_kill => eprintln!("login in flight at the kill failed: {e}"),
            Err(e) => panic!("a login not in flight at the kill failed: {e}"),
        }
    }
    let in_flight = results
        .iter()
        .filter(|(s, f, _)| *s <= window_end && *f >= killed_at)
        .count();
    assert!(
        ok >= LOGINS - in_flight,
        "{ok} of {LOGINS} logins completed"
    );
    assert!(ok >= LOGINS - WORKERS, "{ok} of {LOGINS} logins completed");

    // Storage: one refresh token (one family) and one redeemed code per completed login.
    let db = &stack.db;
    let tokens = count(db, "SELECT count(*)::text FROM refresh_tokens");
    let families = count(
        db,
        "SELECT count(DISTINCT family)::text FROM refresh_tokens",
    );
    let redeemed = count(db, "SELECT count(*)::text FROM redeemed_codes");
    let open_codes = count(db, "SELECT count(*)::text FROM auth_codes");
    let keys = count(db, "SELECT count(*)::text FROM signing_keys");
    // A login in flight at the kill may have had its code exchanged and committed on the
    // killed replica just before its answer was lost: its token exists, the login failed.
    // Every completed login has its token; nothing beyond those in-flight failures.
    let failed_in_flight = (LOGINS - ok) as i64;
    assert!(
        tokens >= ok as i64 && tokens <= ok as i64 + failed_in_flight,
        "{tokens} refresh tokens for {ok} completed logins"
    );
    assert_eq!(families, tokens, "no duplicated family");
    assert_eq!(redeemed, tokens, "one redeemed code per refresh token");
    assert!(
        open_codes <= (LOGINS - ok) as i64,
        "{open_codes} codes left"
    );
    assert_eq!(keys, 1, "replicas share one signing key");

    // The survivor still logs people in, and the killed replica rejoins.
    let mut browser = Browser::new().unwrap();
    let want = stack.url("/after");
    let page = browser.login(&want, ADMIN.email, ADMIN.password).unwrap();
    landed(&page, &browser, &want, ADMIN.email).unwrap();
    stack.restart(0).unwrap();
    assert_eq!(
        get_status(&format!("{}/healthz", stack.replica_issuer(0))),
        200
    );
}

#[test]
fn a_login_started_on_one_replica_finishes_on_the_other() {
    let stack = ReplicaStack::start().unwrap();
    wait_gateway(&stack.url("/"));
    // Drive the broker part by hand: the form from replica A, the submission to replica B.
    let mut browser = Browser::new().unwrap();
    let first = browser.get(&stack.url("/cross")).unwrap();
    let auth = first.location().unwrap();
    assert!(auth.as_str().starts_with(stack.issuer()), "{auth}");
    let on_a = auth
        .as_str()
        .replacen(stack.issuer(), &stack.replica_issuer(0), 1);
    let on_a_page = browser.get(&on_a).unwrap();
    let form_page = browser.follow_all(on_a_page).unwrap();
    let form = form_page.login_form().unwrap();
    let action_on_b =
        form.action
            .as_str()
            .replacen(&stack.replica_issuer(0), &stack.replica_issuer(1), 1);
    let posted = browser
        .post_form(&action_on_b, &form.fields(ADMIN.email, ADMIN.password))
        .unwrap();
    let page = browser.follow_all(posted).unwrap();
    landed(&page, &browser, &stack.url("/cross"), ADMIN.email).unwrap();
    assert!(
        browser
            .history
            .iter()
            .any(|(_, u)| u.as_str().starts_with(&stack.replica_issuer(1))),
        "{}",
        browser.history_text()
    );
    assert_eq!(
        count(&stack.db, "SELECT count(*)::text FROM refresh_tokens"),
        1
    );
    assert_eq!(
        count(&stack.db, "SELECT count(*)::text FROM auth_requests"),
        0
    );
}

#[test]
fn refresh_on_either_replica_and_concurrent_refreshes_have_one_winner() {
    let stack = ReplicaStack::start_with(
        &[(
            "oauth2:\n",
            // Strict rotation: no reuse grace, so of concurrent refreshes exactly one wins
            // (with Dex's default 3 s grace, concurrent reuses get sibling tokens instead).
            "expiry:\n  refreshTokens:\n    reuseInterval: 0s\noauth2:\n",
        )],
        serde_json::Map::new(),
    )
    .unwrap();
    // A code flow by hand against replica A, then refreshes alternating A and B.
    let (a, b) = (stack.replica_issuer(0), stack.replica_issuer(1));
    let redirect = stack.url("/oauth2/callback");
    let mut browser = Browser::new().unwrap();
    let auth = format!(
        "{a}/auth?client_id={CLIENT_ID}&response_type=code&scope=openid+email+offline_access&state=s1&redirect_uri={}",
        url::form_urlencoded::byte_serialize(redirect.as_bytes()).collect::<String>()
    );
    let auth_page = browser.get(&auth).unwrap();
    let form_page = browser.follow_all(auth_page).unwrap();
    let form = form_page.login_form().unwrap();
    let posted = browser
        .post_form(
            form.action.as_str(),
            &form.fields(ADMIN.email, ADMIN.password),
        )
        .unwrap();
    let back = browser
        .follow_until(posted, |p| {
            p.location()
                .is_some_and(|l| l.as_str().starts_with(&redirect))
        })
        .unwrap();
    let code = back
        .location()
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .to_string();
    let http = reqwest::blocking::Client::new();
    let token = |base: &str, form: &[(&str, &str)]| {
        http.post(format!("{base}/token"))
            .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
            .form(form)
            .send()
            .unwrap()
    };
    let first: serde_json::Value = token(
        &b,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", &redirect),
        ],
    )
    .text()
    .map(|t| serde_json::from_str(&t).unwrap())
    .unwrap();
    let mut rt = first["refresh_token"].as_str().unwrap().to_string();
    for base in [&a, &b, &a, &b] {
        let r = token(
            base,
            &[("grant_type", "refresh_token"), ("refresh_token", &rt)],
        );
        assert_eq!(r.status(), 200, "refresh on {base}");
        let v: serde_json::Value = serde_json::from_str(&r.text().unwrap()).unwrap();
        rt = v["refresh_token"].as_str().unwrap().to_string();
    }
    // Eight concurrent refreshes with one token, spread over both replicas: one winner.
    let statuses: Vec<u16> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8u32)
            .map(|i| {
                let base = if i.is_multiple_of(2) { &a } else { &b };
                let rt = &rt;
                let token = &token;
                s.spawn(move || {
                    token(
                        base,
                        &[("grant_type", "refresh_token"), ("refresh_token", rt)],
                    )
                    .status()
                    .as_u16()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 400),
        "{statuses:?}"
    );
    // With no reuse interval the losers presented a rotated token: that is reuse, which the
    // broker cannot tell from theft, so the whole family goes — the winner's successor too,
    // since it is stored in the same transaction as the spend (OAuth 2.0 Security BCP §4.14.2).
    let live = count(
        &stack.db,
        "SELECT count(*)::text FROM refresh_tokens WHERE spent = 0",
    );
    assert_eq!(live, 0, "reuse revokes the family, successor included");
}

/// Runs a login up to the broker's redirect back to the filter's callback (not followed).
fn up_to_callback(stack: &Stack, browser: &mut Browser, path: &str) -> Page {
    let posted = browser
        .submit_login(&stack.url(path), ADMIN.email, ADMIN.password)
        .unwrap();
    let callback = stack.url("/oauth2/callback");
    browser
        .follow_until(posted, |p| {
            p.location()
                .is_some_and(|l| l.as_str().starts_with(&callback))
        })
        .unwrap()
}

#[test]
fn a_sqlite_broker_killed_between_login_form_and_callback_finishes_the_login_after_restart() {
    let mut stack = Stack::start(StackOptions::default()).unwrap();
    wait_gateway(&stack.url("/"));

    // 1. Killed while the login form is on screen: the submission after restart works.
    let mut browser = Browser::new().unwrap();
    let first = browser.get(&stack.url("/form")).unwrap();
    let form_page = browser.follow_all(first).unwrap();
    let form = form_page.login_form().unwrap();
    stack.broker_mut().unwrap().process().kill();
    stack.stop_broker();
    stack.start_broker().unwrap();
    let posted = browser
        .post_form(
            form.action.as_str(),
            &form.fields(ADMIN.email, ADMIN.password),
        )
        .unwrap();
    let page = browser.follow_all(posted).unwrap();
    landed(&page, &browser, &stack.url("/form"), ADMIN.email).unwrap();

    // 2. Killed after the code was issued, before the callback: the filter redeems it after.
    let mut browser = Browser::new().unwrap();
    let to_callback = up_to_callback(&stack, &mut browser, "/code");
    stack.broker_mut().unwrap().process().kill();
    stack.stop_broker();
    stack.start_broker().unwrap();
    let page = browser.follow_all(to_callback).unwrap();
    landed(&page, &browser, &stack.url("/code"), ADMIN.email).unwrap();
}

#[test]
fn postgres_restarted_under_a_running_broker_gives_503_then_recovers_by_itself() {
    let cluster = PrivateCluster::start().unwrap();
    let db = TestDatabase::create_on(&cluster.admin_url()).unwrap();
    let stack = Stack::start(StackOptions {
        broker_storage: Some(postgres_storage_yaml(&db)),
        ..StackOptions::default()
    })
    .unwrap();
    wait_gateway(&stack.url("/"));
    let healthz = format!("{}/healthz", stack.issuer());
    let auth = format!(
        "{}/auth?client_id={CLIENT_ID}&response_type=code&scope=openid&state=s&redirect_uri={}",
        stack.issuer(),
        url::form_urlencoded::byte_serialize(stack.url("/oauth2/callback").as_bytes())
            .collect::<String>()
    );
    assert_eq!(get_status(&healthz), 200);

    cluster.stop().unwrap();
    assert_eq!(
        get_status(&healthz),
        503,
        "healthz while PostgreSQL is down"
    );
    assert_eq!(get_status(&auth), 503, "/auth while PostgreSQL is down");
    let token = reqwest::blocking::Client::new()
        .post(format!("{}/token", stack.issuer()))
        .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
        .form(&[("grant_type", "refresh_token"), ("refresh_token", "a.b")])
        .send()
        .unwrap();
    assert_eq!(token.status(), 503, "/token while PostgreSQL is down");
    // Through the gateway a new login cannot start; the browser is told to come back later.
    let mut browser = Browser::new().unwrap();
    let first = browser.get(&stack.url("/down")).unwrap();
    let page = browser.follow_all(first).unwrap();
    assert_eq!(page.status, 503, "{}", browser.history_text());

    cluster.start_again().unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while get_status(&healthz) != 200 {
        assert!(Instant::now() < deadline, "the broker did not recover");
        std::thread::sleep(Duration::from_millis(200));
    }
    let mut browser = Browser::new().unwrap();
    let want = stack.url("/after-restart");
    let page = browser.login(&want, ADMIN.email, ADMIN.password).unwrap();
    landed(&page, &browser, &want, ADMIN.email).unwrap();
}

#[test]
fn sigterm_lets_an_in_flight_login_finish() {
    // A slow password check (bcrypt cost 14, about a second) keeps the login POST in flight.
    let slow = bcrypt::hash(ADMIN.password, 14).unwrap();
    let mut stack = Stack::start(StackOptions {
        broker_yaml_replace: vec![(gatehouse_e2e::broker::PASSWORD_HASH.to_string(), slow)],
        ..StackOptions::default()
    })
    .unwrap();
    wait_gateway(&stack.url("/"));
    let mut browser = Browser::new().unwrap();
    let first = browser.get(&stack.url("/graceful")).unwrap();
    let form_page = browser.follow_all(first).unwrap();
    let form = form_page.login_form().unwrap();
    let fields = form.fields(ADMIN.email, ADMIN.password);
    let posted = std::thread::scope(|s| {
        let post = s.spawn(|| {
            let mut b = browser.clone();
            let page = b.post_form(form.action.as_str(), &fields);
            (b, page)
        });
        std::thread::sleep(Duration::from_millis(300));
        let process = stack.broker_mut().unwrap().process();
        process.terminate();
        let (b, page) = post.join().unwrap();
        let status = process.wait_exit(Duration::from_secs(10)).unwrap();
        assert!(status.success(), "broker exit: {status}");
        (b, page)
    });
    let (mut browser, page) = posted;
    let page = page.expect("the in-flight login got an answer");
    assert_eq!(page.status, 302, "{}", page.body);
    assert!(
        page.location()
            .is_some_and(|l| l.as_str().starts_with(&stack.url("/oauth2/callback"))),
        "{:?}",
        page.location()
    );
    // The broker is gone now; once it is back the filter redeems the code and the login ends.
    stack.stop_broker();
    stack.start_broker().unwrap();
    let page = browser.follow_all(page).unwrap();
    landed(&page, &browser, &stack.url("/graceful"), ADMIN.email).unwrap();
}

/// The second seed's Dex settings, unchanged: the local password DB, its static user with the
/// base64 bcrypt hash, its static client, PostgreSQL storage with the password from
/// `$PASSWORD_ENV_VAR` and `ssl.mode: disable`. Only where the database is (host, port, name)
/// and where the broker listens come from the test.
#[test]
fn the_second_seeds_dex_settings_on_postgres_log_in() {
    let db = TestDatabase::create().unwrap();
    // The seed's database user `dex`, owning the test database (PostgreSQL 15: owner may create).
    let _ = db.execute_admin(&["CREATE ROLE dex LOGIN PASSWORD 'seed-db-password'"]);
    db.execute_admin(&[&format!("ALTER DATABASE {} OWNER TO dex", db.name())])
        .unwrap();
    let port = gatehouse_e2e::ports::free_port().unwrap();
    let issuer = format!("http://127.0.0.1:{port}/dex");
    let yaml = format!(
        r#"issuer: {issuer}
web:
  http: 127.0.0.1:{port}
storage:
  type: postgres
  config:
    host: {host}
    port: {db_port}
    database: {database}
    user: dex
    password: $PASSWORD_ENV_VAR
    ssl:
      mode: disable
enablePasswordDb: true
oauth2:
  passwordConnector: local
  responseTypes: ["code"]
staticPasswords:
- email: "admin-dex@example.com"
  hash: "JDJhJDEyJEwycXBiTjRjNThHTHd1YXo4Wnhoa2UvSzF1cHMvWnVyRnhvNU9iRnAxQWhILmllNGdUNXZD"
  username: "admin"
  userID: "1"
staticClients:
- id: backend-client
  public: false
  secret: "backend-secret-change-in-production"
  name: "Backend Auth Service"
  redirectURIs:
  - "http://localhost:8000/api/auth/callback"
"#,
        host = db.host(),
        db_port = db.port(),
        database = db.name(),
    );
    let logs = gatehouse_e2e::LogDir::for_test("the_second_seeds_dex_settings_on_postgres_log_in")
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = gatehouse_e2e::BrokerConfig {
        port,
        issuer: issuer.clone(),
        yaml,
    };
    let _broker = gatehouse_e2e::Broker::start_named(
        &logs,
        dir.path(),
        &config,
        "broker",
        &[("PASSWORD_ENV_VAR".into(), "seed-db-password".into())],
    )
    .unwrap();

    // The browser flow of the seed's backend: /auth, login form, approval, code to the callback.
    let redirect = "http://localhost:8000/api/auth/callback";
    let mut browser = Browser::new().unwrap();
    let auth = format!(
        "{issuer}/auth?client_id=backend-client&response_type=code&scope=openid+email+profile+offline_access&state=st&redirect_uri={}",
        url::form_urlencoded::byte_serialize(redirect.as_bytes()).collect::<String>()
    );
    let auth_page = browser.get(&auth).unwrap();
    let form_page = browser.follow_all(auth_page).unwrap();
    let form = form_page.login_form().unwrap();
    let posted = browser
        .post_form(
            form.action.as_str(),
            &form.fields("admin-dex@example.com", "password"),
        )
        .unwrap();
    let mut page = browser.follow_all(posted).unwrap();
    if !page.is_redirect() {
        // The approval screen (the seed does not skip it): approve.
        let req = page
            .body
            .split("name=\"req\" value=\"")
            .nth(1)
            .and_then(|r| r.split('"').next())
            .unwrap_or_else(|| panic!("no approval form: {}", page.body))
            .to_string();
        page = browser
            .post_form(
                &format!("{issuer}/approval"),
                &[("req", req.as_str()), ("approval", "approve")],
            )
            .unwrap();
    }
    let location = page.location().unwrap();
    assert!(location.as_str().starts_with(redirect), "{location}");
    let code = location
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .to_string();
    let http = reqwest::blocking::Client::new();
    let r = http
        .post(format!("{issuer}/token"))
        .basic_auth(
            "backend-client",
            Some("backend-secret-change-in-production"),
        )
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", redirect),
        ])
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    let tokens: serde_json::Value = serde_json::from_str(&r.text().unwrap()).unwrap();
    let id_token = tokens["id_token"].as_str().unwrap();
    let payload = id_token.split('.').nth(1).unwrap();
    use base64::Engine;
    let claims: serde_json::Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap();
    assert_eq!(claims["email"], "admin-dex@example.com");
    assert_eq!(claims["aud"], "backend-client");
    assert_eq!(claims["iss"], issuer.as_str());
    // The seed's passwordConnector: local also allows the password grant.
    let r = http
        .post(format!("{issuer}/token"))
        .basic_auth(
            "backend-client",
            Some("backend-secret-change-in-production"),
        )
        .form(&[
            ("grant_type", "password"),
            ("username", "admin-dex@example.com"),
            ("password", "password"),
            ("scope", "openid email"),
        ])
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    // The rows are in PostgreSQL, in tables owned by the seed's user.
    let owner = db
        .query_strings("SELECT tableowner::text FROM pg_tables WHERE tablename = 'refresh_tokens'")
        .unwrap();
    assert_eq!(owner, vec!["dex"]);
    assert_eq!(
        count(&db, "SELECT count(*)::text FROM refresh_tokens"),
        1,
        "offline_access gave one refresh token"
    );
}

/// Keys rotate every 20 s here (the next one is published 10 s ahead; the filter refetches JWKS
/// every 5 s, and a fetch cycle — discovery, then JWKS on the next 1 s tick — adds up to 2 s):
/// replicas add exactly one successor per period through the
/// compare-and-swap, the windows are contiguous, and every replica already publishes the key
/// that signs whenever it signs; logins keep working across rotations.
#[test]
fn replicas_rotate_signing_keys_together_and_publish_the_signing_key_in_time() {
    let mut filter = serde_json::Map::new();
    filter.insert("jwks_refresh_s".into(), 5.into());
    let stack = ReplicaStack::start_with(
        &[(
            "enablePasswordDB: true\n",
            "expiry:\n  signingKeys: 20s\n  idTokens: 10s\nenablePasswordDB: true\n",
        )],
        filter,
    )
    .unwrap();
    wait_gateway(&stack.url("/"));
    let jwks_kids = |i: usize| -> Vec<String> {
        let text = reqwest::blocking::get(format!("{}/keys", stack.replica_issuer(i)))
            .unwrap()
            .text()
            .unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        v["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["kid"].as_str().unwrap().to_string())
            .collect()
    };
    let stored = || -> Vec<serde_json::Value> {
        stack
            .db
            .query_strings("SELECT data FROM signing_keys")
            .unwrap()
            .iter()
            .map(|d| serde_json::from_str(d).unwrap())
            .collect()
    };
    let start = Instant::now();
    let mut logins = 0;
    // Two rotations: the second successor is added 30 s after the first key was made.
    while start.elapsed() < Duration::from_secs(33) {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        let signing: Vec<String> = stored()
            .iter()
            .filter(|k| {
                k["sign_from"].as_i64().unwrap() < now
                    && k["sign_until"].as_i64().unwrap() > now + 1
            })
            .map(|k| k["kid"].as_str().unwrap().to_string())
            .collect();
        for i in 0..2 {
            let kids = jwks_kids(i);
            for kid in &signing {
                assert!(
                    kids.contains(kid),
                    "replica {i} does not publish the signing key {kid}"
                );
            }
        }
        let mut browser = Browser::new().unwrap();
        let want = stack.url(&format!("/rot/{logins}"));
        let page = browser.login(&want, ADMIN.email, ADMIN.password).unwrap();
        landed(&page, &browser, &want, ADMIN.email).unwrap();
        logins += 1;
        std::thread::sleep(Duration::from_millis(300));
    }
    let mut keys = stored();
    keys.sort_by_key(|k| k["sign_from"].as_i64().unwrap());
    assert!(keys.len() >= 3, "rotated at least twice: {}", keys.len());
    let generation = count(
        &stack.db,
        "SELECT generation::text FROM signing_key_state WHERE id = 1",
    );
    assert_eq!(
        generation,
        keys.len() as i64,
        "one successful swap per key, no fights"
    );
    for pair in keys.windows(2) {
        assert_eq!(
            pair[1]["sign_from"], pair[0]["sign_until"],
            "signing windows are contiguous"
        );
    }
}
