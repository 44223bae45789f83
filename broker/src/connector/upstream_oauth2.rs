//! The OAuth 2.0 authorization-code flow as an upstream's client, shared by the `microsoft` and
//! `oidc` connectors: the client's keys, the PKCE (S256) authorize redirect, the token endpoint
//! call, what is kept between the two legs and what is kept for refreshes. Each connector adds
//! only what its upstream does differently (endpoints, scopes, where the identity comes from).

use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::types::BuiltConnector;
use super::upstream_http::{Auth, Body, UpstreamClient};
use super::{
    Connector, ConnectorData, ConnectorError, Identity, LoginRedirect, RedirectConnector,
    RefreshConnector, TokenIdentityConnector,
};
use crate::config::{check_url, required, ConfigError};
use crate::random::random_token;
use crate::secret::Secret;

/// `clientID`, `clientSecret` and `redirectURI`: what every OAuth 2.0 upstream needs.
#[derive(Debug, Clone)]
pub struct OAuth2Client {
    pub client_id: String,
    pub client_secret: Secret,
    /// This broker's `/callback`, as registered upstream.
    pub redirect_uri: String,
}

impl OAuth2Client {
    /// Checks the three keys of the block at `path`: all given, the redirect URI absolute.
    pub fn from_keys(
        path: &str,
        client_id: Option<String>,
        client_secret: Option<String>,
        redirect_uri: Option<String>,
    ) -> Result<Self, ConfigError> {
        let key = |k: &str| format!("{path}.{k}");
        let client_id = required(client_id, &key("clientID"))?;
        let client_secret = Secret::new(required(client_secret, &key("clientSecret"))?);
        let redirect_uri = required(redirect_uri, &key("redirectURI"))?;
        check_url(&redirect_uri, &key("redirectURI"))?;
        Ok(OAuth2Client {
            client_id,
            client_secret,
            redirect_uri,
        })
    }
}

/// Kept between `/auth/{id}` and `/callback`.
#[derive(Serialize, Deserialize)]
pub struct LoginData {
    pub pkce_verifier: String,
    /// OpenID Connect only: the ID token must carry it back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
}

impl LoginData {
    pub fn new(with_nonce: bool) -> Self {
        LoginData {
            pkce_verifier: random_token(),
            nonce: with_nonce.then(random_token),
        }
    }

    /// What `/auth/{id}` kept, handed back on the callback.
    pub fn read(data: &ConnectorData) -> Result<Self, ConnectorError> {
        serde_json::from_str(data.expose())
            .map_err(|_| ConnectorError::Internal("stored login data is corrupt".into()))
    }
}

pub fn pkce_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// The redirect to `authorize`: the client, `response_type=code`, `state`, PKCE (S256), the
/// nonce when the login has one, then the upstream's own parameters (`scope`, `prompt`, …).
pub fn authorize_redirect(
    mut authorize: url::Url,
    client: &OAuth2Client,
    state: &str,
    login: &LoginData,
    params: &[(&str, &str)],
) -> Result<LoginRedirect, ConnectorError> {
    {
        let mut q = authorize.query_pairs_mut();
        q.append_pair("client_id", &client.client_id)
            .append_pair("redirect_uri", &client.redirect_uri)
            .append_pair("response_type", "code")
            .append_pair("state", state);
        if let Some(nonce) = &login.nonce {
            q.append_pair("nonce", nonce);
        }
        q.append_pair("code_challenge", &pkce_challenge(&login.pkce_verifier))
            .append_pair("code_challenge_method", "S256");
        for (name, value) in params {
            q.append_pair(name, value);
        }
    }
    let data = serde_json::to_string(login).map_err(|e| ConnectorError::Internal(e.to_string()))?;
    Ok(LoginRedirect {
        url: authorize.into(),
        data: ConnectorData::new(data),
    })
}

/// How the client proves itself at the token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    /// `client_secret_basic`.
    Basic,
    /// `client_secret_post`: id and secret in the form.
    Post,
}

/// What a token endpoint answered.
pub struct Tokens {
    pub access_token: String,
    pub id_token: Option<String>,
    pub refresh_token: Option<String>,
}

/// Posts a grant (`form`: its parameters) to the token endpoint; `what` names it in errors.
pub async fn token_request(
    http: &UpstreamClient,
    what: &str,
    url: &str,
    client: &OAuth2Client,
    auth: ClientAuth,
    form: &[(&str, &str)],
) -> Result<Tokens, ConnectorError> {
    let mut form = form.to_vec();
    let auth = match auth {
        ClientAuth::Post => {
            form.push(("client_id", &client.client_id));
            form.push(("client_secret", client.client_secret.expose()));
            Auth::None
        }
        ClientAuth::Basic => Auth::Basic {
            id: &client.client_id,
            secret: client.client_secret.expose(),
        },
    };
    let v = http
        .call(what, Method::POST, url, auth, Body::Form(&form))
        .await?;
    let text = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
    Ok(Tokens {
        access_token: text("access_token")
            .filter(|s| !s.is_empty())
            .ok_or_else(|| ConnectorError::Upstream(format!("{what}: no access_token")))?,
        id_token: text("id_token"),
        refresh_token: text("refresh_token"),
    })
}

/// Kept with the broker's refresh token, so a refresh re-asks the upstream.
#[derive(Serialize, Deserialize)]
pub struct RefreshData {
    pub refresh_token: String,
    /// Whether groups were asked for at sign-in (so a refresh asks again).
    #[serde(default)]
    pub groups: bool,
}

impl RefreshData {
    /// The connector data to keep: none when the upstream gave no refresh token.
    pub fn keep(
        refresh_token: Option<String>,
        groups: bool,
    ) -> Result<Option<ConnectorData>, ConnectorError> {
        refresh_token
            .map(|refresh_token| {
                serde_json::to_string(&RefreshData {
                    refresh_token,
                    groups,
                })
                .map(ConnectorData::new)
                .map_err(|e| ConnectorError::Internal(e.to_string()))
            })
            .transpose()
    }

    /// What the sign-in kept for refreshing `identity`.
    pub fn read(identity: &Identity) -> Result<Self, ConnectorError> {
        identity
            .connector_data
            .as_ref()
            .and_then(|d| serde_json::from_str(d.expose()).ok())
            .ok_or_else(|| {
                ConnectorError::Upstream("no upstream refresh token for this session".into())
            })
    }
}

/// A connector that sends the browser upstream and re-checks the user on refresh: its id and
/// name around the flow (`F`) that does both.
pub struct RedirectingConnector<F> {
    id: String,
    name: String,
    flow: F,
}

impl<F> RedirectingConnector<F> {
    pub fn new(id: &str, name: &str, flow: F) -> Self {
        RedirectingConnector {
            id: id.to_string(),
            name: name.to_string(),
            flow,
        }
    }
}

impl<F: RedirectConnector + RefreshConnector + 'static> RedirectingConnector<F> {
    /// The running connector for a type's [`ConnectorSettings::build`].
    pub fn build(id: &str, name: &str, flow: F) -> BuiltConnector {
        Ok(Arc::new(RedirectingConnector::new(id, name, flow)))
    }
}

impl<F: RedirectConnector + RefreshConnector> Connector for RedirectingConnector<F> {
    fn id(&self) -> &str {
        &self.id
    }

    fn name(&self) -> &str {
        &self.name
    }

    fn redirect(&self) -> Option<&dyn RedirectConnector> {
        Some(&self.flow)
    }

    fn refresh(&self) -> Option<&dyn RefreshConnector> {
        Some(&self.flow)
    }

    fn exchange(&self) -> Option<&dyn TokenIdentityConnector> {
        self.flow.exchange()
    }
}
