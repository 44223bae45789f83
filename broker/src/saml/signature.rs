//! XML-DSig verification, delegated to `bergshamra` (pure Rust on RustCrypto: no FFI, no
//! libxml2). Chosen over `samael` (libxmlsec1 through FFI) because it needs no C toolchain or
//! system libraries, verifies every signature in a document and reports which element each
//! one's reference resolved to — exactly what is needed to read data only from the signed
//! element — and because samael silently skips signature checks when no certificate is
//! configured. Hardened defaults are used: only the configured certificates' keys are
//! trusted (a certificate inside `<KeyInfo>` is ignored), references must point at an
//! ancestor or sibling of the signature (XSW), every reference digest must be checked.
//! On top of that we allow only exclusive canonicalisation, the enveloped-signature
//! transform and SHA-256 or stronger, one reference per signature, and the reference must be the signature's parent.

use bergshamra_dsig::{DsigContext, VerifyResult};
use uppsala::{Document, NodeId};

use super::dom::{attr, children, descendants};
use super::names::DSIG;

const EXC_C14N: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";
const ENVELOPED: &str = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";
/// SHA-1 is refused: collisions are practical, and every current IdP signs with SHA-256.
const SIGNATURE_METHODS: &[&str] = &[
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384",
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512",
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256",
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384",
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha512",
];
const DIGEST_METHODS: &[&str] = &[
    "http://www.w3.org/2001/04/xmlenc#sha256",
    "http://www.w3.org/2001/04/xmldsig-more#sha384",
    "http://www.w3.org/2001/04/xmlenc#sha512",
];

/// The IdP's signing certificates (PEM, one block each).
#[derive(Debug, Clone, Default)]
pub struct TrustedCerts {
    pems: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("no XML signature")]
    Unsigned,
    #[error("signature does not verify with any trusted certificate: {0}")]
    Invalid(String),
    #[error("signature is not usable: {0}")]
    Shape(String),
    #[error("trusted certificate cannot be loaded: {0}")]
    Keys(String),
}

impl TrustedCerts {
    pub fn new(pems: Vec<String>) -> Self {
        TrustedCerts { pems }
    }

    pub fn is_empty(&self) -> bool {
        self.pems.is_empty()
    }

    fn context(&self) -> Result<DsigContext, SignatureError> {
        let mut keys = bergshamra_keys::KeysManager::new();
        for pem in &self.pems {
            let key = bergshamra_keys::loader::load_x509_cert_pem(pem.as_bytes())
                .map_err(|e| SignatureError::Keys(e.to_string()))?;
            keys.add_key(key);
        }
        // Secure defaults: trusted keys only, strict reference positions, digests required.
        Ok(DsigContext::new(keys))
    }
}

/// Verifies every `<ds:Signature>` in `doc` and returns the elements they sign. Any signature
/// that fails makes the whole document fail: a response carrying a broken signature is forged
/// or damaged, never "partly" trusted.
pub fn signed_elements(
    doc: &Document<'_>,
    xml: &str,
    trusted: &TrustedCerts,
) -> Result<Vec<NodeId>, SignatureError> {
    let root = doc.root();
    let signatures = descendants(doc, root, DSIG, "Signature");
    if signatures.is_empty() {
        return Err(SignatureError::Unsigned);
    }
    for sig in &signatures {
        check_algorithms(doc, *sig)?;
    }
    if trusted.is_empty() {
        // Never "no certificate means no check" (samael's trap): callers skip this function
        // only under insecureSkipSignatureValidation.
        return Err(SignatureError::Keys(
            "no trusted certificate configured".into(),
        ));
    }
    let ctx = trusted.context()?;
    let results = bergshamra_dsig::verify::verify_all_document_with_source(&ctx, doc, Some(xml))
        .map_err(|e| SignatureError::Invalid(e.to_string()))?;
    let mut signed = Vec::new();
    for result in results {
        match result {
            VerifyResult::Invalid { reason } => return Err(SignatureError::Invalid(reason)),
            VerifyResult::Valid {
                signature_node,
                references,
                ..
            } => {
                let [reference] = references.as_slice() else {
                    return Err(SignatureError::Shape(
                        "a signature must have exactly one reference".into(),
                    ));
                };
                let target = reference.resolved_node.ok_or_else(|| {
                    SignatureError::Shape("reference does not resolve to an element".into())
                })?;
                if doc.parent(signature_node) != Some(target) {
                    return Err(SignatureError::Shape(
                        "signature is not enveloped in the element it signs".into(),
                    ));
                }
                let id = attr(doc, target, "ID").unwrap_or("");
                if id.is_empty() || reference.uri != format!("#{id}") {
                    return Err(SignatureError::Shape(
                        "reference URI is not the signed element's ID".into(),
                    ));
                }
                signed.push(target);
            }
        }
    }
    Ok(signed)
}

/// Only exclusive canonicalisation (without comments) and the enveloped-signature transform.
fn check_algorithms(doc: &Document<'_>, sig: NodeId) -> Result<(), SignatureError> {
    let shape = |m: &str| SignatureError::Shape(m.to_string());
    let signed_info = match children(doc, sig, DSIG, "SignedInfo").as_slice() {
        [one] => *one,
        _ => return Err(shape("a signature needs exactly one SignedInfo")),
    };
    let c14n = children(doc, signed_info, DSIG, "CanonicalizationMethod");
    if c14n.len() != 1 || attr(doc, c14n[0], "Algorithm") != Some(EXC_C14N) {
        return Err(shape("SignedInfo must use exclusive canonicalisation"));
    }
    let method = children(doc, signed_info, DSIG, "SignatureMethod");
    let method = method
        .first()
        .and_then(|m| attr(doc, *m, "Algorithm"))
        .unwrap_or("");
    if !SIGNATURE_METHODS.contains(&method) {
        return Err(SignatureError::Shape(format!(
            "signature method {method:?} is not allowed (SHA-256 or stronger)"
        )));
    }
    for reference in children(doc, signed_info, DSIG, "Reference") {
        let digest = children(doc, reference, DSIG, "DigestMethod");
        let digest = digest
            .first()
            .and_then(|m| attr(doc, *m, "Algorithm"))
            .unwrap_or("");
        if !DIGEST_METHODS.contains(&digest) {
            return Err(SignatureError::Shape(format!(
                "digest method {digest:?} is not allowed (SHA-256 or stronger)"
            )));
        }
        for transforms in children(doc, reference, DSIG, "Transforms") {
            for t in children(doc, transforms, DSIG, "Transform") {
                match attr(doc, t, "Algorithm") {
                    Some(ENVELOPED) | Some(EXC_C14N) => {}
                    other => {
                        return Err(SignatureError::Shape(format!(
                            "transform {:?} is not allowed",
                            other.unwrap_or("")
                        )))
                    }
                }
            }
        }
    }
    Ok(())
}
