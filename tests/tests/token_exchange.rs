//! Issue 18: token exchange (RFC 8693) as Dex does it, through the real broker. The upstream is
//! npm `oidc-provider` (tests/peers/oidc-provider) behind the broker's `oidc` connector; its
//! tokens come from a real code flow of the connector's client. The exchanging client is npm
//! `openid-client`'s `genericGrantRequest` (tests/peers/openid-client/grant.mjs).

use gatehouse_e2e::broker::{CLIENT_ID, CLIENT_SECRET};
use gatehouse_e2e::broker_yaml::{add_static_clients, set_grant_types};
use gatehouse_e2e::grant_client::{run_grants, ClientAuth, GrantRequest};
use gatehouse_e2e::logs::current_test_name;
use gatehouse_e2e::oidc_client::{jwt_claims, OidcClient, Outcome};
use gatehouse_e2e::oidc_peer::{
    OidcPeer, Tamper, CLIENT_ID as UPSTREAM_CLIENT, CLIENT_SECRET as UPSTREAM_SECRET,
};
use gatehouse_e2e::ports::free_port;
use gatehouse_e2e::{Broker, BrokerConfig, Browser, LogDir};
use serde_json::{json, Value};

const EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
const ID_TOKEN: &str = "urn:ietf:params:oauth:token-type:id_token";
const ACCESS_TOKEN: &str = "urn:ietf:params:oauth:token-type:access_token";
const UPSTREAM_SCOPES: &str = "openid email profile groups";

/// Trusts `gatehouse` (may be its audience); `stranger` trusts nobody; `cli` is public.
const API: &str = "api";
const CLI: &str = "cli";

fn alice() -> Value {
    json!({
        "sub": "alice-0001",
        "email": "alice@example.org",
        "email_verified": true,
        "name": "Alice Liddell",
        "preferred_username": "alice",
        "groups": ["admins", "readers"],
    })
}

/// One `type: oidc` connector on the peer.
fn oidc_connector(id: &str, issuer: &str, callback: &str, extra: &str) -> String {
    format!(
        "- type: oidc\n  id: {id}\n  name: {id}\n  config:\n    issuer: \"{issuer}\"\n    clientID: \"{UPSTREAM_CLIENT}\"\n    clientSecret: \"{UPSTREAM_SECRET}\"\n    redirectURI: \"{callback}\"\n    scopes: [profile, email, groups]\n{extra}"
    )
}

struct Setup {
    issuer: String,
    peer: OidcPeer,
    /// The `gatehouse` client signing in through the broker (its redirect goes nowhere).
    client: OidcClient,
    _logs: LogDir,
    _broker: Broker,
    _dir: tempfile::TempDir,
}

/// The peer and a broker with token exchange enabled (`grant_types`: the oauth2.grantTypes
/// line, None for the default) and these connectors: `upstream` (groups, allow-list
/// admins, userinfo), `strict` (allow-list developers, which alice is not in),
/// `no-userinfo` (no getUserInfo), the password database (`local`), and `extra`.
fn setup(grant_types: Option<&str>, extra: &str) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let logs = LogDir::for_test(&current_test_name()).unwrap();
    let envoy_port = free_port().unwrap();
    let mut config = BrokerConfig::standard(free_port().unwrap(), envoy_port, dir.path());
    let callback = format!("{}/callback", config.issuer);
    let peer = OidcPeer::start(&logs, &callback, alice(), Tamper::None, false).unwrap();
    if let Some(list) = grant_types {
        set_grant_types(&mut config.yaml, list);
    }
    add_static_clients(
        &mut config.yaml,
        &format!(
            "- id: {API}\n  secret: api-secret\n  name: API\n  redirectURIs: [\"http://127.0.0.1:9/cb\"]\n  trustedPeers: [{CLIENT_ID}]\n\
             - id: stranger\n  secret: stranger-secret\n  name: Stranger\n  redirectURIs: [\"http://127.0.0.1:9/cb\"]\n\
             - id: {CLI}\n  public: true\n  name: CLI\n  redirectURIs: [\"http://127.0.0.1:9/cb\"]\n"
        ),
    );
    let groups = "    insecureEnableGroups: true\n";
    config.yaml.push_str("connectors:\n");
    config.yaml.push_str(&oidc_connector(
        "upstream",
        &peer.issuer,
        &callback,
        &format!("{groups}    allowedGroups: [admins]\n    getUserInfo: true\n"),
    ));
    config.yaml.push_str(&oidc_connector(
        "strict",
        &peer.issuer,
        &callback,
        &format!("{groups}    allowedGroups: [developers]\n    getUserInfo: true\n"),
    ));
    config.yaml.push_str(&oidc_connector(
        "no-userinfo",
        &peer.issuer,
        &callback,
        groups,
    ));
    config.yaml.push_str(
        &extra
            .replace("{issuer}", &peer.issuer)
            .replace("{callback}", &callback),
    );
    let broker = Broker::start(&logs, dir.path(), &config).unwrap();
    let client = OidcClient::new(
        &config.issuer,
        &format!("http://127.0.0.1:{envoy_port}/oauth2/callback"),
    )
    .unwrap();
    Setup {
        issuer: broker.issuer().to_string(),
        peer,
        client,
        _logs: logs,
        _broker: broker,
        _dir: dir,
    }
}

fn enabled() -> Setup {
    setup(Some(&enabled_list()), "")
}

fn enabled_list() -> String {
    format!("[authorization_code, refresh_token, \"{EXCHANGE}\"]")
}

/// An exchange request's parameters: connector, subject token and its type, then `extra`.
fn exchange<'a>(
    name: &'a str,
    connector: &str,
    token: &str,
    kind: &str,
    extra: &[(&'a str, &str)],
) -> GrantRequest<'a> {
    let mut params = vec![
        ("connector_id", connector.to_string()),
        ("subject_token", token.to_string()),
        ("subject_token_type", kind.to_string()),
    ];
    params.extend(extra.iter().map(|(k, v)| (*k, v.to_string())));
    GrantRequest {
        name,
        grant: "token-exchange",
        params,
    }
}

fn as_gatehouse(s: &Setup, requests: &[GrantRequest<'_>]) -> Value {
    run_grants(
        &s.issuer,
        CLIENT_ID,
        CLIENT_SECRET,
        ClientAuth::Basic,
        requests,
    )
}

fn upstream(s: &Setup, tamper: Tamper) -> Value {
    s.peer.tokens(UPSTREAM_SCOPES, tamper).unwrap()
}

fn text(v: &Value, key: &str) -> String {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("no {key} in {v}"))
        .to_string()
}

/// Asserts a refusal: the error code, and that the description mentions `says`.
fn refused(answer: &Value, error: &str, says: &str) {
    assert_eq!(answer["error"], error, "{answer}");
    let d = answer["error_description"].as_str().unwrap_or_default();
    assert!(d.contains(says), "{says:?} not in {answer}");
}

#[test]
fn upstream_id_and_access_tokens_become_broker_tokens() {
    let s = enabled();
    let up = upstream(&s, Tamper::None);
    let (id_token, access_token) = (text(&up, "id_token"), text(&up, "access_token"));
    let scope = "openid email profile groups";
    let out = as_gatehouse(
        &s,
        &[
            exchange(
                "access",
                "upstream",
                &id_token,
                ID_TOKEN,
                &[("scope", scope)],
            ),
            exchange(
                "id",
                "upstream",
                &id_token,
                ID_TOKEN,
                &[("scope", scope), ("requested_token_type", ID_TOKEN)],
            ),
            exchange(
                "by_access_token",
                "upstream",
                &access_token,
                ACCESS_TOKEN,
                &[("scope", scope)],
            ),
            exchange(
                "for_api",
                "upstream",
                &id_token,
                ID_TOKEN,
                &[("scope", "openid offline_access"), ("audience", API)],
            ),
            exchange("no_scope", "upstream", &id_token, ID_TOKEN, &[]),
        ],
    );
    assert!(
        out["grant_types_supported"]
            .as_array()
            .unwrap()
            .contains(&json!(EXCHANGE)),
        "{out}"
    );
    // §2.2.1: the issued token in access_token, its type in issued_token_type; no refresh
    // token and no ID token beside it.
    let a = &out["access"];
    assert_eq!(a["issued_token_type"], ACCESS_TOKEN, "{out}");
    assert_eq!(a["token_type"], "bearer");
    assert_eq!(a["scope"], scope);
    assert!(a["expires_in"].as_i64().unwrap() > 0);
    assert_eq!(
        a["keys"],
        json!([
            "access_token",
            "expires_in",
            "issued_token_type",
            "scope",
            "token_type"
        ])
    );
    let claims = jwt_claims(a["access_token"].as_str().unwrap()).unwrap();
    assert_eq!(claims["iss"], s.issuer);
    assert_eq!(claims["aud"], CLIENT_ID);
    assert_eq!(claims["email"], "alice@example.org");
    assert_eq!(claims["federated_claims"]["connector_id"], "upstream");
    assert_eq!(claims["federated_claims"]["user_id"], "alice-0001");
    // allowedGroups narrows the groups, as at sign-in.
    assert_eq!(claims["groups"], json!(["admins"]));
    // The same subject as a browser sign-in through the connector.
    let signed_in = s.client.sign_in("upstream", "openid email", String::new);
    let signed_in = jwt_claims(signed_in["id_token"].as_str().unwrap()).unwrap();
    assert_eq!(claims["sub"], signed_in["sub"]);
    // A real access token of the broker: its userinfo endpoint takes it.
    let info: Value = reqwest::blocking::Client::new()
        .get(format!("{}/userinfo", s.issuer))
        .bearer_auth(a["access_token"].as_str().unwrap())
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(info["email"], "alice@example.org", "{info}");
    assert_eq!(info["sub"], claims["sub"]);

    let i = &out["id"];
    assert_eq!(i["issued_token_type"], ID_TOKEN, "{out}");
    assert_eq!(
        i["token_type"], "n_a",
        "RFC 8693 §2.2.1: not an access token"
    );
    let id_claims = jwt_claims(i["access_token"].as_str().unwrap()).unwrap();
    assert_eq!(id_claims["sub"], claims["sub"]);
    assert_eq!(id_claims["name"], "Alice Liddell");
    // The exchanged ID token is not taken as an access token.
    let status = reqwest::blocking::Client::new()
        .get(format!("{}/userinfo", s.issuer))
        .bearer_auth(i["access_token"].as_str().unwrap())
        .send()
        .unwrap()
        .status();
    assert_eq!(status, 401);

    // The upstream's access token, vouched for by its userinfo endpoint: the same user.
    let by_access = jwt_claims(out["by_access_token"]["access_token"].as_str().unwrap()).unwrap();
    assert_eq!(by_access["sub"], claims["sub"], "{out}");
    assert_eq!(by_access["groups"], json!(["admins"]));

    // audience: a client that trusts gatehouse; offline_access grants nothing here.
    let f = &out["for_api"];
    assert_eq!(
        f["scope"],
        format!("openid audience:server:client_id:{API}"),
        "{out}"
    );
    let f_claims = jwt_claims(f["access_token"].as_str().unwrap()).unwrap();
    assert_eq!(f_claims["aud"], json!([API, CLIENT_ID]));
    assert_eq!(f_claims["azp"], CLIENT_ID);

    // No scope: as Dex, a token about the subject and nothing else.
    let n = jwt_claims(out["no_scope"]["access_token"].as_str().unwrap()).unwrap();
    assert_eq!(n["sub"], claims["sub"], "{out}");
    assert!(n.get("email").is_none() && n.get("groups").is_none(), "{n}");
}

#[test]
fn hostile_subject_tokens_are_refused() {
    let s = enabled();
    let good = text(&upstream(&s, Tamper::None), "id_token");
    let expired = text(&upstream(&s, Tamper::Expired), "id_token");
    let foreign = text(&upstream(&s, Tamper::Audience), "id_token");
    let wrong_issuer = text(&upstream(&s, Tamper::Issuer), "id_token");
    // Forged: the payload says another user, the signature is the good token's.
    let parts: Vec<&str> = good.split('.').collect();
    let mut payload = jwt_claims(&good).unwrap();
    payload["sub"] = json!("mallory");
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        base64_url(&payload.to_string()),
        parts[2]
    );
    let unsigned = format!(
        "{}.{}.",
        base64_url(r#"{"alg":"none","typ":"JWT"}"#),
        parts[1]
    );
    let out = as_gatehouse(
        &s,
        &[
            exchange("expired", "upstream", &expired, ID_TOKEN, &[]),
            exchange("foreign", "upstream", &foreign, ID_TOKEN, &[]),
            exchange("wrong_issuer", "upstream", &wrong_issuer, ID_TOKEN, &[]),
            exchange("forged", "upstream", &forged, ID_TOKEN, &[]),
            exchange("unsigned", "upstream", &unsigned, ID_TOKEN, &[]),
            exchange(
                "garbage_access",
                "upstream",
                "not-a-token",
                ACCESS_TOKEN,
                &[],
            ),
            // The ID token presented as an access token: the upstream's userinfo refuses it.
            exchange("id_as_access", "upstream", &good, ACCESS_TOKEN, &[]),
            exchange("outside_groups", "strict", &good, ID_TOKEN, &[]),
            exchange(
                "access_without_userinfo",
                "no-userinfo",
                &good,
                ACCESS_TOKEN,
                &[],
            ),
            exchange("unknown_connector", "nowhere", &good, ID_TOKEN, &[]),
            exchange("password_connector", "local", &good, ID_TOKEN, &[]),
            exchange("still_good", "upstream", &good, ID_TOKEN, &[]),
        ],
    );
    refused(&out["expired"], "invalid_request", "ExpiredSignature");
    refused(&out["foreign"], "invalid_request", "InvalidAudience");
    refused(&out["wrong_issuer"], "invalid_request", "InvalidIssuer");
    refused(
        &out["forged"],
        "invalid_request",
        "subject_token is not acceptable",
    );
    refused(
        &out["unsigned"],
        "invalid_request",
        "subject_token is not acceptable",
    );
    refused(&out["garbage_access"], "invalid_request", "userinfo");
    refused(&out["id_as_access"], "invalid_request", "userinfo");
    refused(&out["outside_groups"], "invalid_request", "group");
    refused(
        &out["access_without_userinfo"],
        "invalid_request",
        "getUserInfo",
    );
    refused(&out["unknown_connector"], "invalid_request", "connector_id");
    refused(
        &out["password_connector"],
        "invalid_request",
        "does not support token exchange",
    );
    for name in ["expired", "forged", "outside_groups", "unknown_connector"] {
        assert_eq!(out[name]["status"], 400, "{name}: {out}");
    }
    // The refusals spent nothing: the good token still exchanges.
    assert_eq!(
        out["still_good"]["issued_token_type"], ACCESS_TOKEN,
        "{out}"
    );
}

#[test]
fn bad_requests_and_clients_are_refused() {
    let s = enabled();
    let good = text(&upstream(&s, Tamper::None), "id_token");
    let params = |skip: &str| -> Vec<(&'static str, String)> {
        [
            ("connector_id", "upstream".to_string()),
            ("subject_token", good.clone()),
            ("subject_token_type", ID_TOKEN.to_string()),
        ]
        .into_iter()
        .filter(|(k, _)| *k != skip)
        .collect()
    };
    let raw = |name, p| GrantRequest {
        name,
        grant: "token-exchange",
        params: p,
    };
    let mut twice = params("");
    twice.push(("subject_token", "x".to_string()));
    let out = as_gatehouse(
        &s,
        &[
            raw("no_connector", params("connector_id")),
            raw("no_token", params("subject_token")),
            raw("no_type", params("subject_token_type")),
            raw("twice", twice),
            exchange(
                "saml_type",
                "upstream",
                &good,
                "urn:ietf:params:oauth:token-type:saml2",
                &[],
            ),
            exchange(
                "refresh_wanted",
                "upstream",
                &good,
                ID_TOKEN,
                &[(
                    "requested_token_type",
                    "urn:ietf:params:oauth:token-type:refresh_token",
                )],
            ),
            exchange(
                "actor",
                "upstream",
                &good,
                ID_TOKEN,
                &[
                    ("actor_token", good.as_str()),
                    ("actor_token_type", ID_TOKEN),
                ],
            ),
            exchange(
                "foreign_audience",
                "upstream",
                &good,
                ID_TOKEN,
                &[("audience", "stranger")],
            ),
            exchange(
                "unknown_audience",
                "upstream",
                &good,
                ID_TOKEN,
                &[("audience", "https://api.example")],
            ),
            exchange(
                "resource",
                "upstream",
                &good,
                ID_TOKEN,
                &[("resource", "https://api.example")],
            ),
            exchange(
                "bad_scope",
                "upstream",
                &good,
                ID_TOKEN,
                &[("scope", "openid admin")],
            ),
            exchange(
                "untrusted_scope",
                "upstream",
                &good,
                ID_TOKEN,
                &[("scope", "audience:server:client_id:stranger")],
            ),
        ],
    );
    refused(
        &out["no_connector"],
        "invalid_request",
        "connector_id is missing",
    );
    refused(
        &out["no_token"],
        "invalid_request",
        "subject_token is missing",
    );
    refused(
        &out["no_type"],
        "invalid_request",
        "subject_token_type is missing",
    );
    refused(
        &out["twice"],
        "invalid_request",
        "\"subject_token\" sent twice",
    );
    refused(&out["saml_type"], "invalid_request", "subject_token_type");
    refused(
        &out["refresh_wanted"],
        "invalid_request",
        "requested_token_type",
    );
    refused(&out["actor"], "invalid_request", "actor_token");
    refused(&out["foreign_audience"], "invalid_target", "stranger");
    refused(
        &out["unknown_audience"],
        "invalid_target",
        "https://api.example",
    );
    refused(&out["resource"], "invalid_target", "resource");
    refused(&out["bad_scope"], "invalid_scope", "admin");
    refused(&out["untrusted_scope"], "invalid_scope", "stranger");

    // A wrong secret: 401 before anything is looked at; a public client: not for this grant.
    let one = [exchange("t", "upstream", &good, ID_TOKEN, &[])];
    let wrong = run_grants(&s.issuer, CLIENT_ID, "wrong", ClientAuth::Post, &one);
    assert_eq!(wrong["t"]["status"], 401, "{wrong}");
    let public = run_grants(&s.issuer, CLI, "", ClientAuth::None, &one);
    refused(&public["t"], "unauthorized_client", "public clients");
    // client_secret_post works as well as Basic.
    let post = run_grants(&s.issuer, CLIENT_ID, CLIENT_SECRET, ClientAuth::Post, &one);
    assert_eq!(post["t"]["issued_token_type"], ACCESS_TOKEN, "{post}");
}

#[test]
fn not_served_or_advertised_unless_listed() {
    // No oauth2.grantTypes: Dex's default grants, token exchange not among them here.
    let s = setup(None, "");
    let good = text(&upstream(&s, Tamper::None), "id_token");
    let out = as_gatehouse(&s, &[exchange("t", "upstream", &good, ID_TOKEN, &[])]);
    assert!(
        !out["grant_types_supported"]
            .as_array()
            .unwrap()
            .contains(&json!(EXCHANGE)),
        "{out}"
    );
    refused(&out["t"], "unsupported_grant_type", EXCHANGE);
}

fn base64_url(text: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text.as_bytes())
}

#[test]
fn connector_grant_types_limit_what_each_connector_serves() {
    let extra = format!(
        "{}{}",
        oidc_connector(
            "code-only",
            "{issuer}",
            "{callback}",
            "    insecureEnableGroups: true\n  grantTypes: [authorization_code]\n",
        ),
        oidc_connector(
            "exchange-only",
            "{issuer}",
            "{callback}",
            &format!("    insecureEnableGroups: true\n  grantTypes: [\"{EXCHANGE}\"]\n"),
        ),
    );
    let s = setup(Some(&enabled_list()), &extra);
    let good = text(&upstream(&s, Tamper::None), "id_token");
    let out = as_gatehouse(
        &s,
        &[
            exchange("code_only", "code-only", &good, ID_TOKEN, &[]),
            exchange(
                "exchange_only",
                "exchange-only",
                &good,
                ID_TOKEN,
                &[("scope", "groups")],
            ),
        ],
    );
    refused(
        &out["code_only"],
        "invalid_request",
        "does not serve token exchange",
    );
    assert_eq!(
        out["exchange_only"]["issued_token_type"], ACCESS_TOKEN,
        "{out}"
    );

    // code-only signs in, but hands out no refresh token (it does not serve refresh_token).
    let tokens = s
        .client
        .sign_in("code-only", "openid email offline_access", String::new);
    assert!(tokens["id_token"].is_string(), "{tokens}");
    assert!(tokens.get("refresh_token").is_none(), "{tokens}");
    let with_refresh = s
        .client
        .sign_in("upstream", "openid email offline_access", String::new);
    assert!(with_refresh["refresh_token"].is_string(), "{with_refresh}");

    // exchange-only is not on the chooser, is refused at /auth, and at /auth/{id} when a
    // browser goes there by hand with a pending request.
    let mut browser = Browser::new().unwrap();
    let err = match s
        .client
        .authorize(&mut browser, Some("exchange-only"), "openid")
    {
        Ok(_) => panic!("exchange-only started a sign-in"),
        Err(e) => e.to_string(),
    };
    assert!(err.contains("error=invalid_request"), "{err}");
    let chooser = match s.client.authorize(&mut browser, None, "openid").unwrap() {
        Outcome::Page(p) => p,
        Outcome::Code(_) => panic!("signed in without choosing"),
    };
    let links: Vec<String> = chooser.links().iter().map(|u| u.to_string()).collect();
    assert!(
        links.iter().any(|l| l.contains("/auth/code-only?")),
        "{links:?}"
    );
    assert!(
        !links.iter().any(|l| l.contains("/auth/exchange-only")),
        "{links:?}"
    );
    let by_hand = links
        .iter()
        .find(|l| l.contains("/auth/code-only?"))
        .unwrap()
        .replace("/auth/code-only?", "/auth/exchange-only?");
    let page = browser.get(&by_hand).unwrap();
    assert_eq!(page.status, 400, "{}", page.body);
    assert!(page.body.contains("not available"), "{}", page.body);
}
