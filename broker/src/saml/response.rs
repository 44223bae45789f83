//! Validation of a `<samlp:Response>` posted to the Assertion Consumer Service.
//!
//! Everything returned is read from one `<saml:Assertion>` that is covered by a verified
//! signature (its own, or the Response's that encloses it): the document must hold exactly one
//! Assertion, as a direct child of the Response, so no second (unsigned) Assertion, and no
//! signed Assertion tucked inside `Extensions` or `ds:Object`, can be read instead.

use uppsala::{Document, NodeId};

use super::dom::{attr, children, descendants, is, only_child, plain_text};
use super::names::{ASSERTION, BEARER, PROTOCOL, STATUS_SUCCESS};
use super::signature::{signed_elements, SignatureError, TrustedCerts};
use super::time::parse_instant;
use super::xml_guard::{guard, GuardError};

/// What this broker expects of a response (the request it sent, its own URLs, the time).
#[derive(Debug, Clone)]
pub struct Expectations<'a> {
    /// The ID of the AuthnRequest this response must answer.
    pub request_id: &'a str,
    /// The ACS URL: `Destination` and `Recipient` must equal it.
    pub acs_url: &'a str,
    /// Our entity ID: an `Audience` of every `AudienceRestriction`.
    pub entity_issuer: &'a str,
    /// The IdP's entity ID, when configured: the `Issuer` must equal it.
    pub sso_issuer: Option<&'a str>,
    pub now: i64,
    /// Allowed clock difference with the IdP, seconds.
    pub skew: i64,
    /// Only with `insecureSkipSignatureValidation`.
    pub skip_signature: bool,
}

/// The signed assertion's content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidAssertion {
    pub assertion_id: String,
    pub name_id: String,
    /// (Name, values) of every `<saml:Attribute>`, in document order.
    pub attributes: Vec<(String, Vec<String>)>,
    /// Until when the assertion is usable: its ID stays in the replay cache until then.
    pub expires_at: i64,
}

impl ValidAssertion {
    /// Every value of the attribute `name` (across repeated `<Attribute>` elements).
    pub fn values(&self, name: &str) -> Vec<&str> {
        self.attributes
            .iter()
            .filter(|(n, _)| n == name)
            .flat_map(|(_, v)| v.iter().map(String::as_str))
            .collect()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResponseError {
    #[error("SAMLResponse is not base64")]
    NotBase64,
    #[error("{0}")]
    Guard(#[from] GuardError),
    #[error("XML does not parse: {0}")]
    Parse(String),
    #[error("not a SAML 2.0 Response: {0}")]
    NotResponse(&'static str),
    #[error("{0}")]
    Signature(#[from] SignatureError),
    #[error("neither the Assertion nor the Response enclosing it is signed by a trusted key")]
    AssertionNotSigned,
    #[error("the response must hold exactly one Assertion, as a child of the Response (found {0}; encrypted assertions are not supported)")]
    AssertionCount(usize),
    #[error("status is not Success: {0}")]
    Status(String),
    #[error("Destination {0:?} is not this broker's ACS URL")]
    Destination(String),
    #[error("InResponseTo {0:?} is not the request this login sent")]
    InResponseTo(String),
    #[error("Issuer {0:?} is not the configured ssoIssuer")]
    Issuer(String),
    #[error("assertion is not valid yet (NotBefore {0})")]
    NotYetValid(String),
    #[error("assertion has expired (NotOnOrAfter {0})")]
    Expired(String),
    #[error("audience restriction does not include this broker's entityIssuer")]
    Audience,
    #[error("no bearer SubjectConfirmation fits: {0}")]
    SubjectConfirmation(String),
    #[error("malformed assertion: {0}")]
    Malformed(String),
}

fn malformed(m: impl Into<String>) -> ResponseError {
    ResponseError::Malformed(m.into())
}

/// Decodes the posted `SAMLResponse` form field (base64, line breaks allowed).
pub fn decode_posted(field: &str) -> Result<Vec<u8>, ResponseError> {
    use base64::Engine;
    // Bound the work before decoding: base64 is 4/3 of the decoded size.
    if field.len() > super::MAX_RESPONSE_BYTES / 3 * 4 + 4096 {
        return Err(ResponseError::Guard(GuardError::TooLarge));
    }
    let compact: String = field.split_ascii_whitespace().collect();
    base64::engine::general_purpose::STANDARD
        .decode(compact)
        .map_err(|_| ResponseError::NotBase64)
}

/// Validates a decoded response document against `exp`; see the module documentation.
pub fn validate_response(
    bytes: &[u8],
    trusted: &TrustedCerts,
    exp: &Expectations<'_>,
) -> Result<ValidAssertion, ResponseError> {
    let xml = guard(bytes)?;
    let doc = uppsala::parse(xml).map_err(|e| ResponseError::Parse(e.to_string()))?;
    let response = doc
        .document_element()
        .ok_or(ResponseError::NotResponse("empty document"))?;
    if !is(&doc, response, PROTOCOL, "Response") {
        return Err(ResponseError::NotResponse("the root is not samlp:Response"));
    }
    if attr(&doc, response, "Version") != Some("2.0") {
        return Err(ResponseError::NotResponse("Version is not 2.0"));
    }

    // Status first: an IdP's refusal is reported as such, signed or not.
    check_status(&doc, response)?;

    let all = descendants(&doc, doc.root(), ASSERTION, "Assertion");
    let encrypted = descendants(&doc, doc.root(), ASSERTION, "EncryptedAssertion").len();
    let assertion = match (all.as_slice(), encrypted) {
        ([one], 0) if doc.parent(*one) == Some(response) => *one,
        _ => return Err(ResponseError::AssertionCount(all.len() + encrypted)),
    };

    if !exp.skip_signature {
        let signed = signed_elements(&doc, xml, trusted)?;
        if !signed.contains(&assertion) && !signed.contains(&response) {
            return Err(ResponseError::AssertionNotSigned);
        }
    }

    // Response-level attributes are checked when present (they are signed only when the
    // Response is); the assertion's own copies below are always signed and always required.
    if let Some(dest) = attr(&doc, response, "Destination") {
        if dest != exp.acs_url {
            return Err(ResponseError::Destination(dest.to_string()));
        }
    }
    if let Some(irt) = attr(&doc, response, "InResponseTo") {
        if irt != exp.request_id {
            return Err(ResponseError::InResponseTo(irt.to_string()));
        }
    }
    if let Some(issuer) = only_child(&doc, response, ASSERTION, "Issuer").map_err(malformed)? {
        check_issuer(&doc, issuer, exp)?;
    }

    read_assertion(&doc, assertion, exp)
}

fn check_status(doc: &Document<'_>, response: NodeId) -> Result<(), ResponseError> {
    let status = only_child(doc, response, PROTOCOL, "Status")
        .map_err(malformed)?
        .ok_or_else(|| malformed("no Status"))?;
    let code = only_child(doc, status, PROTOCOL, "StatusCode")
        .map_err(malformed)?
        .ok_or_else(|| malformed("no StatusCode"))?;
    let value = attr(doc, code, "Value").unwrap_or("");
    if value != STATUS_SUCCESS {
        let sub = children(doc, code, PROTOCOL, "StatusCode")
            .first()
            .and_then(|s| attr(doc, *s, "Value"))
            .map(|v| format!(" / {v}"))
            .unwrap_or_default();
        return Err(ResponseError::Status(format!("{value}{sub}")));
    }
    Ok(())
}

fn check_issuer(
    doc: &Document<'_>,
    issuer: NodeId,
    exp: &Expectations<'_>,
) -> Result<(), ResponseError> {
    let text = plain_text(doc, issuer).map_err(malformed)?;
    match exp.sso_issuer {
        Some(want) if text.trim() != want => Err(ResponseError::Issuer(text)),
        _ => Ok(()),
    }
}

fn instant(doc: &Document<'_>, id: NodeId, name: &str) -> Result<Option<i64>, ResponseError> {
    match attr(doc, id, name) {
        None => Ok(None),
        Some(text) => parse_instant(text)
            .map(Some)
            .ok_or_else(|| malformed(format!("{name} {text:?} is not a dateTime"))),
    }
}

fn read_assertion(
    doc: &Document<'_>,
    assertion: NodeId,
    exp: &Expectations<'_>,
) -> Result<ValidAssertion, ResponseError> {
    let assertion_id = attr(doc, assertion, "ID")
        .filter(|id| !id.is_empty())
        .ok_or_else(|| malformed("Assertion has no ID"))?
        .to_string();
    if attr(doc, assertion, "Version") != Some("2.0") {
        return Err(malformed("Assertion Version is not 2.0"));
    }
    let issuer = only_child(doc, assertion, ASSERTION, "Issuer")
        .map_err(malformed)?
        .ok_or_else(|| malformed("Assertion has no Issuer"))?;
    check_issuer(doc, issuer, exp)?;

    // Conditions: required, so an assertion always has a lifetime and an audience.
    let conditions = only_child(doc, assertion, ASSERTION, "Conditions")
        .map_err(malformed)?
        .ok_or_else(|| malformed("Assertion has no Conditions"))?;
    let not_before = instant(doc, conditions, "NotBefore")?;
    let not_on_or_after = instant(doc, conditions, "NotOnOrAfter")?
        .ok_or_else(|| malformed("Conditions have no NotOnOrAfter"))?;
    if let Some(nb) = not_before {
        if exp.now + exp.skew < nb {
            return Err(ResponseError::NotYetValid(
                attr(doc, conditions, "NotBefore").unwrap_or("").into(),
            ));
        }
    }
    if exp.now - exp.skew >= not_on_or_after {
        return Err(ResponseError::Expired(
            attr(doc, conditions, "NotOnOrAfter").unwrap_or("").into(),
        ));
    }
    let restrictions = children(doc, conditions, ASSERTION, "AudienceRestriction");
    if restrictions.is_empty() {
        return Err(ResponseError::Audience);
    }
    for r in restrictions {
        let mut found = false;
        for a in children(doc, r, ASSERTION, "Audience") {
            if plain_text(doc, a).map_err(malformed)?.trim() == exp.entity_issuer {
                found = true;
            }
        }
        if !found {
            return Err(ResponseError::Audience);
        }
    }

    let subject = only_child(doc, assertion, ASSERTION, "Subject")
        .map_err(malformed)?
        .ok_or_else(|| malformed("Assertion has no Subject"))?;
    let name_id_node = only_child(doc, subject, ASSERTION, "NameID")
        .map_err(malformed)?
        .ok_or_else(|| malformed("Subject has no NameID"))?;
    let name_id = plain_text(doc, name_id_node)
        .map_err(|e| malformed(format!("NameID holds {e}")))?
        .trim()
        .to_string();
    if name_id.is_empty() {
        return Err(malformed("NameID is empty"));
    }
    let confirmation_until = bearer_confirmation(doc, subject, exp)?;

    let mut attributes = Vec::new();
    for statement in children(doc, assertion, ASSERTION, "AttributeStatement") {
        for a in children(doc, statement, ASSERTION, "Attribute") {
            let name = attr(doc, a, "Name")
                .ok_or_else(|| malformed("Attribute has no Name"))?
                .to_string();
            let mut values = Vec::new();
            for v in children(doc, a, ASSERTION, "AttributeValue") {
                values.push(
                    plain_text(doc, v)
                        .map_err(|e| malformed(format!("attribute {name:?} holds {e}")))?,
                );
            }
            attributes.push((name, values));
        }
    }

    Ok(ValidAssertion {
        assertion_id,
        name_id,
        attributes,
        expires_at: not_on_or_after
            .min(confirmation_until)
            .saturating_add(exp.skew),
    })
}

/// Finds a bearer `SubjectConfirmation` whose data names our ACS and request and is current;
/// returns its `NotOnOrAfter`. The reason the last candidate failed is reported otherwise.
fn bearer_confirmation(
    doc: &Document<'_>,
    subject: NodeId,
    exp: &Expectations<'_>,
) -> Result<i64, ResponseError> {
    let mut why = "none present".to_string();
    for sc in children(doc, subject, ASSERTION, "SubjectConfirmation") {
        if attr(doc, sc, "Method") != Some(BEARER) {
            why = "not a bearer confirmation".into();
            continue;
        }
        let data =
            match only_child(doc, sc, ASSERTION, "SubjectConfirmationData").map_err(malformed)? {
                Some(d) => d,
                None => {
                    why = "no SubjectConfirmationData".into();
                    continue;
                }
            };
        match attr(doc, data, "Recipient") {
            Some(r) if r == exp.acs_url => {}
            other => {
                why = format!(
                    "Recipient {:?} is not this broker's ACS URL",
                    other.unwrap_or("")
                );
                continue;
            }
        }
        match attr(doc, data, "InResponseTo") {
            Some(r) if r == exp.request_id => {}
            other => {
                why = format!(
                    "InResponseTo {:?} is not the request this login sent",
                    other.unwrap_or("")
                );
                continue;
            }
        }
        if let Some(nb) = instant(doc, data, "NotBefore")? {
            if exp.now + exp.skew < nb {
                why = "not valid yet".into();
                continue;
            }
        }
        let Some(until) = instant(doc, data, "NotOnOrAfter")? else {
            why = "no NotOnOrAfter".into();
            continue;
        };
        if exp.now - exp.skew >= until {
            why = "expired".into();
            continue;
        }
        return Ok(until);
    }
    Err(ResponseError::SubjectConfirmation(why))
}
