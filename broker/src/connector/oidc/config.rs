//! `type: oidc` connector config: Dex's keys, same meanings.

use serde::Deserialize;

use crate::config::{check_url, parse_block, required, ConfigError, Shape};
use crate::connector::upstream_oauth2::OAuth2Client;

const CLAIM_MAPPING: Shape = Shape::Object(&[
    ("preferred_username", Shape::Scalar),
    ("email", Shape::Scalar),
    ("groups", Shape::Scalar),
]);

pub const SHAPE: Shape = Shape::Object(&[
    ("issuer", Shape::Scalar),
    ("clientID", Shape::Scalar),
    ("clientSecret", Shape::Scalar),
    ("redirectURI", Shape::Scalar),
    ("scopes", Shape::List(&Shape::Scalar)),
    ("getUserInfo", Shape::Scalar),
    ("userIDKey", Shape::Scalar),
    ("userNameKey", Shape::Scalar),
    ("insecureSkipEmailVerified", Shape::Scalar),
    ("insecureEnableGroups", Shape::Scalar),
    ("allowedGroups", Shape::List(&Shape::Scalar)),
    ("claimMapping", CLAIM_MAPPING),
    ("promptType", Shape::Scalar),
    ("basicAuthUnsupported", Shape::Scalar),
    (
        "hostedDomains",
        Shape::Unsupported("hostedDomains is not supported yet"),
    ),
    (
        "insecureSkipVerify",
        Shape::Unsupported("skipping TLS verification is not supported"),
    ),
    (
        "insecureIssuer",
        Shape::Unsupported("the ID token's issuer must match the configured issuer"),
    ),
    (
        "rootCAs",
        Shape::Unsupported("custom root CAs are not supported yet"),
    ),
    (
        "overrideClaimMapping",
        Shape::Unsupported("overrideClaimMapping is not supported yet"),
    ),
    (
        "acrValues",
        Shape::Unsupported("acrValues is not supported yet"),
    ),
    (
        "providerDiscoveryOverrides",
        Shape::Unsupported("discovery overrides are not supported yet"),
    ),
    (
        "claimModifications",
        Shape::Unsupported("claimModifications is not supported yet"),
    ),
    (
        "pkceChallenge",
        Shape::Unsupported("PKCE with S256 is always used"),
    ),
]);

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    issuer: Option<String>,
    #[serde(rename = "clientID")]
    client_id: Option<String>,
    #[serde(rename = "clientSecret")]
    client_secret: Option<String>,
    #[serde(rename = "redirectURI")]
    redirect_uri: Option<String>,
    scopes: Option<Vec<String>>,
    #[serde(rename = "getUserInfo")]
    get_user_info: Option<bool>,
    #[serde(rename = "userIDKey")]
    user_id_key: Option<String>,
    #[serde(rename = "userNameKey")]
    user_name_key: Option<String>,
    #[serde(rename = "insecureSkipEmailVerified")]
    insecure_skip_email_verified: Option<bool>,
    #[serde(rename = "insecureEnableGroups")]
    insecure_enable_groups: Option<bool>,
    #[serde(rename = "allowedGroups")]
    allowed_groups: Option<Vec<String>>,
    #[serde(rename = "claimMapping")]
    claim_mapping: Option<RawClaimMapping>,
    #[serde(rename = "promptType")]
    prompt_type: Option<String>,
    #[serde(rename = "basicAuthUnsupported")]
    basic_auth_unsupported: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawClaimMapping {
    preferred_username: Option<String>,
    email: Option<String>,
    groups: Option<String>,
}

#[derive(Debug, Clone)]
pub struct OidcConfig {
    pub issuer: String,
    pub client: OAuth2Client,
    /// Requested besides `openid` (Dex's default: profile, email).
    pub scopes: Vec<String>,
    pub get_user_info: bool,
    pub user_id_key: String,
    pub user_name_key: String,
    pub insecure_skip_email_verified: bool,
    pub insecure_enable_groups: bool,
    pub allowed_groups: Vec<String>,
    pub preferred_username_claim: String,
    pub email_claim: String,
    pub groups_claim: String,
    /// Dex sends `prompt=consent` unless told otherwise; an empty value sends none.
    pub prompt_type: Option<String>,
    /// Send the client secret in the body instead of HTTP Basic.
    pub basic_auth_unsupported: bool,
}

pub fn parse(value: &serde_json::Value, path: &str) -> Result<OidcConfig, ConfigError> {
    let raw: Raw = parse_block(value, &SHAPE, path)?;
    let key = |k: &str| format!("{path}.{k}");
    let issuer = required(raw.issuer, &key("issuer"))?;
    check_url(&issuer, &key("issuer"))?;
    let client = OAuth2Client::from_keys(path, raw.client_id, raw.client_secret, raw.redirect_uri)?;
    let allowed_groups = raw.allowed_groups.unwrap_or_default();
    let insecure_enable_groups = raw.insecure_enable_groups.unwrap_or(false);
    if !allowed_groups.is_empty() && !insecure_enable_groups {
        return Err(ConfigError::key(
            key("allowedGroups"),
            "needs insecureEnableGroups: true (groups are read from the upstream's groups claim)",
        ));
    }
    let mapping = raw.claim_mapping;
    let claim = |pick: fn(&RawClaimMapping) -> Option<&String>, default: &str| {
        mapping
            .as_ref()
            .and_then(pick)
            .filter(|s| !s.is_empty())
            .cloned()
            .unwrap_or_else(|| default.to_string())
    };
    Ok(OidcConfig {
        issuer,
        client,
        scopes: raw
            .scopes
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| vec!["profile".into(), "email".into()]),
        get_user_info: raw.get_user_info.unwrap_or(false),
        user_id_key: raw
            .user_id_key
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "sub".into()),
        user_name_key: raw
            .user_name_key
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "name".into()),
        insecure_skip_email_verified: raw.insecure_skip_email_verified.unwrap_or(false),
        insecure_enable_groups,
        allowed_groups,
        preferred_username_claim: claim(|m| m.preferred_username.as_ref(), "preferred_username"),
        email_claim: claim(|m| m.email.as_ref(), "email"),
        groups_claim: claim(|m| m.groups.as_ref(), "groups"),
        prompt_type: match raw.prompt_type {
            None => Some("consent".into()),
            Some(p) if p.is_empty() => None,
            Some(p) => Some(p),
        },
        basic_auth_unsupported: raw.basic_auth_unsupported.unwrap_or(false),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn base() -> serde_json::Value {
        json!({"issuer": "https://idp.example", "clientID": "c", "clientSecret": "s", "redirectURI": "https://b/dex/callback"})
    }

    #[test]
    fn defaults_follow_dex() {
        let c = parse(&base(), "p").unwrap();
        assert_eq!(c.scopes, vec!["profile", "email"]);
        assert_eq!(c.user_id_key, "sub");
        assert_eq!(c.user_name_key, "name");
        assert_eq!(c.prompt_type.as_deref(), Some("consent"));
        assert_eq!(c.groups_claim, "groups");
        assert!(!c.get_user_info && !c.insecure_enable_groups);
    }

    #[test]
    fn keys_case_insensitive_claim_mapping_and_unknown_refused() {
        let mut v = base();
        v["USERNAMEKEY"] = json!("email");
        v["claimmapping"] = json!({"groups": "roles", "email": "mail"});
        v["promptType"] = json!("");
        let c = parse(&v, "p").unwrap();
        assert_eq!(c.user_name_key, "email");
        assert_eq!(c.groups_claim, "roles");
        assert_eq!(c.email_claim, "mail");
        assert_eq!(c.prompt_type, None);
        let mut v = base();
        v["issuerURL"] = json!("x");
        let err = parse(&v, "connectors[0].config").unwrap_err().to_string();
        assert!(err.contains("connectors[0].config.issuerURL"), "{err}");
        let mut v = base();
        v["insecureSkipVerify"] = json!(true);
        assert!(parse(&v, "p")
            .unwrap_err()
            .to_string()
            .contains("not supported"));
    }

    #[test]
    fn allowed_groups_need_groups_enabled() {
        let mut v = base();
        v["allowedGroups"] = json!(["a"]);
        assert!(parse(&v, "p")
            .unwrap_err()
            .to_string()
            .contains("insecureEnableGroups"));
        v["insecureEnableGroups"] = json!(true);
        assert_eq!(parse(&v, "p").unwrap().allowed_groups, vec!["a"]);
    }
}
