//! RP-initiated logout (`/logout`) against the real broker binary.

mod support;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use reqwest::blocking::Response;
use support::*;

/// Logs the admin in and returns (id_token, access_token).
fn tokens(b: &Broker) -> (String, String) {
    let p = pkce();
    let code = login_for_code(b, "openid email", "s", "n", &p);
    let t = json(exchange(b, &code, &p.verifier));
    (
        t["id_token"].as_str().unwrap().to_string(),
        t["access_token"].as_str().unwrap().to_string(),
    )
}

fn logout_get(b: &Broker, params: &[(&str, &str)]) -> Response {
    let mut url = reqwest::Url::parse(&b.url("/logout")).unwrap();
    url.query_pairs_mut().extend_pairs(params);
    http().get(url).send().unwrap()
}

fn assert_signed_out_page(r: Response, what: &str) {
    assert_eq!(r.status(), 200, "{what}");
    assert!(r.headers().get("location").is_none(), "{what}");
    assert_eq!(r.headers()["cache-control"], "no-store", "{what}");
    let html = r.text().unwrap();
    assert!(html.contains("You are signed out"), "{what}: {html}");
    assert!(!html.contains("evil.example"), "{what}: target echoed");
}

fn assert_refused(r: Response, what: &str) {
    assert_eq!(r.status(), 400, "{what}");
    assert!(r.headers().get("location").is_none(), "{what}");
    let html = r.text().unwrap();
    assert!(html.contains("Sign-out request refused"), "{what}: {html}");
}

#[test]
fn discovery_advertises_the_end_session_endpoint() {
    let b = Broker::start(Options::default());
    let d = json(
        http()
            .get(b.url("/.well-known/openid-configuration"))
            .send()
            .unwrap(),
    );
    assert_eq!(d["end_session_endpoint"], b.url("/logout"));
}

#[test]
fn valid_hint_and_registered_uri_redirect_back_with_state_by_get_and_post() {
    let b = Broker::start(Options::default());
    let (id_token, _) = tokens(&b);
    let r = logout_get(
        &b,
        &[
            ("id_token_hint", &id_token),
            ("post_logout_redirect_uri", POST_LOGOUT),
            ("client_id", CLIENT_ID),
            ("state", "st 1&x"),
        ],
    );
    assert_eq!(r.status(), 302);
    let back = location(&r);
    assert!(back.starts_with(&format!("{POST_LOGOUT}?")), "{back}");
    assert_eq!(query_param(&back, "state").as_deref(), Some("st 1&x"));

    // POST (form body), without client_id (the hint names the client), without state.
    let r = http()
        .post(b.url("/logout"))
        .form(&[
            ("id_token_hint", id_token.as_str()),
            ("post_logout_redirect_uri", POST_LOGOUT),
        ])
        .send()
        .unwrap();
    assert_eq!(r.status(), 302);
    assert_eq!(location(&r), POST_LOGOUT);
    assert!(b.log().contains("signed out"), "sign-out is logged");
    assert!(!b.log().contains(&id_token), "no token in the log");
}

#[test]
fn same_origin_path_of_a_redirect_uri_is_accepted() {
    let b = Broker::start(Options::default());
    let (id_token, _) = tokens(&b);
    // REDIRECT is http://127.0.0.1:8080/oauth2/callback: its origin, another plain path.
    let r = logout_get(
        &b,
        &[
            ("id_token_hint", &id_token),
            ("post_logout_redirect_uri", "http://127.0.0.1:8080/bye?x=1"),
            ("state", "abc"),
        ],
    );
    assert_eq!(r.status(), 302);
    assert_eq!(location(&r), "http://127.0.0.1:8080/bye?x=1&state=abc");
}

#[test]
fn unregistered_targets_get_the_signed_out_page_never_a_redirect() {
    let b = Broker::start(Options::default());
    let (id_token, _) = tokens(&b);
    for target in [
        "https://evil.example",
        "https://evil.example/",
        "//evil.example",
        "//evil.example/",
        "http://127.0.0.1:8080//evil.example",
        "http://127.0.0.1:8080@evil.example/",
        "http://127.0.0.1:8080\\@evil.example/",
        "http://127.0.0.1:9090/bye",
        "https://app.example/signed-out/../x",
        "javascript:alert(1)",
    ] {
        let r = logout_get(
            &b,
            &[
                ("id_token_hint", &id_token),
                ("post_logout_redirect_uri", target),
                ("client_id", CLIENT_ID),
                ("state", "s"),
            ],
        );
        assert_signed_out_page(r, target);
    }
    // A registered URI but no hint: nothing confirms who asks, so no redirect either.
    let r = logout_get(
        &b,
        &[
            ("post_logout_redirect_uri", POST_LOGOUT),
            ("client_id", CLIENT_ID),
        ],
    );
    assert_signed_out_page(r, "no hint");
    // Nothing at all: just the page.
    assert_signed_out_page(logout_get(&b, &[]), "no parameters");
}

#[test]
fn forged_or_mismatched_hints_are_refused() {
    let b = Broker::start(Options::default());
    let (id_token, access_token) = tokens(&b);
    let parts: Vec<&str> = id_token.split('.').collect();
    // Same signature over a payload naming another audience.
    let mut claims: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    claims["aud"] = "cli".into();
    let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap());
    let tampered = format!("{}.{payload}.{}", parts[0], parts[2]);
    // alg=none with the real claims.
    let none_header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let unsigned = format!("{none_header}.{}.", parts[1]);
    // Signed by a key the broker never had, under its kid.
    let kid = jsonwebtoken::decode_header(&id_token).unwrap().kid.unwrap();
    let other_key = rsa::RsaPrivateKey::new(&mut rand::thread_rng(), 2048).unwrap();
    let der = rsa::pkcs1::EncodeRsaPrivateKey::to_pkcs1_der(&other_key).unwrap();
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    header.kid = Some(kid);
    let foreign = jsonwebtoken::encode(
        &header,
        &serde_json::from_slice::<serde_json::Value>(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap())
            .unwrap(),
        &jsonwebtoken::EncodingKey::from_rsa_der(der.as_bytes()),
    )
    .unwrap();
    for (what, hint) in [
        ("tampered payload", tampered.as_str()),
        ("alg none", unsigned.as_str()),
        ("foreign key", foreign.as_str()),
        ("access token", access_token.as_str()),
        ("garbage", "not-a-jwt"),
    ] {
        let r = logout_get(
            &b,
            &[
                ("id_token_hint", hint),
                ("post_logout_redirect_uri", POST_LOGOUT),
                ("state", "s"),
            ],
        );
        assert_refused(r, what);
    }
    // A genuine hint with another client's id.
    let r = logout_get(
        &b,
        &[
            ("id_token_hint", &id_token),
            ("client_id", PUBLIC_CLIENT),
            ("post_logout_redirect_uri", POST_LOGOUT),
        ],
    );
    assert_refused(r, "client_id is not the audience");
    let r = logout_get(&b, &[("client_id", "nobody")]);
    assert_refused(r, "unknown client");
    let r = http()
        .get(format!("{}?state=a&state=b", b.url("/logout")))
        .send()
        .unwrap();
    assert_refused(r, "repeated parameter");
}

#[test]
fn an_expired_hint_is_still_accepted() {
    let b = Broker::start(Options {
        id_tokens_expiry: Some("1s"),
        ..Options::default()
    });
    let (id_token, _) = tokens(&b);
    // Past exp and past the verifier's usual leeway.
    std::thread::sleep(std::time::Duration::from_millis(2100));
    let claims: serde_json::Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(id_token.split('.').nth(1).unwrap())
            .unwrap(),
    )
    .unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert!(
        claims["exp"].as_i64().unwrap() < now,
        "the hint has expired"
    );
    let r = logout_get(
        &b,
        &[
            ("id_token_hint", &id_token),
            ("post_logout_redirect_uri", POST_LOGOUT),
        ],
    );
    assert_eq!(r.status(), 302);
    assert_eq!(location(&r), POST_LOGOUT);
}
