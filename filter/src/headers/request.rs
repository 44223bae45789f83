//! Reading a request's headers, the same way on every host. Names are compared as upstream
//! software reads them: ASCII case folded (Kong's host hands HTTP/1.x names in the client's
//! case, Envoy lower-cases them) and `_` read as `-` (WSGI, PHP-FPM, Rails and others map
//! both to one variable, oauth2-proxy's CVE-2025-64484). Pseudo-headers are always lower
//! case and compared exactly.

use crate::headers::identity::IDENTITY_HEADERS;

/// Whether header `name` is `canonical` (lower case, `-`-separated) as an upstream reads it.
pub fn same_name(name: impl AsRef<[u8]>, canonical: &str) -> bool {
    let name = name.as_ref();
    name.len() == canonical.len()
        && name.iter().zip(canonical.bytes()).all(|(&a, c)| {
            let a = a.to_ascii_lowercase();
            (if a == b'_' { b'-' } else { a }) == c
        })
}

/// The request facts the filter reads, borrowed from the host's header map.
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
    /// The first header the filter reads whose value is not UTF-8 (HTTP allows other bytes
    /// in values); such a request is refused rather than read in part.
    pub unreadable: Option<&'a str>,
}

/// One pass over the headers, as `(name, value)` bytes (see [`crate::headers::pairs`]).
pub fn scan<'a>(headers: impl IntoIterator<Item = (&'a [u8], &'a [u8])>) -> Scanned<'a> {
    let mut s = Scanned {
        scheme: "https",
        ..Scanned::default()
    };
    let mut authority = "";
    let mut host = "";
    for (k, v) in headers {
        // Names the filter reads are ASCII, so a name that is not UTF-8 is none of them.
        let Ok(k) = std::str::from_utf8(k) else {
            continue;
        };
        let read = k.starts_with(':')
            || [
                "cookie",
                "accept",
                "host",
                "authorization",
                "x-requested-with",
            ]
            .iter()
            .any(|n| same_name(k, n));
        if !read {
            if s.forged.is_none() && IDENTITY_HEADERS.iter().any(|h| same_name(k, h)) {
                s.forged = Some(k);
            }
            continue;
        }
        let Ok(v) = std::str::from_utf8(v) else {
            s.unreadable = s.unreadable.or(Some(k));
            continue;
        };
        match k {
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
            _ => s.xhr = v.eq_ignore_ascii_case("xmlhttprequest"),
        }
    }
    s.authority = if host.is_empty() { authority } else { host };
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers<'a>(list: &'a [(&'a str, &'a str)]) -> Vec<(&'a [u8], &'a [u8])> {
        list.iter()
            .map(|(k, v)| (k.as_bytes(), v.as_bytes()))
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
        let s = scan(h.iter().copied());
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
        let s = scan(h.iter().copied());
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
            let list = [(":path", "/"), ("accept", "*/*"), (name, "evil")];
            assert_eq!(scan(headers(&list)).forged, Some(name), "{name}");
        }
        let h = headers(&[(":path", "/"), ("x-auth-request-other", "x")]);
        assert_eq!(scan(h.iter().copied()).forged, None);
    }

    #[test]
    fn values_that_are_not_utf8() {
        // Only a header the filter reads makes the request unreadable; its value is not used.
        let latin1: [(&[u8], &[u8]); 3] = [
            (b":path", b"/"),
            (b"x-note", b"caf\xe9"),
            (b"Cookie", b"a=\xff"),
        ];
        let s = scan(latin1);
        assert_eq!((s.unreadable, s.cookies.len()), (Some("Cookie"), 0));
        assert_eq!(scan(latin1[..2].iter().copied()).unreadable, None);
        // A name that is not UTF-8 is no header the filter knows, and no identity header.
        let odd: [(&[u8], &[u8]); 1] = [(b"x-auth-request-user\xff", b"evil")];
        assert_eq!(scan(odd).forged, None);
    }
}
