//! What the connector learns from the upstream: discovery document and signing keys.
//! Fetched on first use and kept; keys are fetched again (rate-limited) when an unknown `kid`
//! shows up, so upstream key rotation needs no restart.

use std::time::{Duration, Instant};

use jsonwebtoken::jwk::Jwk;
use reqwest::Method;
use serde_json::Value;
use tokio::sync::Mutex;

use crate::connector::upstream_http::{Auth, Body, UpstreamClient};
use crate::connector::ConnectorError;

/// At most one key refetch per this interval (an attacker can make up `kid`s).
const KEY_REFETCH_INTERVAL: Duration = Duration::from_secs(30);

#[derive(Debug, Clone)]
pub struct Endpoints {
    pub authorization: String,
    pub token: String,
    pub userinfo: Option<String>,
    pub jwks_uri: String,
}

struct Cached {
    endpoints: Endpoints,
    keys: Vec<Jwk>,
    keys_fetched: Instant,
}

pub struct Provider {
    issuer: String,
    http: UpstreamClient,
    cache: Mutex<Option<Cached>>,
}

impl Provider {
    pub fn new(issuer: String, http: UpstreamClient) -> Self {
        Provider {
            issuer,
            http,
            cache: Mutex::new(None),
        }
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    pub fn http(&self) -> &UpstreamClient {
        &self.http
    }

    pub async fn endpoints(&self) -> Result<Endpoints, ConnectorError> {
        let mut cache = self.cache.lock().await;
        if let Some(c) = cache.as_ref() {
            return Ok(c.endpoints.clone());
        }
        let endpoints = self.discover().await?;
        let keys = self.fetch_keys(&endpoints.jwks_uri).await?;
        *cache = Some(Cached {
            endpoints: endpoints.clone(),
            keys,
            keys_fetched: Instant::now(),
        });
        Ok(endpoints)
    }

    /// The key with this `kid` (or the only key, when the token names none).
    pub async fn key(&self, kid: Option<&str>) -> Result<Jwk, ConnectorError> {
        self.endpoints().await?;
        let mut cache = self.cache.lock().await;
        let Some(c) = cache.as_mut() else {
            return Err(ConnectorError::Internal("provider cache empty".into()));
        };
        if let Some(k) = pick(&c.keys, kid) {
            return Ok(k);
        }
        if c.keys_fetched.elapsed() >= KEY_REFETCH_INTERVAL {
            c.keys = self.fetch_keys(&c.endpoints.jwks_uri).await?;
            c.keys_fetched = Instant::now();
            if let Some(k) = pick(&c.keys, kid) {
                return Ok(k);
            }
        }
        Err(ConnectorError::Upstream(
            "the ID token is signed with a key the provider does not publish".into(),
        ))
    }

    async fn discover(&self) -> Result<Endpoints, ConnectorError> {
        let url = format!(
            "{}/.well-known/openid-configuration",
            self.issuer.trim_end_matches('/')
        );
        let doc = self
            .http
            .call("OIDC discovery", Method::GET, &url, Auth::None, Body::Empty)
            .await?;
        let text = |k: &str| doc.get(k).and_then(Value::as_str).map(str::to_string);
        // OpenID Connect Discovery §4.3: the document's issuer must be the one configured.
        if text("issuer").as_deref() != Some(self.issuer.as_str()) {
            return Err(ConnectorError::Upstream(format!(
                "OIDC discovery: the provider says its issuer is {:?}, configured is {:?}",
                text("issuer").unwrap_or_default(),
                self.issuer
            )));
        }
        let need = |k: &str| {
            text(k).ok_or_else(|| ConnectorError::Upstream(format!("OIDC discovery: no {k}")))
        };
        Ok(Endpoints {
            authorization: need("authorization_endpoint")?,
            token: need("token_endpoint")?,
            userinfo: text("userinfo_endpoint"),
            jwks_uri: need("jwks_uri")?,
        })
    }

    async fn fetch_keys(&self, url: &str) -> Result<Vec<Jwk>, ConnectorError> {
        let set = self
            .http
            .call("OIDC JWKS", Method::GET, url, Auth::None, Body::Empty)
            .await?;
        // Skip keys of kinds we cannot use instead of refusing the whole set.
        Ok(set
            .get("keys")
            .and_then(Value::as_array)
            .map(|keys| {
                keys.iter()
                    .filter_map(|k| serde_json::from_value::<Jwk>(k.clone()).ok())
                    .collect()
            })
            .unwrap_or_default())
    }
}

fn pick(keys: &[Jwk], kid: Option<&str>) -> Option<Jwk> {
    match kid {
        Some(kid) => keys
            .iter()
            .find(|k| k.common.key_id.as_deref() == Some(kid))
            .cloned(),
        None if keys.len() == 1 => keys.first().cloned(),
        None => None,
    }
}
