//! The `connectors:` list as this module sees it: the common keys (`type`, `id`, `name`)
//! checked here, each entry's `config:` block kept as written for its connector type to read
//! (`crate::connector::types` maps `type:` to the code that owns the block).

use std::collections::HashSet;

use super::error::ConfigError;
use super::grant_types::{GrantType, DEVICE_CODE, TOKEN_EXCHANGE};
use super::raw::RawConnector;

/// The password database's connector id: no `connectors:` entry may take it while it is on.
pub const LOCAL_CONNECTOR_ID: &str = "local";

/// One configured upstream connector, before its type has read its `config:` block.
#[derive(Debug, Clone)]
pub struct ConnectorEntry {
    /// Used in URLs (`/auth/{id}`) and in `sub`.
    pub id: String,
    /// Shown on the chooser.
    pub name: String,
    /// `type:` as written (types are matched case-insensitively).
    pub kind: String,
    /// The `config:` block as written (its keys not yet normalised); null when absent.
    pub config: serde_json::Value,
    /// Where the entry stands in the file, for error messages: `connectors[2]`.
    pub at: String,
    /// Dex's `grantTypes`: the only grants this connector serves (None: every enabled one).
    pub grant_types: Option<Vec<GrantType>>,
}

impl ConnectorEntry {
    /// The full path of a key of this entry, e.g. `key("config")` is `connectors[2].config`.
    pub fn key(&self, key: &str) -> String {
        format!("{}.{key}", self.at)
    }

    /// Whether this connector serves `grant` (its `grantTypes`, when listed).
    pub fn serves(&self, grant: GrantType) -> bool {
        self.grant_types
            .as_ref()
            .is_none_or(|list| list.contains(&grant))
    }
}

/// A connector's `grantTypes`, Dex's names: the grants a connector takes part in.
/// client_credentials involves no connector, so it is refused here; `implicit` is accepted
/// (Dex allows it) and means nothing, since the broker never serves it. Empty: every grant.
fn connector_grant_types(
    raw: Option<Vec<String>>,
    at: &str,
) -> Result<Option<Vec<GrantType>>, ConfigError> {
    let Some(list) = raw.filter(|l| !l.is_empty()) else {
        return Ok(None);
    };
    let mut out = Vec::new();
    for (j, name) in list.iter().enumerate() {
        let grant =
            match name.as_str() {
                "authorization_code" => GrantType::AuthorizationCode,
                "refresh_token" => GrantType::RefreshToken,
                "password" => GrantType::Password,
                DEVICE_CODE => GrantType::DeviceCode,
                TOKEN_EXCHANGE => GrantType::TokenExchange,
                "implicit" => continue,
                "client_credentials" => return Err(ConfigError::key(
                    format!("{at}.grantTypes[{j}]"),
                    "client_credentials involves no connector; list it in oauth2.grantTypes only",
                )),
                other => {
                    return Err(ConfigError::key(
                        format!("{at}.grantTypes[{j}]"),
                        format!(
                            "{other:?} is not a grant type a connector serves; known: \
                         authorization_code, refresh_token, password, {DEVICE_CODE}, \
                         {TOKEN_EXCHANGE}, implicit"
                        ),
                    ))
                }
            };
        if !out.contains(&grant) {
            out.push(grant);
        }
    }
    Ok(Some(out))
}

/// Every configured connector's common keys, checked; `local` is reserved when the password
/// DB is on.
pub fn connectors(
    raw: Vec<RawConnector>,
    enable_password_db: bool,
) -> Result<Vec<ConnectorEntry>, ConfigError> {
    let mut seen = HashSet::new();
    if enable_password_db {
        seen.insert(LOCAL_CONNECTOR_ID.to_string());
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
        let at = format!("connectors[{i}]");
        out.push(ConnectorEntry {
            id,
            name,
            kind,
            config: c.config.unwrap_or(serde_json::Value::Null),
            grant_types: connector_grant_types(c.grant_types, &at)?,
            at,
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
