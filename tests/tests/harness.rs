//! The harness's own parts, against real servers and processes (no filter or broker needed).

use std::process::Command;
use std::time::Duration;

use gatehouse_e2e::broker::PASSWORD_HASH;
use gatehouse_e2e::ports::free_port;
use gatehouse_e2e::{wait_http_ready, Browser, Echo, LogDir, Process, ADMIN, BOB};

#[test]
fn echo_records_requests_and_shows_identity_headers() {
    let echo = Echo::start().unwrap();
    wait_http_ready(&echo.url(), Duration::from_secs(5)).unwrap();
    echo.clear();
    let mut browser = Browser::new().unwrap();
    browser.jar.insert("127.0.0.1", "session", "secret-value");

    let page = browser
        .get_with(
            &format!("{}/hello?x=1", echo.url()),
            &[
                ("accept", "application/json"),
                ("x-auth-request-email", "a@example.com"),
                ("x-auth-request-groups", "admins,developers"),
                ("authorization", "Bearer t"),
            ],
        )
        .unwrap();
    assert_eq!(page.status, 200);
    let json = page.json().unwrap();
    assert_eq!(json["path"], "/hello?x=1");
    assert_eq!(json["identity"]["x-auth-request-email"], "a@example.com");
    assert_eq!(
        json["identity"]["x-auth-request-groups"],
        "admins,developers"
    );
    assert_eq!(
        json["identity"]["x-auth-request-user"],
        serde_json::Value::Null
    );
    assert_eq!(json["authorization"], true);
    assert_eq!(json["cookies"], serde_json::json!(["session"]));
    assert!(
        !page.body.contains("secret-value"),
        "cookie values are never shown"
    );

    let html = browser
        .get_with(
            &format!("{}/", echo.url()),
            &[("x-auth-request-user", "<script>alert(1)</script>")],
        )
        .unwrap();
    assert!(html
        .header("content-type")
        .unwrap()
        .starts_with("text/html"));
    assert!(html.body.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(!html.body.contains("<script>alert"));

    let requests = echo.requests();
    assert_eq!(requests.len(), 2, "{requests:?}");
    assert_eq!(requests[0].method, "GET");
    assert_eq!(
        requests[0].header("X-Auth-Request-Email"),
        Some("a@example.com")
    );
    assert_eq!(requests[1].path, "/");
}

#[test]
fn echo_stops_on_drop() {
    let echo = Echo::start().unwrap();
    let url = echo.url();
    wait_http_ready(&url, Duration::from_secs(5)).unwrap();
    drop(echo);
    assert!(wait_http_ready(&url, Duration::from_millis(300)).is_err());
}

#[test]
fn free_ports_are_distinct() {
    let ports: std::collections::HashSet<u16> = (0..20).map(|_| free_port().unwrap()).collect();
    assert_eq!(ports.len(), 20);
}

#[test]
fn a_process_is_killed_on_drop_and_logs_to_its_file() {
    let logs = LogDir::for_test("harness-process").unwrap();
    let mut cmd = Command::new("sh");
    cmd.args(["-c", "echo started; exec sleep 60"]);
    let mut process = Process::spawn("sleeper", cmd, &logs).unwrap();
    let pid = process.pid() as i32;
    assert!(process.exited().unwrap().is_none());
    std::thread::sleep(Duration::from_millis(200));
    let log = process.log_path().to_path_buf();
    drop(process);
    // The child was reaped, so the PID no longer names our process.
    let alive = std::path::Path::new(&format!("/proc/{pid}/cmdline")).exists()
        && std::fs::read_to_string(format!("/proc/{pid}/cmdline"))
            .unwrap_or_default()
            .contains("sleep");
    assert!(!alive, "sleep {pid} still runs");
    assert_eq!(std::fs::read_to_string(log).unwrap(), "started\n");
}

#[test]
fn a_process_that_dies_fails_the_readiness_wait_with_its_log() {
    let logs = LogDir::for_test("harness-dies").unwrap();
    let mut cmd = Command::new("sh");
    cmd.args(["-c", "echo boom-reason >&2; exit 3"]);
    let mut process = Process::spawn("dier", cmd, &logs).unwrap();
    let port = free_port().unwrap();
    let err = process
        .wait_http_ready(
            &format!("http://127.0.0.1:{port}/"),
            Duration::from_secs(10),
        )
        .unwrap_err();
    assert!(err.to_string().contains("boom-reason"), "{err}");
}

#[test]
fn the_test_users_password_hash_is_bcrypt_cost_10_of_password() {
    assert!(PASSWORD_HASH.starts_with("$2b$10$"));
    for user in [ADMIN, BOB] {
        assert!(bcrypt::verify(user.password, PASSWORD_HASH).unwrap());
    }
    assert!(!bcrypt::verify("Password", PASSWORD_HASH).unwrap());
}
