//! Reading an IdP's metadata (`EntityDescriptor` with an `IDPSSODescriptor`): its entity ID,
//! single sign-on URL and signing certificates, as an alternative to `ssoURL` + `ca`.

use super::dom::{attr, children, descendants, is, plain_text};
use super::names::{BINDING_POST, BINDING_REDIRECT, DSIG, METADATA};
use super::xml_guard::guard;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdpMetadata {
    pub entity_id: String,
    pub sso_url: String,
    /// PEM blocks.
    pub signing_certs: Vec<String>,
}

pub fn idp_metadata(xml: &str) -> Result<IdpMetadata, String> {
    let text = guard(xml.as_bytes()).map_err(|e| e.to_string())?;
    let doc = uppsala::parse(text).map_err(|e| format!("XML does not parse: {e}"))?;
    let root = doc.document_element().ok_or("empty document")?;
    if !is(&doc, root, METADATA, "EntityDescriptor") {
        return Err("the root is not md:EntityDescriptor".into());
    }
    let entity_id = attr(&doc, root, "entityID")
        .filter(|e| !e.is_empty())
        .ok_or("EntityDescriptor has no entityID")?
        .to_string();
    let idp = children(&doc, root, METADATA, "IDPSSODescriptor")
        .into_iter()
        .next()
        .ok_or("no IDPSSODescriptor")?;
    let services = children(&doc, idp, METADATA, "SingleSignOnService");
    let location = |binding: &str| {
        services
            .iter()
            .find(|s| attr(&doc, **s, "Binding") == Some(binding))
            .and_then(|s| attr(&doc, *s, "Location"))
            .map(str::to_string)
    };
    let sso_url = location(BINDING_REDIRECT)
        .or_else(|| location(BINDING_POST))
        .ok_or("no SingleSignOnService with the HTTP-Redirect or HTTP-POST binding")?;
    let mut signing_certs = Vec::new();
    for kd in children(&doc, idp, METADATA, "KeyDescriptor") {
        if attr(&doc, kd, "use").is_some_and(|u| u != "signing") {
            continue;
        }
        for cert in descendants(&doc, kd, DSIG, "X509Certificate") {
            let body: String = plain_text(&doc, cert)?.split_whitespace().collect();
            let lines: Vec<String> = body
                .as_bytes()
                .chunks(64)
                .map(|c| String::from_utf8_lossy(c).into_owned())
                .collect();
            let pem = format!(
                "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
                lines.join("\n")
            );
            bergshamra_keys::loader::load_x509_cert_pem(pem.as_bytes())
                .map_err(|e| format!("a signing certificate is not usable: {e}"))?;
            signing_certs.push(pem);
        }
    }
    if signing_certs.is_empty() {
        return Err("no signing certificate in the IDPSSODescriptor".into());
    }
    Ok(IdpMetadata {
        entity_id,
        sso_url,
        signing_certs,
    })
}
