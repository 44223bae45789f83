//! `type: oidc`: any OpenID Connect provider, as Dex's oidc connector — discovery, PKCE (S256),
//! nonce, ID-token validation, optional userinfo, groups with an allow-list, and Entra ID's
//! group overage resolved through Microsoft Graph.

mod claims;
pub mod config;
mod id_token;
mod provider;

use async_trait::async_trait;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use self::claims::GroupsClaim;
use self::config::OidcConfig;
use self::provider::Provider;
use super::graph::Graph;
use super::upstream_http::{Auth, Body, UpstreamClient};
use super::{
    allow_list, Connector, ConnectorData, ConnectorError, Identity, LoginRedirect,
    RedirectConnector, RefreshConnector, Scopes,
};
use crate::random::random_token;

/// Where Microsoft Graph answers, for group overage pointing at the retired Azure AD Graph.
const MICROSOFT_GRAPH_MEMBER_GROUPS: &str = "https://graph.microsoft.com/v1.0/me/getMemberGroups";

pub struct OidcConnector {
    id: String,
    name: String,
    config: OidcConfig,
    provider: Provider,
}

#[derive(Serialize, Deserialize)]
struct LoginData {
    pkce_verifier: String,
    nonce: String,
}

#[derive(Serialize, Deserialize)]
struct RefreshData {
    refresh_token: String,
}

struct Tokens {
    access_token: String,
    id_token: Option<String>,
    refresh_token: Option<String>,
}

impl OidcConnector {
    pub fn new(id: String, name: String, config: OidcConfig, http: UpstreamClient) -> Self {
        let provider = Provider::new(config.issuer.clone(), http);
        OidcConnector {
            id,
            name,
            config,
            provider,
        }
    }

    fn upstream_scopes(&self, offline: bool) -> String {
        let mut scopes = vec!["openid"];
        scopes.extend(
            self.config
                .scopes
                .iter()
                .map(String::as_str)
                .filter(|s| *s != "openid"),
        );
        if offline && !scopes.contains(&"offline_access") {
            scopes.push("offline_access");
        }
        scopes.join(" ")
    }

    async fn token<'a>(
        &'a self,
        form: &mut Vec<(&'a str, &'a str)>,
    ) -> Result<Tokens, ConnectorError> {
        let endpoints = self.provider.endpoints().await?;
        let auth = if self.config.basic_auth_unsupported {
            form.push(("client_id", &self.config.client_id));
            form.push(("client_secret", self.config.client_secret.expose()));
            Auth::None
        } else {
            Auth::Basic {
                id: &self.config.client_id,
                secret: self.config.client_secret.expose(),
            }
        };
        let v = self
            .provider
            .http()
            .call(
                "OIDC token endpoint",
                Method::POST,
                &endpoints.token,
                auth,
                Body::Form(form),
            )
            .await?;
        let text = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
        Ok(Tokens {
            access_token: text("access_token").ok_or_else(|| {
                ConnectorError::Upstream("OIDC token endpoint: no access_token".into())
            })?,
            id_token: text("id_token"),
            refresh_token: text("refresh_token"),
        })
    }

    /// Claims of the ID token, merged with userinfo when `getUserInfo` is set.
    async fn claims(
        &self,
        tokens: &Tokens,
        id_token: &str,
        nonce: Option<&str>,
    ) -> Result<Map<String, Value>, ConnectorError> {
        let mut claims =
            id_token::verify(&self.provider, &self.config.client_id, id_token, nonce).await?;
        if self.config.get_user_info {
            let endpoints = self.provider.endpoints().await?;
            let url = endpoints.userinfo.ok_or_else(|| {
                ConnectorError::Upstream(
                    "getUserInfo is set but the provider has no userinfo endpoint".into(),
                )
            })?;
            let info = self
                .provider
                .http()
                .call(
                    "OIDC userinfo",
                    Method::GET,
                    &url,
                    Auth::Bearer(&tokens.access_token),
                    Body::Empty,
                )
                .await?;
            let Value::Object(info) = info else {
                return Err(ConnectorError::Upstream(
                    "OIDC userinfo: not a JSON object".into(),
                ));
            };
            // Core §5.3.2: userinfo about someone else must not be used.
            if info.get("sub") != claims.get("sub") {
                return Err(ConnectorError::Upstream(
                    "OIDC userinfo: sub differs from the ID token's".into(),
                ));
            }
            claims::merge_userinfo(&mut claims, info, &self.config.email_claim);
        }
        Ok(claims)
    }

    async fn identity(
        &self,
        tokens: &Tokens,
        claims: &Map<String, Value>,
    ) -> Result<Identity, ConnectorError> {
        let mut identity = claims::identity(&self.config, claims)?;
        if self.config.insecure_enable_groups {
            let groups = match claims::groups(&self.config, claims) {
                GroupsClaim::Listed(g) => g,
                GroupsClaim::Overage(endpoint) => {
                    self.overage_groups(&endpoint, &tokens.access_token).await?
                }
            };
            identity.groups = allow_list::enforce(groups, &self.config.allowed_groups, true)?;
        }
        Ok(identity)
    }

    /// Entra ID puts `_claim_names`/`_claim_sources` instead of `groups` when a user is in too
    /// many groups; the ids are then asked from Graph's getMemberGroups with the access token.
    async fn overage_groups(
        &self,
        endpoint: &str,
        access_token: &str,
    ) -> Result<Vec<String>, ConnectorError> {
        let parsed = url::Url::parse(endpoint).map_err(|_| {
            ConnectorError::Upstream("group overage: bad claim source endpoint".into())
        })?;
        let issuer_is_http = self.config.issuer.starts_with("http://");
        // The access token goes there: https only (plain http only for a plain-http test issuer).
        if parsed.scheme() != "https" && !(issuer_is_http && parsed.scheme() == "http") {
            return Err(ConnectorError::Upstream(
                "group overage: claim source is not https".into(),
            ));
        }
        // The retired Azure AD Graph endpoint Entra still names: ask Microsoft Graph instead.
        let url = if parsed.host_str() == Some("graph.windows.net") {
            MICROSOFT_GRAPH_MEMBER_GROUPS.to_string()
        } else {
            endpoint.to_string()
        };
        let graph = Graph {
            http: self.provider.http(),
            base: "",
            access_token,
        };
        graph.member_groups_at(&url, false).await
    }
}

fn refresh_data(token: Option<String>) -> Result<Option<ConnectorData>, ConnectorError> {
    token
        .map(|refresh_token| {
            serde_json::to_string(&RefreshData { refresh_token })
                .map(ConnectorData::new)
                .map_err(|e| ConnectorError::Internal(e.to_string()))
        })
        .transpose()
}

impl Connector for OidcConnector {
    fn id(&self) -> &str {
        &self.id
    }

    fn name(&self) -> &str {
        &self.name
    }

    fn redirect(&self) -> Option<&dyn RedirectConnector> {
        Some(self)
    }

    fn refresh(&self) -> Option<&dyn RefreshConnector> {
        Some(self)
    }
}

#[async_trait]
impl RedirectConnector for OidcConnector {
    async fn login(&self, scopes: Scopes, state: &str) -> Result<LoginRedirect, ConnectorError> {
        let endpoints = self.provider.endpoints().await?;
        let data = LoginData {
            pkce_verifier: random_token(),
            nonce: random_token(),
        };
        let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(data.pkce_verifier.as_bytes()));
        let mut url = url::Url::parse(&endpoints.authorization).map_err(|_| {
            ConnectorError::Upstream("OIDC discovery: bad authorization_endpoint".into())
        })?;
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("client_id", &self.config.client_id)
                .append_pair("redirect_uri", &self.config.redirect_uri)
                .append_pair("response_type", "code")
                .append_pair("scope", &self.upstream_scopes(scopes.offline_access))
                .append_pair("state", state)
                .append_pair("nonce", &data.nonce)
                .append_pair("code_challenge", &challenge)
                .append_pair("code_challenge_method", "S256");
            if let Some(p) = &self.config.prompt_type {
                q.append_pair("prompt", p);
            }
        }
        let data =
            serde_json::to_string(&data).map_err(|e| ConnectorError::Internal(e.to_string()))?;
        Ok(LoginRedirect {
            url: url.into(),
            data: ConnectorData::new(data),
        })
    }

    async fn callback(
        &self,
        scopes: Scopes,
        data: &ConnectorData,
        code: &str,
    ) -> Result<Identity, ConnectorError> {
        let login: LoginData = serde_json::from_str(data.expose())
            .map_err(|_| ConnectorError::Internal("stored login data is corrupt".into()))?;
        let tokens = self
            .token(&mut vec![
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", &self.config.redirect_uri),
                ("code_verifier", &login.pkce_verifier),
            ])
            .await?;
        let id_token = tokens
            .id_token
            .clone()
            .ok_or_else(|| ConnectorError::Upstream("OIDC token endpoint: no id_token".into()))?;
        let claims = self.claims(&tokens, &id_token, Some(&login.nonce)).await?;
        let mut identity = self.identity(&tokens, &claims).await?;
        if scopes.offline_access {
            identity.connector_data = refresh_data(tokens.refresh_token)?;
        }
        Ok(identity)
    }
}

#[async_trait]
impl RefreshConnector for OidcConnector {
    async fn refresh(&self, identity: &Identity) -> Result<Option<Identity>, ConnectorError> {
        let data: RefreshData = identity
            .connector_data
            .as_ref()
            .and_then(|d| serde_json::from_str(d.expose()).ok())
            .ok_or_else(|| {
                ConnectorError::Upstream("no upstream refresh token for this session".into())
            })?;
        let tokens = self
            .token(&mut vec![
                ("grant_type", "refresh_token"),
                ("refresh_token", &data.refresh_token),
            ])
            .await?;
        let mut fresh = match tokens.id_token.as_deref() {
            Some(id_token) => {
                let claims = self.claims(&tokens, id_token, None).await?;
                self.identity(&tokens, &claims).await?
            }
            // No new ID token: the provider vouches for the session by refreshing it.
            None => identity.clone(),
        };
        if fresh.user_id != identity.user_id {
            return Err(ConnectorError::Upstream(
                "the refreshed ID token is about another user".into(),
            ));
        }
        fresh.connector_data = refresh_data(tokens.refresh_token.or(Some(data.refresh_token)))?;
        Ok(Some(fresh))
    }
}
