//! Reading the `Cookie` request header and writing `Set-Cookie` response headers.

use crate::config::CookieSettings;

/// `(name, value)` pairs of a `Cookie` header, in order; malformed pairs are skipped.
pub fn pairs(header: &str) -> impl Iterator<Item = (&str, &str)> {
    header.split(';').filter_map(|part| {
        let (name, value) = part.split_once('=')?;
        let name = name.trim();
        if name.is_empty() {
            return None;
        }
        Some((name, value.trim().trim_matches('"')))
    })
}

/// The value of the first cookie called `name`.
pub fn get<'a>(header: &'a str, name: &str) -> Option<&'a str> {
    pairs(header).find(|(n, _)| *n == name).map(|(_, v)| v)
}

/// The `Cookie` header with every cookie for which `drop` is true removed; `None` when
/// nothing is left, so the header can be removed instead of sent empty.
pub fn without(header: &str, drop: impl Fn(&str) -> bool) -> Option<String> {
    let kept: Vec<&str> = header
        .split(';')
        .map(str::trim)
        .filter(|part| {
            let name = part.split_once('=').map_or(*part, |(n, _)| n).trim();
            !part.is_empty() && !drop(name)
        })
        .collect();
    if kept.is_empty() {
        None
    } else {
        Some(kept.join("; "))
    }
}

/// A `Set-Cookie` value with the configured attributes; `max_age` in seconds.
pub fn set(cfg: &CookieSettings, name: &str, value: &str, max_age: u64) -> String {
    let mut out = format!(
        "{name}={value}; Path={}; Max-Age={max_age}; HttpOnly",
        cfg.path
    );
    if let Some(d) = &cfg.domain {
        out.push_str("; Domain=");
        out.push_str(d);
    }
    if cfg.secure {
        out.push_str("; Secure");
    }
    out.push_str("; SameSite=");
    out.push_str(cfg.same_site.as_str());
    out
}

/// A `Set-Cookie` value that deletes `name` (same path and domain as when it was set).
pub fn clear(cfg: &CookieSettings, name: &str) -> String {
    let mut out = set(cfg, name, "", 0);
    out.push_str("; Expires=Thu, 01 Jan 1970 00:00:00 GMT");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::SameSite;

    fn cfg() -> CookieSettings {
        CookieSettings {
            name: "_gh".into(),
            domain: Some("example.com".into()),
            path: "/".into(),
            secure: true,
            same_site: SameSite::Lax,
            expire_s: 3600,
        }
    }

    #[test]
    fn parses_pairs() {
        let h = "a=1; _gh=v1.xyz;b=\"q\"; =bad; noval; c=";
        assert_eq!(get(h, "_gh"), Some("v1.xyz"));
        assert_eq!(get(h, "b"), Some("q"));
        assert_eq!(get(h, "c"), Some(""));
        assert_eq!(get(h, "noval"), None);
        assert_eq!(get(h, "missing"), None);
    }

    #[test]
    fn removes_cookies_by_name() {
        assert_eq!(
            without("a=1; _gh=x; b=2; _gh_1=y", |n| n.starts_with("_gh")),
            Some("a=1; b=2".into())
        );
        assert_eq!(without("_gh=x", |n| n == "_gh"), None);
    }

    #[test]
    fn set_cookie_attributes() {
        assert_eq!(
            set(&cfg(), "_gh", "v", 60),
            "_gh=v; Path=/; Max-Age=60; HttpOnly; Domain=example.com; Secure; SameSite=Lax"
        );
        assert!(clear(&cfg(), "_gh").contains("Max-Age=0"));
    }
}
