//! The one place a client is looked up: `staticClients` from the config first (read-only, as in
//! Dex), then the clients created through the gRPC API. Stored clients are read from storage on
//! every lookup (no cache), so a deleted client stops working on every replica at once.

use crate::config::{Client, Config};
use crate::oidc::AppState;
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
        public: r.public,
        trusted_peers: r.trusted_peers,
        // The API stores what it is given; only an http(s) URL is ever shown.
        logo_url: web_url(&r.logo_url),
    }
}

/// `text` when it is an absolute http(s) URL with a host (a logo a page may show), else None:
/// `javascript:`, `data:` and relative URLs are never put into a page.
pub fn web_url(text: &str) -> Option<String> {
    let url = url::Url::parse(text.trim()).ok()?;
    (matches!(url.scheme(), "http" | "https") && url.host_str().is_some()).then(|| url.to_string())
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

impl AppState {
    /// See [`lookup_client`].
    pub async fn client(&self, id: &str) -> Result<Option<Client>, StorageError> {
        lookup_client(&self.config, &*self.storage, id).await
    }
}

#[cfg(test)]
mod tests {
    use super::web_url;

    #[test]
    fn only_absolute_http_urls_are_shown() {
        assert_eq!(
            web_url(" https://cdn.example/l.png ").as_deref(),
            Some("https://cdn.example/l.png")
        );
        assert!(web_url("http://127.0.0.1:8080/logo.svg").is_some());
        for bad in [
            "",
            "javascript:alert(1)",
            "JAVASCRIPT:alert(1)",
            "data:image/svg+xml,<svg onload=alert(1)>",
            "//cdn.example/l.png",
            "/l.png",
            "file:///etc/passwd",
            "https://",
        ] {
            assert_eq!(web_url(bad), None, "{bad}");
        }
        // What is kept is the parsed form: quotes and angle brackets come out percent-encoded.
        let kept = web_url("https://cdn.example/l.png?x=\"><script>").unwrap();
        assert!(!kept.contains('"') && !kept.contains('<'), "{kept}");
    }
}
