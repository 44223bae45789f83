//! `type: oidc`: any OpenID Connect provider, as Dex's oidc connector — discovery, PKCE (S256),
//! nonce, ID-token validation, optional userinfo, groups with an allow-list, and Entra ID's
//! group overage resolved through Microsoft Graph.

mod claims;
pub mod config;
mod exchange;
mod id_token;
mod provider;

use async_trait::async_trait;
use reqwest::Method;
use serde_json::{Map, Value};

use self::claims::GroupsClaim;
use self::config::OidcConfig;
use self::provider::Provider;
use super::graph::Graph;
use super::types::{BuiltConnector, ConnectorSettings, ConnectorType};
use super::upstream_http::{Auth, Body, UpstreamClient};
use super::upstream_oauth2::{
    authorize_redirect, token_request, ClientAuth, LoginData, RedirectingConnector, RefreshData,
    Tokens,
};
use super::{
    allow_list, ConnectorData, ConnectorError, Identity, LoginRedirect, RedirectConnector,
    RefreshConnector, Scopes, TokenIdentityConnector,
};

/// `type: oidc`.
pub const TYPE: ConnectorType = ConnectorType {
    name: "oidc",
    parse: |entry, _| {
        Ok(Box::new(config::parse(
            &entry.config,
            &entry.key("config"),
        )?))
    },
};

impl ConnectorSettings for OidcConfig {
    fn build(&self, id: &str, name: &str, http: &UpstreamClient) -> BuiltConnector {
        RedirectingConnector::build(id, name, OidcConnector::new(self.clone(), http.clone()))
    }

    fn warnings(&self) -> Vec<String> {
        if self.insecure_skip_email_verified {
            vec!["insecureSkipEmailVerified is on: e-mail addresses the provider does not mark verified are reported as verified".into()]
        } else {
            Vec::new()
        }
    }
}

/// Where Microsoft Graph answers, for group overage pointing at the retired Azure AD Graph.
const MICROSOFT_GRAPH_MEMBER_GROUPS: &str = "https://graph.microsoft.com/v1.0/me/getMemberGroups";

/// The OpenID Connect sign-in flow; [`RedirectingConnector`] gives it its id and name.
pub struct OidcConnector {
    config: OidcConfig,
    provider: Provider,
}

impl OidcConnector {
    pub fn new(config: OidcConfig, http: UpstreamClient) -> Self {
        let provider = Provider::new(config.issuer.clone(), http);
        OidcConnector { config, provider }
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

    async fn token(&self, form: &[(&str, &str)]) -> Result<Tokens, ConnectorError> {
        let endpoints = self.provider.endpoints().await?;
        let auth = if self.config.basic_auth_unsupported {
            ClientAuth::Post
        } else {
            ClientAuth::Basic
        };
        token_request(
            self.provider.http(),
            "OIDC token endpoint",
            &endpoints.token,
            &self.config.client,
            auth,
            form,
        )
        .await
    }

    /// Claims of the ID token, merged with userinfo when `getUserInfo` is set.
    async fn claims(
        &self,
        tokens: &Tokens,
        id_token: &str,
        nonce: Option<&str>,
    ) -> Result<Map<String, Value>, ConnectorError> {
        let mut claims = id_token::verify(
            &self.provider,
            &self.config.client.client_id,
            id_token,
            nonce,
        )
        .await?;
        if self.config.get_user_info {
            let info = self.userinfo(&tokens.access_token).await?;
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

    /// The provider's userinfo answer for this access token (which it thereby vouches for).
    async fn userinfo(&self, access_token: &str) -> Result<Map<String, Value>, ConnectorError> {
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
                Auth::Bearer(access_token),
                Body::Empty,
            )
            .await?;
        let Value::Object(info) = info else {
            return Err(ConnectorError::Upstream(
                "OIDC userinfo: not a JSON object".into(),
            ));
        };
        Ok(info)
    }

    /// The identity the claims describe, groups checked against `allowedGroups`.
    /// `access_token`: for Entra ID's group overage (None when only an ID token is at hand).
    async fn identity(
        &self,
        access_token: Option<&str>,
        claims: &Map<String, Value>,
    ) -> Result<Identity, ConnectorError> {
        let mut identity = claims::identity(&self.config, claims)?;
        if self.config.insecure_enable_groups {
            let groups = match claims::groups(&self.config, claims) {
                GroupsClaim::Listed(g) => g,
                GroupsClaim::Overage(endpoint) => {
                    let token = access_token.ok_or_else(|| {
                        ConnectorError::Upstream(
                            "the groups are not in the ID token (group overage); exchange the access token instead".into(),
                        )
                    })?;
                    self.overage_groups(&endpoint, token).await?
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

#[async_trait]
impl RedirectConnector for OidcConnector {
    async fn login(&self, scopes: Scopes, state: &str) -> Result<LoginRedirect, ConnectorError> {
        let endpoints = self.provider.endpoints().await?;
        let url = url::Url::parse(&endpoints.authorization).map_err(|_| {
            ConnectorError::Upstream("OIDC discovery: bad authorization_endpoint".into())
        })?;
        let scope = self.upstream_scopes(scopes.offline_access);
        let mut params = vec![("scope", scope.as_str())];
        if let Some(p) = &self.config.prompt_type {
            params.push(("prompt", p));
        }
        authorize_redirect(
            url,
            &self.config.client,
            state,
            &LoginData::new(true),
            &params,
        )
    }

    fn exchange(&self) -> Option<&dyn TokenIdentityConnector> {
        Some(self)
    }

    async fn callback(
        &self,
        scopes: Scopes,
        data: &ConnectorData,
        code: &str,
    ) -> Result<Identity, ConnectorError> {
        let login = LoginData::read(data)?;
        // Every OIDC login keeps a nonce: without one the ID token could not be tied to it.
        let nonce = login
            .nonce
            .as_deref()
            .ok_or_else(|| ConnectorError::Internal("stored login data is corrupt".into()))?;
        let tokens = self
            .token(&[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", &self.config.client.redirect_uri),
                ("code_verifier", &login.pkce_verifier),
            ])
            .await?;
        let id_token = tokens
            .id_token
            .clone()
            .ok_or_else(|| ConnectorError::Upstream("OIDC token endpoint: no id_token".into()))?;
        let claims = self.claims(&tokens, &id_token, Some(nonce)).await?;
        let mut identity = self.identity(Some(&tokens.access_token), &claims).await?;
        if scopes.offline_access {
            identity.connector_data = RefreshData::keep(tokens.refresh_token, false)?;
        }
        Ok(identity)
    }
}

#[async_trait]
impl RefreshConnector for OidcConnector {
    async fn refresh(&self, identity: &Identity) -> Result<Option<Identity>, ConnectorError> {
        let data = RefreshData::read(identity)?;
        let tokens = self
            .token(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", &data.refresh_token),
            ])
            .await?;
        let mut fresh = match tokens.id_token.as_deref() {
            Some(id_token) => {
                let claims = self.claims(&tokens, id_token, None).await?;
                self.identity(Some(&tokens.access_token), &claims).await?
            }
            // No new ID token: the provider vouches for the session by refreshing it.
            None => identity.clone(),
        };
        if fresh.user_id != identity.user_id {
            return Err(ConnectorError::Upstream(
                "the refreshed ID token is about another user".into(),
            ));
        }
        fresh.connector_data =
            RefreshData::keep(tokens.refresh_token.or(Some(data.refresh_token)), false)?;
        Ok(Some(fresh))
    }
}
