//! A browser's cookie jar, kept by hand so tests can see and tamper with every cookie.
//!
//! RFC 6265 rules that matter here: cookies are scoped by host and path, not port (every
//! server in a test is 127.0.0.1 on its own port, as in a real browser); `Max-Age` wins
//! over `Expires`; `Max-Age<=0` or a past `Expires` deletes. Loopback counts as a secure
//! origin for `Secure` cookies, as browsers treat it.

use anyhow::{Context, Result};
use cookie::time::OffsetDateTime;
use cookie::Cookie;
use url::Url;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCookie {
    pub name: String,
    pub value: String,
    /// The request host, or the `Domain` attribute (then `include_subdomains`).
    pub host: String,
    pub include_subdomains: bool,
    pub path: String,
    pub secure: bool,
    pub http_only: bool,
    pub same_site: Option<String>,
    pub expires: Option<OffsetDateTime>,
}

#[derive(Debug, Default, Clone)]
pub struct CookieJar {
    cookies: Vec<StoredCookie>,
}

impl CookieJar {
    pub fn new() -> Self {
        Self::default()
    }

    /// Applies one `Set-Cookie` header received in answer to `request_url`.
    /// Cookies a browser would reject (foreign `Domain`) are ignored.
    pub fn store(&mut self, request_url: &Url, set_cookie: &str) -> Result<()> {
        let parsed = Cookie::parse(set_cookie.to_string())
            .with_context(|| format!("unparseable Set-Cookie for {request_url}"))?;
        let request_host = request_url
            .host_str()
            .unwrap_or_default()
            .to_ascii_lowercase();
        let (host, include_subdomains) = match parsed.domain() {
            Some(domain) => {
                let domain = domain.trim_start_matches('.').to_ascii_lowercase();
                if !domain_matches(&request_host, &domain) {
                    return Ok(());
                }
                (domain, true)
            }
            None => (request_host, false),
        };
        let path = match parsed.path() {
            Some(p) if p.starts_with('/') => p.to_string(),
            _ => default_path(request_url),
        };
        let now = OffsetDateTime::now_utc();
        let expires = match parsed.max_age() {
            Some(max_age) => Some(now + max_age),
            None => parsed.expires_datetime(),
        };
        self.cookies
            .retain(|c| !(c.name == parsed.name() && c.host == host && c.path == path));
        if expires.is_some_and(|at| at <= now) {
            return Ok(()); // a deletion
        }
        self.cookies.push(StoredCookie {
            name: parsed.name().to_string(),
            value: parsed.value().to_string(),
            host,
            include_subdomains,
            path,
            secure: parsed.secure().unwrap_or(false),
            http_only: parsed.http_only().unwrap_or(false),
            same_site: parsed.same_site().map(|s| s.to_string()),
            expires,
        });
        Ok(())
    }

    /// The `Cookie` header a browser would send to `url`, if any cookie matches.
    /// Longer paths first, as RFC 6265 asks.
    pub fn header_for(&self, url: &Url) -> Option<String> {
        let host = url.host_str()?.to_ascii_lowercase();
        let path = url.path();
        let secure_origin = url.scheme() == "https" || is_loopback(&host);
        let now = OffsetDateTime::now_utc();
        let mut matching: Vec<&StoredCookie> = self
            .cookies
            .iter()
            .filter(|c| {
                let host_ok = if c.include_subdomains {
                    domain_matches(&host, &c.host)
                } else {
                    host == c.host
                };
                host_ok
                    && path_matches(path, &c.path)
                    && (!c.secure || secure_origin)
                    && c.expires.is_none_or(|at| at > now)
            })
            .collect();
        if matching.is_empty() {
            return None;
        }
        matching.sort_by_key(|c| std::cmp::Reverse(c.path.len()));
        Some(
            matching
                .iter()
                .map(|c| format!("{}={}", c.name, c.value))
                .collect::<Vec<_>>()
                .join("; "),
        )
    }

    /// The first live cookie called `name`, on any host.
    pub fn get(&self, name: &str) -> Option<&StoredCookie> {
        let now = OffsetDateTime::now_utc();
        self.cookies
            .iter()
            .find(|c| c.name == name && c.expires.is_none_or(|at| at > now))
    }

    /// Mutable access, for tests that tamper with a cookie.
    pub fn get_mut(&mut self, name: &str) -> Option<&mut StoredCookie> {
        self.cookies.iter_mut().find(|c| c.name == name)
    }

    /// Names of all stored cookies.
    pub fn names(&self) -> Vec<String> {
        self.cookies.iter().map(|c| c.name.clone()).collect()
    }

    /// All stored cookies.
    pub fn cookies(&self) -> &[StoredCookie] {
        &self.cookies
    }

    /// Puts a host-only cookie with path `/` (a client forging or replaying one).
    pub fn insert(&mut self, host: &str, name: &str, value: &str) {
        let host = host.to_ascii_lowercase();
        self.cookies
            .retain(|c| !(c.name == name && c.host == host && c.path == "/"));
        self.cookies.push(StoredCookie {
            name: name.to_string(),
            value: value.to_string(),
            host,
            include_subdomains: false,
            path: "/".to_string(),
            secure: false,
            http_only: false,
            same_site: None,
            expires: None,
        });
    }

    /// Removes every cookie called `name`.
    pub fn remove(&mut self, name: &str) {
        self.cookies.retain(|c| c.name != name);
    }

    pub fn clear(&mut self) {
        self.cookies.clear();
    }
}

/// RFC 6265 5.1.3; an IP address only matches itself.
fn domain_matches(host: &str, domain: &str) -> bool {
    if host == domain {
        return true;
    }
    let is_ip = host.parse::<std::net::IpAddr>().is_ok();
    !is_ip && host.ends_with(domain) && host[..host.len() - domain.len()].ends_with('.')
}

/// RFC 6265 5.1.4.
fn path_matches(request_path: &str, cookie_path: &str) -> bool {
    if request_path == cookie_path {
        return true;
    }
    request_path.starts_with(cookie_path)
        && (cookie_path.ends_with('/') || request_path[cookie_path.len()..].starts_with('/'))
}

/// RFC 6265 5.1.4's default-path: the request path up to, not including, its last '/'.
fn default_path(url: &Url) -> String {
    let path = url.path();
    match path.rfind('/') {
        Some(0) | None => "/".to_string(),
        Some(i) => path[..i].to_string(),
    }
}

fn is_loopback(host: &str) -> bool {
    host == "localhost"
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn cookies_are_sent_back_to_the_same_host_on_any_port() {
        let mut jar = CookieJar::new();
        jar.store(&url("http://127.0.0.1:8080/a/b"), "s=1; Path=/; HttpOnly")
            .unwrap();
        assert_eq!(
            jar.header_for(&url("http://127.0.0.1:5556/dex/auth")),
            Some("s=1".into())
        );
        assert_eq!(jar.header_for(&url("http://localhost:8080/")), None);
        assert!(jar.get("s").unwrap().http_only);
    }

    #[test]
    fn max_age_zero_and_past_expires_delete() {
        let mut jar = CookieJar::new();
        let u = url("http://127.0.0.1:8080/");
        jar.store(&u, "a=1; Path=/").unwrap();
        jar.store(&u, "b=2; Path=/").unwrap();
        jar.store(&u, "a=; Path=/; Max-Age=0").unwrap();
        jar.store(&u, "b=; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT")
            .unwrap();
        assert_eq!(jar.header_for(&u), None);
        assert!(jar.names().is_empty());
    }

    #[test]
    fn max_age_wins_over_expires() {
        let mut jar = CookieJar::new();
        let u = url("http://127.0.0.1:8080/");
        jar.store(&u, "a=1; Max-Age=60; Expires=Thu, 01 Jan 1970 00:00:00 GMT")
            .unwrap();
        assert_eq!(jar.header_for(&u), Some("a=1".into()));
    }

    #[test]
    fn deletion_only_hits_the_same_path() {
        let mut jar = CookieJar::new();
        let u = url("http://127.0.0.1:8080/");
        jar.store(&u, "a=1; Path=/").unwrap();
        jar.store(&u, "a=; Path=/other; Max-Age=0").unwrap();
        assert_eq!(jar.header_for(&u), Some("a=1".into()));
    }

    #[test]
    fn a_new_value_replaces_the_old_one() {
        let mut jar = CookieJar::new();
        let u = url("http://127.0.0.1:8080/");
        jar.store(&u, "a=1; Path=/").unwrap();
        jar.store(&u, "a=2; Path=/").unwrap();
        assert_eq!(jar.header_for(&u), Some("a=2".into()));
    }

    #[test]
    fn paths_match_per_rfc_6265() {
        let mut jar = CookieJar::new();
        jar.store(&url("http://h/"), "p=1; Path=/app").unwrap();
        assert_eq!(jar.header_for(&url("http://h/app")), Some("p=1".into()));
        assert_eq!(jar.header_for(&url("http://h/app/x")), Some("p=1".into()));
        assert_eq!(jar.header_for(&url("http://h/apple")), None);
        assert_eq!(jar.header_for(&url("http://h/")), None);
        // Without Path the default is the request's directory.
        jar.store(&url("http://h/dir/page"), "d=1").unwrap();
        assert_eq!(jar.get("d").unwrap().path, "/dir");
        jar.store(&url("http://h/page"), "r=1").unwrap();
        assert_eq!(jar.get("r").unwrap().path, "/");
    }

    #[test]
    fn longer_paths_are_sent_first() {
        let mut jar = CookieJar::new();
        jar.store(&url("http://h/"), "short=1; Path=/").unwrap();
        jar.store(&url("http://h/"), "long=2; Path=/a/b").unwrap();
        assert_eq!(
            jar.header_for(&url("http://h/a/b/c")),
            Some("long=2; short=1".into())
        );
    }

    #[test]
    fn secure_cookies_go_to_https_and_loopback_only() {
        let mut jar = CookieJar::new();
        jar.store(
            &url("https://example.com/"),
            "s=1; Secure; Domain=example.com",
        )
        .unwrap();
        assert_eq!(jar.header_for(&url("http://example.com/")), None);
        assert_eq!(
            jar.header_for(&url("https://www.example.com/")),
            Some("s=1".into())
        );
        jar.store(&url("http://127.0.0.1:1/"), "l=1; Secure")
            .unwrap();
        assert_eq!(
            jar.header_for(&url("http://127.0.0.1:2/")),
            Some("l=1".into())
        );
    }

    #[test]
    fn foreign_domains_are_ignored_and_ips_do_not_take_subdomains() {
        let mut jar = CookieJar::new();
        jar.store(&url("http://127.0.0.1/"), "x=1; Domain=example.com")
            .unwrap();
        assert!(jar.names().is_empty());
        assert!(!domain_matches("10.0.0.1", "0.0.1"));
    }

    #[test]
    fn unparseable_set_cookie_is_an_error() {
        let mut jar = CookieJar::new();
        assert!(jar.store(&url("http://h/"), "no-equals-sign").is_err());
    }

    #[test]
    fn tampering_helpers_work() {
        let mut jar = CookieJar::new();
        jar.insert("127.0.0.1", "forged", "v");
        assert_eq!(
            jar.header_for(&url("http://127.0.0.1:9/x")),
            Some("forged=v".into())
        );
        jar.get_mut("forged").unwrap().value = "w".into();
        assert_eq!(
            jar.header_for(&url("http://127.0.0.1:9/x")),
            Some("forged=w".into())
        );
        jar.remove("forged");
        assert!(jar.names().is_empty());
    }
}
