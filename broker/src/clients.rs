//! The one place a client is looked up: `staticClients` from the config first (read-only, as in
//! Dex), then the clients created through the gRPC API. Stored clients are read from storage on
//! every lookup (no cache), so a deleted client stops working on every replica at once.

use crate::config::{web_url, Client, Config};
use crate::secret::Secret;
use crate::storage::{ClientRecord, Storage, StorageError};

/// The client with this id, static or stored.
pub async fn lookup_client(
    config: &Config,
    storage: &dyn Storage,
    id: &str,
) -> Result<Option<Client>, StorageError> {
    if let Some(c) = config.clients.iter().find(|c| c.id == id) {
        return Ok(Some(c.clone()));
    }
    Ok(storage.get_client(id).await?.map(client_of_record))
}

/// True when `id` belongs to a `staticClients` entry (which the API may not change).
pub fn is_static_client(config: &Config, id: &str) -> bool {
    config.clients.iter().any(|c| c.id == id)
}

/// A stored client as the endpoints see it.
pub fn client_of_record(r: ClientRecord) -> Client {
    Client {
        name: if r.name.is_empty() {
            r.id.clone()
        } else {
            r.name
        },
        secret: (!r.public && !r.secret.is_empty()).then(|| Secret::new(r.secret)),
        id: r.id,
        redirect_uris: r.redirect_uris,
        post_logout_redirect_uris: Vec::new(),
        backchannel_logout_uri: None,
        // The API has no such field: clients made there get no groups from client_credentials.
        client_credentials_groups: Vec::new(),
        public: r.public,
        trusted_peers: r.trusted_peers,
        // The API stores what it is given; only an http(s) URL is ever shown.
        logo_url: web_url(&r.logo_url),
    }
}

/// Dex's cross-client rule: `client_id` may ask for `peer_id` in `aud` when they are the same
/// client or when the peer lists `client_id` in its `trustedPeers`. An unknown peer is refused.
pub async fn trusts_peer(
    config: &Config,
    storage: &dyn Storage,
    client_id: &str,
    peer_id: &str,
) -> Result<bool, StorageError> {
    if client_id == peer_id {
        return Ok(true);
    }
    Ok(lookup_client(config, storage, peer_id)
        .await?
        .is_some_and(|peer| peer.trusted_peers.iter().any(|p| p == client_id)))
}
