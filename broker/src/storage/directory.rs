//! Users (the local connector's password database) and clients managed at run time, as Dex
//! keeps them in its storage. The static ones from the config are layered on top elsewhere
//! (`crate::directory`); this trait only sees what was created through the API.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::{RefreshToken, Result};

/// A user of the password database. E-mails are unique regardless of case: the key is the
/// lower-cased e-mail, and (as in Dex) the e-mail is stored lower-cased.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PasswordRecord {
    pub email: String,
    /// A bcrypt hash (`$2a$…`), checked for format and cost before it is stored.
    pub hash: String,
    pub username: String,
    pub user_id: String,
}

impl PasswordRecord {
    /// The uniqueness key of an e-mail address.
    pub fn key(email: &str) -> String {
        email.trim().to_lowercase()
    }
}

impl std::fmt::Debug for PasswordRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordRecord")
            .field("email", &self.email)
            .field("hash", &"<redacted>")
            .field("username", &self.username)
            .field("user_id", &self.user_id)
            .finish()
    }
}

/// An OAuth2 client created at run time (Dex's `storage.Client`).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientRecord {
    pub id: String,
    /// Empty for public clients.
    pub secret: String,
    pub redirect_uris: Vec<String>,
    #[serde(default)]
    pub trusted_peers: Vec<String>,
    pub public: bool,
    pub name: String,
    #[serde(default)]
    pub logo_url: String,
}

impl std::fmt::Debug for ClientRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientRecord")
            .field("id", &self.id)
            .field("secret", &"<redacted>")
            .field("redirect_uris", &self.redirect_uris)
            .field("public", &self.public)
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// Which refresh tokens belong to one signed-in user: Dex's offline session key.
#[derive(Debug, Clone, Copy)]
pub struct UserRef<'a> {
    pub user_id: &'a str,
    pub connector_id: &'a str,
}

impl UserRef<'_> {
    pub fn owns(&self, token: &RefreshToken) -> bool {
        token.identity.user_id == self.user_id && token.connector_id == self.connector_id
    }
}

/// An edit applied to a stored record under its row lock.
pub type Change<'a, T> = &'a (dyn Fn(&mut T) + Send + Sync);

#[async_trait]
pub trait Directory: Send + Sync {
    /// Fails with `AlreadyExists` when the e-mail (compared without case) is taken.
    async fn create_password(&self, password: &PasswordRecord) -> Result<()>;
    /// Looked up without regard to case.
    async fn get_password(&self, email: &str) -> Result<Option<PasswordRecord>>;
    /// Changes the record in one transaction (row locked first); false when there is none.
    /// The e-mail and user id are kept whatever `change` does to them.
    async fn update_password(
        &self,
        email: &str,
        change: Change<'_, PasswordRecord>,
    ) -> Result<bool>;
    async fn delete_password(&self, email: &str) -> Result<bool>;
    /// Ordered by e-mail.
    async fn list_passwords(&self) -> Result<Vec<PasswordRecord>>;

    /// Fails with `AlreadyExists` when the id is taken.
    async fn create_client(&self, client: &ClientRecord) -> Result<()>;
    async fn get_client(&self, id: &str) -> Result<Option<ClientRecord>>;
    /// Changes the client in one transaction (row locked first); false when there is none.
    /// The id is kept whatever `change` does to it.
    async fn update_client(&self, id: &str, change: Change<'_, ClientRecord>) -> Result<bool>;
    async fn delete_client(&self, id: &str) -> Result<bool>;
    /// Ordered by id.
    async fn list_clients(&self) -> Result<Vec<ClientRecord>>;

    /// The user's refresh tokens that can still be used (not yet rotated away), by client.
    async fn list_user_refresh_tokens(&self, user: UserRef<'_>) -> Result<Vec<RefreshToken>>;
    /// Ends every refresh token of the user-client pair (whole families, so a rotated copy
    /// cannot be replayed later); returns how many usable tokens there were.
    async fn revoke_user_client_refresh(&self, user: UserRef<'_>, client_id: &str) -> Result<u64>;
}
