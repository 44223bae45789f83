//! Upstream identity sources behind one trait, Dex-style: a [`Connector`] names itself and
//! offers capabilities (password login now; redirect callback, SAML POST later), and every
//! connector answers with the same [`Identity`].

mod identity;
pub mod local;
mod registry;

use async_trait::async_trait;

pub use identity::Identity;
pub use local::LocalConnector;
pub use registry::Connectors;

#[derive(Debug, thiserror::Error)]
pub enum ConnectorError {
    #[error("too many sign-ins in progress; try again")]
    Busy,
    #[error("internal connector failure: {0}")]
    Internal(String),
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
    /// Present when the connector can re-check a user when a refresh token is used.
    fn refresh(&self) -> Option<&dyn RefreshConnector> {
        None
    }
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
