//! The cookie keys of the configuration: the secrets that seal the cookies, and the
//! attributes every cookie of the filter is set with.

use base64::Engine;

use super::{invalid, ConfigError};

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

const MIN_SECRET_BYTES: usize = 32;

/// `cookie_secret` or `cookie_secrets`: raw secret bytes, the first encrypts, all decrypt.
pub(super) fn secrets(
    one: Option<String>,
    list: Option<Vec<String>>,
) -> Result<Vec<Vec<u8>>, ConfigError> {
    let secrets = match (one, list) {
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
    Ok(secrets)
}

/// `cookie_name`, `cookie_domain`, `cookie_path`, `cookie_secure`, `cookie_samesite` and
/// `cookie_expire_s`, checked together (a cookie prefix constrains the others).
pub(super) fn attributes(
    name: Option<String>,
    domain: Option<String>,
    path: Option<String>,
    secure: Option<bool>,
    samesite: Option<String>,
    expire_s: Option<u64>,
) -> Result<CookieSettings, ConfigError> {
    let cookie_name = name.unwrap_or_else(|| "_gatehouse".to_string());
    if !is_cookie_token(&cookie_name) || cookie_name.len() > 64 {
        return Err(invalid(
            "cookie_name",
            "use 1-64 letters, digits, '_' or '-'",
        ));
    }
    if let Some(d) = &domain {
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
    let cookie_path = path.unwrap_or_else(|| "/".to_string());
    if !cookie_path.starts_with('/') || cookie_path.contains([';', ' ', ',']) {
        return Err(invalid(
            "cookie_path",
            "must start with '/' and have no ';', ',' or spaces",
        ));
    }
    let same_site = match samesite.as_deref().map(str::to_ascii_lowercase).as_deref() {
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
    let secure = secure.unwrap_or(true);
    cookie_prefix_rules(&cookie_name, secure, domain.as_deref(), &cookie_path)?;
    if same_site == SameSite::None && !secure {
        return Err(invalid(
            "cookie_samesite",
            "\"none\" requires cookie_secure: true (browsers drop such cookies otherwise)",
        ));
    }
    let expire_s = expire_s.unwrap_or(7 * 24 * 3600);
    if expire_s < 60 {
        return Err(invalid("cookie_expire_s", "must be at least 60 seconds"));
    }
    Ok(CookieSettings {
        name: cookie_name,
        domain,
        path: cookie_path,
        secure,
        same_site,
        expire_s,
    })
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
