//! Absolute `http(s)` URLs: the issuer and `redirect_url` of the configuration, the endpoints
//! of the discovery document. Parsed by the `http` crate's `Uri`, which has no IDNA tables
//! (the `url` crate's cost ~100 KB of the `.wasm`): hosts must be ASCII, as in the broker's
//! own URLs; an internationalised name is written in its `xn--` form.

use http::uri::{Scheme, Uri};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    #[error("not an absolute URL")]
    NotAbsolute,
    #[error("not an http(s) URL with a host")]
    NotHttp,
    #[error("has a fragment")]
    Fragment,
    #[error("has a port outside 0-65535")]
    Port,
}

pub struct AbsoluteUrl {
    uri: Uri,
}

impl AbsoluteUrl {
    pub fn parse(text: &str) -> Result<AbsoluteUrl, UrlError> {
        // `Uri` drops a fragment silently; a URL the filter keeps must not carry one.
        if text.contains('#') {
            return Err(UrlError::Fragment);
        }
        let uri: Uri = text.parse().map_err(|_| UrlError::NotAbsolute)?;
        let scheme = uri.scheme().ok_or(UrlError::NotAbsolute)?;
        if *scheme != Scheme::HTTP && *scheme != Scheme::HTTPS {
            return Err(UrlError::NotHttp);
        }
        match uri.authority() {
            Some(a) if !a.host().is_empty() && !a.as_str().contains('@') => {
                // `Uri` takes any run of digits as a port (its `port()` is then None).
                let port = a.as_str().rsplit_once(':').map(|(_, p)| p);
                if port.is_some_and(|p| !p.contains(']') && p.parse::<u16>().is_err()) {
                    return Err(UrlError::Port);
                }
            }
            _ => return Err(UrlError::NotHttp),
        }
        Ok(AbsoluteUrl { uri })
    }

    /// The host, lower case.
    pub fn host(&self) -> String {
        self.uri.host().unwrap_or_default().to_ascii_lowercase()
    }

    pub fn port(&self) -> Option<u16> {
        self.uri.port_u16()
    }

    /// `host[:port]`, as a request's `:authority`.
    pub fn authority(&self) -> String {
        match self.port() {
            Some(p) => format!("{}:{p}", self.host()),
            None => self.host(),
        }
    }

    /// The path, `/` when the URL has none.
    pub fn path(&self) -> &str {
        self.uri.path()
    }

    pub fn query(&self) -> Option<&str> {
        self.uri.query()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_parts_of_an_absolute_url() {
        let u = AbsoluteUrl::parse("https://SSO.example.com:8443/dex/token?a=1").unwrap();
        assert_eq!(u.authority(), "sso.example.com:8443");
        assert_eq!((u.path(), u.query()), ("/dex/token", Some("a=1")));
        let u = AbsoluteUrl::parse("http://[::1]:65535/").unwrap();
        assert_eq!(u.port(), Some(65535));
        assert!(AbsoluteUrl::parse("http://[::1]/").is_ok());
        let u = AbsoluteUrl::parse("http://x").unwrap();
        assert_eq!((u.authority().as_str(), u.path()), ("x", "/"));
    }

    #[test]
    fn refuses_what_is_not_an_absolute_http_url() {
        for (text, want) in [
            ("/dex", UrlError::NotAbsolute),
            ("", UrlError::NotAbsolute),
            ("sso.example.com/dex", UrlError::NotAbsolute),
            ("http://bad host/", UrlError::NotAbsolute),
            ("http://münchen.example/", UrlError::NotAbsolute),
            ("ftp://x/dex", UrlError::NotHttp),
            ("http://user@x/dex", UrlError::NotHttp),
            ("https://x/dex#frag", UrlError::Fragment),
            ("https://x:99999/dex", UrlError::Port),
            ("https://x:65536/dex", UrlError::Port),
            (" https://x/dex ", UrlError::NotAbsolute),
        ] {
            assert_eq!(AbsoluteUrl::parse(text).err(), Some(want), "{text:?}");
        }
    }
}
