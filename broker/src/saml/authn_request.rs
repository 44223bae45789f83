//! The `<samlp:AuthnRequest>` this SP sends, and its two bindings: HTTP-Redirect (deflate,
//! base64, query string; optionally signed with RSA-SHA256 over the query as the binding
//! specifies) and HTTP-POST (base64 in a form field).

use std::io::Write;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use rsa::pkcs1v15::SigningKey;
use rsa::signature::{SignatureEncoding, Signer};
use rsa::RsaPrivateKey;
use sha2::Sha256;

use super::names::{ASSERTION, BINDING_POST, PROTOCOL, RSA_SHA256};
use super::time::format_instant;

#[derive(Debug, thiserror::Error)]
pub enum AuthnRequestError {
    #[error("deflating the AuthnRequest failed: {0}")]
    Deflate(std::io::Error),
    #[error("the IdP's ssoURL is not a URL: {0}")]
    Url(String),
}

/// One AuthnRequest, ready to be sent by either binding.
pub struct AuthnRequest {
    pub id: String,
    pub xml: String,
}

/// Escapes text for an XML attribute value or element content.
pub fn xml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

impl AuthnRequest {
    /// `id` must be an NCName (we use `_` + a random token).
    pub fn new(
        id: &str,
        now: i64,
        sso_url: &str,
        acs_url: &str,
        entity_issuer: &str,
        name_id_format: &str,
    ) -> Self {
        let xml = format!(
            "<samlp:AuthnRequest xmlns:samlp=\"{PROTOCOL}\" xmlns:saml=\"{ASSERTION}\" \
             ID=\"{id}\" Version=\"2.0\" IssueInstant=\"{instant}\" Destination=\"{dest}\" \
             ProtocolBinding=\"{BINDING_POST}\" AssertionConsumerServiceURL=\"{acs}\">\
             <saml:Issuer>{issuer}</saml:Issuer>\
             <samlp:NameIDPolicy Format=\"{format}\" AllowCreate=\"true\"/>\
             </samlp:AuthnRequest>",
            id = xml_escape(id),
            instant = format_instant(now),
            dest = xml_escape(sso_url),
            acs = xml_escape(acs_url),
            issuer = xml_escape(entity_issuer),
            format = xml_escape(name_id_format),
        );
        AuthnRequest {
            id: id.to_string(),
            xml,
        }
    }

    /// The HTTP-Redirect binding URL: `sso_url?SAMLRequest=…&RelayState=…[&SigAlg=…&Signature=…]`.
    pub fn redirect_url(
        &self,
        sso_url: &str,
        relay_state: &str,
        signing_key: Option<&RsaPrivateKey>,
    ) -> Result<String, AuthnRequestError> {
        let mut deflater =
            flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
        deflater
            .write_all(self.xml.as_bytes())
            .map_err(AuthnRequestError::Deflate)?;
        let deflated = deflater.finish().map_err(AuthnRequestError::Deflate)?;
        let enc = |v: &str| -> String { form_urlencoded::byte_serialize(v.as_bytes()).collect() };
        // The signed octets are exactly the query parameters as sent, in this order (binding §3.4.4.1).
        let mut query = format!(
            "SAMLRequest={}&RelayState={}",
            enc(&STANDARD.encode(deflated)),
            enc(relay_state)
        );
        if let Some(key) = signing_key {
            query.push_str(&format!("&SigAlg={}", enc(RSA_SHA256)));
            let signature = SigningKey::<Sha256>::new(key.clone()).sign(query.as_bytes());
            query.push_str(&format!(
                "&Signature={}",
                enc(&STANDARD.encode(signature.to_bytes()))
            ));
        }
        let url = url::Url::parse(sso_url).map_err(|e| AuthnRequestError::Url(e.to_string()))?;
        let sep = if url.query().is_some() { '&' } else { '?' };
        Ok(format!("{sso_url}{sep}{query}"))
    }

    /// The HTTP-POST binding's `SAMLRequest` field value.
    pub fn post_value(&self) -> String {
        STANDARD.encode(self.xml.as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn request() -> AuthnRequest {
        AuthnRequest::new(
            "_abc",
            60,
            "https://idp.example/sso",
            "https://sp.example/dex/callback",
            "https://sp.example/dex/callback",
            "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent",
        )
    }

    #[test]
    fn redirect_binding_deflates_and_signs_the_query() {
        use rsa::pkcs1v15::VerifyingKey;
        use rsa::signature::Verifier;
        let key = RsaPrivateKey::new(&mut rand::rngs::OsRng, 1024).unwrap();
        let url = request()
            .redirect_url("https://idp.example/sso?x=1", "relay", Some(&key))
            .unwrap();
        let parsed = url::Url::parse(&url).unwrap();
        let q: Vec<(String, String)> = parsed.query_pairs().into_owned().collect();
        assert_eq!(q[0], ("x".into(), "1".into()));
        let deflated = STANDARD.decode(&q[1].1).unwrap();
        let mut xml = String::new();
        flate2::read::DeflateDecoder::new(&deflated[..])
            .read_to_string(&mut xml)
            .unwrap();
        assert_eq!(xml, request().xml);
        assert!(
            xml.contains("ID=\"_abc\"") && xml.contains("IssueInstant=\"1970-01-01T00:01:00Z\"")
        );
        assert_eq!(q[2], ("RelayState".into(), "relay".into()));
        assert_eq!(q[3].1, RSA_SHA256);
        let signed = &url[url.find("SAMLRequest").unwrap()..url.find("&Signature=").unwrap()];
        let sig = rsa::pkcs1v15::Signature::try_from(STANDARD.decode(&q[4].1).unwrap().as_slice())
            .unwrap();
        VerifyingKey::<Sha256>::new(key.to_public_key())
            .verify(signed.as_bytes(), &sig)
            .unwrap();
    }

    #[test]
    fn values_are_escaped() {
        let r = AuthnRequest::new(
            "_a",
            0,
            "https://i/?a=1&b=\"2\"",
            "https://s/cb",
            "x<y",
            "f",
        );
        assert!(r
            .xml
            .contains("Destination=\"https://i/?a=1&amp;b=&quot;2&quot;\""));
        assert!(r.xml.contains("<saml:Issuer>x&lt;y</saml:Issuer>"));
        assert!(uppsala::parse(&r.xml).is_ok());
    }
}
