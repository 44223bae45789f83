//! The filter's own paths: the callback, sign-out and userinfo endpoints it answers itself,
//! the absolute callback URL, and where to land after sign-out.

use crate::path::absolute_url::AbsoluteUrl;

use super::{invalid, ConfigError};
use crate::path::return_url;

/// The checked endpoint paths.
pub(super) struct Paths {
    pub redirect_path: String,
    pub redirect_url: Option<String>,
    pub sign_out_path: String,
    pub userinfo_path: String,
}

/// `redirect_path`, `sign_out_path`, `userinfo_path`, `redirect_url`, `sign_out_redirect`.
pub(super) fn paths(
    redirect_path: Option<String>,
    sign_out_path: Option<String>,
    userinfo_path: Option<String>,
    redirect_url: Option<String>,
    sign_out_redirect: Option<&str>,
) -> Result<Paths, ConfigError> {
    let redirect_path = path_key(redirect_path, "redirect_path", "/oauth2/callback")?;
    let sign_out_path = path_key(sign_out_path, "sign_out_path", "/oauth2/sign_out")?;
    let userinfo_path = path_key(userinfo_path, "userinfo_path", "/oauth2/userinfo")?;
    if redirect_path == sign_out_path
        || redirect_path == userinfo_path
        || sign_out_path == userinfo_path
    {
        return Err(invalid(
            "redirect_path",
            "redirect_path, sign_out_path and userinfo_path must differ",
        ));
    }
    if let Some(rd) = sign_out_redirect {
        if !return_url::is_safe(rd) {
            return Err(invalid(
                "sign_out_redirect",
                "must be a same-origin path such as /goodbye",
            ));
        }
    }
    let redirect_url = match redirect_url {
        None => None,
        Some(u) => {
            let parsed = AbsoluteUrl::parse(&u).map_err(|e| {
                invalid(
                    "redirect_url",
                    format!("must be an absolute http(s) URL ({e})"),
                )
            })?;
            if parsed.path() != redirect_path {
                return Err(invalid(
                    "redirect_url",
                    format!("its path must equal redirect_path ({redirect_path})"),
                ));
            }
            Some(u)
        }
    };
    Ok(Paths {
        redirect_path,
        redirect_url,
        sign_out_path,
        userinfo_path,
    })
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
