//! What the filter knows of the broker: its discovery document and signing keys (JWKS).
//! Fetched by the root context; parsed and checked here.

pub mod fetch;
pub mod share;

use std::cell::{Cell, RefCell};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, JwkSet, KeyAlgorithm};
use jsonwebtoken::{Algorithm, DecodingKey};
use serde::Deserialize;
use url::Url;

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
    /// RFC 7009's endpoint (call path): the sign-out revokes the session's refresh token.
    pub revocation_path: Option<String>,
    /// Gatehouse's revocation feed (call path); when offered, sessions are checked against it.
    pub revocation_feed: Option<String>,
}

#[derive(Deserialize)]
struct DiscoveryDoc {
    issuer: String,
    authorization_endpoint: String,
    token_endpoint: String,
    jwks_uri: String,
    #[serde(default)]
    end_session_endpoint: Option<String>,
    #[serde(default)]
    revocation_endpoint: Option<String>,
    #[serde(default)]
    revocation_feed_endpoint: Option<String>,
}

/// Path and query of an absolute URL: the filter's calls go to a gateway upstream, not to the
/// URL's host, so only this part is used.
fn call_path(url: &str, field: &'static str) -> Result<String, ProviderError> {
    let u = Url::parse(url).map_err(|_| ProviderError::BadEndpoint(field))?;
    if !matches!(u.scheme(), "http" | "https") {
        return Err(ProviderError::BadEndpoint(field));
    }
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
        revocation_path: doc
            .revocation_endpoint
            .map(|u| call_path(&u, "revocation_endpoint"))
            .transpose()?,
        revocation_feed: doc
            .revocation_feed_endpoint
            .map(|u| call_path(&u, "revocation_feed_endpoint"))
            .transpose()?,
    })
}

/// Verification keys by `kid`, each bound to the one algorithm its key type allows.
#[derive(Clone)]
pub struct KeySet {
    keys: Vec<(Option<String>, Algorithm, DecodingKey)>,
}

/// The algorithm a JWKS key verifies with: RS256 for RSA, ES256 for EC P-256, EdDSA for OKP
/// Ed25519 (what the broker signs with), and only that one, whatever a token's header says.
/// A key of any other kind, whose stated `alg` differs, or whose point has the wrong length
/// (jsonwebtoken would index past a short Ed25519 key) is not used.
fn key_algorithm(k: &Jwk) -> Option<Algorithm> {
    let b64_len = |s: &str| URL_SAFE_NO_PAD.decode(s).ok().map(|b| b.len());
    let alg = match &k.algorithm {
        AlgorithmParameters::RSA(_) => Algorithm::RS256,
        AlgorithmParameters::EllipticCurve(p)
            if p.curve == EllipticCurve::P256
                && b64_len(&p.x) == Some(32)
                && b64_len(&p.y) == Some(32) =>
        {
            Algorithm::ES256
        }
        AlgorithmParameters::OctetKeyPair(p)
            if p.curve == EllipticCurve::Ed25519 && b64_len(&p.x) == Some(32) =>
        {
            Algorithm::EdDSA
        }
        _ => return None,
    };
    let stated_ok = match &k.common.key_algorithm {
        None => true,
        Some(KeyAlgorithm::RS256) => alg == Algorithm::RS256,
        Some(KeyAlgorithm::ES256) => alg == Algorithm::ES256,
        Some(KeyAlgorithm::EdDSA) => alg == Algorithm::EdDSA,
        Some(_) => false,
    };
    stated_ok.then_some(alg)
}

impl KeySet {
    pub fn parse(body: &[u8]) -> Result<KeySet, ProviderError> {
        let set: JwkSet =
            serde_json::from_slice(body).map_err(|e| ProviderError::Jwks(e.to_string()))?;
        let keys: Vec<_> = set
            .keys
            .iter()
            .filter(|k| {
                // Only signature keys: encryption keys must never verify a token.
                k.common
                    .public_key_use
                    .as_ref()
                    .is_none_or(|u| matches!(u, jsonwebtoken::jwk::PublicKeyUse::Signature))
            })
            .filter_map(|k| {
                let alg = key_algorithm(k)?;
                Some((k.common.key_id.clone(), alg, DecodingKey::from_jwk(k).ok()?))
            })
            .collect();
        if keys.is_empty() {
            return Err(ProviderError::NoKeys);
        }
        Ok(KeySet { keys })
    }

    /// The key for `kid` and its algorithm; a token without `kid` is accepted only when
    /// there is one key.
    pub fn find(&self, kid: Option<&str>) -> Option<(Algorithm, &DecodingKey)> {
        let found = match kid {
            Some(kid) => self.keys.iter().find(|(k, _, _)| k.as_deref() == Some(kid)),
            None if self.keys.len() == 1 => self.keys.first(),
            None => None,
        };
        found.map(|(_, alg, key)| (*alg, key))
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

/// Signing algorithms accepted from the broker (its `signer.config.algorithm` choices).
pub const ALGORITHMS: [Algorithm; 3] = [Algorithm::RS256, Algorithm::ES256, Algorithm::EdDSA];

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
    /// Set when a token named a key id the JWKS lacks, where no call can go out (a token
    /// response's callback): the root context refetches on its next tick (rate-limited).
    pub wants_keys: Cell<bool>,
}

impl Provider {
    pub fn new(endpoints: Endpoints, keys: KeySet, now: u64) -> Provider {
        Provider {
            endpoints,
            keys: RefCell::new(keys),
            last_key_fetch: Cell::new(0),
            last_contact: Cell::new(now),
            wants_keys: Cell::new(false),
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

    #[test]
    fn jwks_without_rsa_keys_is_refused() {
        assert_eq!(
            KeySet::parse(br#"{"keys":[]}"#).err(),
            Some(ProviderError::NoKeys)
        );
        assert!(KeySet::parse(b"[]").is_err());
    }
}
