use std::sync::Arc;

use crate::clients::lookup_client;
use crate::config::{Client, Config};
use crate::connector::Connectors;
use crate::keys::KeyManager;
use crate::metrics::Metrics;
use crate::storage::{Storage, StorageError};
use crate::token::TokenMinter;

/// What every handler shares.
pub struct AppState {
    pub config: Config,
    pub storage: Arc<dyn Storage>,
    pub keys: Arc<KeyManager>,
    pub minter: TokenMinter,
    pub connectors: Connectors,
    pub metrics: Arc<Metrics>,
}

impl AppState {
    /// A path under the issuer, for Location headers and form actions (`/dex/auth/local`).
    pub fn path(&self, suffix: &str) -> String {
        format!("{}{}", self.config.issuer.path, suffix)
    }

    /// See [`lookup_client`].
    pub async fn client(&self, id: &str) -> Result<Option<Client>, StorageError> {
        lookup_client(&self.config, &*self.storage, id).await
    }
}
