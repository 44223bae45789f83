//! What the filter knows of the broker: its discovery document and signing keys (JWKS).
//! Fetched by the root context; parsed and checked here.

pub mod fetch;
pub mod keys;
pub mod share;

pub use keys::{Algorithm, KeySet, VerifyingKey};

use std::cell::{Cell, RefCell};

use crate::path::absolute_url::AbsoluteUrl;
use serde::Deserialize;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ProviderError {
    #[error("discovery document is not valid JSON: {0}")]
    DiscoveryJson(String),
    #[error("discovery names issuer {found:?}, expected {expected:?}")]
    IssuerMismatch { expected: String, found: String },
    #[error("discovery field `{0}` is not an absolute URL")]
    BadEndpoint(&'static str),
    #[error("JWKS is not valid: {0}")]
    Jwks(String),
    #[error("JWKS has no usable signing key (RSA, EC P-256 or Ed25519)")]
    NoKeys,
}

/// The endpoints the filter uses, as `(browser URL, path for calls through the gateway)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    pub authorization: String,
    pub token_path: String,
    pub jwks_path: String,
    pub end_session: Option<String>,
}

#[derive(Deserialize)]
struct DiscoveryDoc {
    issuer: String,
    authorization_endpoint: String,
    token_endpoint: String,
    jwks_uri: String,
    #[serde(default)]
    end_session_endpoint: Option<String>,
}

/// Path and query of an absolute URL: the filter's calls go to a gateway upstream, not to the
/// URL's host, so only this part is used.
fn call_path(url: &str, field: &'static str) -> Result<String, ProviderError> {
    let u = AbsoluteUrl::parse(url).map_err(|_| ProviderError::BadEndpoint(field))?;
    Ok(match u.query() {
        Some(q) => format!("{}?{q}", u.path()),
        None => u.path().to_string(),
    })
}

/// Parses the discovery document and insists it is the configured issuer's (OIDC Discovery §4.3).
pub fn parse_discovery(body: &[u8], issuer: &str) -> Result<Endpoints, ProviderError> {
    let doc: DiscoveryDoc =
        serde_json::from_slice(body).map_err(|e| ProviderError::DiscoveryJson(e.to_string()))?;
    if doc.issuer != issuer {
        return Err(ProviderError::IssuerMismatch {
            expected: issuer.to_string(),
            found: doc.issuer,
        });
    }
    call_path(&doc.authorization_endpoint, "authorization_endpoint")?;
    if let Some(e) = &doc.end_session_endpoint {
        call_path(e, "end_session_endpoint")?;
    }
    Ok(Endpoints {
        authorization: doc.authorization_endpoint,
        token_path: call_path(&doc.token_endpoint, "token_endpoint")?,
        jwks_path: call_path(&doc.jwks_uri, "jwks_uri")?,
        end_session: doc.end_session_endpoint,
    })
}

/// Everything needed to run logins and check tokens.
pub struct Provider {
    pub endpoints: Endpoints,
    /// Replaced in place when an unknown `kid` made a worker refetch the JWKS.
    pub keys: RefCell<KeySet>,
    /// Last time (unix seconds) a worker refetched the JWKS for an unknown `kid`.
    pub last_key_fetch: Cell<u64>,
    /// Last time (unix seconds) the broker answered a call; a login is only sent to a
    /// broker heard from recently, else it is probed first.
    pub last_contact: Cell<u64>,
}

impl Provider {
    pub fn new(endpoints: Endpoints, keys: KeySet, now: u64) -> Provider {
        Provider {
            endpoints,
            keys: RefCell::new(keys),
            last_key_fetch: Cell::new(0),
            last_contact: Cell::new(now),
        }
    }

    /// The provider a discovery document and a JWKS make together.
    pub fn from_documents(
        discovery: &[u8],
        jwks: &[u8],
        issuer: &str,
        fetched_at: u64,
    ) -> Result<Provider, ProviderError> {
        let endpoints = parse_discovery(discovery, issuer)?;
        let keys = KeySet::parse(jwks)?;
        Ok(Provider::new(endpoints, keys, fetched_at))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn discovery_must_name_our_issuer() {
        let doc = br#"{"issuer":"http://x/dex","authorization_endpoint":"http://x/dex/auth",
            "token_endpoint":"http://x/dex/token","jwks_uri":"http://x/dex/keys"}"#;
        let e = parse_discovery(doc, "http://x/dex").unwrap();
        assert_eq!(e.token_path, "/dex/token");
        assert_eq!(e.jwks_path, "/dex/keys");
        assert!(matches!(
            parse_discovery(doc, "http://y/dex"),
            Err(ProviderError::IssuerMismatch { .. })
        ));
        assert!(parse_discovery(b"{}", "http://x/dex").is_err());
        assert!(parse_discovery(b"not json", "http://x/dex").is_err());
    }
}
