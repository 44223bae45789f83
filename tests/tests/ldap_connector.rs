//! Issue 16: the `ldap` connector against a real OpenLDAP `slapd` (tests/src/slapd.rs), through
//! the real broker — and through Envoy + filter for the main path. ldaps:// and StartTLS with a
//! test CA made at run time; the tree is tests/fixtures/ldap/tree.ldif.

use std::time::{Duration, Instant};

use gatehouse_e2e::broker::BrokerConfig;
use gatehouse_e2e::oidc_client::{jwt_claims, OidcClient, Outcome};
use gatehouse_e2e::paths::repo_root;
use gatehouse_e2e::ports::free_port;
use gatehouse_e2e::silent_listener::SilentListener;
use gatehouse_e2e::slapd::{ServerCert, Slapd, ROOT_DN, ROOT_PW};
use gatehouse_e2e::{Broker, Browser, LogDir, Page, Stack, StackOptions};
use serde_json::{json, Value};

const SCOPES: &str = "openid email profile groups offline_access";
const PEOPLE: &str = "ou=people,dc=example,dc=org";
const GROUPS: &str = "ou=groups,dc=example,dc=org";

fn tree() -> String {
    std::fs::read_to_string(repo_root().join("tests/fixtures/ldap/tree.ldif")).unwrap()
}

/// How the broker reaches slapd.
#[derive(Clone, Copy)]
enum Transport {
    Ldaps,
    StartTls,
}

/// The connection keys of a connector for `slapd`.
fn connection(slapd: &Slapd, transport: Transport) -> String {
    let ca = slapd.ca_file();
    match transport {
        Transport::Ldaps => format!(
            "    host: \"{}\"\n    rootCA: \"{}\"\n",
            slapd.ldaps_host(),
            ca.display()
        ),
        Transport::StartTls => format!(
            "    host: \"{}\"\n    startTLS: true\n    rootCA: \"{}\"\n",
            slapd.ldap_host(),
            ca.display()
        ),
    }
}

/// The OpenLDAP-style tree, Dex's documented example: users by `username`, groups through
/// posixGroup memberUid and groupOfNames member. The service account's password comes from
/// the environment (`$LDAP_BIND_PW`).
fn openldap_connector(connection: &str, username: &str) -> String {
    format!(
        "connectors:
- type: ldap
  id: ldap
  name: Corporate directory
  config:
{connection}    bindDN: \"{ROOT_DN}\"
    bindPW: $LDAP_BIND_PW
    usernamePrompt: Corporate username
    userSearch:
      baseDN: \"{PEOPLE}\"
      filter: \"(objectClass=person)\"
      username: {username}
      idAttr: uid
      emailAttr: mail
      nameAttr: cn
      preferredUsernameAttr: uid
    groupSearch:
      baseDN: \"{GROUPS}\"
      filter: \"(|(objectClass=posixGroup)(objectClass=groupOfNames))\"
      userMatchers:
      - userAttr: uid
        groupAttr: memberUid
      - userAttr: DN
        groupAttr: member
      nameAttr: cn
"
    )
}

/// The Active-Directory-like tree: `sAMAccountName`, the DN as id, nested groups.
fn ad_connector(connection: &str, matcher: &str) -> String {
    format!(
        "connectors:
- type: ldap
  id: ldap
  name: Active Directory
  config:
{connection}    bindDN: \"{ROOT_DN}\"
    bindPW: $LDAP_BIND_PW
    usernamePrompt: Windows account
    userSearch:
      baseDN: \"ou=Users,ou=corp,dc=example,dc=org\"
      filter: \"(objectClass=person)\"
      username: sAMAccountName
      idAttr: DN
      emailAttr: mail
      nameAttr: cn
      preferredUsernameAttr: sAMAccountName
    groupSearch:
      baseDN: \"ou=Groups,ou=corp,dc=example,dc=org\"
      filter: \"(objectClass=groupOfNames)\"
      userMatchers:
{matcher}      nameAttr: cn
"
    )
}

fn env() -> Vec<(String, String)> {
    vec![("LDAP_BIND_PW".to_string(), ROOT_PW.to_string())]
}

struct Setup {
    client: OidcClient,
    /// The client's redirect URI (Envoy's callback; Envoy is not needed to redeem codes).
    redirect: String,
    logs: LogDir,
    slapd: Slapd,
    _broker: Broker,
    _dir: tempfile::TempDir,
}

fn start_slapd(name: &str, cert: ServerCert) -> (LogDir, tempfile::TempDir, Slapd) {
    let dir = tempfile::tempdir().unwrap();
    let logs = LogDir::for_test(name).unwrap();
    let slapd = Slapd::start(&logs, dir.path(), &tree(), cert).unwrap();
    (logs, dir, slapd)
}

/// A broker (with the standard local users as well) whose connector list is `connectors(slapd)`.
fn setup(name: &str, cert: ServerCert, connectors: impl Fn(&Slapd) -> String) -> Setup {
    let (logs, dir, slapd) = start_slapd(name, cert);
    let envoy_port = free_port().unwrap();
    let mut config = BrokerConfig::standard(free_port().unwrap(), envoy_port, dir.path());
    config.yaml.push_str(&connectors(&slapd));
    let broker = Broker::start_named(&logs, dir.path(), &config, "broker", &env()).unwrap();
    let redirect = format!("http://127.0.0.1:{envoy_port}/oauth2/callback");
    Setup {
        client: OidcClient::new(&config.issuer, &redirect).unwrap(),
        redirect,
        logs,
        slapd,
        _broker: broker,
        _dir: dir,
    }
}

impl Setup {
    fn broker_log(&self) -> String {
        std::fs::read_to_string(self.logs.file("broker")).unwrap_or_default()
    }

    /// The password form of `/auth?connector_id=ldap`, submitted with `login`/`password`: the
    /// code when the broker sends the browser back, else the page it answered.
    // A test helper: the page is the interesting answer, its size does not matter here.
    #[allow(clippy::result_large_err)]
    fn sign_in(&self, login: &str, password: &str) -> Result<String, Page> {
        let mut browser = Browser::new().unwrap();
        let form_page = match self
            .client
            .authorize(&mut browser, Some("ldap"), SCOPES)
            .unwrap()
        {
            Outcome::Page(p) => p,
            Outcome::Code(_) => panic!("a code without a password"),
        };
        let form = form_page.login_form().unwrap();
        let posted = browser
            .post_form(form.action.as_str(), &form.fields(login, password))
            .unwrap();
        let back = posted
            .location()
            .filter(|l| l.as_str().starts_with(&self.redirect));
        match back {
            Some(l) => Ok(l
                .query_pairs()
                .find(|(k, _)| k == "code")
                .map(|(_, v)| v.into_owned())
                .expect("a code")),
            None => Err(posted),
        }
    }

    fn tokens(&self, login: &str, password: &str) -> Value {
        match self.sign_in(login, password) {
            Ok(code) => {
                let (status, tokens) = self.client.redeem(&code).unwrap();
                assert_eq!(status, 200, "{tokens}");
                tokens
            }
            Err(page) => panic!(
                "{login}: no code: {} {}\nbroker log:\n{}",
                page.status,
                page.body,
                self.broker_log()
            ),
        }
    }

    /// A refused sign-in: the page, which must be the form again or an error, never a code.
    fn refused(&self, login: &str, password: &str) -> Page {
        match self.sign_in(login, password) {
            Ok(_) => panic!("{login:?} signed in with {password:?}"),
            Err(page) => page,
        }
    }
}

fn claims(tokens: &Value) -> Value {
    jwt_claims(tokens["id_token"].as_str().unwrap()).unwrap()
}

/// The connector's answer to a wrong password: the form again, 401, this message.
const INVALID: &str = "Invalid corporate username or password.";

fn assert_invalid(page: &Page, what: &str) {
    assert_eq!(page.status, 401, "{what}: {}", page.body);
    assert!(page.body.contains(INVALID), "{what}: {}", page.body);
    assert!(page.login_form().is_ok(), "{what}: no form again");
}

#[test]
fn signs_in_through_envoy_and_the_filter_with_groups_upstream() {
    let (logs, dir, slapd) = start_slapd("ldap_through_envoy", ServerCert::Trusted);
    let mut opts = StackOptions::named("ldap_through_envoy");
    // Only the directory: /auth goes straight to its password form.
    opts.broker_yaml = Some(|yaml| {
        let at = yaml.find("enablePasswordDB: true").unwrap();
        yaml.truncate(at);
    });
    opts.extra_broker_yaml = Some(openldap_connector(
        &connection(&slapd, Transport::Ldaps),
        "uid",
    ));
    opts.broker_env = env();
    let stack = Stack::start(opts).unwrap();
    let mut browser = Browser::new().unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    let page = loop {
        let page = browser.login(&stack.url("/private?x=1"), "jane", "jane-password");
        match page {
            Ok(page) if page.status == 200 => break page,
            other if Instant::now() < deadline => {
                drop(other);
                std::thread::sleep(Duration::from_millis(200));
                browser = Browser::new().unwrap();
            }
            other => panic!("{:?}\n{}", other.map(|p| p.status), browser.history_text()),
        }
    };
    assert_eq!(page.url.as_str(), stack.url("/private?x=1"));
    // The password form asked for the connector's usernamePrompt.
    let requests = stack.echo.requests();
    let seen = requests.last().unwrap();
    assert_eq!(
        seen.header("x-auth-request-email"),
        Some("jane@example.org")
    );
    assert_eq!(
        seen.header("x-auth-request-preferred-username"),
        Some("jane")
    );
    assert_eq!(
        seen.header("x-auth-request-groups"),
        Some("developers,admins")
    );
    let broker_log = std::fs::read_to_string(stack.logs.file("broker")).unwrap();
    assert!(broker_log.contains("user signed in"), "{broker_log}");
    assert!(
        !broker_log.contains(ROOT_PW),
        "the bind password reached the log"
    );
    drop(stack);
    drop((logs, dir));
}

#[test]
fn the_form_shows_the_username_prompt() {
    let s = setup("ldap_prompt", ServerCert::Trusted, |d| {
        openldap_connector(&connection(d, Transport::Ldaps), "uid")
    });
    let mut browser = Browser::new().unwrap();
    let Outcome::Page(form) = s
        .client
        .authorize(&mut browser, Some("ldap"), SCOPES)
        .unwrap()
    else {
        panic!("no form");
    };
    assert!(form.body.contains("Corporate username"), "{}", form.body);
    assert!(form.body.contains("type=\"text\""), "{}", form.body);
}

#[test]
fn username_on_uid_or_on_mail_over_starttls() {
    let s = setup("ldap_uid_or_mail", ServerCert::Trusted, |d| {
        openldap_connector(&connection(d, Transport::StartTls), "[uid, mail]")
    });
    for login in ["jane", "jane@example.org", "JANE@example.org"] {
        let c = claims(&s.tokens(login, "jane-password"));
        assert_eq!(c["email"], "jane@example.org", "{login}");
        assert_eq!(c["name"], "Jane Doe");
        assert_eq!(c["preferred_username"], "jane");
        assert_eq!(c["groups"], json!(["developers", "admins"]));
        assert_eq!(c["federated_claims"]["connector_id"], "ldap");
        assert_eq!(c["federated_claims"]["user_id"], "jane");
    }
    // A name with letters outside ASCII signs in as written (escaped once, unlike Dex).
    let c = claims(&s.tokens("jürgen", "jürgen-password"));
    assert_eq!(c["email"], "juergen@example.org");
    assert_eq!(c["groups"], json!([]));
    // The StartTLS extended operation was used on the plain port.
    assert!(
        s.slapd.log().contains("oid=1.3.6.1.4.1.1466.20037"),
        "{}",
        s.slapd.log()
    );

    // username on mail alone: the uid no longer finds anyone.
    let s = setup("ldap_mail_only", ServerCert::Trusted, |d| {
        openldap_connector(&connection(d, Transport::Ldaps), "mail")
    });
    assert_eq!(
        claims(&s.tokens("john@example.org", "john-password"))["groups"],
        json!(["developers"])
    );
    assert_invalid(
        &s.refused("john", "john-password"),
        "uid when username is mail",
    );
}

#[test]
fn active_directory_like_tree_with_nested_groups() {
    // Dex's AD example: groups holding the user's DN in member, parents through member again.
    let s = setup("ldap_ad_nested", ServerCert::Trusted, |d| {
        ad_connector(
            &connection(d, Transport::Ldaps),
            "      - userAttr: DN\n        groupAttr: member\n        recursionGroupAttr: member\n",
        )
    });
    let c = claims(&s.tokens("asmith", "ann-password"));
    assert_eq!(c["email"], "ann.smith@corp.example.org");
    assert_eq!(c["preferred_username"], "asmith");
    assert_eq!(
        c["federated_claims"]["user_id"],
        "cn=Ann Smith,ou=Users,ou=corp,dc=example,dc=org"
    );
    // Engineering → Staff → Everyone → Engineering again (a cycle): each once.
    assert_eq!(c["groups"], json!(["Engineering", "Staff", "Everyone"]));
    // sAMAccountName matches case-insensitively, as in AD.
    assert_eq!(
        claims(&s.tokens("ASmith", "ann-password"))["groups"],
        json!(["Engineering", "Staff", "Everyone"])
    );

    // The user's memberOf names the direct groups; without recursion only those.
    let s = setup("ldap_ad_member_of", ServerCert::Trusted, |d| {
        ad_connector(
            &connection(d, Transport::Ldaps),
            "      - userAttr: memberOf\n        groupAttr: entryDN\n",
        )
    });
    assert_eq!(
        claims(&s.tokens("asmith", "ann-password"))["groups"],
        json!(["Engineering"])
    );
}

#[test]
fn wrong_password_unknown_user_and_empty_password_get_one_answer() {
    let s = setup("ldap_wrong_password", ServerCert::Trusted, |d| {
        openldap_connector(&connection(d, Transport::Ldaps), "uid")
    });
    let timed = |login: &str, password: &str| {
        let started = Instant::now();
        let page = s.refused(login, password);
        (started.elapsed(), page)
    };
    let mut wrong = Duration::ZERO;
    let mut unknown = Duration::ZERO;
    for i in 0..4 {
        let (t, page) = timed("jane", &format!("wrong-{i}"));
        assert_invalid(&page, "wrong password");
        wrong += t;
        let (t, page) = timed(&format!("nobody{i}"), "jane-password");
        assert_invalid(&page, "unknown user");
        unknown += t;
    }
    // An unknown user costs a bind like a wrong password (against a DN that does not exist).
    let log = s.slapd.log();
    assert_eq!(
        log.matches("BIND dn=\"cn=gatehouse-no-such-user,ou=people")
            .count(),
        4,
        "{log}"
    );
    let (wrong, unknown) = (wrong / 4, unknown / 4);
    let gap = wrong.abs_diff(unknown);
    assert!(
        gap < Duration::from_millis(50) + wrong / 2,
        "wrong password {wrong:?} vs unknown user {unknown:?}"
    );

    // An empty password never reaches the directory (an unauthenticated bind "succeeds").
    let connections = log.matches("ACCEPT from").count();
    assert_invalid(&s.refused("jane", ""), "empty password");
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(
        s.slapd.log().matches("ACCEPT from").count(),
        connections,
        "{}",
        s.slapd.log()
    );
    assert!(s.broker_log().contains("invalid credentials"));
}

#[test]
fn filter_injection_attempts_match_nothing() {
    let s = setup("ldap_injection", ServerCert::Trusted, |d| {
        openldap_connector(&connection(d, Transport::Ldaps), "[uid, mail]")
    });
    // Jane's password with every input that would match her (or anyone) if it reached the
    // filter unescaped.
    for login in [
        "*",
        "j*",
        "*)(uid=*",
        ")(uid=*",
        "jane)(|(uid=*",
        "*)(|(objectClass=*",
        "jane\\00",
        "jane\0",
        "\\2a",
        "jáne",
        "ja\u{301}ne",
    ] {
        assert_invalid(&s.refused(login, "jane-password"), login);
    }
    let log = s.slapd.log();
    assert!(
        log.contains("(uid=\\2A)") || log.contains("(uid=\\2a)"),
        "{log}"
    );
    assert!(!s.broker_log().contains("jane-password"));
}

#[test]
fn directory_down_or_silent_is_503_sign_in_unavailable() {
    let mut s = setup("ldap_down", ServerCert::Trusted, |d| {
        openldap_connector(&connection(d, Transport::Ldaps), "uid")
    });
    s.tokens("jane", "jane-password");
    s.slapd.stop();
    let page = s.refused("jane", "jane-password");
    assert_eq!(page.status, 503, "{}", page.body);
    assert!(page.body.contains("unavailable"), "{}", page.body);
    assert!(!page.body.contains("Invalid"), "{}", page.body);
    let log = s.broker_log();
    assert!(
        log.contains("sign-in unavailable") && log.contains("connecting to ldaps://127.0.0.1"),
        "{log}"
    );

    // A directory that accepts the connection and never answers: refused within the deadline.
    let silent = SilentListener::bind(0).unwrap();
    let s = setup("ldap_silent", ServerCert::Trusted, |d| {
        openldap_connector(
            &format!(
                "    host: \"127.0.0.1:{}\"\n    rootCA: \"{}\"\n",
                silent.port(),
                d.ca_file().display()
            ),
            "uid",
        )
    });
    let started = Instant::now();
    let page = s.refused("jane", "jane-password");
    assert_eq!(page.status, 503, "{}", page.body);
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "{:?}",
        started.elapsed()
    );
    assert!(s.broker_log().contains("timed out"), "{}", s.broker_log());
}

#[test]
fn an_untrusted_certificate_is_refused_on_ldaps_and_starttls() {
    for (name, transport) in [
        ("ldap_untrusted_ldaps", Transport::Ldaps),
        ("ldap_untrusted_starttls", Transport::StartTls),
    ] {
        let s = setup(name, ServerCert::Untrusted, move |d| {
            openldap_connector(&connection(d, transport), "uid")
        });
        let page = s.refused("jane", "jane-password");
        assert_eq!(page.status, 503, "{}", page.body);
        let log = s.broker_log();
        assert!(
            log.contains("UnknownIssuer") || log.contains("certificate"),
            "{log}"
        );
        // No password was sent: slapd saw no bind of Jane.
        assert!(
            !s.slapd.log().contains("BIND dn=\"uid=jane"),
            "{}",
            s.slapd.log()
        );
    }
}

#[test]
fn refresh_rereads_groups_and_the_user() {
    let s = setup("ldap_refresh", ServerCert::Trusted, |d| {
        openldap_connector(&connection(d, Transport::Ldaps), "uid")
    });
    let tokens = s.tokens("jane", "jane-password");
    assert_eq!(claims(&tokens)["groups"], json!(["developers", "admins"]));
    s.slapd
        .modify(&format!(
            "dn: cn=admins,{GROUPS}\nchangetype: modify\nadd: member\nmember: uid=john,{PEOPLE}\n-\ndelete: member\nmember: uid=jane,{PEOPLE}\n"
        ))
        .unwrap();
    let (status, again) = s
        .client
        .refresh(tokens["refresh_token"].as_str().unwrap())
        .unwrap();
    assert_eq!(status, 200, "{again}");
    assert_eq!(claims(&again)["groups"], json!(["developers"]));

    // The user is deleted: the next refresh ends the session.
    s.slapd
        .modify(&format!("dn: uid=jane,{PEOPLE}\nchangetype: delete\n"))
        .unwrap();
    let (status, gone) = s
        .client
        .refresh(again["refresh_token"].as_str().unwrap())
        .unwrap();
    assert_eq!(status, 400, "{gone}");
    assert_eq!(gone["error"], "invalid_grant", "{gone}");
}

#[test]
fn refresh_with_the_directory_down_is_temporarily_unavailable() {
    let mut s = setup("ldap_refresh_down", ServerCert::Trusted, |d| {
        openldap_connector(&connection(d, Transport::Ldaps), "uid")
    });
    let tokens = s.tokens("jane", "jane-password");
    s.slapd.stop();
    let (status, answer) = s
        .client
        .refresh(tokens["refresh_token"].as_str().unwrap())
        .unwrap();
    assert_eq!(status, 503, "{answer}");
    assert_eq!(answer["error"], "temporarily_unavailable", "{answer}");
}

#[test]
fn a_wrong_service_password_is_unavailable_not_a_wrong_user_password() {
    let (logs, dir, slapd) = start_slapd("ldap_bad_service_bind", ServerCert::Trusted);
    let envoy_port = free_port().unwrap();
    let mut config = BrokerConfig::standard(free_port().unwrap(), envoy_port, dir.path());
    config.yaml.push_str(&openldap_connector(
        &connection(&slapd, Transport::Ldaps),
        "uid",
    ));
    let env = vec![(
        "LDAP_BIND_PW".to_string(),
        "not-the-root-password".to_string(),
    )];
    let _broker = Broker::start_named(&logs, dir.path(), &config, "broker", &env).unwrap();
    let redirect = format!("http://127.0.0.1:{envoy_port}/oauth2/callback");
    let s = Setup {
        client: OidcClient::new(&config.issuer, &redirect).unwrap(),
        redirect,
        logs,
        slapd,
        _broker,
        _dir: dir,
    };
    let page = s.refused("jane", "jane-password");
    assert_eq!(page.status, 503, "{}", page.body);
    let log = s.broker_log();
    assert!(log.contains("refused bindDN/bindPW"), "{log}");
    assert!(
        !log.contains("not-the-root-password") && !log.contains(ROOT_DN),
        "{log}"
    );
}
