//! Dex's `web:` block: the HTTP and HTTPS listeners, TLS files and versions, CORS
//! (`allowedOrigins`/`allowedHeaders`) and extra response headers (`headers`).
//! `clientRemoteIP` has its own module.

use axum::http::{HeaderName, HeaderValue};
use serde::Deserialize;

use super::client_remote_ip::RawClientRemoteIp;
use super::error::ConfigError;
use super::tls_files::{load_certified_key, tls_versions, TlsVersions};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWeb {
    pub http: Option<String>,
    pub https: Option<String>,
    #[serde(rename = "tlsCert")]
    pub tls_cert: Option<String>,
    #[serde(rename = "tlsKey")]
    pub tls_key: Option<String>,
    #[serde(rename = "tlsMinVersion")]
    pub tls_min_version: Option<String>,
    #[serde(rename = "tlsMaxVersion")]
    pub tls_max_version: Option<String>,
    #[serde(rename = "allowedOrigins")]
    pub allowed_origins: Option<Vec<String>>,
    #[serde(rename = "allowedHeaders")]
    pub allowed_headers: Option<Vec<String>>,
    pub headers: Option<RawHeaders>,
    #[serde(rename = "clientRemoteIP")]
    pub client_remote_ip: Option<RawClientRemoteIp>,
}

/// Dex's `web.headers` struct: exactly these five headers.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHeaders {
    #[serde(rename = "Content-Security-Policy")]
    pub content_security_policy: Option<String>,
    #[serde(rename = "X-Frame-Options")]
    pub x_frame_options: Option<String>,
    #[serde(rename = "X-Content-Type-Options")]
    pub x_content_type_options: Option<String>,
    #[serde(rename = "X-XSS-Protection")]
    pub x_xss_protection: Option<String>,
    #[serde(rename = "Strict-Transport-Security")]
    pub strict_transport_security: Option<String>,
}

/// `web.https`: a TLS listener. The files are re-read while serving (see `crate::tls`).
#[derive(Debug, Clone)]
pub struct HttpsConfig {
    pub addr: String,
    pub cert_path: String,
    pub key_path: String,
    pub versions: TlsVersions,
}

/// `web.allowedOrigins` / `allowedHeaders`, applied to the endpoints Dex opens to browsers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cors {
    /// Exact origins (`https://app.example`), or `*` for any. Empty: no CORS at all.
    pub origins: Vec<String>,
    /// Request headers a preflight may ask for beyond the always-allowed ones, canonical case.
    pub headers: Vec<String>,
}

impl Cors {
    pub fn any_origin(&self) -> bool {
        self.origins.iter().any(|o| o == "*")
    }
}

/// The listeners and browser-facing settings of `web:`.
#[derive(Debug, Clone)]
pub struct Web {
    pub http: Option<String>,
    pub https: Option<HttpsConfig>,
    pub cors: Cors,
    /// `web.headers`: set on every response, replacing the broker's own value of that header.
    pub headers: Vec<(HeaderName, HeaderValue)>,
}

pub fn web(raw: Option<RawWeb>) -> Result<Web, ConfigError> {
    let Some(raw) = raw else {
        return Err(missing_listener());
    };
    let http = raw
        .http
        .filter(|s| !s.trim().is_empty())
        .map(|a| super::listen_addr::listen_addr("web.http", a))
        .transpose()?;
    let https = https(
        raw.https,
        raw.tls_cert,
        raw.tls_key,
        raw.tls_min_version,
        raw.tls_max_version,
    )?;
    if http.is_none() && https.is_none() {
        return Err(missing_listener());
    }
    if let (Some(h), Some(s)) = (&http, &https) {
        if *h == s.addr {
            return Err(ConfigError::key(
                "web.https",
                "must differ from web.http (each listener needs its own port)",
            ));
        }
    }
    Ok(Web {
        http,
        https,
        cors: cors(raw.allowed_origins, raw.allowed_headers)?,
        headers: headers(raw.headers)?,
    })
}

fn missing_listener() -> ConfigError {
    ConfigError::key(
        "web.http",
        "missing: the address to listen on, e.g. 127.0.0.1:5556 (or web.https with tlsCert and tlsKey)",
    )
}

fn https(
    addr: Option<String>,
    cert: Option<String>,
    key: Option<String>,
    min: Option<String>,
    max: Option<String>,
) -> Result<Option<HttpsConfig>, ConfigError> {
    let versions = tls_versions("web", min.as_deref(), max.as_deref())?;
    let Some(addr) = addr.filter(|s| !s.trim().is_empty()) else {
        if cert.is_some() || key.is_some() {
            return Err(ConfigError::key(
                "web.https",
                "missing: web.tlsCert and web.tlsKey are used by the HTTPS listener only; give its address, e.g. 127.0.0.1:5554",
            ));
        }
        return Ok(None);
    };
    let addr = super::listen_addr::listen_addr("web.https", addr)?;
    let cert_path = cert.filter(|s| !s.is_empty()).ok_or_else(|| {
        ConfigError::key(
            "web.tlsCert",
            "missing: the PEM certificate (chain) for web.https",
        )
    })?;
    let key_path = key.filter(|s| !s.is_empty()).ok_or_else(|| {
        ConfigError::key("web.tlsKey", "missing: the PEM private key for web.https")
    })?;
    // Loaded once here so `check-config` names a missing or mismatched file.
    load_certified_key(&cert_path, &key_path).map_err(|e| {
        let key = if e.is_key_fault() {
            "web.tlsKey"
        } else {
            "web.tlsCert"
        };
        ConfigError::key(key, e.to_string())
    })?;
    Ok(Some(HttpsConfig {
        addr,
        cert_path,
        key_path,
        versions,
    }))
}

/// Headers a browser may always send cross-origin (as gorilla/handlers, which Dex uses).
pub const ALWAYS_ALLOWED_HEADERS: &[&str] =
    &["Accept", "Accept-Language", "Content-Language", "Origin"];

fn cors(origins: Option<Vec<String>>, headers: Option<Vec<String>>) -> Result<Cors, ConfigError> {
    let mut out = Cors::default();
    for (i, o) in origins.unwrap_or_default().into_iter().enumerate() {
        let at = format!("web.allowedOrigins[{i}]");
        let o = o.trim().to_string();
        if o == "*" {
            out.origins.push(o);
            continue;
        }
        // An origin is scheme://host[:port], exactly as a browser sends it in `Origin`.
        let url = url::Url::parse(&o)
            .map_err(|e| ConfigError::key(&at, format!("{o:?} is not an origin ({e})")))?;
        let serialized = url.origin().ascii_serialization();
        // Browsers send a host of letters, digits, dots and dashes (punycode) or an IP; a
        // pattern such as `https://*.example` would match nothing and is refused.
        let plain_host = match url.host() {
            Some(url::Host::Domain(d)) => d
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-'),
            Some(_) => true,
            None => false,
        };
        if !matches!(url.scheme(), "http" | "https")
            || !plain_host
            || serialized != o.trim_end_matches('/')
        {
            return Err(ConfigError::key(
                at,
                format!("{o:?} is not an origin: write scheme://host[:port], e.g. https://app.example, or \"*\""),
            ));
        }
        out.origins.push(serialized);
    }
    for (i, h) in headers.unwrap_or_default().into_iter().enumerate() {
        let h = h.trim();
        if HeaderName::from_bytes(h.as_bytes()).is_err() {
            return Err(ConfigError::key(
                format!("web.allowedHeaders[{i}]"),
                format!("{h:?} is not a header name, e.g. Authorization"),
            ));
        }
        out.headers.push(canonical_header(h));
    }
    Ok(out)
}

/// `authorization` → `Authorization`, `x-request-id` → `X-Request-Id` (Go's canonical form).
pub fn canonical_header(name: &str) -> String {
    name.split('-')
        .map(|part| {
            let mut chars = part.chars();
            match chars.next() {
                Some(first) => {
                    first.to_ascii_uppercase().to_string() + &chars.as_str().to_ascii_lowercase()
                }
                None => String::new(),
            }
        })
        .collect::<Vec<_>>()
        .join("-")
}

fn headers(raw: Option<RawHeaders>) -> Result<Vec<(HeaderName, HeaderValue)>, ConfigError> {
    let Some(raw) = raw else {
        return Ok(Vec::new());
    };
    let given = [
        ("Content-Security-Policy", raw.content_security_policy),
        ("X-Frame-Options", raw.x_frame_options),
        ("X-Content-Type-Options", raw.x_content_type_options),
        ("X-XSS-Protection", raw.x_xss_protection),
        ("Strict-Transport-Security", raw.strict_transport_security),
    ];
    let mut out = Vec::new();
    for (name, value) in given {
        // Dex: a blank value leaves the header unset.
        let Some(value) = value.filter(|v| !v.trim().is_empty()) else {
            continue;
        };
        let value = HeaderValue::from_str(value.trim()).map_err(|_| {
            ConfigError::key(
                format!("web.headers.{name}"),
                "is not a valid header value (control characters or line breaks)",
            )
        })?;
        out.push((HeaderName::from_static(lower(name)), value));
    }
    Ok(out)
}

fn lower(name: &'static str) -> &'static str {
    match name {
        "Content-Security-Policy" => "content-security-policy",
        "X-Frame-Options" => "x-frame-options",
        "X-Content-Type-Options" => "x-content-type-options",
        "X-XSS-Protection" => "x-xss-protection",
        _ => "strict-transport-security",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_must_be_exact_origins() {
        let c = cors(
            Some(vec![
                "https://app.example".into(),
                "*".into(),
                "http://127.0.0.1:3000/".into(),
            ]),
            Some(vec!["authorization".into(), "X-Request-ID".into()]),
        )
        .unwrap();
        assert_eq!(
            c.origins,
            ["https://app.example", "*", "http://127.0.0.1:3000"]
        );
        assert_eq!(c.headers, ["Authorization", "X-Request-Id"]);
        assert!(c.any_origin());
        for bad in [
            "app.example",
            "https://app.example/path",
            "javascript:alert(1)",
            "https://*.example",
            "ftp://x",
        ] {
            let e = cors(Some(vec![bad.into()]), None).unwrap_err().to_string();
            assert!(e.starts_with("web.allowedOrigins[0]"), "{bad}: {e}");
        }
        let e = cors(None, Some(vec!["bad header".into()]))
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("web.allowedHeaders[0]"), "{e}");
    }

    #[test]
    fn header_values_are_checked() {
        let raw = RawHeaders {
            content_security_policy: Some("default-src 'self'".into()),
            x_frame_options: Some("".into()),
            x_content_type_options: None,
            x_xss_protection: None,
            strict_transport_security: Some("max-age=1\r\nSet-Cookie: x=1".into()),
        };
        let e = headers(Some(raw)).unwrap_err().to_string();
        assert!(
            e.starts_with("web.headers.Strict-Transport-Security"),
            "{e}"
        );
    }
}
