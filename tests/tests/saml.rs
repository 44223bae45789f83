//! Issue 4: the SAML connector against a real IdP (pysaml2 + xmlsec1), through the real
//! Envoy + filter + broker, and the hostile corpus posted to the broker's ACS.

use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use gatehouse_e2e::broker::issuer_for;
use gatehouse_e2e::ports::free_port;
use gatehouse_e2e::saml_idp::{xmlsec1_resign, KeyPair, CAROL, DAVE, SAML_PASSWORD};
use gatehouse_e2e::{Browser, HtmlForm, Page, SamlIdp, SamlUser, Stack, StackOptions, StackPorts};
use serde_json::json;

const CONNECTOR: &str = "corp";

struct SamlStack {
    stack: Stack,
    _idp: SamlIdp,
    idp_keys: KeyPair,
    /// Holds the keys and scratch files.
    dir: tempfile::TempDir,
}

impl SamlStack {
    fn broker_log(&self) -> String {
        std::fs::read_to_string(self.stack.logs.file("broker")).unwrap_or_default()
    }

    fn acs(&self) -> String {
        format!("{}/callback", self.stack.issuer())
    }
}

fn connector_yaml(issuer: &str, idp_port: u16, keys: &KeyPair) -> String {
    format!(
        "connectors:\n\
         - type: saml\n  id: {CONNECTOR}\n  name: \"Corp SAML\"\n  config:\n\
         \x20   ssoURL: \"{sso}\"\n\
         \x20   caData: \"{ca}\"\n\
         \x20   entityIssuer: \"{issuer}/saml/{CONNECTOR}/metadata\"\n\
         \x20   ssoIssuer: \"{idp_entity}\"\n\
         \x20   redirectURI: \"{issuer}/callback\"\n\
         \x20   usernameAttr: \"urn:mace:dir:attribute-def:uid\"\n\
         \x20   emailAttr: \"urn:mace:dir:attribute-def:mail\"\n\
         \x20   groupsAttr: groups\n\
         \x20   nameIDPolicyFormat: emailAddress\n",
        sso = SamlIdp::sso_url(idp_port),
        ca = keys.ca_data().unwrap(),
        idp_entity = SamlIdp::entity_id(idp_port),
    )
}

/// Envoy + filter + broker (local and SAML connectors) + the pysaml2 IdP, ready for logins.
fn saml_stack(opts: StackOptions) -> SamlStack {
    let dir = tempfile::tempdir().unwrap();
    let idp_keys = KeyPair::generate(dir.path(), "test-idp").unwrap();
    let ports = StackPorts::free().unwrap();
    let idp_port = free_port().unwrap();
    let issuer = issuer_for(ports.broker);
    let stack = Stack::start(StackOptions {
        ports: Some(ports),
        extra_broker_yaml: Some(connector_yaml(&issuer, idp_port, &idp_keys)),
        ..opts
    })
    .unwrap();
    // The IdP trusts this broker through the SP metadata the broker publishes.
    let mut b = Browser::new().unwrap();
    let meta = b
        .get(&format!("{issuer}/saml/{CONNECTOR}/metadata"))
        .unwrap();
    assert_eq!(meta.status, 200, "{}", meta.body);
    assert!(
        meta.body
            .contains(&format!("Location=\"{issuer}/callback\"")),
        "{}",
        meta.body
    );
    let sp_metadata = dir.path().join("sp-metadata.xml");
    std::fs::write(&sp_metadata, &meta.body).unwrap();
    let idp = SamlIdp::start(
        &stack.logs,
        dir.path(),
        idp_port,
        &idp_keys,
        &sp_metadata,
        &[CAROL, DAVE],
    )
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let page = b.get(&stack.url("/")).unwrap();
        match page.status {
            302 => break,
            503 if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(100)),
            other => panic!("gateway not ready: {other} {}", page.body),
        }
    }
    SamlStack {
        stack,
        _idp: idp,
        idp_keys,
        dir,
    }
}

/// Opens `path` on the gateway, picks the SAML connector on the chooser, signs in at the IdP
/// and returns the IdP's auto-POST form (not yet submitted).
fn to_idp_answer(s: &SamlStack, browser: &mut Browser, path: &str, user: SamlUser) -> HtmlForm {
    let first = browser.get(&s.stack.url(path)).unwrap();
    let chooser = browser.follow_all(first).unwrap();
    let link = chooser
        .links()
        .into_iter()
        .find(|l| l.path().ends_with(&format!("/auth/{CONNECTOR}")))
        .unwrap_or_else(|| panic!("no SAML link on the chooser: {}", chooser.body));
    let to_idp = browser.get(link.as_str()).unwrap();
    assert_eq!(to_idp.status, 302, "{}", to_idp.body);
    let sso = to_idp.location().unwrap();
    assert!(
        sso.as_str().starts_with(&SamlIdp::sso_url(s._idp.port())),
        "{sso}"
    );
    assert!(sso.query_pairs().any(|(k, _)| k == "SAMLRequest"));
    let login_page = browser.follow_all(to_idp).unwrap();
    let form = login_page.login_form().unwrap();
    let answer = browser
        .post_form(
            form.action.as_str(),
            &form.fields(user.username, SAML_PASSWORD),
        )
        .unwrap();
    assert_eq!(answer.status, 200, "{}", answer.body);
    let auto_post = answer.form().unwrap();
    assert_eq!(auto_post.action.as_str(), s.acs());
    auto_post
}

/// The whole login: returns the last page.
fn saml_login(s: &SamlStack, browser: &mut Browser, path: &str, user: SamlUser) -> Page {
    let form = to_idp_answer(s, browser, path, user);
    let posted = browser.submit_form(&form).unwrap();
    browser.follow_all(posted).unwrap()
}

#[test]
fn saml_login_reaches_the_upstream_with_every_group() {
    let s = saml_stack(StackOptions::default());
    let mut browser = Browser::new().unwrap();
    let page = saml_login(&s, &mut browser, "/private?x=1", CAROL);
    assert_eq!(
        page.status,
        200,
        "{}\n{}",
        browser.history_text(),
        page.body
    );
    assert_eq!(page.url.as_str(), s.stack.url("/private?x=1"));
    let requests = s.stack.echo.requests();
    let seen = requests.last().unwrap();
    assert_eq!(seen.header("x-auth-request-email"), Some(CAROL.email));
    assert_eq!(
        seen.header("x-auth-request-groups"),
        Some("admins,developers")
    );
    assert_eq!(
        seen.header("x-auth-request-preferred-username"),
        Some(CAROL.username)
    );
    assert!(s.broker_log().contains("user signed in"));
}

#[test]
fn a_route_group_rule_decides_access_for_saml_users() {
    let opts = StackOptions::default().filter(
        "routes",
        json!([{"path_prefix": "/admin", "allowed_groups": ["admins"]}]),
    );
    let s = saml_stack(opts);
    let mut carol = Browser::new().unwrap();
    let page = saml_login(&s, &mut carol, "/admin/panel", CAROL);
    assert_eq!(page.status, 200, "{}", carol.history_text());
    let mut dave = Browser::new().unwrap();
    let page = saml_login(&s, &mut dave, "/admin/panel", DAVE);
    assert_eq!(page.status, 403, "{}\n{}", dave.history_text(), page.body);
    // Dave is signed in: other routes let him through.
    let other = dave.get(&s.stack.url("/public-ish")).unwrap();
    assert_eq!(other.status, 200, "{}", other.body);
    let paths: Vec<String> = s
        .stack
        .echo
        .requests()
        .iter()
        .map(|r| r.path.clone())
        .collect();
    assert!(paths.contains(&"/admin/panel".to_string()), "{paths:?}");
    assert_eq!(
        paths.iter().filter(|p| p.starts_with("/admin")).count(),
        1,
        "{paths:?}"
    );
}

/// A signed response for a pending request: the XML and the RelayState.
struct Captured {
    xml: String,
    relay_state: String,
}

fn capture(s: &SamlStack, user: SamlUser) -> Captured {
    let mut browser = Browser::new().unwrap();
    let form = to_idp_answer(s, &mut browser, "/", user);
    let xml = String::from_utf8(
        STANDARD
            .decode(form.field("SAMLResponse").unwrap())
            .unwrap(),
    )
    .unwrap();
    Captured {
        xml,
        relay_state: form.field("RelayState").unwrap().to_string(),
    }
}

fn post(s: &SamlStack, xml: &str, relay_state: &str) -> Page {
    let mut b = Browser::new().unwrap();
    b.post_form(
        &s.acs(),
        &[
            ("SAMLResponse", STANDARD.encode(xml)),
            ("RelayState", relay_state.to_string()),
        ],
    )
    .unwrap()
}

/// Posts `xml`; it must be refused (no code for the client) with `log` in the broker's log.
fn refused(s: &SamlStack, case: &str, xml: &str, relay_state: &str, log: &str) {
    let before = s.broker_log().len();
    let page = post(s, xml, relay_state);
    assert!(
        page.status >= 400,
        "{case}: accepted ({}) {:?}",
        page.status,
        page.location()
    );
    // The access log line can land before the refusal line: wait briefly for it.
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let new = s.broker_log()[before..].to_string();
        if new.contains(log) {
            assert!(!new.contains("panicked"), "{case}: {new}");
            return;
        }
        if Instant::now() > deadline {
            panic!("{case}: no log line {log:?} in:\n{new}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn accepted(s: &SamlStack, xml: &str, relay_state: &str) {
    let page = post(s, xml, relay_state);
    assert_eq!(page.status, 302, "{}", page.body);
    let to = page.location().unwrap();
    assert_eq!(to.path(), "/oauth2/callback", "{to}");
    assert!(to.query_pairs().any(|(k, _)| k == "code"), "{to}");
}

fn resign(s: &SamlStack, xml: &str) -> String {
    xmlsec1_resign(xml, &s.idp_keys.key, s.dir.path()).unwrap()
}

/// The signed `<saml:Assertion …>…</saml:Assertion>` of a pysaml2 response (prefix `ns1`/`saml`).
fn assertion_span(xml: &str) -> (usize, usize) {
    let start = xml
        .find(":Assertion ")
        .map(|i| xml[..i].rfind('<').unwrap())
        .unwrap();
    let prefix = &xml[start + 1..xml[start..].find(':').unwrap() + start];
    let close = format!("</{prefix}:Assertion>");
    let end = xml.find(&close).unwrap() + close.len();
    (start, end)
}

fn replace_attr(xml: &str, name: &str, value: &str) -> String {
    let key = format!(" {name}=\"");
    let i = xml
        .find(&key)
        .unwrap_or_else(|| panic!("no {name} in {xml}"))
        + key.len();
    let j = xml[i..].find('"').unwrap() + i;
    format!("{}{value}{}", &xml[..i], &xml[j..])
}

/// Replaces the n-th (0-based) occurrence of attribute `name`.
fn replace_nth_attr(xml: &str, name: &str, n: usize, value: &str) -> String {
    let key = format!(" {name}=\"");
    let mut from = 0;
    for _ in 0..n {
        from = xml[from..].find(&key).unwrap() + from + key.len();
    }
    let tail = replace_attr(&xml[from..], name, value);
    format!("{}{tail}", &xml[..from])
}

fn instant(offset_secs: i64) -> String {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
        + offset_secs;
    // Civil-from-days (Howard Hinnant's algorithm), enough for test timestamps.
    let days = t.div_euclid(86400);
    let secs = t.rem_euclid(86400);
    let z = days + 719468;
    let era = z.div_euclid(146097);
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + if m <= 2 { 1 } else { 0 };
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

#[test]
fn the_hostile_corpus_is_refused_and_the_genuine_response_then_accepted() {
    let s = saml_stack(StackOptions::default());
    let c = capture(&s, CAROL);
    let xml = c.xml.as_str();
    let relay = c.relay_state.as_str();
    let (a0, a1) = assertion_span(xml);
    let assertion = &xml[a0..a1];
    assert!(
        assertion.contains("Signature"),
        "pysaml2 signs the assertion: {assertion}"
    );
    // pysaml2's prefixes: ns0 protocol, ns1 assertion, ns2 xmldsig.
    let sig_start = assertion.find("<ns2:Signature").unwrap();
    let sig_end = assertion.find("</ns2:Signature>").unwrap() + "</ns2:Signature>".len();
    let unsigned_assertion = format!("{}{}", &assertion[..sig_start], &assertion[sig_end..]);
    let with_assertion = |a: &str| format!("{}{a}{}", &xml[..a0], &xml[a1..]);

    // Unsigned: the assertion's signature removed.
    refused(
        &s,
        "signature removed",
        &with_assertion(&unsigned_assertion),
        relay,
        "no XML signature",
    );
    // Tampered after signing: the e-mail changed.
    let tampered = xml.replace(CAROL.email, "mallory@corp.example");
    refused(&s, "tampered", &tampered, relay, "does not verify");
    // Signed by a key the broker does not trust.
    let other = KeyPair::generate(s.dir.path(), "attacker").unwrap();
    let by_other = xmlsec1_resign(&tampered, &other.key, s.dir.path()).unwrap();
    refused(&s, "unknown key", &by_other, relay, "does not verify");
    // Wrapping: an evil unsigned assertion before / after the signed one.
    let evil = unsigned_assertion
        .replace(CAROL.email, "mallory@corp.example")
        .replacen(" ID=\"", " ID=\"evil", 1);
    refused(
        &s,
        "XSW evil before",
        &with_assertion(&format!("{evil}{assertion}")),
        relay,
        "exactly one Assertion",
    );
    refused(
        &s,
        "XSW evil after",
        &with_assertion(&format!("{assertion}{evil}")),
        relay,
        "exactly one Assertion",
    );
    // Wrapping: the signed assertion moved into Extensions, an evil one in its place.
    let ext = format!(
        "<samlp:Extensions xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\">{assertion}</samlp:Extensions>{evil}"
    );
    refused(
        &s,
        "XSW signed in Extensions",
        &with_assertion(&ext),
        relay,
        "exactly one Assertion",
    );
    // Wrapping: the signed assertion moved inside the evil one's ds:Object.
    let in_object = evil.replacen(
        "</ns1:Subject>",
        &format!("</ns1:Subject><ds:Object xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\">{assertion}</ds:Object>"),
        1,
    );
    refused(
        &s,
        "XSW signed in Object",
        &with_assertion(&in_object),
        relay,
        "exactly one Assertion",
    );
    // Wrapping: only the signed assertion, moved out of the Response into Extensions.
    let moved = format!(
        "<samlp:Extensions xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\">{assertion}</samlp:Extensions>"
    );
    refused(
        &s,
        "XSW signed assertion moved",
        &with_assertion(&moved),
        relay,
        "exactly one Assertion",
    );
    // A comment inside NameID: the signed text is unchanged (exclusive c14n drops comments),
    // so the signature still verifies, but a reader stopping at the first text node would see
    // `carol@corp` — an identity the IdP never asserted.
    let (head, tail) = CAROL.email.rsplit_once('.').unwrap();
    let commented = xml.replacen(
        &format!(">{}<", CAROL.email),
        &format!(">{head}<!-- -->.{tail}<"),
        1,
    );
    assert_ne!(commented, xml, "NameID not found");
    refused(
        &s,
        "comment in NameID",
        &commented,
        relay,
        "a comment inside a value",
    );
    // DOCTYPE / entity expansion.
    let doctype = format!(
        "<!DOCTYPE r [<!ENTITY a \"aaaaaaaaaa\"><!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;\">]>{}",
        xml.trim_start_matches(|c| c != '<')
            .split_once("?>")
            .map_or(xml, |(_, r)| r)
    );
    refused(&s, "DOCTYPE", &doctype, relay, "DTD or entity");
    // Oversized (beyond the validator's limit, within the callback's body limit).
    let padding = " ".repeat(280 * 1024);
    let big = xml.replacen("<ns2:SignedInfo", &format!("<ns2:SignedInfo{padding}"), 1);
    refused(&s, "oversized", &big, relay, "larger than");
    // Re-signed with the IdP's own key (so only the changed rule can refuse them):
    let resigned = |edit: &dyn Fn(&str) -> String| {
        let edited = with_assertion(&edit(assertion));
        resign(&s, &edited)
    };
    // Sanity: a re-signed but unchanged response verifies (else the cases below prove nothing).
    // (It is not posted: it would complete the login.)
    refused(
        &s,
        "expired",
        &resigned(&|a| {
            let a = replace_attr(a, "NotBefore", &instant(-3600));
            let a = replace_nth_attr(&a, "NotOnOrAfter", 0, &instant(-1800));
            replace_nth_attr(&a, "NotOnOrAfter", 1, &instant(-1800))
        }),
        relay,
        "expired",
    );
    refused(
        &s,
        "not yet valid",
        &resigned(&|a| replace_attr(a, "NotBefore", &instant(3600))),
        relay,
        "not valid yet",
    );
    refused(
        &s,
        "wrong audience",
        &resigned(&|a| {
            a.replace(
                &format!("{}/saml/{CONNECTOR}/metadata<", s.stack.issuer()),
                "https://other-sp.example/<",
            )
        }),
        relay,
        "audience restriction",
    );
    refused(
        &s,
        "wrong recipient",
        &resigned(&|a| replace_attr(a, "Recipient", "https://evil.example/callback")),
        relay,
        "Recipient",
    );
    refused(
        &s,
        "wrong destination",
        &replace_attr(xml, "Destination", "https://evil.example/callback"),
        relay,
        "Destination",
    );
    refused(
        &s,
        "unknown InResponseTo",
        &resigned(&|a| replace_attr(a, "InResponseTo", "_not-a-request-of-ours")),
        relay,
        "InResponseTo",
    );
    refused(
        &s,
        "non-Success status",
        &xml.replace(
            "urn:oasis:names:tc:SAML:2.0:status:Success",
            "urn:oasis:names:tc:SAML:2.0:status:Requester",
        ),
        relay,
        "status is not Success",
    );
    refused(
        &s,
        "unknown RelayState",
        xml,
        "_unknown",
        "RelayState names no pending request",
    );

    // The genuine response is accepted once …
    accepted(&s, xml, relay);
    // … and never again: replayed assertion.
    refused(&s, "replayed response", xml, relay, "assertion replayed");
    // A fresh assertion (new ID, re-signed) for the already-answered request: InResponseTo reused.
    let old_id = {
        let i = assertion.find(" ID=\"").unwrap() + 5;
        &assertion[i..assertion[i..].find('"').unwrap() + i]
    };
    let renamed = resign(
        &s,
        &with_assertion(&assertion.replace(old_id, "_fresh-assertion-id")),
    );
    refused(
        &s,
        "InResponseTo reused",
        &renamed,
        relay,
        "already answered",
    );
    assert!(!s.broker_log().contains("panicked"));
}
