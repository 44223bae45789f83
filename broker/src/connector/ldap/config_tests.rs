use super::*;
use crate::connector::types::ConnectorSettings;

const MINIMAL: &str = "host: ldap.example.org
bindDN: cn=svc,dc=example,dc=org
bindPW: $BIND_PW
userSearch:
  baseDN: ou=people,dc=example,dc=org
  username: uid
  idAttr: uid
  emailAttr: mail
";

fn env(name: &str) -> Option<String> {
    (name == "BIND_PW").then(|| "s3cret".to_string())
}

fn read_file(path: &str) -> std::io::Result<String> {
    match path {
        "/ca.pem" => Ok(include_str!("testdata/ca.pem").to_string()),
        "/not-pem" => Ok("hello".into()),
        _ => Err(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            "no such file",
        )),
    }
}

fn parse_yaml(yaml: &str) -> Result<LdapConfig, ConfigError> {
    let value: serde_json::Value = serde_yaml_ng::from_str(yaml).unwrap();
    let context = ParseContext {
        callback_url: "https://gate.example.com/dex/callback".into(),
        read_file: &read_file,
        env: &env,
    };
    parse(&value, "connectors[0].config", &context)
}

fn err(yaml: &str) -> String {
    parse_yaml(yaml).unwrap_err().to_string()
}

#[test]
fn a_dex_block_reads_with_dex_defaults() {
    let c = parse_yaml(MINIMAL).unwrap();
    assert_eq!(c.url, "ldaps://ldap.example.org:636");
    assert_eq!(c.username_prompt, "Username");
    let (dn, pw) = c.bind.as_ref().unwrap();
    assert_eq!(dn, "cn=svc,dc=example,dc=org");
    assert_eq!(pw.expose(), "s3cret");
    assert!(!format!("{c:?}").contains("s3cret"));
    assert_eq!(c.user_search.scope, Scope::Sub);
    assert_eq!(c.user_search.username, vec!["uid"]);
    assert!(c.group_search.is_none());
    assert!(c.warnings().is_empty());
    // Keys are case-insensitive, as Dex reads them.
    let c = parse_yaml(
        &MINIMAL
            .replace("bindDN", "binddn")
            .replace("userSearch", "UserSearch"),
    )
    .unwrap();
    assert!(c.bind.is_some());
}

#[test]
fn ports_follow_the_transport() {
    let plain = MINIMAL.replace(
        "host: ldap.example.org",
        "host: ldap.example.org\ninsecureNoSSL: true",
    );
    assert_eq!(
        parse_yaml(&plain).unwrap().url,
        "ldap://ldap.example.org:389"
    );
    let start_tls = MINIMAL.replace(
        "host: ldap.example.org",
        "host: ldap.example.org\nstartTLS: true",
    );
    assert_eq!(
        parse_yaml(&start_tls).unwrap().url,
        "ldap://ldap.example.org:389"
    );
    let port = MINIMAL.replace("host: ldap.example.org", "host: \"[::1]:1636\"");
    assert_eq!(parse_yaml(&port).unwrap().url, "ldaps://[::1]:1636");
    for bad in [
        "ldaps://ldap.example.org",
        "ldap.example.org/x",
        "a b",
        "user@host",
        ":389",
    ] {
        let e = err(&MINIMAL.replace("host: ldap.example.org", &format!("host: \"{bad}\"")));
        assert!(e.starts_with("connectors[0].config.host: "), "{bad}: {e}");
    }
}

#[test]
fn username_is_one_attribute_or_several_and_group_matchers_follow_dex() {
    let yaml = MINIMAL.replace("username: uid", "username: [uid, mail]")
        + "groupSearch:
  baseDN: ou=groups,dc=example,dc=org
  filter: \"(objectClass=groupOfNames)\"
  scope: one
  userMatchers:
  - userAttr: DN
    groupAttr: member
    recursionGroupAttr: member
  nameAttr: cn
";
    let c = parse_yaml(&yaml).unwrap();
    assert_eq!(c.user_search.username, vec!["uid", "mail"]);
    let g = c.group_search.unwrap();
    assert_eq!(g.scope, Scope::One);
    assert_eq!(
        g.user_matchers,
        vec![UserMatcher {
            user_attr: "DN".into(),
            group_attr: "member".into(),
            recursion_group_attr: Some("member".into()),
        }]
    );
    // The deprecated keys still work, with a warning.
    let legacy = MINIMAL.to_string()
        + "groupSearch:\n  baseDN: ou=groups,dc=example,dc=org\n  userAttr: uid\n  groupAttr: memberUid\n  nameAttr: cn\n";
    let c = parse_yaml(&legacy).unwrap();
    assert_eq!(
        c.group_search.as_ref().unwrap().user_matchers[0].group_attr,
        "memberUid"
    );
    assert!(
        c.warnings()[0].contains("userMatchers"),
        "{:?}",
        c.warnings()
    );
}

#[test]
fn errors_name_the_key() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "host: ldap.example.org\n",
            "",
            "connectors[0].config.host: missing",
        ),
        (
            "  baseDN: ou=people,dc=example,dc=org\n",
            "",
            "connectors[0].config.userSearch.baseDN: missing",
        ),
        (
            "  username: uid\n",
            "",
            "connectors[0].config.userSearch.username: missing",
        ),
        (
            "  idAttr: uid\n",
            "",
            "connectors[0].config.userSearch.idAttr: missing",
        ),
        (
            "  emailAttr: mail\n",
            "",
            "connectors[0].config.userSearch.emailAttr: missing",
        ),
        (
            "  username: uid\n",
            "  username: \"uid=x\"\n",
            "connectors[0].config.userSearch.username: \"uid=x\" is not an attribute name",
        ),
        (
            "  idAttr: uid\n",
            "  idAttr: uid\n  scope: base\n",
            "connectors[0].config.userSearch.scope: \"base\" is not a scope",
        ),
        (
            "  idAttr: uid\n",
            "  idAttr: uid\n  filter: objectClass=person\n",
            "connectors[0].config.userSearch.filter: \"objectClass=person\" is not an LDAP filter",
        ),
        (
            "  idAttr: uid\n",
            "  idAttr: uid\n  filter: \"(&(a=b)\"\n",
            "connectors[0].config.userSearch.filter: ",
        ),
        (
            "bindPW: $BIND_PW\n",
            "",
            "connectors[0].config.bindPW: missing while bindDN is set",
        ),
        (
            "bindPW: $BIND_PW\n",
            "bindPW: $OTHER\n",
            "connectors[0].config.bindPW: environment variable \"OTHER\"",
        ),
        (
            "bindDN: cn=svc,dc=example,dc=org\n",
            "",
            "connectors[0].config.bindDN: missing while bindPW is set",
        ),
        (
            "host: ldap.example.org\n",
            "host: h\nstartTLS: true\ninsecureNoSSL: true\n",
            "connectors[0].config.startTLS: contradicts insecureNoSSL",
        ),
        (
            "host: ldap.example.org\n",
            "host: h\nclientCert: /ca.pem\n",
            "connectors[0].config.clientKey: missing while clientCert is set",
        ),
        (
            "host: ldap.example.org\n",
            "host: h\nrootCA: /nowhere.pem\n",
            "connectors[0].config.rootCA: cannot read \"/nowhere.pem\"",
        ),
        (
            "host: ldap.example.org\n",
            "host: h\nrootCA: /not-pem\n",
            "connectors[0].config.rootCA: holds no PEM certificate",
        ),
        (
            "host: ldap.example.org\n",
            "host: h\nrootCAData: \"%%%\"\n",
            "connectors[0].config.rootCAData: is not base64",
        ),
        (
            "host: ldap.example.org\n",
            "host: h\nrootCA: /ca.pem\nrootCAData: aGk=\n",
            "connectors[0].config.rootCAData: set either rootCA",
        ),
        (
            "host: ldap.example.org\n",
            "host: h\nkerberos: {enabled: true}\n",
            "connectors[0].config.kerberos: not supported yet",
        ),
        (
            "host: ldap.example.org\n",
            "host: h\nhostname: x\n",
            "unknown key \"connectors[0].config.hostname\"",
        ),
        (
            "  emailAttr: mail\n",
            "  emailAttr: mail\n  emailSuffix: example.org\n",
            "connectors[0].config.userSearch.nameAttr: missing: emailSuffix",
        ),
    ];
    for (from, to, expected) in cases {
        assert!(MINIMAL.contains(from), "{from}");
        let e = err(&MINIMAL.replace(from, to));
        assert!(e.starts_with(expected), "{from:?} → {to:?}: {e}");
        assert!(!e.contains("s3cret"), "{e}");
    }
    let groups = |block: &str| err(&format!("{MINIMAL}groupSearch:\n{block}"));
    assert!(groups(
        "  baseDN: ou=g\n  userMatchers:\n  - userAttr: uid\n    groupAttr: memberUid\n"
    )
    .starts_with("connectors[0].config.groupSearch.nameAttr: missing"));
    assert!(
        groups("  baseDN: ou=g\n  nameAttr: cn\n  userMatchers:\n  - userAttr: uid\n")
            .starts_with("connectors[0].config.groupSearch.userMatchers[0].groupAttr: missing")
    );
    assert!(groups("  baseDN: ou=g\n  nameAttr: cn\n")
        .starts_with("connectors[0].config.groupSearch.userAttr: missing"));
}

#[test]
fn insecure_settings_are_warned_about() {
    let skip = MINIMAL.replace(
        "host: ldap.example.org",
        "host: h\ninsecureSkipVerify: true",
    );
    let w = parse_yaml(&skip).unwrap().warnings();
    assert_eq!(w.len(), 1);
    assert!(w[0].starts_with("insecureSkipVerify is on"), "{w:?}");
    let plain = MINIMAL.replace("host: ldap.example.org", "host: h\ninsecureNoSSL: true");
    let w = parse_yaml(&plain).unwrap().warnings();
    assert!(w[0].starts_with("insecureNoSSL is on"), "{w:?}");
}

#[test]
fn a_ca_file_and_base64_ca_data_are_read() {
    use base64::Engine;
    let with_file = MINIMAL.replace("host: ldap.example.org", "host: h\nrootCA: /ca.pem");
    assert!(parse_yaml(&with_file).unwrap().tls.roots.is_some());
    let data = base64::engine::general_purpose::STANDARD.encode(include_str!("testdata/ca.pem"));
    let with_data = MINIMAL.replace(
        "host: ldap.example.org",
        &format!("host: h\nrootCAData: {data}"),
    );
    let c = parse_yaml(&with_data).unwrap();
    assert!(tls::build(&c.tls, false).is_ok());
}
