//! The `saml` connector's `config` block: Dex's keys, plus certificate rotation, a signing key
//! for AuthnRequests, the POST binding and IdP metadata. Files are read here, so a bad path or
//! certificate stops the broker at start with the key named.

use serde::Deserialize;

use crate::config::{parse_block, ConfigError, ReadFile, Shape};
use crate::saml::{idp_metadata, pem_blocks};
use crate::secret::Secret;

pub const SAML_CONFIG: Shape = Shape::Object(&[
    ("ssoURL", Shape::Scalar),
    ("ca", Shape::Scalar),
    ("caData", Shape::Scalar),
    ("caFiles", Shape::List(&Shape::Scalar)),
    ("entityIssuer", Shape::Scalar),
    ("ssoIssuer", Shape::Scalar),
    ("redirectURI", Shape::Scalar),
    ("usernameAttr", Shape::Scalar),
    ("emailAttr", Shape::Scalar),
    ("groupsAttr", Shape::Scalar),
    ("groupsDelim", Shape::Scalar),
    ("allowedGroups", Shape::List(&Shape::Scalar)),
    ("filterGroups", Shape::Scalar),
    ("nameIDPolicyFormat", Shape::Scalar),
    ("insecureSkipSignatureValidation", Shape::Scalar),
    ("authnRequestSigningKey", Shape::Scalar),
    ("authnRequestSigningCert", Shape::Scalar),
    ("authnRequestBinding", Shape::Scalar),
    ("idpMetadataFile", Shape::Scalar),
    (
        "idpMetadataURL",
        Shape::Unsupported("fetching IdP metadata over the network is not supported yet: download it and use idpMetadataFile"),
    ),
]);

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSaml {
    #[serde(rename = "ssoURL")]
    sso_url: Option<String>,
    ca: Option<String>,
    #[serde(rename = "caData")]
    ca_data: Option<String>,
    #[serde(rename = "caFiles")]
    ca_files: Option<Vec<String>>,
    #[serde(rename = "entityIssuer")]
    entity_issuer: Option<String>,
    #[serde(rename = "ssoIssuer")]
    sso_issuer: Option<String>,
    #[serde(rename = "redirectURI")]
    redirect_uri: Option<String>,
    #[serde(rename = "usernameAttr")]
    username_attr: Option<String>,
    #[serde(rename = "emailAttr")]
    email_attr: Option<String>,
    #[serde(rename = "groupsAttr")]
    groups_attr: Option<String>,
    #[serde(rename = "groupsDelim")]
    groups_delim: Option<String>,
    #[serde(rename = "allowedGroups")]
    allowed_groups: Option<Vec<String>>,
    #[serde(rename = "filterGroups")]
    filter_groups: Option<bool>,
    #[serde(rename = "nameIDPolicyFormat")]
    name_id_policy_format: Option<String>,
    #[serde(rename = "insecureSkipSignatureValidation")]
    insecure_skip_signature_validation: Option<bool>,
    #[serde(rename = "authnRequestSigningKey")]
    authn_request_signing_key: Option<String>,
    #[serde(rename = "authnRequestSigningCert")]
    authn_request_signing_cert: Option<String>,
    #[serde(rename = "authnRequestBinding")]
    authn_request_binding: Option<String>,
    #[serde(rename = "idpMetadataFile")]
    idp_metadata_file: Option<String>,
}

/// How the AuthnRequest travels to the IdP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthnBinding {
    /// Deflated into the query string of a 302 (default, as Dex).
    Redirect,
    /// Base64 in a form the browser posts.
    Post,
}

/// The SP's key for signing AuthnRequests (HTTP-Redirect binding: RSA-SHA256 over the query).
#[derive(Debug, Clone)]
pub struct SamlSigningKey {
    pub key_pem: Secret,
    /// Published in the SP metadata so the IdP can check the signatures.
    pub cert_pem: Option<String>,
}

#[derive(Debug, Clone)]
pub struct SamlConfig {
    pub sso_url: String,
    /// PEM certificates whose keys may sign responses (several: rotation).
    pub trusted_certs: Vec<String>,
    pub entity_issuer: String,
    pub sso_issuer: Option<String>,
    /// The Assertion Consumer Service URL: `{issuer}/callback`.
    pub redirect_uri: String,
    pub username_attr: String,
    pub email_attr: String,
    pub groups_attr: Option<String>,
    pub groups_delim: Option<String>,
    pub allowed_groups: Vec<String>,
    pub filter_groups: bool,
    /// Full URN.
    pub name_id_policy_format: String,
    pub insecure_skip_signature_validation: bool,
    pub signing_key: Option<SamlSigningKey>,
    pub binding: AuthnBinding,
}

const NAME_ID_FORMATS: &[(&str, &str)] = &[
    (
        "persistent",
        "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent",
    ),
    (
        "transient",
        "urn:oasis:names:tc:SAML:2.0:nameid-format:transient",
    ),
    (
        "emailAddress",
        "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress",
    ),
    (
        "unspecified",
        "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified",
    ),
    (
        "X509SubjectName",
        "urn:oasis:names:tc:SAML:1.1:nameid-format:X509SubjectName",
    ),
    (
        "WindowsDomainQualifiedName",
        "urn:oasis:names:tc:SAML:1.1:nameid-format:WindowsDomainQualifiedName",
    ),
    (
        "kerberos",
        "urn:oasis:names:tc:SAML:2.0:nameid-format:kerberos",
    ),
    ("entity", "urn:oasis:names:tc:SAML:2.0:nameid-format:entity"),
];

/// Reads a file named by config key `at`.
fn read(at: &str, path: &str, read_file: ReadFile) -> Result<String, ConfigError> {
    read_file(path).map_err(|e| ConfigError::key(at, format!("cannot read {path:?}: {e}")))
}

/// Checks every certificate in `pem` parses; returns them one PEM block each.
fn certificates(at: &str, pem: &str) -> Result<Vec<String>, ConfigError> {
    let blocks = pem_blocks(pem, "CERTIFICATE");
    if blocks.is_empty() {
        return Err(ConfigError::key(at, "contains no PEM certificate"));
    }
    for block in &blocks {
        bergshamra_keys::loader::load_x509_cert_pem(block.as_bytes())
            .map_err(|e| ConfigError::key(at, format!("not a usable X.509 certificate: {e}")))?;
    }
    Ok(blocks)
}

fn non_empty(s: Option<String>) -> Option<String> {
    s.filter(|v| !v.trim().is_empty())
}

fn absolute_url(at: &str, text: &str) -> Result<(), ConfigError> {
    let url = url::Url::parse(text)
        .map_err(|e| ConfigError::key(at, format!("{text:?} is not an absolute URL ({e})")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(ConfigError::key(at, format!("{text:?} must be http(s)")));
    }
    Ok(())
}

/// Validates `connectors[i].config` of a `type: saml` connector. `acs_url` is `{issuer}/callback`.
pub fn parse(
    value: &serde_json::Value,
    path: &str,
    acs_url: &str,
    read_file: ReadFile,
) -> Result<SamlConfig, ConfigError> {
    let raw: RawSaml = parse_block(value, &SAML_CONFIG, path)?;
    let at = |k: &str| format!("{path}.{k}");

    let metadata = match non_empty(raw.idp_metadata_file) {
        None => None,
        Some(file) => {
            let text = read(&at("idpMetadataFile"), &file, read_file)?;
            Some(idp_metadata(&text).map_err(|e| ConfigError::key(at("idpMetadataFile"), e))?)
        }
    };

    let sso_url = match (non_empty(raw.sso_url), &metadata) {
        (Some(u), _) => u,
        (None, Some(m)) => m.sso_url.clone(),
        (None, None) => {
            return Err(ConfigError::key(
                at("ssoURL"),
                "missing: the IdP's single sign-on URL (or give idpMetadataFile)",
            ))
        }
    };
    absolute_url(&at("ssoURL"), &sso_url)?;

    let mut trusted_certs = Vec::new();
    if let Some(file) = non_empty(raw.ca) {
        trusted_certs.extend(certificates(
            &at("ca"),
            &read(&at("ca"), &file, read_file)?,
        )?);
    }
    for (j, file) in raw.ca_files.unwrap_or_default().iter().enumerate() {
        let key = at(&format!("caFiles[{j}]"));
        trusted_certs.extend(certificates(&key, &read(&key, file, read_file)?)?);
    }
    if let Some(data) = non_empty(raw.ca_data) {
        use base64::Engine;
        let compact: String = data.split_whitespace().collect();
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(compact)
            .map_err(|_| ConfigError::key(at("caData"), "is not base64 (of PEM certificates)"))?;
        let pem = String::from_utf8(bytes)
            .map_err(|_| ConfigError::key(at("caData"), "does not decode to PEM text"))?;
        trusted_certs.extend(certificates(&at("caData"), &pem)?);
    }
    if let Some(m) = &metadata {
        trusted_certs.extend(m.signing_certs.iter().cloned());
    }

    let insecure = raw.insecure_skip_signature_validation.unwrap_or(false);
    if trusted_certs.is_empty() && !insecure {
        return Err(ConfigError::key(
            at("caData"),
            "missing: give the IdP's signing certificate(s) with ca, caData, caFiles or idpMetadataFile",
        ));
    }

    let redirect_uri = non_empty(raw.redirect_uri).ok_or_else(|| {
        ConfigError::key(
            at("redirectURI"),
            format!("missing: the Assertion Consumer Service URL, {acs_url}"),
        )
    })?;
    if redirect_uri != acs_url {
        return Err(ConfigError::key(
            at("redirectURI"),
            format!("{redirect_uri:?} must be this broker's callback, {acs_url:?}"),
        ));
    }
    let entity_issuer = non_empty(raw.entity_issuer).unwrap_or_else(|| redirect_uri.clone());
    let sso_issuer = non_empty(raw.sso_issuer).or_else(|| metadata.map(|m| m.entity_id));

    let username_attr = non_empty(raw.username_attr)
        .ok_or_else(|| ConfigError::key(at("usernameAttr"), "missing (as in Dex)"))?;
    let email_attr = non_empty(raw.email_attr)
        .ok_or_else(|| ConfigError::key(at("emailAttr"), "missing (as in Dex)"))?;
    let groups_attr = non_empty(raw.groups_attr);
    let groups_delim = raw.groups_delim.filter(|d| !d.is_empty());
    let allowed_groups = raw.allowed_groups.unwrap_or_default();
    let filter_groups = raw.filter_groups.unwrap_or(false);
    if groups_attr.is_none() {
        for (key, given) in [
            ("groupsDelim", groups_delim.is_some()),
            ("allowedGroups", !allowed_groups.is_empty()),
            ("filterGroups", filter_groups),
        ] {
            if given {
                return Err(ConfigError::key(
                    at(key),
                    "needs groupsAttr: the attribute that carries the groups",
                ));
            }
        }
    }
    if filter_groups && allowed_groups.is_empty() {
        return Err(ConfigError::key(
            at("filterGroups"),
            "needs allowedGroups: the groups to keep",
        ));
    }

    let name_id_policy_format = match non_empty(raw.name_id_policy_format) {
        None => NAME_ID_FORMATS[0].1.to_string(),
        Some(f) => match NAME_ID_FORMATS
            .iter()
            .find(|(short, long)| short.eq_ignore_ascii_case(&f) || *long == f)
        {
            Some((_, long)) => long.to_string(),
            None if f.starts_with("urn:") => f,
            None => {
                return Err(ConfigError::key(
                    at("nameIDPolicyFormat"),
                    format!("{f:?} is not a NameID format (persistent, transient, emailAddress, unspecified, … or a full URN)"),
                ))
            }
        },
    };

    let signing_key = match (
        non_empty(raw.authn_request_signing_key),
        non_empty(raw.authn_request_signing_cert),
    ) {
        (None, None) => None,
        (None, Some(_)) => {
            return Err(ConfigError::key(
                at("authnRequestSigningCert"),
                "given without authnRequestSigningKey",
            ))
        }
        (Some(key_file), cert_file) => {
            let key_at = at("authnRequestSigningKey");
            let pem = read(&key_at, &key_file, read_file)?;
            crate::saml::load_rsa_private_key(&pem).map_err(|e| ConfigError::key(&key_at, e))?;
            let cert_pem = match cert_file {
                None => None,
                Some(file) => {
                    let cert_at = at("authnRequestSigningCert");
                    let mut certs = certificates(&cert_at, &read(&cert_at, &file, read_file)?)?;
                    if certs.len() != 1 {
                        return Err(ConfigError::key(
                            cert_at,
                            "must hold exactly one certificate",
                        ));
                    }
                    certs.pop()
                }
            };
            Some(SamlSigningKey {
                key_pem: Secret::new(pem),
                cert_pem,
            })
        }
    };

    let binding = match raw
        .authn_request_binding
        .as_deref()
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        None | Some("redirect") | Some("http-redirect") => AuthnBinding::Redirect,
        Some("post") | Some("http-post") => AuthnBinding::Post,
        Some(other) => {
            return Err(ConfigError::key(
                at("authnRequestBinding"),
                format!("{other:?} is not redirect or post"),
            ))
        }
    };
    if binding == AuthnBinding::Post && signing_key.is_some() {
        return Err(ConfigError::key(
            at("authnRequestSigningKey"),
            "signed AuthnRequests are supported with the redirect binding only",
        ));
    }

    Ok(SamlConfig {
        sso_url,
        trusted_certs,
        entity_issuer,
        sso_issuer,
        redirect_uri,
        username_attr,
        email_attr,
        groups_attr,
        groups_delim,
        allowed_groups,
        filter_groups,
        name_id_policy_format,
        insecure_skip_signature_validation: insecure,
        signing_key,
        binding,
    })
}
