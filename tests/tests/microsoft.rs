//! Issue 5: the `microsoft` connector against a fake Entra ID + Graph that follows Microsoft's
//! documented endpoints (tests/src/fake_entra.rs), through the real broker binary — and for
//! the main path through Envoy + filter too.

use std::process::Command;
use std::time::{Duration, Instant};

use gatehouse_e2e::broker::BrokerConfig;
use gatehouse_e2e::fake_entra::{FakeEntra, FakeGroup, FakeUser, CLIENT_ID, CLIENT_SECRET, TENANT};
use gatehouse_e2e::oidc_client::{jwt_claims, OidcClient};
use gatehouse_e2e::paths::broker_binary;
use gatehouse_e2e::ports::free_port;
use gatehouse_e2e::{Broker, Browser, LogDir, Stack, StackOptions, StackPorts};
use serde_json::Value;

const SCOPES: &str = "openid email profile groups offline_access";

fn jane(groups: Vec<FakeGroup>) -> FakeUser {
    FakeUser {
        id: "3f2b9e4c-0d5a-4d8e-9a41-6c1e2b7f8a90".into(),
        display_name: "Jane Doe".into(),
        user_principal_name: "Jane.Doe@Contoso.onmicrosoft.com".into(),
        mail_nickname: "jdoe".into(),
        groups,
    }
}

fn admin_group() -> FakeGroup {
    FakeGroup::new("a1a1a1a1-0000-0000-0000-000000000001", "admin")
}

fn sales_group() -> FakeGroup {
    FakeGroup::new("b2b2b2b2-0000-0000-0000-000000000002", "sales")
}

/// A Microsoft 365 (not security) group.
fn staff_group() -> FakeGroup {
    FakeGroup {
        security: false,
        ..FakeGroup::new("c3c3c3c3-0000-0000-0000-000000000003", "staff")
    }
}

/// The connector's YAML; `extra` lines are added to its `config:` (4-space indent).
fn connector_yaml(fake: &FakeEntra, callback: &str, extra: &str) -> String {
    let mut y = String::from("connectors:\n- type: microsoft\n  id: microsoft\n  name: Example Azure AD OIDC connection\n  config:\n");
    y.push_str(&format!(
        "    clientID: \"{CLIENT_ID}\"\n    clientSecret: \"{CLIENT_SECRET}\"\n"
    ));
    y.push_str(&format!(
        "    redirectURI: \"{callback}\"\n    tenant: \"{TENANT}\"\n"
    ));
    y.push_str(&format!(
        "    apiURL: \"{0}\"\n    graphURL: \"{0}\"\n",
        fake.url()
    ));
    y.push_str(extra);
    y
}

struct Setup {
    fake: FakeEntra,
    client: OidcClient,
    logs: LogDir,
    _broker: Broker,
    _dir: tempfile::TempDir,
}

/// Fake + broker with the microsoft connector; `extra` defaults to the seed's allow-list.
fn setup(name: &str, extra: &str) -> Setup {
    let fake = FakeEntra::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut config = BrokerConfig::standard(free_port().unwrap(), free_port().unwrap(), dir.path());
    let callback = format!("{}/callback", config.issuer);
    fake.allow_redirect_uri(&callback);
    config
        .yaml
        .push_str(&connector_yaml(&fake, &callback, extra));
    let logs = LogDir::for_test(name).unwrap();
    let broker = Broker::start(&logs, dir.path(), &config).unwrap();
    let redirect = config
        .yaml
        .lines()
        .find_map(|l| l.trim().strip_prefix("redirectURIs: [\""))
        .and_then(|l| l.strip_suffix("\"]"))
        .unwrap()
        .to_string();
    Setup {
        client: OidcClient::new(&config.issuer, &redirect).unwrap(),
        fake,
        logs,
        _broker: broker,
        _dir: dir,
    }
}

const ALLOW: &str = "    groups: [admin, developer]\n";

/// Signs in through the connector and redeems the code; returns the token answer.
fn sign_in(s: &Setup) -> Value {
    s.client.sign_in("microsoft", SCOPES, String::new)
}

/// Signs in and expects to be stopped on a page (no code for the client).
fn refused(s: &Setup) -> gatehouse_e2e::Page {
    s.client.refused("microsoft", SCOPES)
}

fn id_claims(tokens: &Value) -> Value {
    jwt_claims(tokens["id_token"].as_str().unwrap()).unwrap()
}

fn groups_of(claims: &Value) -> Vec<String> {
    claims["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn allowed_user_signs_in_with_profile_and_group_names() {
    let s = setup("microsoft_allowed_user", ALLOW);
    s.fake
        .sign_in_as(jane(vec![admin_group(), sales_group(), staff_group()]));
    let tokens = sign_in(&s);
    let claims = id_claims(&tokens);
    assert_eq!(
        claims["email"], "Jane.Doe@Contoso.onmicrosoft.com",
        "case kept by default"
    );
    assert_eq!(claims["email_verified"], true);
    assert_eq!(claims["name"], "Jane Doe");
    assert_eq!(claims["federated_claims"]["connector_id"], "microsoft");
    assert_eq!(claims["federated_claims"]["user_id"], jane(vec![]).id);
    assert_eq!(groups_of(&claims), vec!["admin", "sales", "staff"]);

    // What the broker sent upstream, as Microsoft documents it.
    let authorize = &s.fake.calls_to(&format!("/{TENANT}/oauth2/v2.0/authorize"))[0];
    assert!(
        authorize.path.contains("code_challenge_method=S256"),
        "{}",
        authorize.path
    );
    assert!(
        authorize
            .path
            .contains("scope=user.read+directory.read.all+offline_access"),
        "{}",
        authorize.path
    );
    let token = &s.fake.calls_to(&format!("/{TENANT}/oauth2/v2.0/token"))[0];
    assert_eq!(token.form["grant_type"], "authorization_code");
    assert!(token.form.contains_key("code_verifier"));
    let member = &s.fake.calls_to("/v1.0/me/getMemberGroups")[0];
    assert_eq!(member.method, "POST");
    assert_eq!(member.json.as_ref().unwrap()["securityEnabledOnly"], false);
    let by_ids = s.fake.calls_to("/v1.0/directoryObjects/getByIds");
    assert_eq!(by_ids.len(), 1);
    assert_eq!(by_ids[0].json.as_ref().unwrap()["types"][0], "group");
    // No upstream secret in the broker's log.
    let log = std::fs::read_to_string(s.logs.file("broker")).unwrap();
    assert!(log.contains("user signed in connector=microsoft"), "{log}");
    assert!(!log.contains(CLIENT_SECRET));
    assert!(!log.contains("rt-"), "upstream refresh token logged");
}

#[test]
fn user_in_no_allowed_group_sees_not_allowed_and_gets_no_code() {
    let s = setup("microsoft_not_allowed", ALLOW);
    s.fake.sign_in_as(jane(vec![sales_group()]));
    let page = refused(&s);
    assert_eq!(page.status, 403);
    assert!(page.body.contains("Not allowed"), "{}", page.body);
    assert!(
        page.body.contains("not a member of any group allowed"),
        "{}",
        page.body
    );
}

#[test]
fn more_than_1000_groups_are_named_in_batches_of_at_most_1000() {
    let s = setup(
        "microsoft_many_groups",
        "    groups: [admin, developer]\n    useGroupsAsWhitelist: true\n",
    );
    let mut groups: Vec<FakeGroup> = (0..2500)
        .map(|i| {
            FakeGroup::new(
                &format!("00000000-0000-0000-0000-{i:012}"),
                &format!("team-{i}"),
            )
        })
        .collect();
    groups.insert(2400, admin_group());
    s.fake.sign_in_as(jane(groups));
    let claims = id_claims(&sign_in(&s));
    // useGroupsAsWhitelist: only the allowed groups are passed on.
    assert_eq!(groups_of(&claims), vec!["admin"]);
    let batches: Vec<usize> = s
        .fake
        .calls_to("/v1.0/directoryObjects/getByIds")
        .iter()
        .map(|c| c.json.as_ref().unwrap()["ids"].as_array().unwrap().len())
        .collect();
    assert_eq!(batches, vec![1000, 1000, 501]);
}

#[test]
fn member_groups_are_followed_through_next_link_pages() {
    let s = setup("microsoft_paging", ALLOW);
    let mut groups: Vec<FakeGroup> = (0..250)
        .map(|i| {
            FakeGroup::new(
                &format!("10000000-0000-0000-0000-{i:012}"),
                &format!("g-{i}"),
            )
        })
        .collect();
    groups.push(admin_group()); // on the last page
    s.fake.sign_in_as(jane(groups));
    s.fake.set_page_size(Some(100));
    let claims = id_claims(&sign_in(&s));
    assert_eq!(groups_of(&claims).len(), 251);
    assert!(groups_of(&claims).contains(&"admin".to_string()));
    let pages: Vec<String> = s
        .fake
        .calls_to("/v1.0/me/getMemberGroups")
        .into_iter()
        .map(|c| c.path)
        .collect();
    assert_eq!(pages.len(), 3, "{pages:?}");
    assert!(pages[2].contains("$skiptoken=200"), "{pages:?}");
}

#[test]
fn throttled_graph_calls_wait_for_retry_after_then_succeed_or_fail_bounded() {
    let s = setup("microsoft_throttling", ALLOW);
    s.fake.sign_in_as(jane(vec![admin_group()]));
    s.fake.throttle_graph(2, 1);
    let started = Instant::now();
    let claims = id_claims(&sign_in(&s));
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "Retry-After not honoured: {:?}",
        started.elapsed()
    );
    assert_eq!(groups_of(&claims), vec!["admin"]);

    // Throttled for good: the sign-in fails after a bounded number of retries, no identity.
    s.fake.throttle_graph(100, 1);
    let started = Instant::now();
    let page = refused(&s);
    assert_eq!(page.status, 502, "{}", page.body);
    assert!(page.body.contains("throttled"), "{}", page.body);
    assert!(started.elapsed() < Duration::from_secs(15));
}

#[test]
fn graph_401_and_403_fail_the_login_with_a_message() {
    let s = setup("microsoft_graph_errors", ALLOW);
    s.fake.sign_in_as(jane(vec![admin_group()]));
    s.fake.fail_me_with(Some(403));
    let page = refused(&s);
    assert_eq!(page.status, 502);
    assert!(
        page.body.contains("Authorization_RequestDenied"),
        "{}",
        page.body
    );
    s.fake.fail_me_with(Some(401));
    let page = refused(&s);
    assert_eq!(page.status, 502);
    assert!(
        page.body.contains("InvalidAuthenticationToken"),
        "{}",
        page.body
    );
}

#[test]
fn upstream_error_redirect_is_shown_not_turned_into_a_login() {
    let s = setup("microsoft_access_denied", ALLOW);
    // No user signed in at the fake: it redirects back with error=access_denied.
    let page = refused(&s);
    assert_eq!(page.status, 400);
    assert!(page.body.contains("access_denied"), "{}", page.body);
}

#[test]
fn group_name_format_id_uses_object_ids_and_skips_name_lookup() {
    let s = setup(
        "microsoft_group_ids",
        &format!(
            "    groups: [\"{}\"]\n    groupNameFormat: id\n",
            admin_group().id
        ),
    );
    s.fake.sign_in_as(jane(vec![admin_group(), sales_group()]));
    let claims = id_claims(&sign_in(&s));
    assert_eq!(groups_of(&claims), vec![admin_group().id, sales_group().id]);
    assert!(s
        .fake
        .calls_to("/v1.0/directoryObjects/getByIds")
        .is_empty());
}

#[test]
fn email_to_lowercase_and_only_security_groups() {
    let s = setup(
        "microsoft_lowercase",
        "    groups: [admin]\n    emailToLowercase: true\n    onlySecurityGroups: true\n    preferredUsernameField: mailNickname\n",
    );
    s.fake.sign_in_as(jane(vec![admin_group(), staff_group()]));
    let claims = id_claims(&sign_in(&s));
    assert_eq!(claims["email"], "jane.doe@contoso.onmicrosoft.com");
    assert_eq!(claims["preferred_username"], "jdoe");
    assert_eq!(
        groups_of(&claims),
        vec!["admin"],
        "the Microsoft 365 group is not a security group"
    );
    let member = &s.fake.calls_to("/v1.0/me/getMemberGroups")[0];
    assert_eq!(member.json.as_ref().unwrap()["securityEnabledOnly"], true);
}

#[test]
fn refresh_refreshes_upstream_and_a_user_removed_from_the_groups_loses_access() {
    let s = setup("microsoft_refresh", ALLOW);
    let user = jane(vec![admin_group()]);
    s.fake.sign_in_as(user.clone());
    let tokens = sign_in(&s);
    let refresh = tokens["refresh_token"].as_str().unwrap().to_string();

    // Still a member: a new token set, and the upstream was asked with its refresh token.
    let (status, again) = s.client.refresh(&refresh).unwrap();
    assert_eq!(status, 200, "{again}");
    let upstream = s.fake.calls_to(&format!("/{TENANT}/oauth2/v2.0/token"));
    assert_eq!(upstream.len(), 2);
    assert_eq!(upstream[1].form["grant_type"], "refresh_token");
    assert!(upstream[1].form["refresh_token"].starts_with("rt-"));
    assert_eq!(groups_of(&id_claims(&again)), vec!["admin"]);

    // An administrator removes the user from every allowed group: the next refresh fails.
    s.fake.set_groups(&user.id, vec![sales_group()]);
    let next = again["refresh_token"].as_str().unwrap();
    let (status, answer) = s.client.refresh(next).unwrap();
    assert_eq!(status, 400, "{answer}");
    assert_eq!(answer["error"], "invalid_grant");
}

#[test]
fn revoked_upstream_refresh_token_ends_the_session() {
    let s = setup("microsoft_refresh_revoked", ALLOW);
    s.fake.sign_in_as(jane(vec![admin_group()]));
    let tokens = sign_in(&s);
    s.fake.revoke_refresh_tokens();
    let (status, answer) = s
        .client
        .refresh(tokens["refresh_token"].as_str().unwrap())
        .unwrap();
    assert_eq!(status, 400, "{answer}");
    assert_eq!(answer["error"], "invalid_grant");
}

#[test]
fn common_tenant_with_groups_is_refused_at_start_with_an_explanation() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeEntra::start().unwrap();
    let mut config = BrokerConfig::standard(free_port().unwrap(), free_port().unwrap(), dir.path());
    let callback = format!("{}/callback", config.issuer);
    config
        .yaml
        .push_str(&connector_yaml(&fake, &callback, ALLOW).replace(TENANT, "common"));
    let path = dir.path().join("broker.yaml");
    std::fs::write(&path, &config.yaml).unwrap();
    let out = Command::new(broker_binary().unwrap())
        .arg("serve")
        .arg(&path)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("connectors[0].config.groups"), "{stderr}");
    assert!(stderr.contains("tenant \"common\""), "{stderr}");
}

#[test]
fn full_login_through_envoy_filter_broker_and_entra() {
    let fake = FakeEntra::start().unwrap();
    let ports = StackPorts::free().unwrap();
    let callback = format!("http://127.0.0.1:{}/dex/callback", ports.broker);
    fake.allow_redirect_uri(&callback);
    fake.sign_in_as(jane(vec![admin_group()]));
    let stack = Stack::start(StackOptions {
        ports: Some(ports),
        extra_broker_yaml: Some(connector_yaml(&fake, &callback, ALLOW)),
        ..StackOptions::named("microsoft_full_login_through_envoy")
    })
    .unwrap();
    let mut browser = Browser::new().unwrap();
    stack.wait_for_keys(Duration::from_secs(15)).unwrap();
    let page = browser.get(&stack.url("/private/page?x=1")).unwrap();
    // Two connectors (local + microsoft): the chooser lists the Microsoft one by name.
    let chooser = browser.follow_all(page).unwrap();
    assert_eq!(chooser.status, 200, "{}", browser.history_text());
    assert!(
        chooser
            .body
            .contains("Log in with Example Azure AD OIDC connection"),
        "{}",
        chooser.body
    );
    let landed = browser.choose_connector(&chooser, "microsoft").unwrap();
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
    let seen = stack.echo.requests();
    let last = seen.last().unwrap();
    assert_eq!(
        last.header("x-auth-request-email"),
        Some("Jane.Doe@Contoso.onmicrosoft.com")
    );
    assert!(last
        .header("x-auth-request-groups")
        .unwrap_or("")
        .contains("admin"));

    // A user in no allowed group never reaches the upstream app.
    fake.sign_in_as(FakeUser {
        id: "other".into(),
        groups: vec![sales_group()],
        ..jane(vec![])
    });
    let before = stack.echo.requests().len();
    let mut other = Browser::new().unwrap();
    let page = other.get(&stack.url("/private/page")).unwrap();
    let chooser = other.follow_all(page).unwrap();
    let end = other.choose_connector(&chooser, "microsoft").unwrap();
    assert_eq!(end.status, 403, "{}", end.body);
    assert_eq!(stack.echo.requests().len(), before);
}
