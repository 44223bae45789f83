//! The filter's configuration: one JSON object (Envoy `configuration`, Kong `config`),
//! parsed into [`FilterConfig`] and validated into [`Settings`] at plugin start.
//! Every error names the key at fault, so a bad config refuses to start with a clear line.

use std::fmt;

use base64::Engine;
use serde::Deserialize;
use url::Url;

use crate::rules::{RouteRule, Rule};

mod routes;

/// Kong's Draft-4 `config_schema`, derived from [`FilterConfig`] (host-side tooling only,
/// so the shipped .wasm does not carry it).
mod list;
#[cfg(feature = "schema")]
pub mod schema;

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

/// A configuration problem, always naming the key and how to fix it.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("configuration is not a valid JSON object: {0}")]
    Syntax(String),
    #[error("configuration key `{key}` is required: {hint}")]
    Missing {
        key: &'static str,
        hint: &'static str,
    },
    #[error("configuration key `{key}` is invalid: {reason}")]
    Invalid { key: String, reason: String },
}

fn invalid(key: impl Into<String>, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key: key.into(),
        reason: reason.into(),
    }
}

/// SameSite attribute of the cookies the filter sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SameSite {
    Lax,
    Strict,
    None,
}

impl SameSite {
    pub fn as_str(self) -> &'static str {
        match self {
            SameSite::Lax => "Lax",
            SameSite::Strict => "Strict",
            SameSite::None => "None",
        }
    }
}

/// Cookie attributes shared by the session and in-flight login cookies.
#[derive(Debug, Clone)]
pub struct CookieSettings {
    pub name: String,
    pub domain: Option<String>,
    pub path: String,
    pub secure: bool,
    pub same_site: SameSite,
    pub expire_s: u64,
}

/// Validated settings the rest of the filter works from.
pub struct Settings {
    pub issuer: String,
    pub broker_upstream: String,
    pub broker_authority: String,
    pub client_id: String,
    pub client_secret: String,
    /// Raw secret bytes; the first encrypts, all decrypt.
    pub cookie_secrets: Vec<Vec<u8>>,
    pub redirect_path: String,
    pub redirect_url: Option<String>,
    pub sign_out_path: String,
    pub sign_out_redirect: Option<String>,
    pub userinfo_path: String,
    pub scopes: Vec<String>,
    pub default_rule: Rule,
    pub routes: Vec<RouteRule>,
    pub pass_access_token: bool,
    /// Accept `Authorization: Bearer <JWT>` from the broker instead of a session.
    pub skip_jwt_bearer_tokens: bool,
    /// `insecure_oidc_allow_unverified_email`.
    pub allow_unverified_email: bool,
    pub jwt_bearer_audiences: Vec<String>,
    pub bearer_cache_size: usize,
    pub cookie: CookieSettings,
    pub login_timeout_s: u64,
    pub broker_timeout_ms: u64,
    pub jwks_refresh_s: u64,
}

impl fmt::Debug for Settings {
    // Secrets stay out of any log line that prints the settings.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Settings")
            .field("issuer", &self.issuer)
            .field("broker_upstream", &self.broker_upstream)
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .field(
                "cookie_secrets",
                &format_args!("<{} redacted>", self.cookie_secrets.len()),
            )
            .field("cookie", &self.cookie)
            .finish_non_exhaustive()
    }
}

pub const DEFAULT_SCOPES: [&str; 5] = ["openid", "email", "profile", "groups", "offline_access"];
const MIN_SECRET_BYTES: usize = 32;

impl Settings {
    /// Path of the issuer's discovery document, for calls through the gateway.
    pub fn discovery_path(&self) -> String {
        let path = Url::parse(&self.issuer)
            .map(|u| u.path().trim_end_matches('/').to_string())
            .unwrap_or_default();
        format!("{path}/.well-known/openid-configuration")
    }

    /// Parses and validates the plugin configuration bytes.
    pub fn from_json(bytes: &[u8]) -> Result<Settings, ConfigError> {
        let raw: FilterConfig =
            serde_json::from_slice(bytes).map_err(|e| ConfigError::Syntax(e.to_string()))?;
        Settings::validate(raw)
    }

    pub fn validate(raw: FilterConfig) -> Result<Settings, ConfigError> {
        let issuer = raw.issuer.ok_or(ConfigError::Missing {
            key: "issuer",
            hint: "set it to the broker's issuer URL, e.g. \"https://sso.example.com/dex\"",
        })?;
        let issuer_url = Url::parse(&issuer)
            .map_err(|e| invalid("issuer", format!("not an absolute URL ({e})")))?;
        if !matches!(issuer_url.scheme(), "http" | "https") || issuer_url.host_str().is_none() {
            return Err(invalid("issuer", "must be an http(s) URL with a host"));
        }
        if issuer_url.query().is_some() || issuer_url.fragment().is_some() {
            return Err(invalid("issuer", "must not have a query or fragment"));
        }
        let issuer = issuer.trim_end_matches('/').to_string();

        let broker_upstream = non_empty(raw.broker_upstream, "broker_upstream",
            "the gateway upstream the filter calls the broker through: an Envoy cluster name or Kong host:port")?;
        let broker_authority = match raw.broker_authority {
            Some(a) if a.trim().is_empty() => {
                return Err(invalid("broker_authority", "must not be empty"))
            }
            Some(a) => a,
            None => authority_of(&issuer_url),
        };
        let client_id = non_empty(
            raw.client_id,
            "client_id",
            "the filter's client id at the broker (a staticClients entry)",
        )?;
        let client_secret = non_empty(
            raw.client_secret,
            "client_secret",
            "the secret of that staticClients entry",
        )?;

        let cookie_secrets = match (raw.cookie_secret, raw.cookie_secrets) {
            (Some(_), Some(_)) => {
                return Err(invalid(
                    "cookie_secrets",
                    "set either `cookie_secret` or `cookie_secrets`, not both",
                ))
            }
            (Some(one), None) => vec![decode_secret("cookie_secret", &one)?],
            (None, Some(list)) if list.is_empty() => {
                return Err(invalid("cookie_secrets", "must list at least one secret"))
            }
            (None, Some(list)) => list
                .iter()
                .enumerate()
                .map(|(i, s)| decode_secret(&format!("cookie_secrets[{i}]"), s))
                .collect::<Result<_, _>>()?,
            (None, None) => {
                return Err(ConfigError::Missing {
                    key: "cookie_secret",
                    hint: "base64 of at least 32 random bytes, e.g. `openssl rand -base64 32`",
                })
            }
        };

        let redirect_path = path_key(raw.redirect_path, "redirect_path", "/oauth2/callback")?;
        let sign_out_path = path_key(raw.sign_out_path, "sign_out_path", "/oauth2/sign_out")?;
        let userinfo_path = path_key(raw.userinfo_path, "userinfo_path", "/oauth2/userinfo")?;
        if redirect_path == sign_out_path
            || redirect_path == userinfo_path
            || sign_out_path == userinfo_path
        {
            return Err(invalid(
                "redirect_path",
                "redirect_path, sign_out_path and userinfo_path must differ",
            ));
        }
        if let Some(rd) = &raw.sign_out_redirect {
            if !crate::path::return_url::is_safe(rd) {
                return Err(invalid(
                    "sign_out_redirect",
                    "must be a same-origin path such as /goodbye",
                ));
            }
        }
        let redirect_url = match raw.redirect_url {
            None => None,
            Some(u) => {
                let parsed = Url::parse(&u)
                    .map_err(|e| invalid("redirect_url", format!("not an absolute URL ({e})")))?;
                if parsed.path() != redirect_path {
                    return Err(invalid(
                        "redirect_url",
                        format!("its path must equal redirect_path ({redirect_path})"),
                    ));
                }
                Some(u)
            }
        };

        let scopes = match raw.scopes {
            None => DEFAULT_SCOPES.iter().map(|s| s.to_string()).collect(),
            Some(s) => {
                if !s.iter().any(|x| x == "openid") {
                    return Err(invalid("scopes", "must include \"openid\""));
                }
                if let Some(bad) = s
                    .iter()
                    .find(|x| x.is_empty() || x.contains(char::is_whitespace))
                {
                    return Err(invalid(
                        "scopes",
                        format!("scope {bad:?} is empty or has spaces"),
                    ));
                }
                s
            }
        };

        let default_rule = routes::rule(
            raw.allowed_groups,
            raw.allowed_emails,
            raw.email_domains,
            "email_domains",
        )?;
        let routes = raw
            .routes
            .into_iter()
            .enumerate()
            .map(|(i, r)| routes::route(i, r, &default_rule))
            .collect::<Result<Vec<_>, _>>()?;

        let cookie_name = raw.cookie_name.unwrap_or_else(|| "_gatehouse".to_string());
        if !is_cookie_token(&cookie_name) || cookie_name.len() > 64 {
            return Err(invalid(
                "cookie_name",
                "use 1-64 letters, digits, '_' or '-'",
            ));
        }
        if let Some(d) = &raw.cookie_domain {
            if d.is_empty()
                || !d
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
            {
                return Err(invalid(
                    "cookie_domain",
                    "must be a domain name such as example.com",
                ));
            }
        }
        let cookie_path = raw.cookie_path.unwrap_or_else(|| "/".to_string());
        if !cookie_path.starts_with('/') || cookie_path.contains([';', ' ', ',']) {
            return Err(invalid(
                "cookie_path",
                "must start with '/' and have no ';', ',' or spaces",
            ));
        }
        let same_site = match raw
            .cookie_samesite
            .as_deref()
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            None | Some("lax") => SameSite::Lax,
            Some("strict") => SameSite::Strict,
            Some("none") => SameSite::None,
            Some(other) => {
                return Err(invalid(
                    "cookie_samesite",
                    format!("{other:?} is not one of \"lax\", \"strict\", \"none\""),
                ))
            }
        };
        let secure = raw.cookie_secure.unwrap_or(true);
        cookie_prefix_rules(
            &cookie_name,
            secure,
            raw.cookie_domain.as_deref(),
            &cookie_path,
        )?;
        if same_site == SameSite::None && !secure {
            return Err(invalid(
                "cookie_samesite",
                "\"none\" requires cookie_secure: true (browsers drop such cookies otherwise)",
            ));
        }
        let expire_s = raw.cookie_expire_s.unwrap_or(7 * 24 * 3600);
        if expire_s < 60 {
            return Err(invalid("cookie_expire_s", "must be at least 60 seconds"));
        }
        let login_timeout_s = raw.login_timeout_s.unwrap_or(600);
        if !(30..=3600).contains(&login_timeout_s) {
            return Err(invalid(
                "login_timeout_s",
                "must be between 30 and 3600 seconds",
            ));
        }
        let broker_timeout_ms = raw.broker_timeout_ms.unwrap_or(5000);
        if !(100..=60_000).contains(&broker_timeout_ms) {
            return Err(invalid(
                "broker_timeout_ms",
                "must be between 100 and 60000",
            ));
        }
        let jwks_refresh_s = raw.jwks_refresh_s.unwrap_or(300);
        if !(5..=86_400).contains(&jwks_refresh_s) {
            return Err(invalid(
                "jwks_refresh_s",
                "must be between 5 and 86400 seconds",
            ));
        }

        let jwt_bearer_audiences = match raw.jwt_bearer_audiences {
            None => vec![client_id.clone()],
            Some(list) if list.is_empty() || list.iter().any(|a| a.is_empty()) => {
                return Err(invalid(
                    "jwt_bearer_audiences",
                    "list the accepted audiences (client ids); none may be empty",
                ))
            }
            Some(list) => list,
        };
        let bearer_cache_size = raw.bearer_cache_size.unwrap_or(1024);
        if bearer_cache_size > 100_000 {
            return Err(invalid(
                "bearer_cache_size",
                "must be at most 100000 entries",
            ));
        }

        Ok(Settings {
            issuer,
            broker_upstream,
            broker_authority,
            client_id,
            client_secret,
            cookie_secrets,
            redirect_path,
            redirect_url,
            sign_out_path,
            sign_out_redirect: raw.sign_out_redirect,
            userinfo_path,
            scopes,
            default_rule,
            routes,
            pass_access_token: raw.pass_access_token,
            skip_jwt_bearer_tokens: raw.skip_jwt_bearer_tokens,
            allow_unverified_email: raw.insecure_oidc_allow_unverified_email,
            jwt_bearer_audiences,
            bearer_cache_size,
            cookie: CookieSettings {
                name: cookie_name,
                domain: raw.cookie_domain,
                path: cookie_path,
                secure,
                same_site,
                expire_s,
            },
            login_timeout_s,
            broker_timeout_ms,
            jwks_refresh_s,
        })
    }
}

fn non_empty(
    value: Option<String>,
    key: &'static str,
    hint: &'static str,
) -> Result<String, ConfigError> {
    match value {
        None => Err(ConfigError::Missing { key, hint }),
        Some(v) if v.trim().is_empty() => Err(invalid(key, "must not be empty")),
        Some(v) => Ok(v),
    }
}

fn path_key(value: Option<String>, key: &str, default: &str) -> Result<String, ConfigError> {
    let p = value.unwrap_or_else(|| default.to_string());
    if !p.starts_with('/') || p.starts_with("//") || p.contains(['?', '#', ' ']) {
        return Err(invalid(
            key,
            "must be an absolute path like /oauth2/callback",
        ));
    }
    Ok(p)
}

fn decode_secret(key: &str, text: &str) -> Result<Vec<u8>, ConfigError> {
    let text = text.trim();
    let engines = [
        &base64::engine::general_purpose::STANDARD,
        &base64::engine::general_purpose::URL_SAFE,
        &base64::engine::general_purpose::STANDARD_NO_PAD,
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
    ];
    let bytes = engines
        .iter()
        .find_map(|e| e.decode(text).ok())
        .ok_or_else(|| {
            invalid(
                key,
                "is not base64; generate one with `openssl rand -base64 32`",
            )
        })?;
    if bytes.len() < MIN_SECRET_BYTES {
        return Err(invalid(
            key,
            format!(
                "decodes to {} bytes; at least {MIN_SECRET_BYTES} random bytes are required",
                bytes.len()
            ),
        ));
    }
    Ok(bytes)
}

fn authority_of(url: &Url) -> String {
    let host = url.host_str().unwrap_or_default();
    match url.port() {
        Some(p) => format!("{host}:{p}"),
        None => host.to_string(),
    }
}

/// Browsers keep a `__Host-` cookie only if it is Secure, has `Path=/` and no `Domain` (so no
/// sibling subdomain can plant or overwrite it), and a `__Secure-` one only if it is Secure.
/// A configuration that contradicts its prefix would have every cookie dropped: refused.
fn cookie_prefix_rules(
    name: &str,
    secure: bool,
    domain: Option<&str>,
    path: &str,
) -> Result<(), ConfigError> {
    let host = name.starts_with("__Host-");
    if (host || name.starts_with("__Secure-")) && !secure {
        return Err(invalid(
            "cookie_secure",
            format!("must be true (or unset) for the prefixed cookie_name {name:?}"),
        ));
    }
    if host && domain.is_some() {
        return Err(invalid(
            "cookie_domain",
            format!("must be unset for cookie_name {name:?}: a __Host- cookie has no Domain"),
        ));
    }
    if host && path != "/" {
        return Err(invalid(
            "cookie_path",
            format!("must be \"/\" (or unset) for cookie_name {name:?}"),
        ));
    }
    Ok(())
}

/// RFC 6265 cookie-name token, restricted further to what is safe everywhere.
fn is_cookie_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const SECRET: &str = "MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIzNDU2Nzg5MDE="; // 32 bytes

    fn base() -> serde_json::Value {
        json!({
            "issuer": "http://127.0.0.1:5556/dex",
            "broker_upstream": "broker",
            "client_id": "gatehouse",
            "client_secret": "s3cret",
            "cookie_secret": SECRET,
        })
    }

    fn parse(v: serde_json::Value) -> Result<Settings, ConfigError> {
        Settings::from_json(v.to_string().as_bytes())
    }

    fn err_key(v: serde_json::Value) -> String {
        match parse(v) {
            Err(ConfigError::Invalid { key, .. }) => key,
            Err(ConfigError::Missing { key, .. }) => key.to_string(),
            Err(e) => e.to_string(),
            Ok(_) => "accepted".into(),
        }
    }

    #[test]
    fn minimal_config_gets_safe_defaults() {
        let s = parse(base()).unwrap();
        assert_eq!(s.broker_authority, "127.0.0.1:5556");
        assert_eq!(s.redirect_path, "/oauth2/callback");
        assert_eq!(s.cookie.name, "_gatehouse");
        assert!(s.cookie.secure);
        assert_eq!(s.cookie.same_site, SameSite::Lax);
        assert_eq!(s.scopes, DEFAULT_SCOPES.to_vec());
        assert_eq!(s.cookie_secrets.len(), 1);
    }

    #[test]
    fn missing_and_bad_keys_are_named() {
        for key in [
            "issuer",
            "broker_upstream",
            "client_id",
            "client_secret",
            "cookie_secret",
        ] {
            let mut v = base();
            v.as_object_mut().unwrap().remove(key);
            assert_eq!(err_key(v), key);
        }
        let mut v = base();
        v["cookie_secret"] = json!("c2hvcnQ=");
        assert_eq!(err_key(v), "cookie_secret");
        let mut v = base();
        v["issuer"] = json!("not a url");
        assert_eq!(err_key(v), "issuer");
        let mut v = base();
        v["cookie_samesite"] = json!("sometimes");
        assert_eq!(err_key(v), "cookie_samesite");
        let mut v = base();
        v["cookie_secrets"] = json!([SECRET, "bad!"]);
        v.as_object_mut().unwrap().remove("cookie_secret");
        assert_eq!(err_key(v), "cookie_secrets[1]");
        let mut v = base();
        v["scopes"] = json!(["email"]);
        assert_eq!(err_key(v), "scopes");
    }

    #[test]
    fn unknown_key_is_refused_by_name() {
        let mut v = base();
        v["cookie_secert"] = json!(SECRET);
        let e = parse(v).unwrap_err().to_string();
        assert!(e.contains("cookie_secert"), "{e}");
    }

    #[test]
    fn debug_output_hides_secrets() {
        let s = parse(base()).unwrap();
        let d = format!("{s:?}");
        assert!(!d.contains("s3cret") && !d.contains(SECRET), "{d}");
    }

    #[test]
    fn rotation_list_decodes_all() {
        let mut v = base();
        v.as_object_mut().unwrap().remove("cookie_secret");
        v["cookie_secrets"] = json!([SECRET, "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVowMTIzNDU2Nzg5"]);
        assert_eq!(parse(v).unwrap().cookie_secrets.len(), 2);
    }

    #[test]
    fn host_prefixed_cookie_forces_secure_root_path_and_no_domain() {
        let mut v = base();
        v["cookie_name"] = json!("__Host-gatehouse");
        let s = parse(v.clone()).unwrap();
        assert!(s.cookie.secure && s.cookie.path == "/" && s.cookie.domain.is_none());
        for (key, value) in [
            ("cookie_secure", json!(false)),
            ("cookie_domain", json!("example.com")),
            ("cookie_path", json!("/app")),
        ] {
            let mut bad = v.clone();
            bad[key] = value;
            assert_eq!(err_key(bad), key);
        }
        let mut v = base();
        v["cookie_name"] = json!("__Secure-gh");
        v["cookie_domain"] = json!("example.com");
        assert!(parse(v.clone()).is_ok());
        v["cookie_secure"] = json!(false);
        assert_eq!(err_key(v), "cookie_secure");
    }

    #[test]
    fn unverified_email_opt_out_is_explicit() {
        assert!(!parse(base()).unwrap().allow_unverified_email);
        let mut v = base();
        v["insecure_oidc_allow_unverified_email"] = json!(true);
        assert!(parse(v).unwrap().allow_unverified_email);
    }

    #[test]
    fn samesite_none_needs_secure() {
        let mut v = base();
        v["cookie_samesite"] = json!("none");
        v["cookie_secure"] = json!(false);
        assert_eq!(err_key(v), "cookie_samesite");
    }
}
