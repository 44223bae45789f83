//! The filter's configuration: one JSON object (Envoy `configuration`, Kong `config`),
//! parsed into [`FilterConfig`] and validated into [`Settings`] at plugin start.
//! Every error names the key at fault, so a bad config refuses to start with a clear line.
//! One file per section of keys: `broker`, `paths`, `cookie`, `routes` (the rules); the
//! remaining single keys are checked here.

use std::fmt;

use crate::path::absolute_url::AbsoluteUrl;

use crate::rules::{RouteRule, Rule};

mod broker;
mod cookie;
mod list;
mod paths;
mod raw;
mod revocation;
mod routes;

/// Kong's Draft-4 `config_schema`, derived from [`FilterConfig`] (host-side tooling only,
/// so the shipped .wasm does not carry it).
#[cfg(feature = "schema")]
pub mod schema;

pub use cookie::{CookieSettings, SameSite};
pub use raw::{FilterConfig, RouteConfig};
pub use revocation::RevocationSettings;

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
    pub revocation: RevocationSettings,
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

impl Settings {
    /// Path of the issuer's discovery document, for calls through the gateway.
    pub fn discovery_path(&self) -> String {
        let path = AbsoluteUrl::parse(&self.issuer)
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
        let broker::Broker {
            issuer,
            upstream: broker_upstream,
            authority: broker_authority,
            client_id,
            client_secret,
        } = broker::broker(
            raw.issuer,
            raw.broker_upstream,
            raw.broker_authority,
            raw.client_id,
            raw.client_secret,
        )?;
        let cookie_secrets = cookie::secrets(raw.cookie_secret, raw.cookie_secrets)?;
        let paths::Paths {
            redirect_path,
            redirect_url,
            sign_out_path,
            userinfo_path,
        } = paths::paths(
            raw.redirect_path,
            raw.sign_out_path,
            raw.userinfo_path,
            raw.redirect_url,
            raw.sign_out_redirect.as_deref(),
        )?;

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

        let cookie = cookie::attributes(
            raw.cookie_name,
            raw.cookie_domain,
            raw.cookie_path,
            raw.cookie_secure,
            raw.cookie_samesite,
            raw.cookie_expire_s,
        )?;
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

        let revocation = RevocationSettings::parse(
            raw.revocation_poll_s,
            raw.revocation_max_stale_s,
            raw.revocation_admit_when_stale,
        )?;

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
            cookie,
            login_timeout_s,
            broker_timeout_ms,
            jwks_refresh_s,
            revocation,
        })
    }
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
