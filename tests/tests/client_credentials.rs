//! Issue 18: the client_credentials grant as current Dex serves it, through the real broker,
//! with npm `openid-client`'s `clientCredentialsGrant` (tests/peers/openid-client/grant.mjs)
//! as the client: tokens about the client itself, an ID token with `openid`, no refresh token.

use gatehouse_e2e::broker::{CLIENT_ID, CLIENT_SECRET};
use gatehouse_e2e::broker_yaml::{add_static_clients, set_grant_types};
use gatehouse_e2e::grant_client::{run_grants, ClientAuth, GrantRequest};
use gatehouse_e2e::logs::current_test_name;
use gatehouse_e2e::oidc_client::jwt_claims;
use gatehouse_e2e::ports::free_port;
use gatehouse_e2e::{Broker, BrokerConfig, LogDir};
use serde_json::{json, Value};

const WORKER: &str = "worker";
const WORKER_SECRET: &str = "worker-secret";

/// A broker (`grant_types`: the oauth2.grantTypes line, None for the default) with the
/// `worker` client (clientCredentialsClaims groups), `api` trusting it, and public `cli`.
fn broker(grant_types: Option<&str>) -> (Broker, LogDir, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let logs = LogDir::for_test(&current_test_name()).unwrap();
    let mut config = BrokerConfig::standard(free_port().unwrap(), free_port().unwrap(), dir.path());
    if let Some(list) = grant_types {
        set_grant_types(&mut config.yaml, list);
    }
    add_static_clients(
        &mut config.yaml,
        &format!(
            "- id: {WORKER}\n  secret: {WORKER_SECRET}\n  name: Nightly worker\n  redirectURIs: [\"http://127.0.0.1:9/cb\"]\n  clientCredentialsClaims:\n    groups: [batch, readers]\n\
             - id: api\n  secret: api-secret\n  name: API\n  redirectURIs: [\"http://127.0.0.1:9/cb\"]\n  trustedPeers: [{WORKER}]\n\
             - id: cli\n  public: true\n  name: CLI\n  redirectURIs: [\"http://127.0.0.1:9/cb\"]\n"
        ),
    );
    let broker = Broker::start(&logs, dir.path(), &config).unwrap();
    (broker, logs, dir)
}

fn request<'a>(name: &'a str, scope: Option<&str>) -> GrantRequest<'a> {
    GrantRequest {
        name,
        grant: "client_credentials",
        params: scope
            .map(|s| vec![("scope", s.to_string())])
            .unwrap_or_default(),
    }
}

fn refused(answer: &Value, error: &str, says: &str) {
    assert_eq!(answer["error"], error, "{answer}");
    let d = answer["error_description"].as_str().unwrap_or_default();
    assert!(d.contains(says), "{says:?} not in {answer}");
}

#[test]
fn a_confidential_client_gets_tokens_about_itself() {
    let (b, _logs, _dir) = broker(Some("[authorization_code, client_credentials]"));
    let issuer = b.issuer().to_string();
    let out = run_grants(
        &issuer,
        WORKER,
        WORKER_SECRET,
        ClientAuth::Basic,
        &[
            request("full", Some("openid profile groups email")),
            request("bare", None),
            request("for_api", Some("audience:server:client_id:api")),
        ],
    );
    assert!(
        out["grant_types_supported"]
            .as_array()
            .unwrap()
            .contains(&json!("client_credentials")),
        "{out}"
    );
    let full = &out["full"];
    assert_eq!(full["token_type"], "bearer", "{out}");
    assert_eq!(full["scope"], "openid profile groups email");
    // openid-client validated the ID token (iss, aud, signature); no refresh token.
    assert_eq!(
        full["keys"],
        json!([
            "access_token",
            "expires_in",
            "id_token",
            "scope",
            "token_type"
        ])
    );
    let claims = jwt_claims(full["access_token"].as_str().unwrap()).unwrap();
    // Dex's subject for the client id and the empty connector id.
    assert_eq!(claims["sub"], "CgZ3b3JrZXI");
    assert_eq!(full["id_token_sub"], "CgZ3b3JrZXI");
    assert_eq!(claims["aud"], WORKER);
    assert_eq!(claims["name"], "Nightly worker");
    assert_eq!(claims["preferred_username"], "Nightly worker");
    assert_eq!(claims["groups"], json!(["batch", "readers"]));
    assert!(
        claims.get("email").is_none(),
        "a client has no address: {claims}"
    );
    assert_eq!(claims["federated_claims"]["user_id"], WORKER);
    // A real access token: /userinfo takes it.
    let info: Value = reqwest::blocking::Client::new()
        .get(format!("{issuer}/userinfo"))
        .bearer_auth(full["access_token"].as_str().unwrap())
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(info["sub"], "CgZ3b3JrZXI", "{info}");

    // No openid: no ID token (as Dex); no scope: only the subject.
    let bare = &out["bare"];
    assert_eq!(
        bare["keys"],
        json!(["access_token", "expires_in", "scope", "token_type"]),
        "{out}"
    );
    let bare_claims = jwt_claims(bare["access_token"].as_str().unwrap()).unwrap();
    assert!(bare_claims.get("groups").is_none(), "{bare_claims}");
    // A peer that trusts the client may be the audience.
    let api = jwt_claims(out["for_api"]["access_token"].as_str().unwrap()).unwrap();
    assert_eq!(api["aud"], json!(["api", WORKER]), "{out}");
}

#[test]
fn hostile_client_credentials_requests_are_refused() {
    let (b, _logs, _dir) = broker(Some("[authorization_code, client_credentials]"));
    let issuer = b.issuer().to_string();
    let out = run_grants(
        &issuer,
        CLIENT_ID,
        CLIENT_SECRET,
        ClientAuth::Post,
        &[
            request("offline", Some("openid offline_access")),
            request("federated", Some("openid federated:id")),
            request("unknown", Some("openid admin")),
            request("untrusted_peer", Some("audience:server:client_id:api")),
            GrantRequest {
                name: "twice",
                grant: "client_credentials",
                params: vec![("scope", "openid".into()), ("scope", "groups".into())],
            },
            request("ok", Some("openid")),
        ],
    );
    refused(&out["offline"], "invalid_scope", "offline_access");
    refused(&out["federated"], "invalid_scope", "federated:id");
    refused(&out["unknown"], "invalid_scope", "admin");
    refused(&out["untrusted_peer"], "invalid_scope", "api");
    refused(&out["twice"], "invalid_request", "sent twice");
    assert_eq!(out["ok"]["token_type"], "bearer", "{out}");

    let one = [request("t", Some("openid"))];
    let wrong = run_grants(&issuer, WORKER, "wrong", ClientAuth::Basic, &one);
    assert_eq!(wrong["t"]["status"], 401, "{wrong}");
    let unknown = run_grants(&issuer, "nobody", WORKER_SECRET, ClientAuth::Basic, &one);
    assert_eq!(unknown["t"]["status"], 401, "{unknown}");
    let public = run_grants(&issuer, "cli", "", ClientAuth::None, &one);
    refused(&public["t"], "unauthorized_client", "public clients");
}

#[test]
fn not_served_or_advertised_unless_listed() {
    let (b, _logs, _dir) = broker(None);
    let out = run_grants(
        b.issuer(),
        WORKER,
        WORKER_SECRET,
        ClientAuth::Basic,
        &[request("t", Some("openid"))],
    );
    assert!(
        !out["grant_types_supported"]
            .as_array()
            .unwrap()
            .contains(&json!("client_credentials")),
        "{out}"
    );
    refused(&out["t"], "unsupported_grant_type", "client_credentials");
}
