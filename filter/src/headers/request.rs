//! Reading a request's headers, the same way on every host. Names are compared as upstream
//! software reads them: ASCII case folded (Kong's host hands HTTP/1.x names in the client's
//! case, Envoy lower-cases them) and `_` read as `-` (WSGI, PHP-FPM, Rails and others map
//! both to one variable, oauth2-proxy's CVE-2025-64484). Pseudo-headers are always lower
//! case and compared exactly.

use crate::headers::identity::IDENTITY_HEADERS;

/// Whether header `name` is `canonical` (lower case, `-`-separated) as an upstream reads it.
pub fn same_name(name: &str, canonical: &str) -> bool {
    name.len() == canonical.len()
        && name.bytes().zip(canonical.bytes()).all(|(a, c)| {
            let a = a.to_ascii_lowercase();
            (if a == b'_' { b'-' } else { a }) == c
        })
}

/// The request facts the filter reads, borrowed from the host's header list.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Scanned<'a> {
    pub method: &'a str,
    pub path: &'a str,
    /// The client's host: the `Host` header when the host hands one (Kong's `:authority` is
    /// its own `server_name:port`), else `:authority` (Envoy folds `Host` into it).
    pub authority: &'a str,
    pub scheme: &'a str,
    pub accept: Option<&'a str>,
    /// The first `Authorization` header, and how many there were.
    pub authorization: Option<&'a str>,
    pub authorizations: usize,
    pub xhr: bool,
    /// Every `Cookie` header, in order (HTTP/1.x clients may send several).
    pub cookies: Vec<&'a str>,
    /// The name of the first header the client sent that the filter owns (an identity header
    /// in any case or spelling); such a request is refused.
    pub forged: Option<&'a str>,
}

/// One pass over the headers.
pub fn scan(headers: &[(String, String)]) -> Scanned<'_> {
    let mut s = Scanned {
        scheme: "https",
        ..Scanned::default()
    };
    let mut authority = "";
    let mut host = "";
    for (k, v) in headers {
        let v = v.as_str();
        match k.as_str() {
            ":method" => s.method = v,
            ":path" => s.path = v,
            ":authority" => authority = v,
            ":scheme" => s.scheme = v,
            k if k.starts_with(':') => {}
            k if same_name(k, "cookie") => s.cookies.push(v),
            k if same_name(k, "accept") => s.accept = Some(v),
            k if same_name(k, "host") => host = v,
            k if same_name(k, "authorization") => {
                s.authorizations += 1;
                s.authorization = s.authorization.or(Some(v));
            }
            k if same_name(k, "x-requested-with") => {
                s.xhr = v.eq_ignore_ascii_case("xmlhttprequest")
            }
            k if s.forged.is_none() && IDENTITY_HEADERS.iter().any(|h| same_name(k, h)) => {
                s.forged = Some(k)
            }
            _ => {}
        }
    }
    s.authority = if host.is_empty() { authority } else { host };
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn names_fold_case_and_underscores() {
        for name in [
            "x-auth-request-email",
            "X-Auth-Request-Email",
            "X_AUTH_REQUEST_EMAIL",
            "x_auth-request_email",
        ] {
            assert!(same_name(name, "x-auth-request-email"), "{name}");
        }
        for name in [
            "x-auth-request-emai",
            "x-auth-request-emails",
            "xauth-request-email",
        ] {
            assert!(!same_name(name, "x-auth-request-email"), "{name}");
        }
    }

    #[test]
    fn reads_browser_case_headers_as_kong_hands_them() {
        let h = headers(&[
            (":method", "GET"),
            (":path", "/x"),
            (":authority", "kong:18000"),
            (":scheme", "http"),
            ("Host", "app.example:8443"),
            ("Accept", "text/html"),
            ("Cookie", "a=1"),
            ("COOKIE", "b=2"),
            ("X-Requested-With", "XMLHttpRequest"),
            ("Authorization", "Bearer a"),
            ("authorization", "Bearer b"),
        ]);
        let s = scan(&h);
        assert_eq!(s.method, "GET");
        assert_eq!(s.authority, "app.example:8443");
        assert_eq!(s.scheme, "http");
        assert_eq!(s.accept, Some("text/html"));
        assert_eq!(s.cookies, ["a=1", "b=2"]);
        assert!(s.xhr);
        assert_eq!((s.authorization, s.authorizations), (Some("Bearer a"), 2));
        assert_eq!(s.forged, None);
    }

    #[test]
    fn authority_without_host_header_and_default_scheme() {
        let h = headers(&[(":authority", "gw.example"), (":path", "/")]);
        let s = scan(&h);
        assert_eq!((s.authority, s.scheme), ("gw.example", "https"));
    }

    #[test]
    fn finds_forged_identity_headers_in_any_spelling() {
        for name in [
            "x-auth-request-groups",
            "X-Auth-Request-Groups",
            "X_Auth_Request_Groups",
            "x_auth_request_email",
            "X-AUTH-REQUEST-ACCESS-TOKEN",
            "x-auth-request_preferred-username",
            "X-Auth-Request-User",
        ] {
            let h = headers(&[(":path", "/"), ("accept", "*/*"), (name, "evil")]);
            assert_eq!(scan(&h).forged, Some(name), "{name}");
        }
        let h = headers(&[(":path", "/"), ("x-auth-request-other", "x")]);
        assert_eq!(scan(&h).forged, None);
    }
}
