//! The configuration as written by the operator, before any check: what serde reads (and
//! Kong's schema is derived from, `schema.rs`). Key names follow oauth2-proxy where one exists.

use serde::Deserialize;

use super::list;

/// Raw configuration as written by the operator. Key names follow oauth2-proxy where one exists.
#[derive(Deserialize, Default)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct FilterConfig {
    pub issuer: Option<String>,
    pub broker_upstream: Option<String>,
    pub broker_authority: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    pub cookie_secret: Option<String>,
    #[serde(default, deserialize_with = "list::opt_vec")]
    #[cfg_attr(feature = "schema", schemars(with = "Option<Vec<String>>"))]
    pub cookie_secrets: Option<Vec<String>>,
    pub redirect_path: Option<String>,
    pub redirect_url: Option<String>,
    pub sign_out_path: Option<String>,
    /// Where to land after sign-out (same-origin path); setting it also ends the broker session.
    pub sign_out_redirect: Option<String>,
    pub userinfo_path: Option<String>,
    #[serde(default, deserialize_with = "list::opt_vec")]
    #[cfg_attr(feature = "schema", schemars(with = "Option<Vec<String>>"))]
    pub scopes: Option<Vec<String>>,
    #[serde(default, deserialize_with = "list::vec")]
    #[cfg_attr(feature = "schema", schemars(with = "Vec<String>"))]
    pub allowed_groups: Vec<String>,
    #[serde(default, deserialize_with = "list::vec")]
    #[cfg_attr(feature = "schema", schemars(with = "Vec<String>"))]
    pub allowed_emails: Vec<String>,
    #[serde(default, deserialize_with = "list::vec")]
    #[cfg_attr(feature = "schema", schemars(with = "Vec<String>"))]
    pub email_domains: Vec<String>,
    #[serde(default, deserialize_with = "list::vec")]
    #[cfg_attr(feature = "schema", schemars(with = "Vec<RouteConfig>"))]
    pub routes: Vec<RouteConfig>,
    #[serde(default)]
    pub pass_access_token: bool,
    #[serde(default)]
    pub skip_jwt_bearer_tokens: bool,
    /// Let an address the provider has not verified meet e-mail rules and reach the upstream
    /// (oauth2-proxy's name). Off: an unverified address is dropped from the identity.
    #[serde(default)]
    pub insecure_oidc_allow_unverified_email: bool,
    #[serde(default, deserialize_with = "list::opt_vec")]
    #[cfg_attr(feature = "schema", schemars(with = "Option<Vec<String>>"))]
    pub jwt_bearer_audiences: Option<Vec<String>>,
    pub bearer_cache_size: Option<usize>,
    pub cookie_name: Option<String>,
    pub cookie_domain: Option<String>,
    pub cookie_path: Option<String>,
    pub cookie_secure: Option<bool>,
    pub cookie_samesite: Option<String>,
    pub cookie_expire_s: Option<u64>,
    pub login_timeout_s: Option<u64>,
    pub broker_timeout_ms: Option<u64>,
    pub jwks_refresh_s: Option<u64>,
    /// How often the broker's revocation feed is fetched (issue 17).
    pub revocation_poll_s: Option<u64>,
    /// How old the last good feed may get before sessions are refused (or admitted, below).
    pub revocation_max_stale_s: Option<u64>,
    /// Past `revocation_max_stale_s`, admit sessions anyway (default: refuse, fail closed).
    #[serde(default)]
    pub revocation_admit_when_stale: bool,
}

/// One entry of `routes`.
#[derive(Deserialize, Default, Clone)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct RouteConfig {
    pub path_prefix: Option<String>,
    pub path_exact: Option<String>,
    /// Matched against the whole normalised path (anchored).
    pub path_regex: Option<String>,
    #[serde(default, deserialize_with = "list::vec")]
    #[cfg_attr(feature = "schema", schemars(with = "Vec<String>"))]
    pub methods: Vec<String>,
    #[serde(default)]
    pub public: bool,
    #[serde(default, deserialize_with = "list::opt_vec")]
    #[cfg_attr(feature = "schema", schemars(with = "Option<Vec<String>>"))]
    pub allowed_groups: Option<Vec<String>>,
    #[serde(default, deserialize_with = "list::opt_vec")]
    #[cfg_attr(feature = "schema", schemars(with = "Option<Vec<String>>"))]
    pub allowed_emails: Option<Vec<String>>,
    #[serde(default, deserialize_with = "list::opt_vec")]
    #[cfg_attr(feature = "schema", schemars(with = "Option<Vec<String>>"))]
    pub email_domains: Option<Vec<String>>,
    #[serde(default)]
    pub api: bool,
}
