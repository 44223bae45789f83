//! `type: microsoft`: Entra ID (Azure AD) sign-in through the v2.0 authorization code flow,
//! profile and transitive groups from Microsoft Graph, as Dex's microsoft connector does —
//! except that a group allow-list is never skipped.

pub mod config;

use async_trait::async_trait;

use self::config::{GroupNameFormat, MicrosoftConfig, PreferredUsernameField};
use super::graph::{Graph, GraphUser};
use super::types::{BuiltConnector, ConnectorSettings, ConnectorType};
use super::upstream_http::UpstreamClient;
use super::upstream_oauth2::{
    authorize_redirect, token_request, ClientAuth, LoginData, RedirectingConnector, RefreshData,
    Tokens,
};
use super::{
    allow_list, ConnectorData, ConnectorError, Identity, LoginRedirect, RedirectConnector,
    RefreshConnector, Scopes,
};

pub use self::config::MicrosoftConfig as Config;

/// `type: microsoft`.
pub const TYPE: ConnectorType = ConnectorType {
    name: "microsoft",
    parse: |entry, _| {
        Ok(Box::new(config::parse(
            &entry.config,
            &entry.key("config"),
        )?))
    },
};

impl ConnectorSettings for MicrosoftConfig {
    fn build(&self, id: &str, name: &str, http: &UpstreamClient) -> BuiltConnector {
        RedirectingConnector::build(
            id,
            name,
            MicrosoftConnector::new(self.clone(), http.clone()),
        )
    }

    fn warnings(&self) -> Vec<String> {
        if !config::is_multi_tenant(&self.tenant) || !self.groups.is_empty() {
            return Vec::new();
        }
        let which = match self.tenant.to_ascii_lowercase().as_str() {
            "consumers" => "every personal Microsoft account",
            "organizations" => "every work or school account of every organisation",
            _ => "every personal account and every organisation's accounts",
        };
        vec![format!(
            "tenant {:?} with no groups admits ANY Microsoft account in the world ({which}); set tenant to your tenant id or domain, or restrict access with the gateway's rules",
            self.tenant
        )]
    }
}

const SCOPE_USER: &str = "user.read";
const SCOPE_GROUPS: &str = "directory.read.all";
const SCOPE_OFFLINE: &str = "offline_access";

/// The Entra ID sign-in flow; [`RedirectingConnector`] gives it its id and name.
pub struct MicrosoftConnector {
    config: MicrosoftConfig,
    http: UpstreamClient,
}

impl MicrosoftConnector {
    pub fn new(config: MicrosoftConfig, http: UpstreamClient) -> Self {
        MicrosoftConnector { config, http }
    }

    fn endpoint(&self, which: &str) -> String {
        format!(
            "{}/{}/oauth2/v2.0/{which}",
            self.config.api_url, self.config.tenant
        )
    }

    /// Groups are fetched when an allow-list is configured or the client asked for them.
    fn groups_required(&self, client_wants_groups: bool) -> bool {
        !self.config.groups.is_empty() || client_wants_groups
    }

    fn upstream_scopes(&self, groups: bool, offline: bool) -> String {
        let mut scopes: Vec<&str> = if self.config.scopes.is_empty() {
            vec![SCOPE_USER]
        } else {
            self.config.scopes.iter().map(String::as_str).collect()
        };
        if groups {
            scopes.push(SCOPE_GROUPS);
        }
        if offline {
            scopes.push(SCOPE_OFFLINE);
        }
        scopes.join(" ")
    }

    async fn token(&self, form: &[(&str, &str)]) -> Result<Tokens, ConnectorError> {
        token_request(
            &self.http,
            "Entra ID token endpoint",
            &self.endpoint("token"),
            &self.config.client,
            ClientAuth::Post,
            form,
        )
        .await
    }

    /// The user as Graph describes them now, with the allow-list applied.
    async fn identity(&self, access_token: &str, groups: bool) -> Result<Identity, ConnectorError> {
        let graph = Graph {
            http: &self.http,
            base: &self.config.graph_url,
            access_token,
        };
        let user = graph.me().await?;
        let groups = if self.groups_required(groups) {
            let ids = graph
                .member_group_ids(self.config.only_security_groups)
                .await?;
            let names = match self.config.group_name_format {
                GroupNameFormat::Id => ids,
                GroupNameFormat::Name => graph
                    .group_names(&ids)
                    .await?
                    .into_iter()
                    .map(|(_, name)| name)
                    .collect(),
            };
            allow_list::enforce(
                names,
                &self.config.groups,
                self.config.use_groups_as_whitelist,
            )?
        } else {
            Vec::new()
        };
        Ok(self.identity_of(user, groups))
    }

    fn identity_of(&self, user: GraphUser, groups: Vec<String>) -> Identity {
        // Dex: the e-mail is the userPrincipalName, which Entra has verified.
        let email = if self.config.email_to_lowercase {
            user.user_principal_name.to_lowercase()
        } else {
            user.user_principal_name.clone()
        };
        let preferred_username = match self.config.preferred_username_field {
            None => String::new(),
            Some(PreferredUsernameField::Name) => user.display_name.clone(),
            Some(PreferredUsernameField::Email) => email.clone(),
            Some(PreferredUsernameField::MailNickname) => {
                user.mail_nickname.clone().unwrap_or_default()
            }
            Some(PreferredUsernameField::OnPremisesSamAccountName) => user
                .on_premises_sam_account_name
                .clone()
                .unwrap_or_default(),
        };
        Identity {
            user_id: user.id,
            username: user.display_name,
            preferred_username,
            email,
            email_verified: true,
            groups,
            connector_data: None,
        }
    }
}

#[async_trait]
impl RedirectConnector for MicrosoftConnector {
    async fn login(&self, scopes: Scopes, state: &str) -> Result<LoginRedirect, ConnectorError> {
        let scope =
            self.upstream_scopes(self.groups_required(scopes.groups), scopes.offline_access);
        let url = url::Url::parse(&self.endpoint("authorize"))
            .map_err(|e| ConnectorError::Internal(format!("authorize URL: {e}")))?;
        let mut params = vec![("response_mode", "query"), ("scope", scope.as_str())];
        if let Some(p) = &self.config.prompt_type {
            params.push(("prompt", p));
        }
        if let Some(h) = &self.config.domain_hint {
            params.push(("domain_hint", h));
        }
        authorize_redirect(
            url,
            &self.config.client,
            state,
            &LoginData::new(false),
            &params,
        )
    }

    async fn callback(
        &self,
        scopes: Scopes,
        data: &ConnectorData,
        code: &str,
    ) -> Result<Identity, ConnectorError> {
        let login = LoginData::read(data)?;
        let groups = self.groups_required(scopes.groups);
        let scope = self.upstream_scopes(groups, scopes.offline_access);
        let tokens = self
            .token(&[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", &self.config.client.redirect_uri),
                ("code_verifier", &login.pkce_verifier),
                ("scope", &scope),
            ])
            .await?;
        let mut identity = self.identity(&tokens.access_token, groups).await?;
        if scopes.offline_access {
            identity.connector_data = RefreshData::keep(tokens.refresh_token, groups)?;
        }
        Ok(identity)
    }
}

#[async_trait]
impl RefreshConnector for MicrosoftConnector {
    async fn refresh(&self, identity: &Identity) -> Result<Option<Identity>, ConnectorError> {
        let data = RefreshData::read(identity)?;
        let scope = self.upstream_scopes(data.groups, true);
        let tokens = self
            .token(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", &data.refresh_token),
                ("scope", &scope),
            ])
            .await?;
        let mut fresh = self.identity(&tokens.access_token, data.groups).await?;
        if fresh.user_id != identity.user_id {
            return Err(ConnectorError::Upstream(
                "the upstream refresh token belongs to another user".into(),
            ));
        }
        // Entra may rotate the refresh token; keep the old one when it does not.
        fresh.connector_data = RefreshData::keep(
            tokens.refresh_token.or(Some(data.refresh_token)),
            data.groups,
        )?;
        Ok(Some(fresh))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connector::upstream_oauth2::pkce_challenge;
    use serde_json::{json, Value};

    fn connector(extra: Value) -> MicrosoftConnector {
        let mut v = json!({"clientID": "cid", "clientSecret": "s", "redirectURI": "http://b/dex/callback", "tenant": "t1", "apiURL": "http://login.test"});
        for (k, x) in extra.as_object().unwrap() {
            v[k] = x.clone();
        }
        let c = config::parse(&v, "p").unwrap();
        MicrosoftConnector::new(c, UpstreamClient::new().unwrap())
    }

    #[tokio::test]
    async fn login_url_is_the_v2_authorize_endpoint_with_pkce() {
        let c = connector(
            json!({"groups": ["admin"], "promptType": "login", "domainHint": "contoso.com"}),
        );
        let r = c
            .login(
                Scopes {
                    offline_access: true,
                    groups: false,
                },
                "st1",
            )
            .await
            .unwrap();
        let url = url::Url::parse(&r.url).unwrap();
        assert_eq!(url.path(), "/t1/oauth2/v2.0/authorize");
        let q: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
        assert_eq!(q["client_id"], "cid");
        assert_eq!(q["state"], "st1");
        assert_eq!(q["response_type"], "code");
        assert_eq!(q["scope"], "user.read directory.read.all offline_access");
        assert_eq!(q["prompt"], "login");
        assert_eq!(q["domain_hint"], "contoso.com");
        assert_eq!(q["code_challenge_method"], "S256");
        let data: LoginData = serde_json::from_str(r.data.expose()).unwrap();
        assert_eq!(q["code_challenge"], pkce_challenge(&data.pkce_verifier));
    }

    #[tokio::test]
    async fn scopes_follow_dex() {
        let c = connector(json!({}));
        assert_eq!(c.upstream_scopes(false, false), "user.read");
        let c = connector(json!({"scopes": ["openid", "user.read"]}));
        assert_eq!(
            c.upstream_scopes(true, false),
            "openid user.read directory.read.all"
        );
    }

    #[test]
    fn identity_mapping() {
        let user = GraphUser {
            id: "oid".into(),
            display_name: "Jane Doe".into(),
            user_principal_name: "Jane.Doe@Contoso.com".into(),
            mail_nickname: Some("jdoe".into()),
            ..Default::default()
        };
        let id = connector(json!({})).identity_of(user.clone(), vec![]);
        assert_eq!(id.email, "Jane.Doe@Contoso.com");
        assert_eq!(id.username, "Jane Doe");
        assert!(id.email_verified);
        let id =
            connector(json!({"emailToLowercase": true, "preferredUsernameField": "mailNickname"}))
                .identity_of(user, vec![]);
        assert_eq!(id.email, "jane.doe@contoso.com");
        assert_eq!(id.preferred_username, "jdoe");
    }
}
