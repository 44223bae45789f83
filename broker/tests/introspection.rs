//! RFC 7662 token introspection (`/token/introspect`) through the real broker binary: active
//! only for the asking client's own tokens, the bare `{"active":false}` for anything else, and
//! client authentication (confidential clients only) with every hostile input refused.

mod support;

use reqwest::blocking::Response;
use serde_json::{json, Value};
use support::*;

fn start() -> Broker {
    Broker::start(Options {
        clients_extra:
            "- id: other\n  secret: other-secret\n  redirectURIs: [\"http://127.0.0.1:8085/cb\"]\n"
                .into(),
        ..Options::default()
    })
}

fn introspect(b: &Broker, client: (&str, &str), form: &[(&str, &str)]) -> Response {
    http()
        .post(b.url("/token/introspect"))
        .basic_auth(client.0, Some(client.1))
        .form(form)
        .send()
        .unwrap()
}

fn answer(b: &Broker, client: (&str, &str), token: &str) -> Value {
    let r = introspect(b, client, &[("token", token)]);
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store");
    json(r)
}

const OWN: (&str, &str) = (CLIENT_ID, CLIENT_SECRET);
const OTHER: (&str, &str) = ("other", "other-secret");

#[test]
fn tokens_are_active_for_their_own_client_only() {
    let b = start();
    let doc = json(
        http()
            .get(b.url("/.well-known/openid-configuration"))
            .send()
            .unwrap(),
    );
    assert_eq!(doc["introspection_endpoint"], b.url("/token/introspect"));
    let t = sign_in(&b, "openid email groups offline_access");
    let access = t["access_token"].as_str().unwrap();
    let rt = t["refresh_token"].as_str().unwrap();

    let a = answer(&b, OWN, access);
    assert_eq!(a["active"], true, "{a}");
    assert_eq!(a["token_use"], "access_token");
    assert_eq!(a["client_id"], CLIENT_ID);
    assert_eq!(a["iss"], b.issuer());
    assert_eq!(a["ext"]["email"], ADMIN_EMAIL);
    assert_eq!(a["ext"]["groups"], json!(["admins", "developers"]));
    assert!(a["ext"].get("name").is_none(), "no profile scope: {a}");
    let r = answer(&b, OWN, rt);
    assert_eq!(r["active"], true, "{r}");
    assert_eq!(r["token_use"], "refresh_token");
    assert_eq!(r["scope"], "openid email groups offline_access");
    assert_eq!(r["sub"], a["sub"]);
    // Reading it did not use it.
    let rotated = json(refresh(&b, rt));
    let rt2 = rotated["refresh_token"].as_str().unwrap();

    let inactive = json!({"active": false});
    // Another client learns nothing about them; a spent token, an ID token, garbage: inactive.
    assert_eq!(answer(&b, OTHER, access), inactive);
    assert_eq!(answer(&b, OTHER, rt2), inactive);
    assert_eq!(answer(&b, OWN, rt), inactive, "spent by rotation");
    assert_eq!(answer(&b, OWN, t["id_token"].as_str().unwrap()), inactive);
    assert_eq!(answer(&b, OWN, "a.b.c"), inactive);
    assert_eq!(answer(&b, OWN, "nodot"), inactive);
    assert_eq!(answer(&b, OWN, &"x".repeat(20_000)), inactive);
    let (id, _) = rt2.split_once('.').unwrap();
    assert_eq!(answer(&b, OWN, &format!("{id}.wrong-secret")), inactive);
    // A tampered access token (payload changed, signature kept).
    let mut parts: Vec<String> = access.split('.').map(str::to_string).collect();
    parts[1] = parts[1].chars().rev().collect();
    assert_eq!(answer(&b, OWN, &parts.join(".")), inactive);
    // The hint does not change the answer.
    let r = introspect(
        &b,
        OWN,
        &[("token", rt2), ("token_type_hint", "access_token")],
    );
    assert_eq!(json(r)["active"], true);

    // Revoked: inactive.
    let r = http()
        .post(b.url("/token/revoke"))
        .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
        .form(&[("token", rt2)])
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(answer(&b, OWN, rt2), inactive);
}

#[test]
fn introspection_needs_an_authenticated_confidential_client() {
    let b = start();
    let t = sign_in(&b, "openid");
    let access = t["access_token"].as_str().unwrap();
    let status_error = |r: Response| {
        let s = r.status().as_u16();
        let v = json(r);
        assert!(v.get("active").is_none(), "{v}");
        (s, v["error"].as_str().unwrap_or("").to_string())
    };
    assert_eq!(
        status_error(introspect(&b, (CLIENT_ID, "wrong"), &[("token", access)])),
        (401, "invalid_client".into())
    );
    assert_eq!(
        status_error(introspect(&b, ("nobody", "x"), &[("token", access)])),
        (401, "invalid_client".into())
    );
    let public = http()
        .post(b.url("/token/introspect"))
        .form(&[("client_id", PUBLIC_CLIENT), ("token", access)])
        .send()
        .unwrap();
    assert_eq!(status_error(public), (401, "invalid_client".into()));
    let none = http()
        .post(b.url("/token/introspect"))
        .form(&[("token", access)])
        .send()
        .unwrap();
    assert_eq!(status_error(none), (401, "invalid_client".into()));
    // Malformed requests.
    assert_eq!(
        status_error(introspect(&b, OWN, &[])),
        (400, "invalid_request".into())
    );
    assert_eq!(
        status_error(introspect(&b, OWN, &[("token", access), ("token", "x")])),
        (400, "invalid_request".into())
    );
    let json_body = http()
        .post(b.url("/token/introspect"))
        .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
        .header("content-type", "application/json")
        .body(format!("{{\"token\":\"{access}\"}}"))
        .send()
        .unwrap();
    assert_eq!(status_error(json_body), (400, "invalid_request".into()));
    let big = "x".repeat(100 * 1024);
    assert_eq!(introspect(&b, OWN, &[("token", &big)]).status(), 413);
    assert_eq!(
        http()
            .get(b.url("/token/introspect"))
            .send()
            .unwrap()
            .status(),
        405
    );
}

#[test]
fn an_access_token_of_an_ended_session_is_inactive() {
    let b = start();
    let t = sign_in(&b, "openid email offline_access");
    let access = t["access_token"].as_str().unwrap();
    let claims = jwt_payload(access);
    let id_claims = jwt_payload(t["id_token"].as_str().unwrap());
    // The access token names its sign-in's session, as the ID token does.
    assert!(claims["sid"].is_string(), "{claims}");
    assert_eq!(claims["sid"], id_claims["sid"]);
    assert_eq!(answer(&b, OWN, access)["active"], true);
    let userinfo = |token: &str| {
        http()
            .get(b.url("/userinfo"))
            .bearer_auth(token)
            .send()
            .unwrap()
    };
    assert_eq!(userinfo(access).status(), 200);
    // Revoking the refresh token ends the session: the (unexpired) access token goes inactive.
    let r = http()
        .post(b.url("/token/revoke"))
        .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
        .form(&[("token", t["refresh_token"].as_str().unwrap())])
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(answer(&b, OWN, access), json!({"active": false}));
    // /userinfo refuses it too, as an invalid token (RFC 6750 §3.1).
    let refused = userinfo(access);
    assert_eq!(refused.status(), 401);
    let challenge = refused.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(challenge.contains("error=\"invalid_token\""), "{challenge}");
    // Another sign-in's session lives on.
    let other = sign_in(&b, "openid");
    assert_eq!(
        answer(&b, OWN, other["access_token"].as_str().unwrap())["active"],
        true
    );
    assert_eq!(
        userinfo(other["access_token"].as_str().unwrap()).status(),
        200
    );
}

fn jwt_payload(token: &str) -> Value {
    use base64::Engine;
    let part = token.split('.').nth(1).unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(part)
            .unwrap(),
    )
    .unwrap()
}
