//! Which cookies of a jar or of `Set-Cookie` headers are the filter's session: `NAME`, or
//! its chunks `NAME_0 … NAME_n` (not the login cookies `NAME_login_*`).

use crate::browser::Page;
use crate::cookie_jar::CookieJar;

/// The filter's default session cookie name.
pub const SESSION_COOKIE: &str = "_gatehouse";

/// Whether `cookie` is the session cookie `name` or one of its numbered chunks.
pub fn is_session_part(name: &str, cookie: &str) -> bool {
    cookie == name
        || cookie
            .strip_prefix(name)
            .and_then(|r| r.strip_prefix('_'))
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// Session parts held by the jar, sorted.
pub fn session_parts(jar: &CookieJar, name: &str) -> Vec<String> {
    let mut parts: Vec<String> = jar
        .names()
        .into_iter()
        .filter(|n| is_session_part(name, n))
        .collect();
    parts.sort();
    parts
}

/// Login cookies (`NAME_login_*`) held by the jar, sorted.
pub fn login_cookies(jar: &CookieJar, name: &str) -> Vec<String> {
    let prefix = format!("{name}_login_");
    let mut names: Vec<String> = jar
        .names()
        .into_iter()
        .filter(|n| n.starts_with(&prefix))
        .collect();
    names.sort();
    names
}

/// Every `Set-Cookie` header of a response, as text.
pub fn set_cookies(page: &Page) -> Vec<String> {
    page.headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .map(str::to_string)
        .collect()
}

/// The name of a `Set-Cookie` value.
pub fn set_cookie_name(set_cookie: &str) -> &str {
    set_cookie
        .split_once('=')
        .map_or(set_cookie, |(n, _)| n.trim())
}

/// Whether a `Set-Cookie` value deletes its cookie.
pub fn is_deletion(set_cookie: &str) -> bool {
    set_cookie
        .split(';')
        .any(|a| a.trim().eq_ignore_ascii_case("max-age=0"))
}
