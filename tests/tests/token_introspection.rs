//! Issue 18: token introspection (RFC 7662) with a resource server written by others: npm
//! `openid-client`'s `tokenIntrospection`, run by node as the `api` client, asks the real
//! broker about tokens issued to the `gatehouse` client.

use std::process::Command;

use gatehouse_e2e::broker::{CLIENT_ID, CLIENT_SECRET};
use gatehouse_e2e::broker_yaml::enable_password_grant;
use gatehouse_e2e::logs::current_test_name;
use gatehouse_e2e::paths::repo_root;
use gatehouse_e2e::ports::free_port;
use gatehouse_e2e::{Broker, BrokerConfig, LogDir, ADMIN};
use serde_json::{json, Value};

const API: &str = "api";
const API_SECRET: &str = "api-secret";

/// Password grant as `gatehouse` with `scope`: the token response.
fn tokens(issuer: &str, scope: &str) -> Value {
    let r = reqwest::blocking::Client::new()
        .post(format!("{issuer}/token"))
        .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
        .form(&[
            ("grant_type", "password"),
            ("username", ADMIN.email),
            ("password", ADMIN.password),
            ("scope", scope),
        ])
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    serde_json::from_str(&r.text().unwrap()).unwrap()
}

/// The resource server's answers, as `client_id` with `secret`, about `tokens`.
fn introspect(issuer: &str, client_id: &str, secret: &str, tokens: &Value) -> Value {
    let peer = repo_root().join("tests/peers/openid-client");
    assert!(
        peer.join("node_modules/openid-client").exists(),
        "run `make setup`"
    );
    let out = Command::new("node")
        .arg("resource-server.mjs")
        .args(["--issuer", issuer, "--client-id", client_id])
        .env("RS_CLIENT_SECRET", secret)
        .env("RS_TOKENS", tokens.to_string())
        .current_dir(peer)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "resource server failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn openid_client_resource_server_sees_only_tokens_meant_for_it() {
    let logs = LogDir::for_test(&current_test_name()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut config = BrokerConfig::standard(free_port().unwrap(), free_port().unwrap(), dir.path());
    enable_password_grant(&mut config.yaml);
    config.yaml = config.yaml.replacen(
        "enablePasswordDB:",
        &format!(
            "- id: {API}\n  secret: {API_SECRET}\n  name: API\n  redirectURIs: [\"http://127.0.0.1:9/cb\"]\n  trustedPeers: [{CLIENT_ID}]\nenablePasswordDB:"
        ),
        1,
    );
    let broker = Broker::start(&logs, dir.path(), &config).unwrap();
    let issuer = broker.issuer().to_string();
    let for_api = tokens(
        &issuer,
        "openid email offline_access audience:server:client_id:api",
    );
    let not_for_api = tokens(&issuer, "openid email offline_access");
    let asked = json!({
        "for_api": for_api["access_token"],
        "not_for_api": not_for_api["access_token"],
        "id_token": for_api["id_token"],
        "refresh": for_api["refresh_token"],
        "garbage": "not-a-token",
    });
    let api = introspect(&issuer, API, API_SECRET, &asked);
    assert_eq!(
        api["introspection_endpoint"],
        format!("{issuer}/token/introspect")
    );
    let a = &api["for_api"];
    assert_eq!(a["active"], true, "{api}");
    assert_eq!(a["token_use"], "access_token");
    assert_eq!(a["client_id"], CLIENT_ID);
    assert_eq!(a["aud"], json!([API, CLIENT_ID]));
    assert_eq!(a["email"], ADMIN.email);
    // Not meant for the API, not an access token, another client's refresh token, garbage:
    // the same bare answer for each.
    for name in ["not_for_api", "id_token", "refresh", "garbage"] {
        assert_eq!(api[name]["active"], false, "{name}: {api}");
        assert_eq!(api[name]["keys"], json!(["active"]), "{name}: {api}");
    }

    // The client the refresh token was issued to sees it active (without using it up).
    let own = introspect(
        &issuer,
        CLIENT_ID,
        CLIENT_SECRET,
        &json!({"refresh": for_api["refresh_token"], "access": not_for_api["access_token"]}),
    );
    assert_eq!(own["refresh"]["active"], true, "{own}");
    assert_eq!(own["refresh"]["token_use"], "refresh_token");
    assert_eq!(
        own["refresh"]["scope"],
        "openid email offline_access audience:server:client_id:api"
    );
    assert_eq!(own["access"]["active"], true, "{own}");

    // A wrong secret gets no answer at all.
    let wrong = introspect(
        &issuer,
        API,
        "wrong",
        &json!({"t": for_api["access_token"]}),
    );
    assert_eq!(wrong["t"]["status"], 401, "{wrong}");
    assert!(wrong["t"].get("active").is_none(), "{wrong}");
}
