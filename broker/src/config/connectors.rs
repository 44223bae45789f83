//! The `connectors:` list: common keys (`type`, `id`, `name`) here, each type's `config` in its
//! connector module (keys matched case-insensitively, unknown keys refused by name).

use std::collections::HashSet;

use serde::de::DeserializeOwned;

use super::error::ConfigError;
use super::raw::RawConnector;
use super::saml::{saml_config, ReadFile, SamlConfig};
use super::schema::{normalize, Shape};
use crate::connector::{microsoft, oidc};

/// One configured upstream connector.
#[derive(Debug, Clone)]
pub struct ConnectorConfig {
    /// Used in URLs (`/auth/{id}`) and in `sub`.
    pub id: String,
    /// Shown on the chooser.
    pub name: String,
    pub kind: ConnectorKind,
}

#[derive(Debug, Clone)]
pub enum ConnectorKind {
    Microsoft(microsoft::config::MicrosoftConfig),
    Oidc(oidc::config::OidcConfig),
    Saml(Box<SamlConfig>),
}

/// Normalises a connector's `config` against its shape and deserialises it; errors name the
/// full key path (`connectors[1].config.tenant`).
pub(crate) fn parse_connector_config<T: DeserializeOwned>(
    value: &serde_json::Value,
    shape: &Shape,
    path: &str,
) -> Result<T, ConfigError> {
    let value = match value {
        serde_json::Value::Null => serde_json::Value::Object(Default::default()),
        v => v.clone(),
    };
    let normalized = normalize(&value, shape, path)?;
    serde_path_to_error::deserialize(normalized)
        .map_err(|e| ConfigError::key(format!("{path}.{}", e.path()), e.inner().to_string()))
}

/// Every configured connector, checked; `local` is reserved when the password DB is on.
pub fn connectors(
    raw: Vec<RawConnector>,
    enable_password_db: bool,
    issuer: &super::Issuer,
    read_file: ReadFile,
) -> Result<Vec<ConnectorConfig>, ConfigError> {
    let mut seen = HashSet::new();
    if enable_password_db {
        seen.insert(crate::connector::local::LOCAL_CONNECTOR_ID.to_string());
    }
    let mut out = Vec::with_capacity(raw.len());
    for (i, c) in raw.into_iter().enumerate() {
        let at = |key: &str| format!("connectors[{i}].{key}");
        let kind = c
            .kind
            .filter(|k| !k.is_empty())
            .ok_or_else(|| ConfigError::key(at("type"), "missing"))?;
        let id =
            c.id.filter(|k| !k.is_empty())
                .ok_or_else(|| ConfigError::key(at("id"), "missing"))?;
        // The id goes into URL paths and into `sub`: keep it to URL-safe characters.
        if !id
            .chars()
            .all(|ch| ch.is_ascii_alphanumeric() || matches!(ch, '-' | '_' | '.'))
        {
            return Err(ConfigError::key(
                at("id"),
                format!("{id:?} may only contain letters, digits, '-', '_' and '.'"),
            ));
        }
        if !seen.insert(id.clone()) {
            return Err(ConfigError::key(
                at("id"),
                format!("{id:?} is used twice (\"local\" is the password database's)"),
            ));
        }
        let name = c
            .name
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| id.clone());
        let config = c.config.unwrap_or(serde_json::Value::Null);
        let path = at("config");
        let settings = match kind.to_ascii_lowercase().as_str() {
            "microsoft" => ConnectorKind::Microsoft(microsoft::config::parse(&config, &path)?),
            "oidc" => ConnectorKind::Oidc(oidc::config::parse(&config, &path)?),
            "saml" => ConnectorKind::Saml(Box::new(saml_config(
                &path,
                Some(&config).filter(|c| !c.is_null()),
                &issuer.endpoint("/callback"),
                read_file,
            )?)),
            _ => {
                return Err(ConfigError::key(
                    at("type"),
                    format!(
                    "connector type {kind:?} is not supported (supported: microsoft, oidc, saml)"
                ),
                ))
            }
        };
        out.push(ConnectorConfig {
            id,
            name,
            kind: settings,
        });
    }
    if out.is_empty() && !enable_password_db {
        return Err(ConfigError::key(
            "connectors",
            "no connector configured: set enablePasswordDB: true (with staticPasswords) or add a connector",
        ));
    }
    Ok(out)
}
