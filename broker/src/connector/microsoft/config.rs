//! `type: microsoft` connector config: Dex's keys, same meanings, checked at start.

use serde::Deserialize;

use crate::config::{check_url, parse_block, ConfigError, Shape};
use crate::connector::upstream_oauth2::OAuth2Client;

const DEFAULT_API_URL: &str = "https://login.microsoftonline.com";
const DEFAULT_GRAPH_URL: &str = "https://graph.microsoft.com";

/// Dex's keys; keys are matched case-insensitively like the rest of the file.
pub const SHAPE: Shape = Shape::Object(&[
    ("clientID", Shape::Scalar),
    ("clientSecret", Shape::Scalar),
    ("redirectURI", Shape::Scalar),
    ("tenant", Shape::Scalar),
    ("groups", Shape::List(&Shape::Scalar)),
    ("onlySecurityGroups", Shape::Scalar),
    ("useGroupsAsWhitelist", Shape::Scalar),
    ("groupNameFormat", Shape::Scalar),
    ("emailToLowercase", Shape::Scalar),
    ("apiURL", Shape::Scalar),
    ("graphURL", Shape::Scalar),
    ("promptType", Shape::Scalar),
    ("domainHint", Shape::Scalar),
    ("scopes", Shape::List(&Shape::Scalar)),
    ("preferredUsernameField", Shape::Scalar),
]);

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    #[serde(rename = "clientID")]
    client_id: Option<String>,
    #[serde(rename = "clientSecret")]
    client_secret: Option<String>,
    #[serde(rename = "redirectURI")]
    redirect_uri: Option<String>,
    tenant: Option<String>,
    groups: Option<Vec<String>>,
    #[serde(rename = "onlySecurityGroups")]
    only_security_groups: Option<bool>,
    #[serde(rename = "useGroupsAsWhitelist")]
    use_groups_as_whitelist: Option<bool>,
    #[serde(rename = "groupNameFormat")]
    group_name_format: Option<String>,
    #[serde(rename = "emailToLowercase")]
    email_to_lowercase: Option<bool>,
    #[serde(rename = "apiURL")]
    api_url: Option<String>,
    #[serde(rename = "graphURL")]
    graph_url: Option<String>,
    #[serde(rename = "promptType")]
    prompt_type: Option<String>,
    #[serde(rename = "domainHint")]
    domain_hint: Option<String>,
    scopes: Option<Vec<String>>,
    #[serde(rename = "preferredUsernameField")]
    preferred_username_field: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupNameFormat {
    /// Group display names (Dex's default), looked up with getByIds.
    Name,
    /// Object ids as Graph returns them.
    Id,
}

/// Which `/me` field becomes `preferred_username` (Dex's `preferredUsernameField`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PreferredUsernameField {
    Name,
    Email,
    MailNickname,
    OnPremisesSamAccountName,
}

#[derive(Debug, Clone)]
pub struct MicrosoftConfig {
    pub client: OAuth2Client,
    pub tenant: String,
    pub groups: Vec<String>,
    pub only_security_groups: bool,
    pub use_groups_as_whitelist: bool,
    pub group_name_format: GroupNameFormat,
    pub email_to_lowercase: bool,
    pub api_url: String,
    pub graph_url: String,
    pub prompt_type: Option<String>,
    pub domain_hint: Option<String>,
    /// Empty: Dex's default (`user.read`, plus `directory.read.all` when groups are needed).
    pub scopes: Vec<String>,
    pub preferred_username_field: Option<PreferredUsernameField>,
}

/// Tenants that are not one organisation: group membership there is not an organisation's.
pub fn is_multi_tenant(tenant: &str) -> bool {
    matches!(
        tenant.to_ascii_lowercase().as_str(),
        "common" | "organizations" | "consumers"
    )
}

pub fn parse(value: &serde_json::Value, path: &str) -> Result<MicrosoftConfig, ConfigError> {
    let raw: Raw = parse_block(value, &SHAPE, path)?;
    let key = |k: &str| format!("{path}.{k}");
    let client = OAuth2Client::from_keys(path, raw.client_id, raw.client_secret, raw.redirect_uri)?;
    let tenant = raw
        .tenant
        .filter(|t| !t.trim().is_empty())
        .unwrap_or_else(|| "common".into());
    if !tenant
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'))
    {
        return Err(ConfigError::key(
            key("tenant"),
            format!("{tenant:?} is not a tenant id, domain, common, organizations or consumers"),
        ));
    }
    let groups = raw.groups.unwrap_or_default();
    if !groups.is_empty() && is_multi_tenant(&tenant) {
        // Dex silently skips the group check for these tenants; letting everyone in is worse
        // than refusing to start.
        return Err(ConfigError::key(
            key("groups"),
            format!("cannot be enforced with tenant {tenant:?}: group membership is only defined within one organisation; set tenant to your tenant id (or domain), or remove groups"),
        ));
    }
    let group_name_format = match raw
        .group_name_format
        .as_deref()
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        None | Some("") | Some("name") => GroupNameFormat::Name,
        Some("id") => GroupNameFormat::Id,
        Some(other) => {
            return Err(ConfigError::key(
                key("groupNameFormat"),
                format!("{other:?} is not one of \"name\", \"id\""),
            ))
        }
    };
    let preferred_username_field = match raw.preferred_username_field.as_deref() {
        None | Some("") => None,
        Some("name") => Some(PreferredUsernameField::Name),
        Some("email") => Some(PreferredUsernameField::Email),
        Some("mailNickname") => Some(PreferredUsernameField::MailNickname),
        Some("onPremisesSamAccountName") => Some(PreferredUsernameField::OnPremisesSamAccountName),
        Some(other) => {
            return Err(ConfigError::key(
                key("preferredUsernameField"),
                format!("{other:?} is not one of \"name\", \"email\", \"mailNickname\", \"onPremisesSamAccountName\""),
            ))
        }
    };
    let api_url = base_url(raw.api_url, DEFAULT_API_URL, &key("apiURL"))?;
    let graph_url = base_url(raw.graph_url, DEFAULT_GRAPH_URL, &key("graphURL"))?;
    Ok(MicrosoftConfig {
        client,
        tenant,
        groups,
        only_security_groups: raw.only_security_groups.unwrap_or(false),
        use_groups_as_whitelist: raw.use_groups_as_whitelist.unwrap_or(false),
        group_name_format,
        email_to_lowercase: raw.email_to_lowercase.unwrap_or(false),
        api_url,
        graph_url,
        prompt_type: raw.prompt_type.filter(|s| !s.is_empty()),
        domain_hint: raw.domain_hint.filter(|s| !s.is_empty()),
        scopes: raw.scopes.unwrap_or_default(),
        preferred_username_field,
    })
}

fn base_url(raw: Option<String>, default: &str, key: &str) -> Result<String, ConfigError> {
    match raw.filter(|s| !s.trim().is_empty()) {
        None => Ok(default.to_string()),
        Some(u) => {
            check_url(&u, key)?;
            Ok(u.trim_end_matches('/').to_string())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn base() -> serde_json::Value {
        json!({"clientID": "c", "clientSecret": "s", "redirectURI": "https://x/dex/callback", "tenant": "contoso.onmicrosoft.com"})
    }

    #[test]
    fn defaults_follow_dex() {
        let c = parse(&base(), "connectors[0].config").unwrap();
        assert_eq!(c.api_url, DEFAULT_API_URL);
        assert_eq!(c.graph_url, DEFAULT_GRAPH_URL);
        assert_eq!(c.group_name_format, GroupNameFormat::Name);
        assert!(!c.email_to_lowercase && !c.only_security_groups && !c.use_groups_as_whitelist);
        let mut v = base();
        v.as_object_mut().unwrap().remove("tenant");
        assert_eq!(parse(&v, "p").unwrap().tenant, "common");
    }

    #[test]
    fn keys_are_case_insensitive_and_unknown_ones_refused_by_name() {
        let v = json!({"CLIENTID": "c", "clientsecret": "s", "redirectUri": "https://x/cb", "Tenant": "t1", "emailtolowercase": true});
        assert!(parse(&v, "p").unwrap().email_to_lowercase);
        let mut v = base();
        v["groupsFormat"] = json!("id");
        let err = parse(&v, "connectors[1].config").unwrap_err().to_string();
        assert!(err.contains("connectors[1].config.groupsFormat"), "{err}");
    }

    #[test]
    fn common_tenant_with_groups_is_refused_with_a_reason() {
        let mut v = base();
        v["tenant"] = json!("common");
        v["groups"] = json!(["admin"]);
        let err = parse(&v, "connectors[0].config").unwrap_err().to_string();
        assert!(err.contains("connectors[0].config.groups"), "{err}");
        assert!(err.contains("tenant id"), "{err}");
        let mut v = base();
        v["groups"] = json!(["admin"]);
        assert_eq!(parse(&v, "p").unwrap().groups, vec!["admin"]);
    }

    #[test]
    fn bad_values_are_named() {
        for (k, bad) in [
            ("groupNameFormat", json!("upn")),
            ("preferredUsernameField", json!("x")),
            ("apiURL", json!("not a url")),
            ("tenant", json!("a/b")),
        ] {
            let mut v = base();
            v[k] = bad;
            let err = parse(&v, "p").unwrap_err().to_string();
            assert!(err.contains(&format!("p.{k}")), "{err}");
        }
        let mut v = base();
        v.as_object_mut().unwrap().remove("clientSecret");
        assert!(parse(&v, "p")
            .unwrap_err()
            .to_string()
            .contains("p.clientSecret"));
    }

    #[test]
    fn secret_is_not_printed() {
        let c = parse(&base(), "p").unwrap();
        assert!(!format!("{c:?}").contains("\"s\""));
    }
}
