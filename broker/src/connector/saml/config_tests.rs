//! The `saml` connector's config: the first seed's block, Dex's keys, and precise refusals.

use super::config::parse;
use super::*;
use crate::config::{Config, ConfigError};

const CERT: &str = include_str!("../../saml/testdata/idp.crt");
const CERT2: &str = include_str!("../../saml/testdata/other.crt");

fn ca_data(pem: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(pem)
}

fn with_connector(block: &str) -> String {
    format!(
        "issuer: https://gate.example.com/dex\nstorage:\n  type: memory\nweb:\n  http: 127.0.0.1:5556\n\
         staticClients:\n- id: c\n  secret: s\n  redirectURIs: [\"https://gate.example.com/oauth2/callback\"]\n\
         connectors:\n{block}"
    )
}

/// The first seed's SAML connector block, unchanged but for its placeholders (and the
/// `config:` line its text lost: the indentation shows the keys belong under it).
fn seed_block() -> String {
    format!(
        r#"    - type: saml
      id: saml
      name: "Example SAML connection"
      config:
        entityIssuer: https://gate.example.com/dex/callback
        ssoURL: https://idp.example.com/sso
        caData: {}
        redirectURI: https://gate.example.com/dex/callback
        # map your attributes here
        usernameAttr: username 
        emailAttr: email
"#,
        ca_data(CERT)
    )
}

/// The first connector's block, read as the registry reads it at start.
fn read(c: &Config) -> Result<SamlConfig, ConfigError> {
    let entry = &c.connectors[0];
    let read_file = |path: &str| std::fs::read_to_string(path);
    parse(
        &entry.config,
        &entry.key("config"),
        &c.issuer.endpoint("/callback"),
        &read_file,
    )
}

fn saml(c: &Config) -> SamlConfig {
    read(c).unwrap()
}

/// The error a config with this text stops at, whether in the common keys or the block.
fn err(yaml: &str) -> String {
    match Config::from_yaml(yaml) {
        Err(e) => e.to_string(),
        Ok(c) => read(&c).unwrap_err().to_string(),
    }
}

#[test]
fn the_first_seed_block_loads() {
    let c = Config::from_yaml(&with_connector(&seed_block())).unwrap();
    assert_eq!(c.connectors[0].id, "saml");
    assert_eq!(c.connectors[0].name, "Example SAML connection");
    let s = saml(&c);
    assert_eq!(s.sso_url, "https://idp.example.com/sso");
    assert_eq!(s.entity_issuer, "https://gate.example.com/dex/callback");
    assert_eq!(s.redirect_uri, "https://gate.example.com/dex/callback");
    assert_eq!(s.username_attr, "username");
    assert_eq!(s.email_attr, "email");
    assert_eq!(s.trusted_certs.len(), 1);
    assert_eq!(s.binding, AuthnBinding::Redirect);
    assert!(!s.insecure_skip_signature_validation);
    assert_eq!(
        s.name_id_policy_format,
        "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"
    );
}

#[test]
fn keys_are_case_insensitive_and_unknown_keys_named() {
    let block = seed_block()
        .replace("ssoURL", "SSOurl")
        .replace("caData", "cadata");
    saml(&Config::from_yaml(&with_connector(&block)).unwrap());
    let block = seed_block().replace("emailAttr", "emailAttribute");
    let e = err(&with_connector(&block));
    assert!(e.contains("connectors[0].config.emailAttribute"), "{e}");
    assert!(e.contains("emailAttr"), "{e}");
}

#[test]
fn dex_keys_are_read() {
    let block = format!(
        "{}        ssoIssuer: https://idp.example.com/metadata\n        groupsAttr: groups\n        groupsDelim: \",\"\n        allowedGroups: [admins]\n        filterGroups: true\n        nameIDPolicyFormat: emailAddress\n",
        seed_block()
    );
    let c = Config::from_yaml(&with_connector(&block)).unwrap();
    let s = saml(&c);
    assert_eq!(
        s.sso_issuer.as_deref(),
        Some("https://idp.example.com/metadata")
    );
    assert_eq!(s.groups_attr.as_deref(), Some("groups"));
    assert_eq!(s.groups_delim.as_deref(), Some(","));
    assert_eq!(s.allowed_groups, vec!["admins"]);
    assert!(s.filter_groups);
    assert!(s.name_id_policy_format.ends_with(":emailAddress"));
}

#[test]
fn several_certificates_are_trusted_for_rotation() {
    let block = seed_block().replace(&ca_data(CERT), &ca_data(&format!("{CERT}{CERT2}")));
    let c = Config::from_yaml(&with_connector(&block)).unwrap();
    assert_eq!(saml(&c).trusted_certs.len(), 2);
}

#[test]
fn refusals_name_the_key() {
    let cases = [
        (
            seed_block().replace("        ssoURL: https://idp.example.com/sso\n", ""),
            "connectors[0].config.ssoURL: missing",
        ),
        (
            seed_block().replace(&ca_data(CERT), "bm90IGEgY2VydA=="),
            "connectors[0].config.caData",
        ),
        (
            seed_block().replace(&ca_data(CERT), "\"@@not base64\""),
            "connectors[0].config.caData: is not base64",
        ),
        (
            seed_block().replace(
                "redirectURI: https://gate.example.com/dex/callback",
                "redirectURI: https://elsewhere/cb",
            ),
            "connectors[0].config.redirectURI",
        ),
        (
            seed_block().replace("        usernameAttr: username \n", ""),
            "connectors[0].config.usernameAttr: missing",
        ),
        (
            format!("{}        nameIDPolicyFormat: bogus\n", seed_block()),
            "connectors[0].config.nameIDPolicyFormat",
        ),
        (
            format!("{}        allowedGroups: [a]\n", seed_block()),
            "connectors[0].config.allowedGroups: needs groupsAttr",
        ),
        (
            format!("{}        authnRequestBinding: soap\n", seed_block()),
            "connectors[0].config.authnRequestBinding",
        ),
        (
            format!("{}        ca: /nonexistent/ca.pem\n", seed_block()),
            "connectors[0].config.ca: cannot read",
        ),
        (
            format!("{}        idpMetadataURL: https://idp/md\n", seed_block()),
            "connectors[0].config.idpMetadataURL: not supported yet",
        ),
        (
            seed_block().replace("id: saml", "id: \"a/b\""),
            "connectors[0].id",
        ),
    ];
    for (block, want) in cases {
        let e = err(&with_connector(&block));
        assert!(e.starts_with(want), "want {want:?}, got {e:?}");
    }
}

#[test]
fn no_certificate_is_refused_unless_insecure_is_said_out_loud() {
    let block = seed_block().replace(&format!("        caData: {}\n", ca_data(CERT)), "");
    assert!(err(&with_connector(&block)).starts_with("connectors[0].config.caData: missing"));
    let block = format!("{block}        insecureSkipSignatureValidation: true\n");
    let c = Config::from_yaml(&with_connector(&block)).unwrap();
    assert!(saml(&c).insecure_skip_signature_validation);
}

#[test]
fn idp_metadata_file_gives_url_issuer_and_certificates() {
    let dir = tempfile::tempdir().unwrap();
    let body: String = CERT.lines().filter(|l| !l.starts_with("-----")).collect();
    let md = format!(
        "<md:EntityDescriptor xmlns:md=\"urn:oasis:names:tc:SAML:2.0:metadata\" entityID=\"https://idp.example.com/md\">\
         <md:IDPSSODescriptor protocolSupportEnumeration=\"urn:oasis:names:tc:SAML:2.0:protocol\">\
         <md:KeyDescriptor use=\"signing\"><ds:KeyInfo xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\"><ds:X509Data>\
         <ds:X509Certificate>{body}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>\
         <md:SingleSignOnService Binding=\"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect\" Location=\"https://idp.example.com/sso/redirect\"/>\
         </md:IDPSSODescriptor></md:EntityDescriptor>"
    );
    let path = dir.path().join("idp.xml");
    std::fs::write(&path, md).unwrap();
    let block = format!(
        "    - type: saml\n      id: corp\n      config:\n        idpMetadataFile: {}\n        redirectURI: https://gate.example.com/dex/callback\n        usernameAttr: uid\n        emailAttr: mail\n",
        path.display()
    );
    let c = Config::from_yaml(&with_connector(&block)).unwrap();
    let s = saml(&c);
    assert_eq!(s.sso_url, "https://idp.example.com/sso/redirect");
    assert_eq!(s.sso_issuer.as_deref(), Some("https://idp.example.com/md"));
    assert_eq!(s.trusted_certs.len(), 1);
    assert_eq!(s.entity_issuer, "https://gate.example.com/dex/callback");
}
