//! The device authorization grant (RFC 8628, issue 18) through the real broker binary, over
//! plain HTTP: the device's requests, the user-code page, polling (pending, slow_down, expiry,
//! one-time collection) and every hostile input; plus `oauth2.grantTypes` switching grants off.
//! (tests/tests/device_flow.rs runs the same flow with openid-client and Chromium.)

mod support;

use std::time::Duration;

use reqwest::blocking::Response;
use serde_json::Value;
use support::*;

const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

fn start(expiry_extra: &str) -> Broker {
    Broker::start(Options {
        expiry_extra: expiry_extra.into(),
        clients_extra:
            "- id: other\n  secret: other-secret\n  redirectURIs: [\"http://127.0.0.1:8085/cb\"]\n"
                .into(),
        ..Options::default()
    })
}

/// `POST /device/code` as the confidential `gatehouse` client.
fn device_code(b: &Broker, form: &[(&str, &str)]) -> Response {
    http()
        .post(b.url("/device/code"))
        .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
        .form(form)
        .send()
        .unwrap()
}

fn new_device(b: &Broker) -> Value {
    let r = device_code(b, &[("scope", "openid email offline_access")]);
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store");
    json(r)
}

fn poll(b: &Broker, path: &str, device_code: &str) -> Response {
    http()
        .post(b.url(path))
        .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
        .form(&[("grant_type", DEVICE_GRANT), ("device_code", device_code)])
        .send()
        .unwrap()
}

fn error_of(r: Response) -> (u16, String) {
    let status = r.status().as_u16();
    (status, json(r)["error"].as_str().unwrap_or("").to_string())
}

fn verify_code(b: &Broker, user_code: &str) -> Response {
    http()
        .post(b.url("/device/auth/verify_code"))
        .form(&[("user_code", user_code)])
        .send()
        .unwrap()
}

/// The user enters `user_code`, signs in and answers the approval page; the final page's HTML.
fn user_decides(b: &Broker, user_code: &str, approval: &str) -> String {
    let r = verify_code(b, user_code);
    assert_eq!(r.status(), 302, "{}", r.text().unwrap_or_default());
    let login_path = location(&r);
    assert!(
        login_path.starts_with("/dex/auth/local?req="),
        "{login_path}"
    );
    let page = http()
        .get(format!("http://127.0.0.1:{}{login_path}", b.port))
        .send()
        .unwrap()
        .text()
        .unwrap();
    let req = hidden_input(&page, "req");
    let r = submit_login(&b.url("/auth/local"), &req, ADMIN_EMAIL, ADMIN_PASSWORD);
    assert_eq!(r.status(), 302);
    assert!(location(&r).starts_with("/dex/approval?req="));
    let cookie = approval_cookie(&r);
    let r = http()
        .post(b.url("/approval"))
        .header("cookie", &cookie)
        .form(&[("req", req.as_str()), ("approval", approval)])
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers().get("location").is_none());
    r.text().unwrap()
}

fn wait_interval() {
    std::thread::sleep(Duration::from_millis(5100));
}

#[test]
fn approved_device_collects_its_tokens_once() {
    let b = start("");
    let doc = json(
        http()
            .get(b.url("/.well-known/openid-configuration"))
            .send()
            .unwrap(),
    );
    assert_eq!(doc["device_authorization_endpoint"], b.url("/device/code"));
    let d = new_device(&b);
    assert_eq!(d["verification_uri"], b.url("/device"));
    assert_eq!(d["expires_in"], 300);
    assert_eq!(d["interval"], 5);
    let user_code = d["user_code"].as_str().unwrap();
    assert_eq!(
        d["verification_uri_complete"],
        format!("{}?user_code={user_code}", b.url("/device"))
    );
    // The page pre-fills a well-formed code, and never echoes anything else.
    let page = http()
        .get(d["verification_uri_complete"].as_str().unwrap())
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(page.contains(&format!("value=\"{user_code}\"")), "{page}");
    let page = http()
        .get(b.url("/device?user_code=%22%3E%3Cscript%3E"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(
        !page.contains("<script>") && page.contains("value=\"\""),
        "{page}"
    );

    let done = user_decides(&b, user_code, "approve");
    assert!(done.contains("Device connected"), "{done}");
    // A decided code cannot be entered again.
    assert_eq!(verify_code(&b, user_code).status(), 400);

    wait_interval();
    let device = d["device_code"].as_str().unwrap();
    // Another client cannot collect it (and it stays collectable for its own).
    assert_eq!(
        error_of(
            http()
                .post(b.url("/token"))
                .basic_auth("other", Some("other-secret"))
                .form(&[("grant_type", DEVICE_GRANT), ("device_code", device)])
                .send()
                .unwrap()
        ),
        (400, "invalid_grant".into())
    );
    let r = poll(&b, "/token", device);
    assert_eq!(r.status(), 200);
    let tokens = json(r);
    let claims = verify_jwt(&b, tokens["id_token"].as_str().unwrap(), CLIENT_ID);
    assert_eq!(claims["email"], ADMIN_EMAIL);
    assert!(claims.get("nonce").is_none());
    assert_eq!(tokens["scope"], "openid email offline_access");
    let rt = tokens["refresh_token"].as_str().unwrap();
    assert_eq!(refresh(&b, rt).status(), 200);
    // One-time: a replayed device code is refused, on both paths.
    assert_eq!(
        error_of(poll(&b, "/token", device)),
        (400, "invalid_grant".into())
    );
    assert_eq!(
        error_of(poll(&b, "/device/token", device)),
        (400, "invalid_grant".into())
    );
}

#[test]
fn polling_pending_too_fast_and_denied() {
    let b = start("");
    let d = new_device(&b);
    let device = d["device_code"].as_str().unwrap();
    // Polled before the interval passed: slow_down, and again (the interval grew to 10 s).
    assert_eq!(
        error_of(poll(&b, "/token", device)),
        (400, "slow_down".into())
    );
    assert_eq!(
        error_of(poll(&b, "/device/token", device)),
        (400, "slow_down".into())
    );

    let fresh = new_device(&b);
    let fresh_code = fresh["device_code"].as_str().unwrap();
    wait_interval();
    assert_eq!(
        error_of(poll(&b, "/device/token", fresh_code)),
        (400, "authorization_pending".into())
    );
    // The other one still has to wait its lengthened interval.
    assert_eq!(
        error_of(poll(&b, "/token", device)),
        (400, "slow_down".into())
    );

    let done = user_decides(&b, fresh["user_code"].as_str().unwrap(), "deny");
    assert!(done.contains("Device not connected"), "{done}");
    wait_interval();
    assert_eq!(
        error_of(poll(&b, "/token", fresh_code)),
        (400, "access_denied".into())
    );
    assert_eq!(
        error_of(poll(&b, "/token", fresh_code)),
        (400, "invalid_grant".into())
    );
    // /device/token serves the device grant only.
    let r = http()
        .post(b.url("/device/token"))
        .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
        .form(&[("grant_type", "refresh_token"), ("refresh_token", "a.b")])
        .send()
        .unwrap();
    assert_eq!(error_of(r), (400, "unsupported_grant_type".into()));
}

#[test]
fn expired_device_codes_are_refused_everywhere() {
    let b = start("  deviceRequests: 1s\n");
    let d = new_device(&b);
    assert_eq!(d["expires_in"], 1);
    std::thread::sleep(Duration::from_millis(2100));
    assert_eq!(
        error_of(poll(&b, "/token", d["device_code"].as_str().unwrap())),
        (400, "expired_token".into())
    );
    let r = verify_code(&b, d["user_code"].as_str().unwrap());
    assert_eq!(r.status(), 400);
    assert!(r.text().unwrap().contains("unknown or has expired"));
}

#[test]
fn hostile_device_requests_are_refused() {
    let b = start("");
    let post = |auth: Option<(&str, &str)>, body: &str, content_type: &str| {
        let mut req = http()
            .post(b.url("/device/code"))
            .header("content-type", content_type)
            .body(body.to_string());
        if let Some((id, secret)) = auth {
            req = req.basic_auth(id, Some(secret));
        }
        req.send().unwrap()
    };
    let form = "application/x-www-form-urlencoded";
    // Unknown client, wrong secret, no authentication at all.
    assert_eq!(
        error_of(post(Some(("nobody", "x")), "scope=openid", form)),
        (401, "invalid_client".into())
    );
    assert_eq!(
        error_of(post(Some((CLIENT_ID, "wrong")), "scope=openid", form)),
        (401, "invalid_client".into())
    );
    assert_eq!(
        error_of(post(None, "client_id=nobody&scope=openid", form)),
        (401, "invalid_client".into())
    );
    // Malformed forms.
    assert_eq!(
        error_of(post(
            Some((CLIENT_ID, CLIENT_SECRET)),
            "scope=openid&scope=email",
            form
        )),
        (400, "invalid_request".into())
    );
    assert_eq!(
        error_of(post(
            Some((CLIENT_ID, CLIENT_SECRET)),
            "{\"scope\":1}",
            "application/json"
        )),
        (400, "invalid_request".into())
    );
    for (body, error) in [
        ("scope=email", "invalid_scope"),
        ("scope=openid%20admin", "invalid_scope"),
        (
            "scope=openid%20audience:server:client_id:other",
            "invalid_scope",
        ),
        ("scope=openid&code_challenge_method=S256", "invalid_request"),
        ("scope=openid&code_challenge=abc", "invalid_request"),
    ] {
        assert_eq!(
            error_of(post(Some((CLIENT_ID, CLIENT_SECRET)), body, form)),
            (400, error.into()),
            "{body}"
        );
    }
    let big = format!("scope=openid&x={}", "y".repeat(100 * 1024));
    assert_eq!(
        post(Some((CLIENT_ID, CLIENT_SECRET)), &big, form).status(),
        413
    );

    // The token endpoint's device grant.
    for (code, expected) in [
        ("", (400, "invalid_request")),
        ("not-a-device-code", (400, "invalid_grant")),
        (&"z".repeat(5000), (400, "invalid_grant")),
    ] {
        let got = error_of(poll(&b, "/token", code));
        assert_eq!((got.0, got.1.as_str()), expected, "{}", code.len());
    }
    let r = http()
        .post(b.url("/token"))
        .basic_auth(CLIENT_ID, Some("wrong"))
        .form(&[("grant_type", DEVICE_GRANT), ("device_code", "x")])
        .send()
        .unwrap();
    assert_eq!(error_of(r), (401, "invalid_client".into()));

    // The user-code form: garbage, wrong codes and oversized input get the form again.
    for typed in [
        "",
        "AAAA-AAAA",
        "BCDF-GHJ",
        "BCDF-GHJK",
        &"B".repeat(10_000),
    ] {
        let r = verify_code(&b, typed);
        assert_eq!(r.status(), 400, "{}", typed.len());
        assert!(r.headers().get("location").is_none());
        assert!(r.text().unwrap().contains("unknown or has expired"));
    }
    // Attempts are throttled per address: guessing stops well before a code could be found.
    let mut refused = false;
    for _ in 0..12 {
        if verify_code(&b, "BCDF-GHJK").status() == 429 {
            refused = true;
            break;
        }
    }
    assert!(refused, "user-code attempts are not throttled");
    // …and a right code from that address waits too (the throttle is on attempts, not misses).
    let d = new_device(&b);
    assert_eq!(
        verify_code(&b, d["user_code"].as_str().unwrap()).status(),
        429
    );
}

#[test]
fn grant_types_switch_grants_off() {
    let b = Broker::start(Options {
        oauth2_extra: "  grantTypes: [authorization_code]\n".into(),
        ..Options::default()
    });
    let doc = json(
        http()
            .get(b.url("/.well-known/openid-configuration"))
            .send()
            .unwrap(),
    );
    assert_eq!(
        doc["grant_types_supported"],
        serde_json::json!(["authorization_code"])
    );
    assert!(doc.get("device_authorization_endpoint").is_none());
    assert_eq!(device_code(&b, &[("scope", "openid")]).status(), 404);
    assert_eq!(
        error_of(poll(&b, "/token", "x")),
        (400, "unsupported_grant_type".into())
    );
    // No refresh token the disabled refresh grant could not redeem.
    let tokens = sign_in(&b, "openid offline_access");
    assert!(tokens.get("refresh_token").is_none(), "{tokens}");
    assert_eq!(
        error_of(refresh(&b, "a.b")),
        (400, "unsupported_grant_type".into())
    );

    let b = Broker::start(Options {
        oauth2_extra: format!("  grantTypes: [\"{DEVICE_GRANT}\"]\n"),
        ..Options::default()
    });
    let p = pkce();
    let r = http()
        .get(auth_url(
            &b,
            CLIENT_ID,
            REDIRECT,
            "openid",
            "st",
            "n",
            Some(&p),
        ))
        .send()
        .unwrap();
    let back = location(&r);
    assert!(back.starts_with(REDIRECT), "{back}");
    assert_eq!(
        query_param(&back, "error").as_deref(),
        Some("unauthorized_client")
    );
    assert_eq!(new_device(&b)["interval"], 5);
}
