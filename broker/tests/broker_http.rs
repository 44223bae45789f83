//! The real broker binary, driven over real HTTP.

mod support;

use std::time::Instant;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sha2::{Digest, Sha256};
use support::*;

fn broker() -> Broker {
    Broker::start(Options::default())
}

#[test]
fn discovery_lists_every_endpoint_under_the_issuer() {
    let b = broker();
    let r = http()
        .get(b.url("/.well-known/openid-configuration"))
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    let d = json(r);
    assert_eq!(d["issuer"], b.issuer());
    for (key, path) in [
        ("authorization_endpoint", "/auth"),
        ("token_endpoint", "/token"),
        ("jwks_uri", "/keys"),
        ("userinfo_endpoint", "/userinfo"),
    ] {
        assert_eq!(d[key], b.url(path), "{key}");
    }
    assert_eq!(d["response_types_supported"], serde_json::json!(["code"]));
    assert_eq!(
        d["code_challenge_methods_supported"],
        serde_json::json!(["S256"])
    );
    assert_eq!(
        d["id_token_signing_alg_values_supported"],
        serde_json::json!(["RS256"])
    );
    assert_eq!(
        d["token_endpoint_auth_methods_supported"],
        serde_json::json!(["client_secret_basic", "client_secret_post"])
    );
    for s in ["openid", "email", "profile", "groups", "offline_access"] {
        assert!(
            d["scopes_supported"]
                .as_array()
                .unwrap()
                .iter()
                .any(|x| x == s),
            "{s}"
        );
    }
    assert!(d["grant_types_supported"]
        .as_array()
        .unwrap()
        .iter()
        .any(|x| x == "refresh_token"));
    assert!(d["claims_supported"]
        .as_array()
        .unwrap()
        .iter()
        .any(|x| x == "groups"));
    assert_eq!(d["subject_types_supported"], serde_json::json!(["public"]));
    // Nothing is served outside the issuer path.
    let outside = http()
        .get(format!(
            "http://127.0.0.1:{}/.well-known/openid-configuration",
            b.port
        ))
        .send()
        .unwrap();
    assert_eq!(outside.status(), 404);
}

#[test]
fn jwks_publishes_an_rs256_key_with_kid() {
    let b = broker();
    let jwks = json(http().get(b.url("/keys")).send().unwrap());
    let keys = jwks["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1);
    let k = &keys[0];
    assert_eq!(k["kty"], "RSA");
    assert_eq!(k["alg"], "RS256");
    assert_eq!(k["use"], "sig");
    assert_eq!(k["e"], "AQAB");
    assert!(!k["kid"].as_str().unwrap().is_empty());
    let n = URL_SAFE_NO_PAD.decode(k["n"].as_str().unwrap()).unwrap();
    assert_eq!(n.len(), 256, "2048-bit modulus");
}

#[test]
fn code_flow_with_pkce_issues_tokens_that_verify_against_jwks() {
    let b = broker();
    let p = pkce();
    let code = login_for_code(
        &b,
        "openid email profile groups offline_access",
        "st-123",
        "nonce-456",
        &p,
    );
    let r = exchange(&b, &code, &p.verifier);
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let t = json(r);
    assert_eq!(t["token_type"], "Bearer");
    assert!(t["expires_in"].as_i64().unwrap() > 0);
    assert!(t["refresh_token"].is_string());
    let id = verify_jwt(&b, t["id_token"].as_str().unwrap(), CLIENT_ID);
    assert_eq!(id["nonce"], "nonce-456");
    assert_eq!(id["email"], ADMIN_EMAIL);
    assert_eq!(id["email_verified"], true);
    assert_eq!(id["name"], "admin");
    assert_eq!(id["preferred_username"], "admin");
    assert_eq!(id["groups"], serde_json::json!(["admins", "developers"]));
    assert_eq!(id["federated_claims"]["connector_id"], "local");
    assert_eq!(id["federated_claims"]["user_id"], ADMIN_ID);
    // Dex's subject encoding for (userID, "local").
    assert_eq!(
        id["sub"],
        "CiQwOGE4Njg0Yi1kYjg4LTRiNzMtOTBhOS0zY2QxNjYxZjU0NjYSBWxvY2Fs"
    );
    let access = t["access_token"].as_str().unwrap();
    let expected_at_hash = URL_SAFE_NO_PAD.encode(&Sha256::digest(access.as_bytes())[..16]);
    assert_eq!(id["at_hash"], expected_at_hash);
    let at = verify_jwt(&b, access, CLIENT_ID);
    assert_eq!(at["sub"], id["sub"]);
}

#[test]
fn scopes_limit_claims_and_no_offline_access_means_no_refresh_token() {
    let b = broker();
    let t = sign_in(&b, "openid");
    assert!(t.get("refresh_token").is_none(), "{t}");
    let id = verify_jwt(&b, t["id_token"].as_str().unwrap(), CLIENT_ID);
    assert!(
        id.get("email").is_none() && id.get("groups").is_none(),
        "{id}"
    );
}

#[test]
fn wrong_password_shows_the_form_with_an_error_and_no_code() {
    let b = broker();
    let p = pkce();
    let (form, req) = open_login_form(
        &b,
        &auth_url(&b, CLIENT_ID, REDIRECT, "openid", "s", "n", Some(&p)),
    );
    let r = submit_login(&form, &req, ADMIN_EMAIL, "not-the-password");
    assert_eq!(r.status(), 401);
    assert!(r.headers().get("location").is_none());
    let html = r.text().unwrap();
    assert!(
        html.contains("Invalid email address or password."),
        "{html}"
    );
    assert!(
        html.contains(&format!("value=\"{ADMIN_EMAIL}\"")),
        "login kept"
    );
    assert!(!html.contains("not-the-password"), "password never echoed");
    assert_eq!(hidden_input(&html, "req"), req);
    // The same request still completes with the right password.
    let back = approve(&b, submit_login(&form, &req, ADMIN_EMAIL, ADMIN_PASSWORD));
    assert!(query_param(&back, "code").is_some());
}

#[test]
fn unknown_email_is_refused_and_costs_as_much_as_a_known_one() {
    let b = broker();
    let p = pkce();
    let (form, req) = open_login_form(
        &b,
        &auth_url(&b, CLIENT_ID, REDIRECT, "openid", "s", "n", Some(&p)),
    );
    let time = |email: &str| {
        let started = Instant::now();
        let r = submit_login(&form, &req, email, "wrong");
        assert_eq!(r.status(), 401);
        assert!(r
            .text()
            .unwrap()
            .contains("Invalid email address or password."));
        started.elapsed()
    };
    // The admin hash is bcrypt cost 12, so an unknown e-mail must cost a cost-12 check too (a
    // skipped check answers in about a millisecond). Minimums, because a busy machine only ever
    // makes a sample slower; the threshold is loose for the same reason.
    time(ADMIN_EMAIL);
    let known = (0..2).map(|_| time(ADMIN_EMAIL)).min().unwrap();
    let unknown = (0..2).map(|_| time("nobody@example.com")).min().unwrap();
    assert!(
        unknown.as_secs_f64() > known.as_secs_f64() * 0.25,
        "unknown e-mail answered in {unknown:?}, known in {known:?}"
    );
}

#[test]
fn bad_redirect_uri_or_unknown_client_gets_an_error_page_never_a_redirect() {
    let b = broker();
    let p = pkce();
    for url in [
        auth_url(
            &b,
            CLIENT_ID,
            "http://evil.example/cb",
            "openid",
            "s",
            "n",
            Some(&p),
        ),
        auth_url(
            &b,
            CLIENT_ID,
            &format!("{REDIRECT}/"),
            "openid",
            "s",
            "n",
            Some(&p),
        ),
        auth_url(
            &b,
            CLIENT_ID,
            &REDIRECT.to_uppercase(),
            "openid",
            "s",
            "n",
            Some(&p),
        ),
        auth_url(&b, "no-such-client", REDIRECT, "openid", "s", "n", Some(&p)),
    ] {
        let r = http().get(&url).send().unwrap();
        assert_eq!(r.status(), 400, "{url}");
        assert!(r.headers().get("location").is_none(), "{url}");
        assert!(r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html"));
    }
}

#[test]
fn client_fixable_errors_are_redirected_with_state() {
    let b = broker();
    let p = pkce();
    let r = http()
        .get(auth_url(
            &b,
            CLIENT_ID,
            REDIRECT,
            "email profile",
            "st",
            "n",
            Some(&p),
        ))
        .send()
        .unwrap();
    assert_eq!(r.status(), 302);
    let loc = location(&r);
    assert!(loc.starts_with(REDIRECT));
    assert_eq!(query_param(&loc, "error").as_deref(), Some("invalid_scope"));
    assert_eq!(query_param(&loc, "state").as_deref(), Some("st"));
    assert!(query_param(&loc, "code").is_none());

    let url = auth_url(&b, CLIENT_ID, REDIRECT, "openid", "st2", "n", Some(&p))
        .replace("response_type=code", "response_type=token");
    let loc = location(&http().get(url).send().unwrap());
    assert_eq!(
        query_param(&loc, "error").as_deref(),
        Some("unsupported_response_type")
    );
    assert_eq!(query_param(&loc, "state").as_deref(), Some("st2"));

    // plain PKCE is refused unless configured.
    let url = auth_url(&b, CLIENT_ID, REDIRECT, "openid", "st3", "n", None)
        + &format!("&code_challenge={}&code_challenge_method=plain", p.verifier);
    let loc = location(&http().get(url).send().unwrap());
    assert_eq!(
        query_param(&loc, "error").as_deref(),
        Some("invalid_request")
    );

    // A public client must use PKCE.
    let url = auth_url(
        &b,
        PUBLIC_CLIENT,
        "http://127.0.0.1:9999/cb",
        "openid",
        "st4",
        "n",
        None,
    );
    let loc = location(&http().get(url).send().unwrap());
    assert!(loc.starts_with("http://127.0.0.1:9999/cb"));
    assert_eq!(
        query_param(&loc, "error").as_deref(),
        Some("invalid_request")
    );
}

#[test]
fn replayed_code_is_refused_and_revokes_its_refresh_tokens() {
    let b = broker();
    let p = pkce();
    let code = login_for_code(&b, "openid offline_access", "s", "n", &p);
    let first = json(exchange(&b, &code, &p.verifier));
    let refresh_token = first["refresh_token"].as_str().unwrap().to_string();
    let replay = exchange(&b, &code, &p.verifier);
    assert_eq!(replay.status(), 400);
    assert_eq!(replay.headers()["cache-control"], "no-store");
    assert_eq!(json(replay)["error"], "invalid_grant");
    let r = refresh(&b, &refresh_token);
    assert_eq!(
        r.status(),
        400,
        "refresh token from a replayed code must be revoked"
    );
    assert_eq!(json(r)["error"], "invalid_grant");
}

#[test]
fn wrong_pkce_verifier_is_refused_and_burns_the_code() {
    let b = broker();
    let p = pkce();
    let code = login_for_code(&b, "openid", "s", "n", &p);
    let other = pkce();
    let r = exchange(&b, &code, &other.verifier);
    assert_eq!(r.status(), 400);
    assert_eq!(json(r)["error"], "invalid_grant");
    let r = exchange(&b, &code, &p.verifier);
    assert_eq!(
        r.status(),
        400,
        "the code is one-time even after a failed attempt"
    );
}

#[test]
fn redirect_uri_at_token_must_match() {
    let b = broker();
    let p = pkce();
    let code = login_for_code(&b, "openid", "s", "n", &p);
    let r = http()
        .post(b.url("/token"))
        .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", "http://127.0.0.1:8080/other"),
            ("code_verifier", p.verifier.as_str()),
        ])
        .send()
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(json(r)["error"], "invalid_grant");
}

#[test]
fn client_authentication_basic_post_and_failures() {
    let b = broker();
    // Wrong secret: 401 invalid_client with a challenge.
    let r = http()
        .post(b.url("/token"))
        .basic_auth(CLIENT_ID, Some("wrong"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", "x"),
            ("redirect_uri", REDIRECT),
        ])
        .send()
        .unwrap();
    assert_eq!(r.status(), 401);
    assert!(r.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .starts_with("Basic"));
    assert_eq!(json(r)["error"], "invalid_client");
    // No authentication at all for a confidential client.
    let r = http()
        .post(b.url("/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", "x"),
            ("client_id", CLIENT_ID),
        ])
        .send()
        .unwrap();
    assert_eq!(r.status(), 401);
    // client_secret_post works.
    let p = pkce();
    let code = login_for_code(&b, "openid", "s", "n", &p);
    let r = http()
        .post(b.url("/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT),
            ("code_verifier", p.verifier.as_str()),
            ("client_id", CLIENT_ID),
            ("client_secret", CLIENT_SECRET),
        ])
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    // Unsupported grant type.
    let r = http()
        .post(b.url("/token"))
        .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(json(r)["error"], "unsupported_grant_type");
}

#[test]
fn refresh_rotates_and_a_used_token_is_refused() {
    let b = Broker::start(Options {
        reuse_interval: Some("0s"),
        ..Options::default()
    });
    let first = sign_in(&b, "openid email groups offline_access");
    let r1 = first["refresh_token"].as_str().unwrap().to_string();

    let second = refresh(&b, &r1);
    assert_eq!(second.status(), 200);
    let second = json(second);
    let r2 = second["refresh_token"].as_str().unwrap().to_string();
    assert_ne!(r1, r2, "rotated");
    let id = verify_jwt(&b, second["id_token"].as_str().unwrap(), CLIENT_ID);
    assert_eq!(id["groups"], serde_json::json!(["admins", "developers"]));

    let third = refresh(&b, &r2);
    assert_eq!(third.status(), 200);
    let r3 = json(third)["refresh_token"].as_str().unwrap().to_string();

    // Reusing a spent token is refused and revokes the family, including the newest token.
    let reuse = refresh(&b, &r1);
    assert_eq!(reuse.status(), 400);
    assert_eq!(json(reuse)["error"], "invalid_grant");
    assert_eq!(refresh(&b, &r3).status(), 400);
}

#[test]
fn reuse_within_the_interval_gets_a_sibling_and_later_revokes() {
    let b = Broker::start(Options {
        reuse_interval: Some("2s"),
        ..Options::default()
    });
    let r1 = sign_in(&b, "openid offline_access")["refresh_token"]
        .as_str()
        .unwrap()
        .to_string();
    let second = refresh(&b, &r1);
    assert_eq!(second.status(), 200);
    let r2 = json(second)["refresh_token"].as_str().unwrap().to_string();
    // A racing duplicate (same token, within 2 s), e.g. a page and its XHRs refreshing at
    // once through the gateway: allowed as Dex does, with a sibling token; the winner's lives.
    let sibling = refresh(&b, &r1);
    assert_eq!(sibling.status(), 200);
    let r2b = json(sibling)["refresh_token"].as_str().unwrap().to_string();
    assert_ne!(r2b, r2);
    let third = refresh(&b, &r2);
    assert_eq!(
        third.status(),
        200,
        "the family survived the racing duplicate"
    );
    let r3 = json(third)["refresh_token"].as_str().unwrap().to_string();
    std::thread::sleep(std::time::Duration::from_millis(3100));
    // After the interval the old token is a replay: the whole family goes.
    assert_eq!(refresh(&b, &r1).status(), 400);
    assert_eq!(refresh(&b, &r3).status(), 400, "family revoked");
    assert_eq!(refresh(&b, &r2b).status(), 400, "the sibling too");
}

#[test]
fn refresh_token_is_bound_to_its_client_and_garbage_is_refused() {
    let b = broker();
    let rt = sign_in(&b, "openid offline_access")["refresh_token"]
        .as_str()
        .unwrap()
        .to_string();
    let other_client = http()
        .post(b.url("/token"))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", rt.as_str()),
            ("client_id", PUBLIC_CLIENT),
        ])
        .send()
        .unwrap();
    assert_eq!(other_client.status(), 400);
    assert_eq!(refresh(&b, "garbage").status(), 400);
    let (id, _) = rt.split_once('.').unwrap();
    assert_eq!(refresh(&b, &format!("{id}.wrong-secret")).status(), 400);
    // The real owner can still use it: failed attempts by others did not burn it.
    assert_eq!(refresh(&b, &rt).status(), 200);
}

#[test]
fn userinfo_answers_a_valid_bearer_only() {
    let b = broker();
    let t = sign_in(&b, "openid email profile groups");
    let access = t["access_token"].as_str().unwrap();
    for method in ["GET", "POST"] {
        let r = http()
            .request(method.parse().unwrap(), b.url("/userinfo"))
            .bearer_auth(access)
            .send()
            .unwrap();
        assert_eq!(r.status(), 200, "{method}");
        let u = json(r);
        assert_eq!(u["email"], ADMIN_EMAIL);
        assert_eq!(u["groups"], serde_json::json!(["admins", "developers"]));
        assert_eq!(u["name"], "admin");
    }
    let r = http().get(b.url("/userinfo")).send().unwrap();
    assert_eq!(r.status(), 401);
    assert!(r.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .starts_with("Bearer"));
    let r = http()
        .get(b.url("/userinfo"))
        .bearer_auth(format!("{access}x"))
        .send()
        .unwrap();
    assert_eq!(r.status(), 401);
    assert!(r.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .contains("invalid_token"));
    // An ID token is not an access token.
    let r = http()
        .get(b.url("/userinfo"))
        .bearer_auth(t["id_token"].as_str().unwrap())
        .send()
        .unwrap();
    assert_eq!(r.status(), 401);
}

#[test]
fn denying_on_the_approval_screen_returns_access_denied() {
    let b = broker();
    let p = pkce();
    let (form, req) = open_login_form(
        &b,
        &auth_url(&b, CLIENT_ID, REDIRECT, "openid", "st", "n", Some(&p)),
    );
    let r = submit_login(&form, &req, ADMIN_EMAIL, ADMIN_PASSWORD);
    assert_eq!(r.status(), 302);
    assert!(location(&r).starts_with("/dex/approval?req="));
    let cookie = approval_cookie(&r);
    let r = http()
        .post(b.url("/approval"))
        .header("cookie", &cookie)
        .form(&[("req", req.as_str()), ("approval", "deny")])
        .send()
        .unwrap();
    let loc = location(&r);
    assert_eq!(query_param(&loc, "error").as_deref(), Some("access_denied"));
    assert_eq!(query_param(&loc, "state").as_deref(), Some("st"));
    assert!(query_param(&loc, "code").is_none());
    // The request is finished: approving afterwards does nothing.
    let r = http()
        .post(b.url("/approval"))
        .header("cookie", &cookie)
        .form(&[("req", req.as_str()), ("approval", "approve")])
        .send()
        .unwrap();
    assert!(r.headers().get("location").is_none());
    assert!(r.status().is_client_error(), "{}", r.status());
}

#[test]
fn approval_needs_a_signed_in_request() {
    let b = broker();
    let p = pkce();
    let (_, req) = open_login_form(
        &b,
        &auth_url(&b, CLIENT_ID, REDIRECT, "openid", "st", "n", Some(&p)),
    );
    let r = http()
        .post(b.url("/approval"))
        .form(&[("req", req.as_str()), ("approval", "approve")])
        .send()
        .unwrap();
    assert!(r.status().is_client_error(), "{}", r.status());
    assert!(r.headers().get("location").is_none());
}

#[test]
fn public_client_completes_with_pkce_and_no_secret() {
    let b = broker();
    let p = pkce();
    let redirect = "http://127.0.0.1:9999/cb";
    let (form, req) = open_login_form(
        &b,
        &auth_url(&b, PUBLIC_CLIENT, redirect, "openid", "s", "n", Some(&p)),
    );
    let back = approve(
        &b,
        submit_login(&form, &req, "dev@example.com", "dev-password"),
    );
    let code = query_param(&back, "code").unwrap();
    let r = http()
        .post(b.url("/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", redirect),
            ("code_verifier", p.verifier.as_str()),
            ("client_id", PUBLIC_CLIENT),
        ])
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    let t = json(r);
    let id = verify_jwt(&b, t["id_token"].as_str().unwrap(), PUBLIC_CLIENT);
    assert_eq!(id["federated_claims"]["user_id"], "dev-1");
}

#[test]
fn restart_keeps_the_signing_key_and_sessions() {
    let mut b = broker();
    let kid_before = json(http().get(b.url("/keys")).send().unwrap())["keys"][0]["kid"].clone();
    let t = sign_in(&b, "openid email offline_access");
    let status = b.stop();
    assert!(status.success(), "graceful shutdown exits 0, got {status}");
    b.spawn();
    let kid_after = json(http().get(b.url("/keys")).send().unwrap())["keys"][0]["kid"].clone();
    assert_eq!(kid_before, kid_after);
    // A token issued before the restart still verifies with /keys after it.
    verify_jwt(&b, t["id_token"].as_str().unwrap(), CLIENT_ID);
    let r = http()
        .get(b.url("/userinfo"))
        .bearer_auth(t["access_token"].as_str().unwrap())
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    // And the refresh token (stored in SQLite) still works.
    assert_eq!(
        refresh(&b, t["refresh_token"].as_str().unwrap()).status(),
        200
    );
}

#[test]
fn concurrent_grants_answered_before_a_kill_are_all_kept_and_spent_tokens_stay_spent() {
    // SQLite's group commit (flow writes, one shared sync before the token endpoint answers):
    // every answered grant is in the database after a SIGKILL, and nothing spent comes back.
    // No reuse interval: a spent token presented again is refused at once.
    let mut b = Broker::start(Options {
        reuse_interval: Some("0s"),
        ..Options::default()
    });
    let chains: Vec<String> = (0..8)
        .map(|_| {
            sign_in(&b, "openid email offline_access")["refresh_token"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    let ends: Vec<(String, Vec<String>)> = std::thread::scope(|s| {
        let handles: Vec<_> = chains
            .iter()
            .map(|first| {
                let b = &b;
                s.spawn(move || {
                    let mut spent = Vec::new();
                    let mut current = first.clone();
                    for _ in 0..5 {
                        let r = refresh(b, &current);
                        assert_eq!(r.status(), 200);
                        let next = json(r)["refresh_token"].as_str().unwrap().to_string();
                        spent.push(std::mem::replace(&mut current, next));
                    }
                    (current, spent)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    b.kill();
    b.spawn();
    for (live, spent) in &ends {
        // The live ones first: a spent one presented again revokes its whole family.
        let r = refresh(&b, live);
        assert_eq!(
            r.status(),
            200,
            "the last answered token of a chain is kept"
        );
        let newer = json(r)["refresh_token"].as_str().unwrap().to_string();
        assert!(!spent.contains(&newer));
    }
    for (_, spent) in &ends {
        let oldest = &spent[0];
        let r = refresh(&b, oldest);
        assert_eq!(r.status(), 400, "a token spent before the kill stays spent");
        assert_eq!(json(r)["error"], "invalid_grant");
    }
}

#[test]
fn healthz_and_login_page_headers() {
    let b = broker();
    assert_eq!(http().get(b.url("/healthz")).send().unwrap().status(), 200);
    let p = pkce();
    let r = http()
        .get(auth_url(
            &b,
            CLIENT_ID,
            REDIRECT,
            "openid",
            "s",
            "n",
            Some(&p),
        ))
        .send()
        .unwrap();
    let page = http()
        .get(format!("http://127.0.0.1:{}{}", b.port, location(&r)))
        .send()
        .unwrap();
    assert_eq!(page.headers()["x-frame-options"], "DENY");
    assert_eq!(page.headers()["cache-control"], "no-store");
    let expired = http().get(b.url("/auth/local?req=nope")).send().unwrap();
    assert_eq!(expired.status(), 400);
    // The access log never contains query strings (they carry codes and request ids).
    let log = b.log();
    assert!(log.contains("path=/dex/auth/local"), "{log}");
    assert!(!log.contains("req=") && !log.contains("code="), "{log}");
}

#[test]
fn skip_approval_screen_redirects_with_the_code_at_once() {
    let b = Broker::start(Options {
        skip_approval: true,
        ..Options::default()
    });
    let p = pkce();
    let (form, req) = open_login_form(
        &b,
        &auth_url(&b, CLIENT_ID, REDIRECT, "openid", "st", "n", Some(&p)),
    );
    let r = submit_login(&form, &req, ADMIN_EMAIL, ADMIN_PASSWORD);
    assert_eq!(r.status(), 302);
    let loc = location(&r);
    assert!(loc.starts_with(REDIRECT), "{loc}");
    assert_eq!(query_param(&loc, "state").as_deref(), Some("st"));
    let code = query_param(&loc, "code").unwrap();
    assert_eq!(exchange(&b, &code, &p.verifier).status(), 200);
}

#[test]
fn always_show_login_screen_lists_connectors_by_name() {
    let b = Broker::start(Options {
        always_show_login_screen: true,
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
    assert_eq!(r.status(), 200);
    let html = r.text().unwrap();
    assert!(html.contains("Log in with Email"), "{html}");
    assert!(html.contains("href=\"/dex/auth/local?req="), "{html}");
}

#[test]
fn silent_login_and_request_objects_are_refused_to_the_client() {
    let b = broker();
    let p = pkce();
    for (extra, error) in [
        ("&prompt=none", "login_required"),
        ("&request=eyJhbGciOiJub25lIn0.e30.", "request_not_supported"),
        ("&response_mode=fragment", "invalid_request"),
    ] {
        let url = auth_url(&b, CLIENT_ID, REDIRECT, "openid", "st", "n", Some(&p)) + extra;
        let loc = location(&http().get(url).send().unwrap());
        assert_eq!(
            query_param(&loc, "error").as_deref(),
            Some(error),
            "{extra}"
        );
        assert_eq!(query_param(&loc, "state").as_deref(), Some("st"));
    }
}

#[test]
fn password_grant_when_password_connector_is_set() {
    let b = Broker::start(Options {
        password_grant: true,
        ..Options::default()
    });
    let grant = |password: &str| {
        http()
            .post(b.url("/token"))
            .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
            .form(&[
                ("grant_type", "password"),
                ("username", "dev@example.com"),
                ("password", password),
                ("scope", "openid email"),
            ])
            .send()
            .unwrap()
    };
    let r = grant("dev-password");
    assert_eq!(r.status(), 200);
    let id = verify_jwt(&b, json(r)["id_token"].as_str().unwrap(), CLIENT_ID);
    assert_eq!(id["email"], "dev@example.com");
    let r = grant("wrong");
    assert_eq!(r.status(), 400);
    assert_eq!(json(r)["error"], "invalid_grant");
    // Without passwordConnector the grant does not exist.
    let plain = broker();
    let r = http()
        .post(plain.url("/token"))
        .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
        .form(&[
            ("grant_type", "password"),
            ("username", "dev@example.com"),
            ("password", "dev-password"),
        ])
        .send()
        .unwrap();
    assert_eq!(json(r)["error"], "unsupported_grant_type");
}

#[test]
fn concurrent_exchanges_of_one_code_yield_exactly_one_token() {
    let b = broker();
    let p = pkce();
    let code = login_for_code(&b, "openid offline_access", "s", "n", &p);
    let statuses = concurrently(8, || exchange(&b, &code, &p.verifier).status().as_u16());
    assert_exactly_one_won(&statuses);
}

#[test]
fn concurrent_uses_of_one_refresh_token_yield_exactly_one_success() {
    // Strict rotation (no reuse grace): exactly one of the concurrent uses wins.
    let b = Broker::start(Options {
        reuse_interval: Some("0s"),
        ..Options::default()
    });
    let rt = sign_in(&b, "openid offline_access")["refresh_token"]
        .as_str()
        .unwrap()
        .to_string();
    let statuses = concurrently(8, || refresh(&b, &rt).status().as_u16());
    assert_exactly_one_won(&statuses);
}

#[test]
fn oversized_form_bodies_are_refused() {
    let b = broker();
    let big = "x".repeat(100 * 1024);
    let r = http()
        .post(b.url("/token"))
        .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", big.as_str()),
        ])
        .send()
        .unwrap();
    assert_eq!(r.status(), 413);
}
