//! Issue 15: a broker signing with ES256 or EdDSA (Dex's `signer.config.algorithm`) behind
//! the real Envoy and filter. The broker publishes the right JWKS (`kty`/`crv`/`alg`/`kid`)
//! and discovery, a browser logs in through Envoy, its session works, and the broker's access
//! token passes as a bearer token. Hostile: tokens under the broker's kid but with another
//! `alg` — HS256 keyed with the published key, `none`, RS256/ES256/EdDSA names on the other
//! keys' signatures — are refused by the filter and by the broker's /userinfo.

use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use gatehouse_e2e::broker::{CLIENT_ID, CLIENT_SECRET};
use gatehouse_e2e::broker_token::password_grant;
use gatehouse_e2e::broker_yaml::enable_password_grant;
use gatehouse_e2e::keys_loaded::wait_for_keys;
use gatehouse_e2e::{Browser, Page, Stack, StackOptions, ADMIN};
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

fn signer_yaml(alg: &str) -> String {
    format!("signer:\n  type: local\n  config:\n    keysRotationPeriod: 6h\n    algorithm: {alg}\n")
}

fn stack_signing_with(alg: &str) -> Stack {
    let opts = StackOptions {
        broker_yaml: Some(enable_password_grant),
        extra_broker_yaml: Some(signer_yaml(alg)),
        ..StackOptions::default()
    }
    .filter("skip_jwt_bearer_tokens", json!(true));
    let stack = Stack::start(opts).unwrap();
    wait_for_keys(&stack, Duration::from_secs(20)).unwrap();
    stack
}

fn get_json(url: &str) -> Value {
    serde_json::from_str(&reqwest::blocking::get(url).unwrap().text().unwrap()).unwrap()
}

fn b64_json(part: &str) -> Value {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

fn header_of(token: &str) -> Value {
    b64_json(token.split('.').next().unwrap())
}

/// `payload` (JSON) under `header`, with `signature` already base64url.
fn compact(header: &Value, payload: &str, signature: &str) -> String {
    format!(
        "{}.{payload}.{signature}",
        URL_SAFE_NO_PAD.encode(header.to_string())
    )
}

fn hs256(header: &Value, payload: &str, secret: &[u8]) -> String {
    let input = format!("{}.{payload}", URL_SAFE_NO_PAD.encode(header.to_string()));
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).unwrap();
    mac.update(input.as_bytes());
    format!(
        "{input}.{}",
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    )
}

fn bearer(stack: &Stack, token: &str) -> Page {
    Browser::new()
        .unwrap()
        .get_with(
            &stack.url("/api/x"),
            &[
                ("accept", "application/json"),
                ("authorization", &format!("Bearer {token}")),
            ],
        )
        .unwrap()
}

fn userinfo_status(stack: &Stack, token: &str) -> u16 {
    reqwest::blocking::Client::new()
        .get(format!("{}/userinfo", stack.issuer()))
        .bearer_auth(token)
        .send()
        .unwrap()
        .status()
        .as_u16()
}

/// The JWKS and discovery a broker configured for `alg` publishes.
fn assert_publishes(stack: &Stack, alg: &str, kty: &str, crv: &str) {
    let jwks = get_json(&format!("{}/keys", stack.issuer()));
    let keys = jwks["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1, "{jwks}");
    let k = &keys[0];
    assert_eq!(
        (&k["kty"], &k["crv"], &k["alg"], &k["use"]),
        (&json!(kty), &json!(crv), &json!(alg), &json!("sig")),
        "{jwks}"
    );
    assert!(k.get("n").is_none() && k.get("d").is_none(), "{jwks}");
    let x = URL_SAFE_NO_PAD.decode(k["x"].as_str().unwrap()).unwrap();
    assert_eq!(x.len(), 32);
    assert_eq!(k["y"].is_string(), kty == "EC", "{jwks}");
    assert!(
        k["kid"].as_str().is_some_and(|kid| kid.len() == 43),
        "{jwks}"
    );
    let discovery = get_json(&format!(
        "{}/.well-known/openid-configuration",
        stack.issuer()
    ));
    assert_eq!(
        discovery["id_token_signing_alg_values_supported"],
        json!([alg])
    );
}

fn login_and_hostile_tokens(alg: &str, kty: &str, crv: &str) {
    let stack = stack_signing_with(alg);
    assert_publishes(&stack, alg, kty, crv);

    // A browser logs in through Envoy; the session it gets works on the next request.
    let mut browser = Browser::new().unwrap();
    let page = browser
        .login(&stack.url("/app"), ADMIN.email, ADMIN.password)
        .unwrap();
    assert_eq!(page.status, 200, "{}", browser.history_text());
    stack.echo.clear();
    let again = browser.get(&stack.url("/app/again")).unwrap();
    assert_eq!(again.status, 200, "{}", again.body);
    let seen = stack.echo.requests();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].header("x-auth-request-email"), Some(ADMIN.email));

    // The broker's own tokens carry its algorithm and pass, as bearer and at /userinfo.
    let tokens = password_grant(stack.issuer(), CLIENT_ID, CLIENT_SECRET, &ADMIN).unwrap();
    let header = header_of(&tokens.access_token);
    assert_eq!(header["alg"], alg);
    assert_eq!(header_of(&tokens.id_token)["alg"], alg);
    assert_eq!(bearer(&stack, &tokens.access_token).status, 200);
    assert_eq!(userinfo_status(&stack, &tokens.access_token), 200);

    // Hostile: the same claims under the broker's kid, with other algorithms.
    let kid = header["kid"].clone();
    let parts: Vec<&str> = tokens.access_token.split('.').collect();
    let (payload, signature) = (parts[1], parts[2]);
    let jwks = get_json(&format!("{}/keys", stack.issuer()));
    let jwk_text = jwks["keys"][0].to_string();
    let x = URL_SAFE_NO_PAD
        .decode(jwks["keys"][0]["x"].as_str().unwrap())
        .unwrap();
    let mut forged = Vec::new();
    for secret in [jwk_text.as_bytes(), &x[..], jwks.to_string().as_bytes()] {
        forged.push((
            "HS256 keyed with the public key",
            hs256(
                &json!({"alg": "HS256", "kid": kid, "typ": "JWT"}),
                payload,
                secret,
            ),
        ));
    }
    forged.push((
        "alg none",
        compact(&json!({"alg": "none", "kid": kid}), payload, ""),
    ));
    forged.push((
        "alg none without kid",
        compact(&json!({"alg": "none"}), payload, ""),
    ));
    for other in ["RS256", "ES256", "EdDSA", "ES384", "PS256"]
        .into_iter()
        .filter(|o| *o != alg)
    {
        forged.push((
            "its signature under another alg",
            compact(
                &json!({"alg": other, "kid": kid, "typ": "JWT"}),
                payload,
                signature,
            ),
        ));
    }
    for (what, token) in &forged {
        stack.echo.clear();
        let page = bearer(&stack, token);
        assert_eq!(page.status, 401, "{alg}, {what}: {}", page.body);
        assert_eq!(
            page.json().unwrap()["error"],
            "invalid_token",
            "{alg}, {what}"
        );
        assert!(stack.echo.requests().is_empty(), "{alg}, {what}");
        assert_eq!(userinfo_status(&stack, token), 401, "{alg}, {what}");
    }
    // The genuine token still passes afterwards: the refusals were about the forgeries.
    assert_eq!(bearer(&stack, &tokens.access_token).status, 200);
}

#[test]
fn an_es256_broker_logs_in_through_envoy_and_refuses_other_algorithms() {
    login_and_hostile_tokens("ES256", "EC", "P-256");
}

#[test]
fn an_eddsa_broker_logs_in_through_envoy_and_refuses_other_algorithms() {
    login_and_hostile_tokens("EdDSA", "OKP", "Ed25519");
}
