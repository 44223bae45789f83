//! Upstream identity sources behind one trait, Dex-style: a [`Connector`] names itself and
//! offers capabilities (password login, upstream redirect, SAML POST), and every
//! connector answers with the same [`Identity`].

mod allow_list;
mod catalog;
pub mod graph;
pub mod ldap;
pub mod local;
pub mod microsoft;
pub mod oidc;
mod registry;
pub mod saml;
pub mod types;
mod upstream_http;
pub mod upstream_oauth2;

use async_trait::async_trait;

pub use crate::identity::{ConnectorData, Identity};
pub use catalog::{configure, configure_with, warnings, ConfiguredConnector};
pub use local::LocalConnector;
pub use registry::Connectors;
pub use saml::SamlConnector;
pub use types::ConnectorSettings;
pub use upstream_http::UpstreamClient;

#[derive(Debug, thiserror::Error)]
pub enum ConnectorError {
    #[error("too many sign-ins in progress; try again")]
    Busy,
    #[error("internal connector failure: {0}")]
    Internal(String),
    /// Signed in upstream, but not a member of any allowed group: no token may be issued.
    #[error("not allowed: {0}")]
    NotAllowed(String),
    /// The upstream refused or failed; the message is safe to show (no secrets in it).
    #[error("upstream sign-in failed: {0}")]
    Upstream(String),
    /// The upstream could not be asked (down, slow, misconfigured): the user is told sign-in is
    /// unavailable, never that the password is wrong. The message is for the log.
    #[error("upstream unavailable: {0}")]
    Unavailable(String),
}

/// One configured identity source.
pub trait Connector: Send + Sync {
    /// Stable id used in URLs (`/auth/{id}`) and in `sub`.
    fn id(&self) -> &str;
    /// Shown on the connector chooser.
    fn name(&self) -> &str;
    /// Present when the connector signs users in with a username and password form.
    fn password(&self) -> Option<&dyn PasswordConnector> {
        None
    }
    /// Present when the connector sends the browser to an upstream provider and back to `/callback`.
    fn redirect(&self) -> Option<&dyn RedirectConnector> {
        None
    }
    /// Present for SAML connectors: the login goes to the IdP and comes back to `/callback`.
    fn saml(&self) -> Option<&SamlConnector> {
        None
    }
    /// Present when the connector can re-check a user when a refresh token is used.
    fn refresh(&self) -> Option<&dyn RefreshConnector> {
        None
    }
    /// Present when the connector can verify its upstream's tokens for token exchange
    /// (RFC 8693; Dex's `TokenIdentityConnector`).
    fn exchange(&self) -> Option<&dyn TokenIdentityConnector> {
        None
    }
}

/// The RFC 8693 `subject_token_type`s a connector may be asked to verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubjectTokenType {
    /// `urn:ietf:params:oauth:token-type:id_token`
    IdToken,
    /// `urn:ietf:params:oauth:token-type:access_token`
    AccessToken,
}

#[async_trait]
pub trait TokenIdentityConnector: Send + Sync {
    /// Who the upstream's token is about. Err when it is not acceptable: not the upstream's,
    /// expired, issued to another client, or about a user the allow-lists refuse.
    async fn token_identity(
        &self,
        kind: SubjectTokenType,
        token: &str,
    ) -> Result<Identity, ConnectorError>;
}

#[async_trait]
pub trait PasswordConnector: Send + Sync {
    /// Label of the username field ("Email Address", "Username", …).
    fn prompt(&self) -> &str;
    /// Some(identity) when the credentials are right, None when they are not.
    async fn login(
        &self,
        username: &str,
        password: &str,
    ) -> Result<Option<Identity>, ConnectorError>;
}

#[async_trait]
pub trait RefreshConnector: Send + Sync {
    /// The user's current identity, or None when they no longer exist upstream.
    async fn refresh(&self, identity: &Identity) -> Result<Option<Identity>, ConnectorError>;
}

/// What the client asked for that changes what a connector requests upstream.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Scopes {
    /// `offline_access`: keep an upstream refresh token so refreshes re-check the user.
    pub offline_access: bool,
    /// `groups`: the client wants group claims.
    pub groups: bool,
}

impl Scopes {
    pub fn from_list(scopes: &[String]) -> Self {
        Scopes {
            offline_access: scopes.iter().any(|s| s == "offline_access"),
            groups: scopes.iter().any(|s| s == "groups"),
        }
    }
}

/// Where a redirect connector sends the browser, and what it keeps until the callback.
pub struct LoginRedirect {
    pub url: String,
    /// PKCE verifier, nonce, …: stored with the auth request, handed back to `callback`.
    pub data: ConnectorData,
}

#[async_trait]
pub trait RedirectConnector: Send + Sync {
    /// Starts a login; `state` must come back unchanged on the callback.
    async fn login(&self, scopes: Scopes, state: &str) -> Result<LoginRedirect, ConnectorError>;
    /// Finishes it with the `code` the upstream sent back. Group allow-lists are enforced here.
    async fn callback(
        &self,
        scopes: Scopes,
        data: &ConnectorData,
        code: &str,
    ) -> Result<Identity, ConnectorError>;
    /// Present when the flow can also verify its upstream's tokens (token exchange).
    fn exchange(&self) -> Option<&dyn TokenIdentityConnector> {
        None
    }
}
