//! This SP's metadata (`EntityDescriptor`), for IdP administrators.

use super::authn_request::xml_escape;
use super::names::{BINDING_POST, DSIG, METADATA, PROTOCOL};
use super::pem::pem_body;

pub fn sp_metadata(
    entity_id: &str,
    acs_url: &str,
    name_id_format: &str,
    signing_cert_pem: Option<&str>,
) -> String {
    let key = signing_cert_pem
        .map(|pem| {
            format!(
                "<md:KeyDescriptor use=\"signing\"><ds:KeyInfo xmlns:ds=\"{DSIG}\"><ds:X509Data>\
                 <ds:X509Certificate>{}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>",
                pem_body(pem)
            )
        })
        .unwrap_or_default();
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <md:EntityDescriptor xmlns:md=\"{METADATA}\" entityID=\"{entity}\">\
         <md:SPSSODescriptor AuthnRequestsSigned=\"{signed}\" WantAssertionsSigned=\"true\" \
         protocolSupportEnumeration=\"{PROTOCOL}\">{key}\
         <md:NameIDFormat>{format}</md:NameIDFormat>\
         <md:AssertionConsumerService Binding=\"{BINDING_POST}\" Location=\"{acs}\" index=\"0\" isDefault=\"true\"/>\
         </md:SPSSODescriptor></md:EntityDescriptor>\n",
        entity = xml_escape(entity_id),
        signed = signing_cert_pem.is_some(),
        format = xml_escape(name_id_format),
        acs = xml_escape(acs_url),
    )
}
