//! Each validator rule, with responses signed here by bergshamra using the test-only key in
//! `testdata/` (`idp.key`/`idp.crt` trusted, `other.key` not).
//! Long on purpose: one test per rule (and per hostile response), each readable alone.

use super::response::*;
use super::signature::TrustedCerts;

const IDP_KEY: &str = include_str!("testdata/idp.key");
const IDP_CRT: &str = include_str!("testdata/idp.crt");
const OTHER_KEY: &str = include_str!("testdata/other.key");

const NOW: i64 = 1_800_000_000;
const ACS: &str = "https://sp.example/dex/callback";
const SP: &str = "https://sp.example/dex/saml/corp/metadata";
const IDP: &str = "https://idp.example/metadata";
const REQ: &str = "_req1";

fn at(offset: i64) -> String {
    super::time::format_instant(NOW + offset)
}

fn signature_template(id: &str) -> String {
    format!(
        "<ds:Signature xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\"><ds:SignedInfo>\
         <ds:CanonicalizationMethod Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/>\
         <ds:SignatureMethod Algorithm=\"http://www.w3.org/2001/04/xmldsig-more#rsa-sha256\"/>\
         <ds:Reference URI=\"#{id}\"><ds:Transforms>\
         <ds:Transform Algorithm=\"http://www.w3.org/2000/09/xmldsig#enveloped-signature\"/>\
         <ds:Transform Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/></ds:Transforms>\
         <ds:DigestMethod Algorithm=\"http://www.w3.org/2001/04/xmlenc#sha256\"/>\
         <ds:DigestValue></ds:DigestValue></ds:Reference></ds:SignedInfo>\
         <ds:SignatureValue></ds:SignatureValue></ds:Signature>"
    )
}

fn sign(template: &str, key_pem: &str) -> String {
    let key = bergshamra_keys::loader::load_pem_auto(key_pem.as_bytes(), None).unwrap();
    let mut keys = bergshamra_keys::KeysManager::new();
    keys.add_key(key);
    let ctx = bergshamra_dsig::DsigContext::new(keys);
    bergshamra_dsig::sign::sign(&ctx, template).unwrap()
}

/// The parts of an assertion a test may change.
#[derive(Clone)]
struct A {
    id: &'static str,
    name_id: String,
    issuer: &'static str,
    audience: &'static str,
    recipient: &'static str,
    in_response_to: &'static str,
    not_before: String,
    not_on_or_after: String,
    confirmation_until: String,
    signed: bool,
}

impl Default for A {
    fn default() -> Self {
        A {
            id: "_assert1",
            name_id: "carol@corp.example".into(),
            issuer: IDP,
            audience: SP,
            recipient: ACS,
            in_response_to: REQ,
            not_before: at(-10),
            not_on_or_after: at(300),
            confirmation_until: at(300),
            signed: true,
        }
    }
}

fn assertion_xml(a: &A, key: &str) -> String {
    let sig = if a.signed {
        signature_template(a.id)
    } else {
        String::new()
    };
    let xml = format!(
        "<saml:Assertion xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\" ID=\"{id}\" Version=\"2.0\" IssueInstant=\"{nb}\">\
         <saml:Issuer>{issuer}</saml:Issuer>{sig}\
         <saml:Subject><saml:NameID>{name_id}</saml:NameID>\
         <saml:SubjectConfirmation Method=\"urn:oasis:names:tc:SAML:2.0:cm:bearer\">\
         <saml:SubjectConfirmationData Recipient=\"{recipient}\" InResponseTo=\"{irt}\" NotOnOrAfter=\"{until}\"/>\
         </saml:SubjectConfirmation></saml:Subject>\
         <saml:Conditions NotBefore=\"{nb}\" NotOnOrAfter=\"{noa}\"><saml:AudienceRestriction>\
         <saml:Audience>{aud}</saml:Audience></saml:AudienceRestriction></saml:Conditions>\
         <saml:AttributeStatement>\
         <saml:Attribute Name=\"uid\"><saml:AttributeValue>carol</saml:AttributeValue></saml:Attribute>\
         <saml:Attribute Name=\"groups\"><saml:AttributeValue>admins</saml:AttributeValue>\
         <saml:AttributeValue>developers</saml:AttributeValue></saml:Attribute>\
         </saml:AttributeStatement></saml:Assertion>",
        id = a.id,
        issuer = a.issuer,
        name_id = a.name_id,
        recipient = a.recipient,
        irt = a.in_response_to,
        until = a.confirmation_until,
        nb = a.not_before,
        noa = a.not_on_or_after,
        aud = a.audience,
    );
    if a.signed {
        sign(&xml, key)
    } else {
        xml
    }
}

fn response_with(inner: &str, status: &str, destination: &str) -> String {
    format!(
        "<samlp:Response xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\" ID=\"_resp1\" Version=\"2.0\" \
         IssueInstant=\"{now}\" Destination=\"{destination}\" InResponseTo=\"{REQ}\">\
         <saml:Issuer xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\">{IDP}</saml:Issuer>\
         <samlp:Status><samlp:StatusCode Value=\"{status}\"/></samlp:Status>{inner}</samlp:Response>",
        now = at(0),
    )
}

const SUCCESS: &str = "urn:oasis:names:tc:SAML:2.0:status:Success";

fn good() -> String {
    response_with(&assertion_xml(&A::default(), IDP_KEY), SUCCESS, ACS)
}

fn expectations() -> Expectations<'static> {
    Expectations {
        request_id: REQ,
        acs_url: ACS,
        entity_issuer: SP,
        sso_issuer: Some(IDP),
        now: NOW,
        skew: 60,
        skip_signature: false,
    }
}

fn trusted() -> TrustedCerts {
    TrustedCerts::new(vec![IDP_CRT.to_string()])
}

fn check(xml: &str) -> Result<ValidAssertion, ResponseError> {
    validate_response(xml.as_bytes(), &trusted(), &expectations())
}

fn refused(xml: &str, expected: &str) {
    let err = check(xml).expect_err("accepted").to_string();
    assert!(err.contains(expected), "expected {expected:?}, got {err:?}");
}

#[test]
fn a_signed_assertion_is_accepted_and_read() {
    let a = check(&good()).unwrap();
    assert_eq!(a.assertion_id, "_assert1");
    assert_eq!(a.name_id, "carol@corp.example");
    assert_eq!(a.values("groups"), vec!["admins", "developers"]);
    assert_eq!(a.values("uid"), vec!["carol"]);
    assert_eq!(a.expires_at, NOW + 300 + 60);
}

#[test]
fn a_signed_response_enclosing_an_unsigned_assertion_is_accepted() {
    let inner = assertion_xml(
        &A {
            signed: false,
            ..A::default()
        },
        IDP_KEY,
    );
    let template = response_with(&inner, SUCCESS, ACS).replacen(
        "<samlp:Status>",
        &format!("{}<samlp:Status>", signature_template("_resp1")),
        1,
    );
    let signed = sign(&template, IDP_KEY);
    assert_eq!(check(&signed).unwrap().name_id, "carol@corp.example");
}

#[test]
fn unsigned_is_refused() {
    let inner = assertion_xml(
        &A {
            signed: false,
            ..A::default()
        },
        IDP_KEY,
    );
    refused(&response_with(&inner, SUCCESS, ACS), "no XML signature");
}

#[test]
fn signature_removed_is_refused() {
    let xml = good();
    let start = xml.find("<ds:Signature").unwrap();
    let end = xml.find("</ds:Signature>").unwrap() + "</ds:Signature>".len();
    refused(
        &format!("{}{}", &xml[..start], &xml[end..]),
        "no XML signature",
    );
}

#[test]
fn tampered_after_signing_is_refused() {
    refused(
        &good().replace("carol@corp.example", "mallory@corp.example"),
        "does not verify",
    );
}

#[test]
fn signed_by_an_unknown_key_is_refused() {
    let inner = assertion_xml(&A::default(), OTHER_KEY);
    refused(&response_with(&inner, SUCCESS, ACS), "does not verify");
}

#[test]
fn no_trusted_certificate_never_means_no_check() {
    let err = validate_response(good().as_bytes(), &TrustedCerts::default(), &expectations())
        .unwrap_err()
        .to_string();
    assert!(err.contains("no trusted certificate"), "{err}");
}

#[test]
fn insecure_skip_signature_validation_reads_unsigned() {
    let inner = assertion_xml(
        &A {
            signed: false,
            ..A::default()
        },
        IDP_KEY,
    );
    let exp = Expectations {
        skip_signature: true,
        ..expectations()
    };
    let a = validate_response(
        response_with(&inner, SUCCESS, ACS).as_bytes(),
        &TrustedCerts::default(),
        &exp,
    );
    assert_eq!(a.unwrap().name_id, "carol@corp.example");
}

fn evil() -> String {
    assertion_xml(
        &A {
            id: "_evil",
            name_id: "admin@corp.example".into(),
            signed: false,
            ..A::default()
        },
        IDP_KEY,
    )
}

#[test]
fn xsw_unsigned_assertion_before_the_signed_one_is_refused() {
    let signed = assertion_xml(&A::default(), IDP_KEY);
    refused(
        &response_with(&format!("{}{signed}", evil()), SUCCESS, ACS),
        "exactly one Assertion",
    );
}

#[test]
fn xsw_unsigned_assertion_after_the_signed_one_is_refused() {
    let signed = assertion_xml(&A::default(), IDP_KEY);
    refused(
        &response_with(&format!("{signed}{}", evil()), SUCCESS, ACS),
        "exactly one Assertion",
    );
}

#[test]
fn xsw_signed_assertion_in_extensions_is_refused() {
    let signed = assertion_xml(&A::default(), IDP_KEY);
    let inner = format!("<samlp:Extensions>{signed}</samlp:Extensions>{}", evil());
    refused(
        &response_with(&inner, SUCCESS, ACS),
        "exactly one Assertion",
    );
    let alone = format!("<samlp:Extensions>{signed}</samlp:Extensions>");
    refused(
        &response_with(&alone, SUCCESS, ACS),
        "exactly one Assertion",
    );
}

#[test]
fn xsw_signed_assertion_in_object_is_refused() {
    let signed = assertion_xml(&A::default(), IDP_KEY);
    let inner = evil().replacen(
        "</saml:Subject>",
        &format!("</saml:Subject><ds:Object xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\">{signed}</ds:Object>"),
        1,
    );
    refused(
        &response_with(&inner, SUCCESS, ACS),
        "exactly one Assertion",
    );
}

#[test]
fn a_comment_inside_name_id_is_refused_not_truncated() {
    // Exclusive c14n drops comments, so the signature still verifies.
    let xml = good().replacen("carol@corp.example<", "carol@corp<!-- -->.example<", 1);
    refused(&xml, "a comment inside a value");
}

#[test]
fn doctype_and_entities_are_refused() {
    let xml = format!("<!DOCTYPE r [<!ENTITY a \"aaaa\">]>{}", good());
    refused(&xml, "DTD");
    refused(
        &good().replacen("carol@corp.example<", "&a;<", 1).replacen(
            "<samlp:Response",
            "<!DOCTYPE x SYSTEM \"file:///etc/passwd\"><samlp:Response",
            1,
        ),
        "DTD",
    );
}

#[test]
fn expired_is_refused() {
    let a = A {
        not_before: at(-900),
        not_on_or_after: at(-600),
        confirmation_until: at(-600),
        ..A::default()
    };
    refused(
        &response_with(&assertion_xml(&a, IDP_KEY), SUCCESS, ACS),
        "expired",
    );
    // Within the skew it still passes.
    let a = A {
        not_on_or_after: at(-30),
        confirmation_until: at(-30),
        ..A::default()
    };
    assert!(check(&response_with(&assertion_xml(&a, IDP_KEY), SUCCESS, ACS)).is_ok());
}

#[test]
fn expired_subject_confirmation_is_refused() {
    let a = A {
        confirmation_until: at(-600),
        ..A::default()
    };
    refused(
        &response_with(&assertion_xml(&a, IDP_KEY), SUCCESS, ACS),
        "SubjectConfirmation",
    );
}

#[test]
fn not_yet_valid_is_refused() {
    let a = A {
        not_before: at(600),
        ..A::default()
    };
    refused(
        &response_with(&assertion_xml(&a, IDP_KEY), SUCCESS, ACS),
        "not valid yet",
    );
}

#[test]
fn wrong_audience_is_refused() {
    let a = A {
        audience: "https://other-sp.example",
        ..A::default()
    };
    refused(
        &response_with(&assertion_xml(&a, IDP_KEY), SUCCESS, ACS),
        "audience",
    );
}

#[test]
fn wrong_recipient_is_refused() {
    let a = A {
        recipient: "https://evil.example/callback",
        ..A::default()
    };
    refused(
        &response_with(&assertion_xml(&a, IDP_KEY), SUCCESS, ACS),
        "Recipient",
    );
}

#[test]
fn wrong_destination_is_refused() {
    let inner = assertion_xml(&A::default(), IDP_KEY);
    refused(
        &response_with(&inner, SUCCESS, "https://evil.example/callback"),
        "Destination",
    );
}

#[test]
fn unknown_in_response_to_is_refused() {
    let a = A {
        in_response_to: "_someone-elses",
        ..A::default()
    };
    refused(
        &response_with(&assertion_xml(&a, IDP_KEY), SUCCESS, ACS),
        "InResponseTo",
    );
    let xml = good().replacen(&format!("InResponseTo=\"{REQ}\""), "InResponseTo=\"_x\"", 1);
    refused(&xml, "InResponseTo");
}

#[test]
fn wrong_issuer_is_refused() {
    let a = A {
        issuer: "https://evil-idp.example",
        ..A::default()
    };
    refused(
        &response_with(&assertion_xml(&a, IDP_KEY), SUCCESS, ACS),
        "Issuer",
    );
}

#[test]
fn non_success_status_is_refused() {
    let inner = assertion_xml(&A::default(), IDP_KEY);
    refused(
        &response_with(&inner, "urn:oasis:names:tc:SAML:2.0:status:Responder", ACS),
        "status is not Success",
    );
}

#[test]
fn oversized_is_refused() {
    let xml = good().replacen(
        "<samlp:Status>",
        &format!("{}<samlp:Status>", " ".repeat(300 * 1024)),
        1,
    );
    refused(&xml, "larger than");
}

#[test]
fn garbage_is_refused_without_panic() {
    for bad in [
        "",
        "<",
        "not xml",
        "<a/>",
        "<samlp:Response xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\"/>",
    ] {
        assert!(check(bad).is_err(), "{bad}");
    }
    assert!(decode_posted("!!!").is_err());
}
