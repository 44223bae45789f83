//! Clients through the API: static ones (from the config) readable, stored ones managed.

use tonic::Status;

use super::{invalid, read_only, storage_status, DexApi};
use crate::api::proto::*;
use crate::clients::{is_static_client, lookup_client};
use crate::random::random_token;
use crate::storage::{ClientRecord, StorageError};

/// Redirect URIs must be absolute URLs without a fragment, as `staticClients` requires.
fn check_redirect_uris(uris: &[String]) -> Result<(), Status> {
    for uri in uris {
        let parsed = url::Url::parse(uri)
            .map_err(|e| invalid(format!("redirect URI {uri:?} is not an absolute URL ({e})")))?;
        if parsed.fragment().is_some() {
            return Err(invalid(format!(
                "redirect URI {uri:?} must not contain a fragment"
            )));
        }
    }
    Ok(())
}

fn client_message(c: &crate::config::Client) -> Client {
    Client {
        id: c.id.clone(),
        secret: c
            .secret
            .as_ref()
            .map(|s| s.expose().to_string())
            .unwrap_or_default(),
        redirect_uris: c.redirect_uris.clone(),
        trusted_peers: Vec::new(),
        public: c.public,
        name: c.name.clone(),
        logo_url: String::new(),
    }
}

fn client_info(c: Client) -> ClientInfo {
    ClientInfo {
        id: c.id,
        redirect_uris: c.redirect_uris,
        trusted_peers: c.trusted_peers,
        public: c.public,
        name: c.name,
        logo_url: c.logo_url,
    }
}

fn record_message(r: &ClientRecord) -> Client {
    Client {
        id: r.id.clone(),
        secret: r.secret.clone(),
        redirect_uris: r.redirect_uris.clone(),
        trusted_peers: r.trusted_peers.clone(),
        public: r.public,
        name: r.name.clone(),
        logo_url: r.logo_url.clone(),
    }
}

impl DexApi {
    pub(super) async fn get_client_inner(&self, r: GetClientReq) -> Result<GetClientResp, Status> {
        if r.id.is_empty() {
            return Err(invalid("no client id supplied"));
        }
        let client = if is_static_client(&self.app.config, &r.id) {
            lookup_client(&self.app.config, &*self.app.storage, &r.id)
                .await
                .map_err(storage_status)?
                .map(|c| client_message(&c))
        } else {
            self.app
                .storage
                .get_client(&r.id)
                .await
                .map_err(storage_status)?
                .map(|c| record_message(&c))
        };
        let client =
            client.ok_or_else(|| Status::not_found(format!("client {:?} not found", r.id)))?;
        Ok(GetClientResp {
            client: Some(client),
        })
    }

    pub(super) async fn create_client_inner(
        &self,
        r: CreateClientReq,
    ) -> Result<CreateClientResp, Status> {
        let mut c = r.client.ok_or_else(|| invalid("no client supplied"))?;
        if c.id.is_empty() {
            c.id = random_token();
        }
        if c.secret.is_empty() && !c.public {
            c.secret = random_token();
        }
        if c.public && !c.secret.is_empty() {
            return Err(invalid("a public client has no secret; leave secret empty"));
        }
        check_redirect_uris(&c.redirect_uris)?;
        if is_static_client(&self.app.config, &c.id) {
            return Ok(CreateClientResp {
                already_exists: true,
                client: None,
            });
        }
        let record = ClientRecord {
            id: c.id.clone(),
            secret: c.secret.clone(),
            redirect_uris: c.redirect_uris.clone(),
            trusted_peers: c.trusted_peers.clone(),
            public: c.public,
            name: c.name.clone(),
            logo_url: c.logo_url.clone(),
        };
        match self.app.storage.create_client(&record).await {
            Ok(()) => Ok(CreateClientResp {
                already_exists: false,
                client: Some(c),
            }),
            Err(StorageError::AlreadyExists) => Ok(CreateClientResp {
                already_exists: true,
                client: None,
            }),
            Err(e) => Err(storage_status(e)),
        }
    }

    pub(super) async fn update_client_inner(
        &self,
        r: UpdateClientReq,
    ) -> Result<UpdateClientResp, Status> {
        if r.id.is_empty() {
            return Err(invalid("no client id supplied"));
        }
        if is_static_client(&self.app.config, &r.id) {
            return Err(read_only(&format!("client {:?}", r.id)));
        }
        check_redirect_uris(&r.redirect_uris)?;
        // Dex: empty fields are left as they are.
        let change = |c: &mut ClientRecord| {
            if !r.redirect_uris.is_empty() {
                c.redirect_uris = r.redirect_uris.clone();
            }
            if !r.trusted_peers.is_empty() {
                c.trusted_peers = r.trusted_peers.clone();
            }
            if !r.name.is_empty() {
                c.name = r.name.clone();
            }
            if !r.logo_url.is_empty() {
                c.logo_url = r.logo_url.clone();
            }
        };
        let found = self
            .app
            .storage
            .update_client(&r.id, &change)
            .await
            .map_err(storage_status)?;
        Ok(UpdateClientResp { not_found: !found })
    }

    pub(super) async fn delete_client_inner(
        &self,
        r: DeleteClientReq,
    ) -> Result<DeleteClientResp, Status> {
        if r.id.is_empty() {
            return Err(invalid("no client id supplied"));
        }
        if is_static_client(&self.app.config, &r.id) {
            return Err(read_only(&format!("client {:?}", r.id)));
        }
        let found = self
            .app
            .storage
            .delete_client(&r.id)
            .await
            .map_err(storage_status)?;
        Ok(DeleteClientResp { not_found: !found })
    }

    pub(super) async fn list_clients_inner(&self) -> Result<ListClientResp, Status> {
        let mut clients: Vec<ClientInfo> = self
            .app
            .config
            .clients
            .iter()
            .map(|c| client_info(client_message(c)))
            .collect();
        let stored = self
            .app
            .storage
            .list_clients()
            .await
            .map_err(storage_status)?;
        clients.extend(
            stored
                .iter()
                .filter(|c| !is_static_client(&self.app.config, &c.id))
                .map(|c| client_info(record_message(c))),
        );
        Ok(ListClientResp { clients })
    }
}
