//! The telemetry listener (`telemetry.http`): Prometheus `/metrics` and health checks, scraped
//! from the real broker binary after real logins.

mod support;

use support::*;

fn scrape(port: u16) -> String {
    let r = http()
        .get(format!("http://127.0.0.1:{port}/metrics"))
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    let content_type = r.headers()["content-type"].to_str().unwrap().to_string();
    assert!(
        content_type.starts_with("application/openmetrics-text"),
        "{content_type}"
    );
    r.text().unwrap()
}

/// The value of the sample line `series` (name with labels), 0 when absent.
fn value(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .map_or(0.0, |v| v.trim().parse().unwrap())
}

#[test]
fn counters_move_with_logins_tokens_and_refresh_reuse() {
    let telemetry = free_port();
    let b = Broker::start(Options {
        telemetry_port: Some(telemetry),
        // Reuse counts once the reuse interval is over; with 0s, at once.
        reuse_interval: Some("0s"),
        ..Options::default()
    });
    let before = scrape(telemetry);
    assert_eq!(value(&before, "gatehouse_bcrypt_checks_in_flight"), 0.0);
    let ok = r#"gatehouse_logins_total{connector="local",result="succeeded"}"#;
    let failed = r#"gatehouse_logins_total{connector="local",result="failed"}"#;
    let by_code = r#"gatehouse_tokens_issued_total{grant_type="authorization_code"}"#;
    let by_refresh = r#"gatehouse_tokens_issued_total{grant_type="refresh_token"}"#;
    let reuse = "gatehouse_refresh_token_reuse_total";
    let token_200 =
        r#"gatehouse_http_requests_total{route="/dex/token",method="POST",status="200"}"#;
    let token_400 =
        r#"gatehouse_http_requests_total{route="/dex/token",method="POST",status="400"}"#;
    let form_401 = r#"gatehouse_http_requests_total{route="/dex/auth/{connector}",method="POST",status="401"}"#;
    assert_eq!(value(&before, ok), 0.0, "{before}");

    // One failed and one good sign-in, a code exchange, a refresh, then a reuse of the old one.
    let p = pkce();
    let (form, req) = open_login_form(
        &b,
        &auth_url(
            &b,
            CLIENT_ID,
            REDIRECT,
            "openid offline_access",
            "s",
            "n",
            Some(&p),
        ),
    );
    assert_eq!(
        submit_login(&form, &req, ADMIN_EMAIL, "wrong").status(),
        401
    );
    let back = approve(&b, submit_login(&form, &req, ADMIN_EMAIL, ADMIN_PASSWORD));
    let code = query_param(&back, "code").unwrap();
    let t = json(exchange(&b, &code, &p.verifier));
    let first = t["refresh_token"].as_str().unwrap().to_string();
    assert_eq!(refresh(&b, &first).status(), 200);
    assert_eq!(refresh(&b, &first).status(), 400, "reuse is refused");
    let _ = http().get(b.url("/no-such-page")).send().unwrap();

    let after = scrape(telemetry);
    assert_eq!(value(&after, ok), 1.0, "{after}");
    assert_eq!(value(&after, failed), 1.0, "{after}");
    assert_eq!(value(&after, by_code), 1.0, "{after}");
    assert_eq!(value(&after, by_refresh), 1.0, "{after}");
    assert_eq!(value(&after, reuse), 1.0, "{after}");
    assert_eq!(value(&after, token_200), 2.0, "{after}");
    assert_eq!(value(&after, token_400), 1.0, "{after}");
    assert_eq!(value(&after, form_401), 1.0, "{after}");
    // Unknown paths share one series; raw paths never become labels.
    assert!(after.contains(r#"route="unmatched""#), "{after}");
    assert!(!after.contains("no-such-page"), "{after}");
    assert_eq!(value(&after, "gatehouse_bcrypt_checks_in_flight"), 0.0);
    assert!(after.ends_with("# EOF\n"));
}

#[test]
fn telemetry_serves_health_and_the_provider_listener_has_no_metrics() {
    let telemetry = free_port();
    let b = Broker::start(Options {
        telemetry_port: Some(telemetry),
        ..Options::default()
    });
    for path in ["/healthz", "/healthz/live", "/healthz/ready"] {
        let r = http()
            .get(format!("http://127.0.0.1:{telemetry}{path}"))
            .send()
            .unwrap();
        assert_eq!(r.status(), 200, "{path}");
    }
    for path in ["/metrics", "/dex/metrics"] {
        let r = http()
            .get(format!("http://127.0.0.1:{}{path}", b.port))
            .send()
            .unwrap();
        assert_eq!(r.status(), 404, "{path} on the provider listener");
    }
}

#[test]
fn without_telemetry_config_nothing_else_listens() {
    // The default config has no telemetry key: start-up works and only web.http is bound.
    let b = Broker::start(Options::default());
    assert!(!b.log().contains("telemetry listening"), "{}", b.log());
}
