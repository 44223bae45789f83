//! RFC 7009 token revocation (`/token/revoke`, beyond Dex) through the real broker binary: the
//! client's refresh token and its whole family end; unknown tokens and other clients' tokens get
//! the same 200 and change nothing; client authentication is required.

mod support;

use support::*;

fn revoke(b: &Broker, client: (&str, &str), form: &[(&str, &str)]) -> reqwest::blocking::Response {
    http()
        .post(b.url("/token/revoke"))
        .basic_auth(client.0, Some(client.1))
        .form(form)
        .send()
        .unwrap()
}

fn other_client() -> Options {
    Options {
        clients_extra:
            "- id: other\n  secret: other-secret\n  redirectURIs: [\"http://127.0.0.1:8085/cb\"]\n"
                .into(),
        ..Options::default()
    }
}

#[test]
fn revoking_a_refresh_token_ends_its_family() {
    let b = Broker::start(other_client());
    let doc = json(
        http()
            .get(b.url("/.well-known/openid-configuration"))
            .send()
            .unwrap(),
    );
    assert_eq!(doc["revocation_endpoint"], b.url("/token/revoke"));
    let first = sign_in(&b, "openid offline_access");
    let rt1 = first["refresh_token"].as_str().unwrap().to_string();
    let rotated = json(refresh(&b, &rt1));
    let rt2 = rotated["refresh_token"].as_str().unwrap().to_string();
    // Another client cannot revoke it (and learns nothing: 200).
    let r = revoke(&b, ("other", "other-secret"), &[("token", &rt2)]);
    assert_eq!(r.status(), 200);
    let still = refresh(&b, &rt2);
    assert_eq!(
        still.status(),
        200,
        "another client's revoke must change nothing"
    );
    let rt3 = json(still)["refresh_token"].as_str().unwrap().to_string();
    // Its own client revokes the newest: the family is gone, older and newer alike.
    let r = revoke(
        &b,
        (CLIENT_ID, CLIENT_SECRET),
        &[("token", &rt3), ("token_type_hint", "refresh_token")],
    );
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store");
    for t in [&rt3, &rt2, &rt1] {
        let r = refresh(&b, t);
        assert_eq!(r.status(), 400);
        assert_eq!(json(r)["error"], "invalid_grant");
    }
    // Revoking again, or an access token (a JWT that cannot be recalled): still 200.
    assert_eq!(
        revoke(&b, (CLIENT_ID, CLIENT_SECRET), &[("token", &rt3)]).status(),
        200
    );
    let access = first["access_token"].as_str().unwrap();
    let r = revoke(
        &b,
        (CLIENT_ID, CLIENT_SECRET),
        &[("token", access), ("token_type_hint", "access_token")],
    );
    assert_eq!(r.status(), 200);
    // A second sign-in is a different family and lives on.
    let other = sign_in(&b, "openid offline_access");
    assert_eq!(
        refresh(&b, other["refresh_token"].as_str().unwrap()).status(),
        200
    );
}

#[test]
fn hostile_revocation_requests() {
    let b = Broker::start(Options::default());
    let session = sign_in(&b, "openid offline_access");
    let rt = session["refresh_token"].as_str().unwrap();
    // No or wrong client authentication: 401, nothing revoked.
    let r = http()
        .post(b.url("/token/revoke"))
        .form(&[("token", rt)])
        .send()
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(
        revoke(&b, (CLIENT_ID, "wrong"), &[("token", rt)]).status(),
        401
    );
    // Garbage and near-misses of a real token: 200 and no effect.
    let (id, _) = rt.split_once('.').unwrap();
    for t in [
        ".",
        "x",
        &format!("{id}.wrong-secret"),
        &"a.".repeat(5000),
        "\u{0}.\u{0}",
    ] {
        assert_eq!(
            revoke(&b, (CLIENT_ID, CLIENT_SECRET), &[("token", t)]).status(),
            200,
            "{t:?}"
        );
    }
    // An empty or absent token is a malformed request (RFC 7009 §2.1: `token` is required).
    for form in [&[][..], &[("token", "")][..]] {
        let missing = revoke(&b, (CLIENT_ID, CLIENT_SECRET), form);
        assert_eq!(missing.status(), 400);
        assert_eq!(json(missing)["error"], "invalid_request");
    }
    let twice = revoke(
        &b,
        (CLIENT_ID, CLIENT_SECRET),
        &[("token", "a"), ("token", "b")],
    );
    assert_eq!(twice.status(), 400);
    let hint = revoke(
        &b,
        (CLIENT_ID, CLIENT_SECRET),
        &[("token", rt), ("token_type_hint", "id_token")],
    );
    assert_eq!(hint.status(), 400);
    assert_eq!(json(hint)["error"], "unsupported_token_type");
    let json_body = http()
        .post(b.url("/token/revoke"))
        .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
        .header("content-type", "application/json")
        .body(format!("{{\"token\":\"{rt}\"}}"))
        .send()
        .unwrap();
    assert_eq!(json_body.status(), 400);
    let get = http().get(b.url("/token/revoke")).send().unwrap();
    assert_eq!(get.status(), 405);
    // After all that, the token still works.
    assert_eq!(refresh(&b, rt).status(), 200);
}
