//! Reading a request's headers, the same way on every host. Names are compared as upstream
//! software reads them: ASCII case folded (Kong's host hands HTTP/1.x names in the client's
//! case, Envoy lower-cases them) and `_` read as `-` (WSGI, PHP-FPM, Rails and others map
//! both to one variable, oauth2-proxy's CVE-2025-64484). Pseudo-headers are always lower
//! case and compared exactly.

use std::borrow::Cow;

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

/// Every `Cookie` header of a request, in order (HTTP/1.x clients may send several): the
/// first kept apart, so the usual request with one or none allocates nothing.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct CookieHeaders<'a> {
    first: Option<&'a str>,
    more: Vec<&'a str>,
}

impl<'a> CookieHeaders<'a> {
    fn push(&mut self, v: &'a str) {
        if self.first.is_none() {
            self.first = Some(v);
        } else {
            self.more.push(v);
        }
    }

    /// How many `Cookie` headers there were.
    pub fn len(&self) -> usize {
        usize::from(self.first.is_some()) + self.more.len()
    }

    pub fn is_empty(&self) -> bool {
        self.first.is_none()
    }

    /// The values in order.
    pub fn iter(&self) -> impl Iterator<Item = &'a str> + '_ {
        self.first.into_iter().chain(self.more.iter().copied())
    }

    /// The one value, borrowed; several joined with `; `; `None` without any.
    pub fn joined(&self) -> Option<Cow<'a, str>> {
        let first = self.first?;
        if self.more.is_empty() {
            return Some(Cow::Borrowed(first));
        }
        let mut out = String::from(first);
        for v in &self.more {
            out.push_str("; ");
            out.push_str(v);
        }
        Some(Cow::Owned(out))
    }
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
    pub cookies: CookieHeaders<'a>,
    /// The name of the first header the client sent that the filter owns (an identity header
    /// in any case or spelling); such a request is refused.
    pub forged: Option<&'a str>,
    /// The first header the filter reads whose value is not UTF-8 (HTTP allows other bytes
    /// in values); such a request is refused rather than read in part.
    pub unreadable: Option<&'a str>,
}

/// A non-pseudo header the filter reads.
#[derive(Clone, Copy)]
enum Read {
    Cookie,
    Accept,
    Host,
    Authorization,
    RequestedWith,
}

/// Which header `name` is to the filter: one it reads, one it owns (an identity header), or
/// neither. Names are told apart by length first: [`same_name`] only matches equal lengths,
/// so most names are settled without comparing a byte.
enum Kind {
    Read(Read),
    Owned,
    Other,
}

fn kind(name: &[u8]) -> Kind {
    let read = match name.len() {
        4 => [("host", Read::Host)].as_slice(),
        6 => &[("cookie", Read::Cookie), ("accept", Read::Accept)],
        13 => &[("authorization", Read::Authorization)],
        16 => &[("x-requested-with", Read::RequestedWith)],
        _ => &[],
    };
    if let Some(&(_, r)) = read.iter().find(|(n, _)| same_name(name, n)) {
        return Kind::Read(r);
    }
    if IDENTITY_HEADERS.iter().any(|h| same_name(name, h)) {
        Kind::Owned
    } else {
        Kind::Other
    }
}

/// A name the filter matched: every such name is ASCII (it equals an ASCII name up to ASCII
/// case and `_`), so the conversion cannot fail.
fn matched_name(name: &[u8]) -> &str {
    std::str::from_utf8(name).unwrap_or_default()
}

/// A value as text, if it is UTF-8: `std::str::from_utf8`, with the usual ASCII value settled
/// sixteen bytes per step first (the standard check goes four bytes per step on wasm32, and
/// the session cookie is 0.45-4.4 KB on every request).
fn text(v: &[u8]) -> Option<&str> {
    const HIGHS: u128 = 0x8080_8080_8080_8080_8080_8080_8080_8080;
    let (blocks, rest) = v.as_chunks::<16>();
    let high = blocks.iter().fold(0, |h, b| h | u128::from_le_bytes(*b)) & HIGHS;
    if high == 0 && rest.is_ascii() {
        // SAFETY: every byte is below 0x80, and ASCII is UTF-8.
        return Some(unsafe { std::str::from_utf8_unchecked(v) });
    }
    std::str::from_utf8(v).ok()
}

/// The pseudo-headers the filter reads, compared exactly.
#[derive(Clone, Copy)]
enum Pseudo {
    Method,
    Path,
    Authority,
    Scheme,
}

fn pseudo(name: &[u8]) -> Option<(Pseudo, &'static str)> {
    Some(match name {
        b":method" => (Pseudo::Method, ":method"),
        b":path" => (Pseudo::Path, ":path"),
        b":authority" => (Pseudo::Authority, ":authority"),
        b":scheme" => (Pseudo::Scheme, ":scheme"),
        _ => return None,
    })
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
        if k.first() == Some(&b':') {
            // Pseudo-headers are compared exactly; every one the host hands must be UTF-8,
            // except one whose name is not, which is none the filter knows and is passed
            // over like any such name.
            let (which, name) = match pseudo(k) {
                Some((which, name)) => (Some(which), name),
                None => match std::str::from_utf8(k) {
                    Ok(name) => (None, name),
                    Err(_) => continue,
                },
            };
            let Some(v) = text(v) else {
                s.unreadable = s.unreadable.or(Some(name));
                continue;
            };
            match which {
                Some(Pseudo::Method) => s.method = v,
                Some(Pseudo::Path) => s.path = v,
                Some(Pseudo::Authority) => authority = v,
                Some(Pseudo::Scheme) => s.scheme = v,
                None => {}
            }
            continue;
        }
        let read = match kind(k) {
            Kind::Read(r) => r,
            Kind::Owned => {
                s.forged = s.forged.or(Some(matched_name(k)));
                continue;
            }
            Kind::Other => continue,
        };
        let Some(v) = text(v) else {
            s.unreadable = s.unreadable.or(Some(matched_name(k)));
            continue;
        };
        match read {
            Read::Cookie => s.cookies.push(v),
            Read::Accept => s.accept = Some(v),
            Read::Host => host = v,
            Read::Authorization => {
                s.authorizations += 1;
                s.authorization = s.authorization.or(Some(v));
            }
            Read::RequestedWith => s.xhr = v.eq_ignore_ascii_case("xmlhttprequest"),
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
        assert_eq!(s.cookies.iter().collect::<Vec<_>>(), ["a=1", "b=2"]);
        assert_eq!(s.cookies.joined().as_deref(), Some("a=1; b=2"));
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
    fn text_is_from_utf8() {
        for n in 0..40 {
            let mut v = vec![b'a'; n];
            assert_eq!(text(&v), std::str::from_utf8(&v).ok());
            for at in 0..n {
                for bad in [0x80, 0xff, 0xc3] {
                    v[at] = bad;
                    assert_eq!(text(&v), None, "len {n}, byte {at}");
                }
                v[at] = b'a';
            }
            v.extend("é€".as_bytes());
            assert_eq!(text(&v), std::str::from_utf8(&v).ok());
        }
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
