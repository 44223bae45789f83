//! The `saml` connector: SP-initiated login against a SAML 2.0 IdP. The protocol work is in
//! [`crate::saml`]; this maps a validated assertion to an [`Identity`] and applies the group
//! rules (`groupsAttr`, `groupsDelim`, `allowedGroups`, `filterGroups`).

pub mod config;
#[cfg(test)]
mod config_tests;

use std::sync::Arc;

use rsa::RsaPrivateKey;

pub use self::config::{AuthnBinding, SamlConfig, SamlSigningKey};
use super::types::{BuiltConnector, ConnectorSettings, ConnectorType, ParseContext};
use super::{Connector, Identity, UpstreamClient};
use crate::config::{ConfigError, ConnectorEntry};
use crate::random::random_token;
use crate::saml::response::decode_posted;
use crate::saml::{
    load_rsa_private_key, sp_metadata, validate_response, AuthnRequest, Expectations,
    ResponseError, TrustedCerts, ValidAssertion,
};

/// `type: saml`.
pub const TYPE: ConnectorType = ConnectorType {
    name: "saml",
    parse: parse_settings,
};

fn parse_settings(
    entry: &ConnectorEntry,
    context: &ParseContext,
) -> Result<Box<dyn ConnectorSettings>, ConfigError> {
    let path = entry.key("config");
    let config = config::parse(
        &entry.config,
        &path,
        &context.callback_url,
        context.read_file,
    )?;
    Ok(Box::new(config))
}

impl ConnectorSettings for SamlConfig {
    fn build(&self, id: &str, name: &str, _: &UpstreamClient) -> BuiltConnector {
        Ok(Arc::new(SamlConnector::new(id, name, self.clone())?))
    }

    fn warnings(&self) -> Vec<String> {
        if self.insecure_skip_signature_validation {
            vec!["insecureSkipSignatureValidation is on: anyone can sign in as anyone through this connector".into()]
        } else {
            Vec::new()
        }
    }
}

/// Clock difference tolerated with the IdP.
pub const CLOCK_SKEW_SECS: i64 = 60;

/// How the browser is sent to the IdP.
pub enum SamlStart {
    Redirect(String),
    /// A form the browser posts to `url`.
    Post {
        url: String,
        saml_request: String,
        relay_state: String,
    },
}

/// Why a posted response gave no identity.
#[derive(Debug, thiserror::Error)]
pub enum SamlLoginError {
    #[error("{0}")]
    Response(#[from] ResponseError),
    #[error("attribute {0:?} (configured as {1}) is missing from the assertion")]
    MissingAttribute(String, &'static str),
    #[error("user is in none of the allowedGroups")]
    NotInAllowedGroups,
    #[error("building the AuthnRequest failed: {0}")]
    Request(String),
}

/// A verified sign-in: who, and the assertion's ID and lifetime for the replay cache.
#[derive(Debug)]
pub struct SamlLogin {
    pub identity: Identity,
    pub assertion_id: String,
    pub assertion_expires_at: i64,
}

pub struct SamlConnector {
    id: String,
    name: String,
    config: SamlConfig,
    trusted: TrustedCerts,
    signing_key: Option<RsaPrivateKey>,
}

impl SamlConnector {
    pub fn new(id: &str, name: &str, config: SamlConfig) -> Result<Self, String> {
        let signing_key = match &config.signing_key {
            Some(k) => Some(load_rsa_private_key(k.key_pem.expose())?),
            None => None,
        };
        if config.insecure_skip_signature_validation {
            tracing::warn!(
                connector = %id,
                "insecureSkipSignatureValidation is ON: SAML response signatures are NOT checked; anyone can sign in as anyone through this connector. Never use this outside a test."
            );
        }
        Ok(SamlConnector {
            id: id.to_string(),
            name: name.to_string(),
            trusted: TrustedCerts::new(config.trusted_certs.clone()),
            config,
            signing_key,
        })
    }

    /// A new AuthnRequest and the way to send it. Its ID (an NCName) is returned and also
    /// travels as the `RelayState`, which ties the response to the stored request.
    pub fn start(&self, now: i64) -> Result<(String, SamlStart), SamlLoginError> {
        let id = format!("_{}", random_token());
        let request = AuthnRequest::new(
            &id,
            now,
            &self.config.sso_url,
            &self.config.redirect_uri,
            &self.config.entity_issuer,
            &self.config.name_id_policy_format,
        );
        let start = match self.config.binding {
            AuthnBinding::Redirect => request
                .redirect_url(&self.config.sso_url, &id, self.signing_key.as_ref())
                .map(SamlStart::Redirect)
                .map_err(|e| SamlLoginError::Request(e.to_string()))?,
            AuthnBinding::Post => SamlStart::Post {
                url: self.config.sso_url.clone(),
                saml_request: request.post_value(),
                relay_state: id.clone(),
            },
        };
        Ok((id, start))
    }

    /// Validates a posted `SAMLResponse` answering AuthnRequest `request_id`.
    pub fn finish(
        &self,
        posted: &str,
        request_id: &str,
        now: i64,
    ) -> Result<SamlLogin, SamlLoginError> {
        let bytes = decode_posted(posted)?;
        let expectations = Expectations {
            request_id,
            acs_url: &self.config.redirect_uri,
            entity_issuer: &self.config.entity_issuer,
            sso_issuer: self.config.sso_issuer.as_deref(),
            now,
            skew: CLOCK_SKEW_SECS,
            skip_signature: self.config.insecure_skip_signature_validation,
        };
        let assertion = validate_response(&bytes, &self.trusted, &expectations)?;
        let identity = self.identity(&assertion)?;
        Ok(SamlLogin {
            identity,
            assertion_id: assertion.assertion_id,
            assertion_expires_at: assertion.expires_at,
        })
    }

    /// NameID is the user id; username and e-mail from the configured attributes; groups from
    /// every value of `groupsAttr` (or one value split by `groupsDelim`).
    pub fn identity(&self, a: &ValidAssertion) -> Result<Identity, SamlLoginError> {
        let first = |name: &str, key: &'static str| {
            a.values(name)
                .first()
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
                .ok_or_else(|| SamlLoginError::MissingAttribute(name.to_string(), key))
        };
        let username = first(&self.config.username_attr, "usernameAttr")?;
        let email = first(&self.config.email_attr, "emailAttr")?;
        let mut groups: Vec<String> = match &self.config.groups_attr {
            None => Vec::new(),
            Some(attr) => {
                let values = a.values(attr);
                match (&self.config.groups_delim, values.as_slice()) {
                    (Some(delim), [one]) => one.split(delim.as_str()).map(str::to_string).collect(),
                    _ => values.into_iter().map(str::to_string).collect(),
                }
            }
        };
        groups.retain(|g| !g.trim().is_empty());
        if !self.config.allowed_groups.is_empty() {
            if !groups
                .iter()
                .any(|g| self.config.allowed_groups.contains(g))
            {
                return Err(SamlLoginError::NotInAllowedGroups);
            }
            if self.config.filter_groups {
                groups.retain(|g| self.config.allowed_groups.contains(g));
            }
        }
        Ok(Identity {
            user_id: a.name_id.clone(),
            preferred_username: username.clone(),
            username,
            email,
            // As Dex: the IdP vouches for the address.
            email_verified: true,
            groups,
            // Nothing to keep: SAML has no upstream refresh (as Dex, the refresh re-uses the
            // identity from the login).
            connector_data: None,
        })
    }

    /// The SP metadata document.
    pub fn metadata(&self) -> String {
        sp_metadata(
            &self.config.entity_issuer,
            &self.config.redirect_uri,
            &self.config.name_id_policy_format,
            self.config
                .signing_key
                .as_ref()
                .and_then(|k| k.cert_pem.as_deref()),
        )
    }
}

impl Connector for SamlConnector {
    fn id(&self) -> &str {
        &self.id
    }

    fn name(&self) -> &str {
        &self.name
    }

    fn saml(&self) -> Option<&SamlConnector> {
        Some(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn connector(edit: impl FnOnce(&mut SamlConfig)) -> SamlConnector {
        let mut config = SamlConfig {
            sso_url: "https://idp/sso".into(),
            trusted_certs: vec![],
            entity_issuer: "https://sp/dex/callback".into(),
            sso_issuer: None,
            redirect_uri: "https://sp/dex/callback".into(),
            username_attr: "uid".into(),
            email_attr: "mail".into(),
            groups_attr: Some("groups".into()),
            groups_delim: None,
            allowed_groups: vec![],
            filter_groups: false,
            name_id_policy_format: "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent".into(),
            insecure_skip_signature_validation: false,
            signing_key: None,
            binding: AuthnBinding::Redirect,
        };
        edit(&mut config);
        SamlConnector::new("corp", "Corp", config).unwrap()
    }

    fn assertion(groups: &[&str]) -> ValidAssertion {
        ValidAssertion {
            assertion_id: "_a".into(),
            name_id: "nid-1".into(),
            attributes: vec![
                ("uid".into(), vec!["carol".into()]),
                ("mail".into(), vec!["carol@corp.example".into()]),
                (
                    "groups".into(),
                    groups.iter().map(|g| g.to_string()).collect(),
                ),
            ],
            expires_at: 0,
        }
    }

    #[test]
    fn identity_from_name_id_and_attributes_with_every_group_value() {
        let id = connector(|_| {})
            .identity(&assertion(&["admins", "developers"]))
            .unwrap();
        assert_eq!(id.user_id, "nid-1");
        assert_eq!(id.username, "carol");
        assert_eq!(id.preferred_username, "carol");
        assert_eq!(id.email, "carol@corp.example");
        assert!(id.email_verified);
        assert_eq!(id.groups, vec!["admins", "developers"]);
    }

    #[test]
    fn one_value_split_by_groups_delim() {
        let c = connector(|c| c.groups_delim = Some(";".into()));
        let id = c.identity(&assertion(&["admins;developers"])).unwrap();
        assert_eq!(id.groups, vec!["admins", "developers"]);
    }

    #[test]
    fn allowed_groups_enforced_and_filtered() {
        let c = connector(|c| c.allowed_groups = vec!["admins".into()]);
        assert!(matches!(
            c.identity(&assertion(&["contractors"])),
            Err(SamlLoginError::NotInAllowedGroups)
        ));
        assert_eq!(
            c.identity(&assertion(&["admins", "x"])).unwrap().groups,
            vec!["admins", "x"]
        );
        let c = connector(|c| {
            c.allowed_groups = vec!["admins".into()];
            c.filter_groups = true;
        });
        assert_eq!(
            c.identity(&assertion(&["admins", "x"])).unwrap().groups,
            vec!["admins"]
        );
    }

    #[test]
    fn missing_attributes_are_named() {
        let c = connector(|c| c.email_attr = "email".into());
        let e = c.identity(&assertion(&[])).unwrap_err().to_string();
        assert!(e.contains("\"email\"") && e.contains("emailAttr"), "{e}");
    }

    #[test]
    fn start_uses_the_configured_binding_and_relay_state() {
        let (id, start) = connector(|_| {}).start(0).unwrap();
        assert!(id.starts_with('_'));
        let SamlStart::Redirect(url) = start else {
            panic!("redirect expected")
        };
        assert!(url.starts_with("https://idp/sso?SAMLRequest="));
        assert!(url.contains(&format!("RelayState={id}")));
        let (id, start) = connector(|c| c.binding = AuthnBinding::Post)
            .start(0)
            .unwrap();
        let SamlStart::Post {
            url,
            saml_request,
            relay_state,
        } = start
        else {
            panic!("post expected")
        };
        assert_eq!(
            (url.as_str(), relay_state.as_str()),
            ("https://idp/sso", id.as_str())
        );
        assert!(!saml_request.is_empty());
        assert!(connector(|_| {})
            .metadata()
            .contains("Location=\"https://sp/dex/callback\""));
    }
}
