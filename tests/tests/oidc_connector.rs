//! Issue 5: the generic `oidc` connector against a real provider written by others (npm
//! `oidc-provider`, tests/peers/oidc-provider), through the real broker — and through Envoy +
//! filter for the main path. Refusals use the same provider misbehaving in one claim.

use std::time::Duration;

use gatehouse_e2e::broker::BrokerConfig;
use gatehouse_e2e::fake_entra::{FakeEntra, FakeGroup, FakeUser};
use gatehouse_e2e::oidc_client::{jwt_claims, OidcClient};
use gatehouse_e2e::oidc_peer::{OidcPeer, Tamper, CLIENT_ID, CLIENT_SECRET};
use gatehouse_e2e::ports::free_port;
use gatehouse_e2e::{Broker, Browser, LogDir, Stack, StackOptions, StackPorts};
use serde_json::{json, Value};

const SCOPES: &str = "openid email profile groups offline_access";

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

fn connector_yaml(issuer: &str, callback: &str, extra: &str) -> String {
    let mut y = String::from(
        "connectors:\n- type: oidc\n  id: upstream\n  name: Upstream OIDC\n  config:\n",
    );
    y.push_str(&format!("    issuer: \"{issuer}\"\n    clientID: \"{CLIENT_ID}\"\n    clientSecret: \"{CLIENT_SECRET}\"\n"));
    y.push_str(&format!(
        "    redirectURI: \"{callback}\"\n    scopes: [profile, email, groups]\n"
    ));
    y.push_str(extra);
    y
}

struct Setup {
    client: OidcClient,
    logs: LogDir,
    _broker: Broker,
    _peer: OidcPeer,
    _dir: tempfile::TempDir,
}

fn setup(name: &str, account: Value, tamper: Tamper, conform: bool, extra: &str) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let logs = LogDir::for_test(name).unwrap();
    let envoy_port = free_port().unwrap();
    let mut config = BrokerConfig::standard(free_port().unwrap(), envoy_port, dir.path());
    let callback = format!("{}/callback", config.issuer);
    let peer = OidcPeer::start(&logs, &callback, account, tamper, conform).unwrap();
    config
        .yaml
        .push_str(&connector_yaml(&peer.issuer, &callback, extra));
    let broker = Broker::start(&logs, dir.path(), &config).unwrap();
    Setup {
        client: OidcClient::new(
            &config.issuer,
            &format!("http://127.0.0.1:{envoy_port}/oauth2/callback"),
        )
        .unwrap(),
        logs,
        _broker: broker,
        _peer: peer,
        _dir: dir,
    }
}

fn sign_in(s: &Setup) -> Value {
    s.client.sign_in("upstream", SCOPES, || {
        let log = std::fs::read_to_string(s.logs.file("broker")).unwrap_or_default();
        format!("broker log:\n{log}")
    })
}

fn refused_page(s: &Setup) -> gatehouse_e2e::Page {
    s.client.refused("upstream", SCOPES)
}

fn id_claims(tokens: &Value) -> Value {
    jwt_claims(tokens["id_token"].as_str().unwrap()).unwrap()
}

#[test]
fn signs_in_with_id_token_claims_groups_and_refreshes_upstream() {
    let s = setup(
        "oidc_sign_in_and_refresh",
        alice(),
        Tamper::None,
        false,
        "    insecureEnableGroups: true\n    allowedGroups: [admins, developers]\n",
    );
    let tokens = sign_in(&s);
    let claims = id_claims(&tokens);
    assert_eq!(claims["email"], "alice@example.org");
    assert_eq!(claims["email_verified"], true);
    assert_eq!(claims["name"], "Alice Liddell");
    assert_eq!(claims["preferred_username"], "alice");
    assert_eq!(claims["federated_claims"]["connector_id"], "upstream");
    assert_eq!(claims["federated_claims"]["user_id"], "alice-0001");
    // allowedGroups narrows the groups to the allowed ones (as Dex).
    assert_eq!(claims["groups"], json!(["admins"]));
    // The upstream granted offline_access (prompt=consent by default): refresh goes upstream.
    let (status, again) = s
        .client
        .refresh(tokens["refresh_token"].as_str().unwrap())
        .unwrap();
    assert_eq!(status, 200, "{again}");
    assert_eq!(id_claims(&again)["email"], "alice@example.org");
}

#[test]
fn claims_from_userinfo_and_custom_keys() {
    // oidc-provider's default: profile and email claims only at userinfo.
    let s = setup(
        "oidc_userinfo",
        alice(),
        Tamper::None,
        true,
        "    getUserInfo: true\n    userNameKey: preferred_username\n    claimMapping:\n      preferred_username: name\n",
    );
    let claims = id_claims(&sign_in(&s));
    assert_eq!(claims["email"], "alice@example.org");
    assert_eq!(claims["name"], "alice");
    assert_eq!(claims["preferred_username"], "Alice Liddell");
}

#[test]
fn missing_email_verified_is_refused_unless_skipped() {
    let mut account = alice();
    account.as_object_mut().unwrap().remove("email_verified");
    let s = setup(
        "oidc_email_verified",
        account.clone(),
        Tamper::None,
        false,
        "",
    );
    let page = refused_page(&s);
    assert_eq!(page.status, 502);
    assert!(page.body.contains("email_verified"), "{}", page.body);
    let s = setup(
        "oidc_email_verified_skipped",
        account,
        Tamper::None,
        false,
        "    insecureSkipEmailVerified: true\n",
    );
    assert_eq!(id_claims(&sign_in(&s))["email_verified"], true);
}

#[test]
fn user_outside_allowed_groups_sees_not_allowed() {
    let s = setup(
        "oidc_not_allowed",
        alice(),
        Tamper::None,
        false,
        "    insecureEnableGroups: true\n    allowedGroups: [developers]\n",
    );
    let page = refused_page(&s);
    assert_eq!(page.status, 403);
    assert!(page.body.contains("Not allowed"), "{}", page.body);
}

fn assert_refused(name: &str, tamper: Tamper, reason: &str) {
    let s = setup(name, alice(), tamper, false, "");
    let page = refused_page(&s);
    assert_eq!(page.status, 502, "{}", page.body);
    assert!(page.body.contains("ID token was refused"), "{}", page.body);
    assert!(page.body.contains(reason), "{}", page.body);
}

#[test]
fn id_token_from_a_wrong_issuer_is_refused() {
    assert_refused("oidc_wrong_issuer", Tamper::Issuer, "InvalidIssuer");
}

#[test]
fn id_token_for_another_audience_is_refused() {
    assert_refused("oidc_wrong_audience", Tamper::Audience, "InvalidAudience");
}

#[test]
fn id_token_with_a_bad_nonce_is_refused() {
    assert_refused("oidc_bad_nonce", Tamper::Nonce, "nonce");
}

#[test]
fn expired_id_token_is_refused() {
    assert_refused("oidc_expired", Tamper::Expired, "ExpiredSignature");
}

#[test]
fn entra_group_overage_is_resolved_through_graph() {
    let fake = FakeEntra::start().unwrap();
    fake.accept_any_bearer_as(FakeUser {
        id: "alice-0001".into(),
        display_name: "Alice".into(),
        user_principal_name: "alice@example.org".into(),
        mail_nickname: "alice".into(),
        groups: vec![
            FakeGroup::new("a1a1a1a1-0000-0000-0000-000000000001", "admin"),
            FakeGroup::new("b2b2b2b2-0000-0000-0000-000000000002", "sales"),
        ],
    });
    let mut account = alice();
    let a = account.as_object_mut().unwrap();
    a.remove("groups");
    a.insert("_claim_names".into(), json!({"groups": "src1"}));
    a.insert(
        "_claim_sources".into(),
        json!({"src1": {"endpoint": format!("{}/v1.0/me/getMemberGroups", fake.url())}}),
    );
    let s = setup(
        "oidc_group_overage",
        account,
        Tamper::None,
        false,
        "    insecureEnableGroups: true\n    allowedGroups: [\"a1a1a1a1-0000-0000-0000-000000000001\"]\n",
    );
    let claims = id_claims(&sign_in(&s));
    assert_eq!(
        claims["groups"],
        json!(["a1a1a1a1-0000-0000-0000-000000000001"])
    );
    let calls = fake.calls_to("/v1.0/me/getMemberGroups");
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].method, "POST");
}

#[test]
fn full_login_through_envoy_filter_broker_and_oidc_provider() {
    let ports = StackPorts::free().unwrap();
    let callback = format!("http://127.0.0.1:{}/dex/callback", ports.broker);
    let logs = LogDir::for_test("oidc_full_login_peer").unwrap();
    let peer = OidcPeer::start(&logs, &callback, alice(), Tamper::None, false).unwrap();
    let stack = Stack::start(StackOptions {
        ports: Some(ports),
        extra_broker_yaml: Some(connector_yaml(
            &peer.issuer,
            &callback,
            "    insecureEnableGroups: true\n    allowedGroups: [admins]\n",
        )),
        ..StackOptions::named("oidc_full_login_through_envoy")
    })
    .unwrap();
    let mut browser = Browser::new().unwrap();
    stack.wait_for_keys(Duration::from_secs(15)).unwrap();
    let page = browser.get(&stack.url("/private/page?x=1")).unwrap();
    let chooser = browser.follow_all(page).unwrap();
    assert!(
        chooser.body.contains("Log in with Upstream OIDC"),
        "{}",
        chooser.body
    );
    let landed = browser.choose_connector(&chooser, "upstream").unwrap();
    assert_eq!(
        landed.status,
        200,
        "{}\n{}",
        landed.body,
        browser.history_text()
    );
    assert!(
        landed.url.as_str().ends_with("/private/page?x=1"),
        "{}",
        landed.url
    );
    let last = stack.echo.requests().last().cloned().unwrap();
    assert_eq!(
        last.header("x-auth-request-email"),
        Some("alice@example.org")
    );
    assert_eq!(last.header("x-auth-request-groups"), Some("admins"));
}
