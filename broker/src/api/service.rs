//! The `api.Dex` service, with Dex's semantics (`server/api.go`): `already_exists` /
//! `not_found` flags rather than errors for those cases, hashes checked before they are
//! stored, ids and secrets generated when empty. Static users and clients from the config
//! are listed and readable, but read-only. Where Dex answers a bad request with an untyped
//! error (gRPC UNKNOWN), this answers INVALID_ARGUMENT / FAILED_PRECONDITION / NOT_FOUND.

use std::sync::Arc;

use tonic::{Request, Response, Status};

use super::audit::Call;
use super::bcrypt_hash::checked_hash;
use super::proto::dex_server::Dex;
use super::proto::*;
use super::subject::decode_subject;
use super::API_VERSION;
use crate::clients::{is_static_client, lookup_client};
use crate::config::LOCAL_CONNECTOR_ID;
use crate::oidc::sessions;
use crate::oidc::{discovery_document, AppState};
use crate::random::random_token;
use crate::storage::{
    ClientRecord, EndCause, PasswordRecord, SessionSelector, StorageError, UserRef,
};

pub struct DexApi {
    app: Arc<AppState>,
}

impl DexApi {
    pub fn new(app: Arc<AppState>) -> Self {
        DexApi { app }
    }

    fn static_password(&self, email: &str) -> Option<&crate::config::StaticPassword> {
        let key = PasswordRecord::key(email);
        self.app
            .config
            .static_passwords
            .iter()
            .find(|p| PasswordRecord::key(&p.email) == key)
    }
}

fn storage_status(e: StorageError) -> Status {
    tracing::error!(error = %e, "storage failed during an api call");
    if e.is_unavailable() {
        Status::unavailable("storage is unavailable; try again")
    } else {
        Status::internal("storage failed")
    }
}

fn invalid(message: impl Into<String>) -> Status {
    Status::invalid_argument(message)
}

fn read_only(what: &str) -> Status {
    Status::failed_precondition(format!(
        "{what} comes from the config file (static) and is read-only here; change the config"
    ))
}

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

fn connectors_unsupported() -> Status {
    Status::unimplemented(
        "connectors are configured in the config file; the connector RPCs are not supported",
    )
}

impl DexApi {
    async fn get_client_inner(&self, r: GetClientReq) -> Result<GetClientResp, Status> {
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

    async fn create_client_inner(&self, r: CreateClientReq) -> Result<CreateClientResp, Status> {
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

    async fn update_client_inner(&self, r: UpdateClientReq) -> Result<UpdateClientResp, Status> {
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

    async fn delete_client_inner(&self, r: DeleteClientReq) -> Result<DeleteClientResp, Status> {
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

    async fn list_clients_inner(&self) -> Result<ListClientResp, Status> {
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

    async fn create_password_inner(
        &self,
        r: CreatePasswordReq,
    ) -> Result<CreatePasswordResp, Status> {
        let p = r.password.ok_or_else(|| invalid("no password supplied"))?;
        if p.user_id.is_empty() {
            return Err(invalid("no user ID supplied"));
        }
        let email = p.email.trim();
        if !email.contains('@') {
            return Err(invalid("the email is not an e-mail address"));
        }
        let hash = checked_hash(&p.hash).map_err(invalid)?;
        if self.static_password(email).is_some() {
            return Ok(CreatePasswordResp {
                already_exists: true,
            });
        }
        let record = PasswordRecord {
            // As Dex's storage: e-mails are kept lower-cased.
            email: PasswordRecord::key(email),
            hash,
            username: p.username,
            user_id: p.user_id,
        };
        match self.app.storage.create_password(&record).await {
            Ok(()) => Ok(CreatePasswordResp {
                already_exists: false,
            }),
            Err(StorageError::AlreadyExists) => Ok(CreatePasswordResp {
                already_exists: true,
            }),
            Err(e) => Err(storage_status(e)),
        }
    }

    async fn update_password_inner(
        &self,
        r: UpdatePasswordReq,
    ) -> Result<UpdatePasswordResp, Status> {
        if r.email.is_empty() {
            return Err(invalid("no email supplied"));
        }
        if r.new_hash.is_empty() && r.new_username.is_empty() {
            return Err(invalid("nothing to update"));
        }
        let new_hash = if r.new_hash.is_empty() {
            None
        } else {
            Some(checked_hash(&r.new_hash).map_err(invalid)?)
        };
        if self.static_password(&r.email).is_some() {
            return Err(read_only(&format!("user {:?}", r.email)));
        }
        let change = |p: &mut PasswordRecord| {
            if let Some(hash) = &new_hash {
                p.hash = hash.clone();
            }
            if !r.new_username.is_empty() {
                p.username = r.new_username.clone();
            }
        };
        let found = self
            .app
            .storage
            .update_password(&r.email, &change)
            .await
            .map_err(storage_status)?;
        Ok(UpdatePasswordResp { not_found: !found })
    }

    async fn delete_password_inner(
        &self,
        r: DeletePasswordReq,
    ) -> Result<DeletePasswordResp, Status> {
        if r.email.is_empty() {
            return Err(invalid("no email supplied"));
        }
        if self.static_password(&r.email).is_some() {
            return Err(read_only(&format!("user {:?}", r.email)));
        }
        let user = self
            .app
            .storage
            .get_password(&r.email)
            .await
            .map_err(storage_status)?;
        let found = self
            .app
            .storage
            .delete_password(&r.email)
            .await
            .map_err(storage_status)?;
        // A deleted user is signed out everywhere (issue 17).
        if let (true, Some(user)) = (found, user) {
            let which = SessionSelector::User {
                user_id: &user.user_id,
                connector_id: LOCAL_CONNECTOR_ID,
            };
            sessions::end(&self.app, which, EndCause::UserDeleted)
                .await
                .map_err(storage_status)?;
        }
        Ok(DeletePasswordResp { not_found: !found })
    }

    async fn list_passwords_inner(&self) -> Result<ListPasswordResp, Status> {
        // As Dex: no hashes in the listing.
        let mut passwords: Vec<Password> = self
            .app
            .config
            .static_passwords
            .iter()
            .map(|p| Password {
                email: p.email.clone(),
                hash: Vec::new(),
                username: p.username.clone(),
                user_id: p.user_id.clone(),
            })
            .collect();
        let stored = self
            .app
            .storage
            .list_passwords()
            .await
            .map_err(storage_status)?;
        passwords.extend(
            stored
                .into_iter()
                .filter(|p| self.static_password(&p.email).is_none())
                .map(|p| Password {
                    email: p.email,
                    hash: Vec::new(),
                    username: p.username,
                    user_id: p.user_id,
                }),
        );
        Ok(ListPasswordResp { passwords })
    }

    async fn verify_password_inner(
        &self,
        r: VerifyPasswordReq,
    ) -> Result<VerifyPasswordResp, Status> {
        if r.email.is_empty() {
            return Err(invalid("no email supplied"));
        }
        if r.password.is_empty() {
            return Err(invalid("no password to verify supplied"));
        }
        let hash = match self.static_password(&r.email) {
            Some(p) => Some(p.hash.as_str().to_string()),
            None => self
                .app
                .storage
                .get_password(&r.email)
                .await
                .map_err(storage_status)?
                .map(|p| p.hash),
        };
        let Some(hash) = hash else {
            return Ok(VerifyPasswordResp {
                verified: false,
                not_found: true,
            });
        };
        let password = r.password;
        // bcrypt takes tens of milliseconds or more: off the async threads.
        let verified =
            tokio::task::spawn_blocking(move || bcrypt::verify(password, &hash).unwrap_or(false))
                .await
                .map_err(|_| Status::internal("password check failed"))?;
        Ok(VerifyPasswordResp {
            verified,
            not_found: false,
        })
    }

    async fn list_refresh_inner(&self, r: ListRefreshReq) -> Result<ListRefreshResp, Status> {
        let (user_id, connector_id) = decode_subject(&r.user_id).map_err(invalid)?;
        let user = UserRef {
            user_id: &user_id,
            connector_id: &connector_id,
        };
        let tokens = self
            .app
            .storage
            .list_user_refresh_tokens(user)
            .await
            .map_err(storage_status)?;
        Ok(ListRefreshResp {
            refresh_tokens: tokens
                .into_iter()
                .map(|t| RefreshTokenRef {
                    id: t.id,
                    client_id: t.client_id,
                    created_at: t.created_at,
                    last_used: t.last_used,
                })
                .collect(),
        })
    }

    async fn revoke_refresh_inner(&self, r: RevokeRefreshReq) -> Result<RevokeRefreshResp, Status> {
        let (user_id, connector_id) = decode_subject(&r.user_id).map_err(invalid)?;
        if r.client_id.is_empty() {
            return Err(invalid("no client id supplied"));
        }
        let user = UserRef {
            user_id: &user_id,
            connector_id: &connector_id,
        };
        let revoked = self
            .app
            .storage
            .revoke_user_client_refresh(user, &r.client_id)
            .await
            .map_err(storage_status)?;
        Ok(RevokeRefreshResp {
            not_found: revoked == 0,
        })
    }

    fn discovery(&self) -> Result<DiscoveryResp, Status> {
        let doc = discovery_document(&self.app);
        let text = |k: &str| doc[k].as_str().unwrap_or_default().to_string();
        let list = |k: &str| -> Vec<String> {
            doc[k]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default()
        };
        Ok(DiscoveryResp {
            issuer: text("issuer"),
            authorization_endpoint: text("authorization_endpoint"),
            token_endpoint: text("token_endpoint"),
            jwks_uri: text("jwks_uri"),
            userinfo_endpoint: text("userinfo_endpoint"),
            device_authorization_endpoint: text("device_authorization_endpoint"),
            introspection_endpoint: text("introspection_endpoint"),
            grant_types_supported: list("grant_types_supported"),
            response_types_supported: list("response_types_supported"),
            subject_types_supported: list("subject_types_supported"),
            id_token_signing_alg_values_supported: list("id_token_signing_alg_values_supported"),
            code_challenge_methods_supported: list("code_challenge_methods_supported"),
            scopes_supported: list("scopes_supported"),
            token_endpoint_auth_methods_supported: list("token_endpoint_auth_methods_supported"),
            claims_supported: list("claims_supported"),
        })
    }
}

#[tonic::async_trait]
impl Dex for DexApi {
    async fn get_client(
        &self,
        request: Request<GetClientReq>,
    ) -> Result<Response<GetClientResp>, Status> {
        let call = Call::start("GetClient", &request);
        let r = request.into_inner();
        let target = r.id.clone();
        call.finish(target, self.get_client_inner(r).await)
    }

    async fn create_client(
        &self,
        request: Request<CreateClientReq>,
    ) -> Result<Response<CreateClientResp>, Status> {
        let call = Call::start("CreateClient", &request);
        let r = request.into_inner();
        let target = r.client.as_ref().map(|c| c.id.clone()).unwrap_or_default();
        let result = self.create_client_inner(r).await;
        let target = match &result {
            Ok(CreateClientResp {
                client: Some(c), ..
            }) => c.id.clone(),
            _ => target,
        };
        call.finish(target, result)
    }

    async fn update_client(
        &self,
        request: Request<UpdateClientReq>,
    ) -> Result<Response<UpdateClientResp>, Status> {
        let call = Call::start("UpdateClient", &request);
        let r = request.into_inner();
        let target = r.id.clone();
        call.finish(target, self.update_client_inner(r).await)
    }

    async fn delete_client(
        &self,
        request: Request<DeleteClientReq>,
    ) -> Result<Response<DeleteClientResp>, Status> {
        let call = Call::start("DeleteClient", &request);
        let r = request.into_inner();
        let target = r.id.clone();
        call.finish(target, self.delete_client_inner(r).await)
    }

    async fn list_clients(
        &self,
        request: Request<ListClientReq>,
    ) -> Result<Response<ListClientResp>, Status> {
        let call = Call::start("ListClients", &request);
        call.finish("-", self.list_clients_inner().await)
    }

    async fn create_password(
        &self,
        request: Request<CreatePasswordReq>,
    ) -> Result<Response<CreatePasswordResp>, Status> {
        let call = Call::start("CreatePassword", &request);
        let r = request.into_inner();
        let target = r
            .password
            .as_ref()
            .map(|p| p.email.clone())
            .unwrap_or_default();
        call.finish(target, self.create_password_inner(r).await)
    }

    async fn update_password(
        &self,
        request: Request<UpdatePasswordReq>,
    ) -> Result<Response<UpdatePasswordResp>, Status> {
        let call = Call::start("UpdatePassword", &request);
        let r = request.into_inner();
        let target = r.email.clone();
        call.finish(target, self.update_password_inner(r).await)
    }

    async fn delete_password(
        &self,
        request: Request<DeletePasswordReq>,
    ) -> Result<Response<DeletePasswordResp>, Status> {
        let call = Call::start("DeletePassword", &request);
        let r = request.into_inner();
        let target = r.email.clone();
        call.finish(target, self.delete_password_inner(r).await)
    }

    async fn list_passwords(
        &self,
        request: Request<ListPasswordReq>,
    ) -> Result<Response<ListPasswordResp>, Status> {
        let call = Call::start("ListPasswords", &request);
        call.finish("-", self.list_passwords_inner().await)
    }

    async fn create_connector(
        &self,
        request: Request<CreateConnectorReq>,
    ) -> Result<Response<CreateConnectorResp>, Status> {
        Call::start("CreateConnector", &request).finish("-", Err(connectors_unsupported()))
    }

    async fn update_connector(
        &self,
        request: Request<UpdateConnectorReq>,
    ) -> Result<Response<UpdateConnectorResp>, Status> {
        Call::start("UpdateConnector", &request).finish("-", Err(connectors_unsupported()))
    }

    async fn delete_connector(
        &self,
        request: Request<DeleteConnectorReq>,
    ) -> Result<Response<DeleteConnectorResp>, Status> {
        Call::start("DeleteConnector", &request).finish("-", Err(connectors_unsupported()))
    }

    async fn list_connectors(
        &self,
        request: Request<ListConnectorReq>,
    ) -> Result<Response<ListConnectorResp>, Status> {
        Call::start("ListConnectors", &request).finish("-", Err(connectors_unsupported()))
    }

    async fn get_version(
        &self,
        request: Request<VersionReq>,
    ) -> Result<Response<VersionResp>, Status> {
        let call = Call::start("GetVersion", &request);
        let version = VersionResp {
            server: format!("gatehouse-broker {}", env!("CARGO_PKG_VERSION")),
            api: API_VERSION,
        };
        call.finish("-", Ok(version))
    }

    async fn get_discovery(
        &self,
        request: Request<DiscoveryReq>,
    ) -> Result<Response<DiscoveryResp>, Status> {
        let call = Call::start("GetDiscovery", &request);
        call.finish("-", self.discovery())
    }

    async fn list_refresh(
        &self,
        request: Request<ListRefreshReq>,
    ) -> Result<Response<ListRefreshResp>, Status> {
        let call = Call::start("ListRefresh", &request);
        let r = request.into_inner();
        let target = r.user_id.clone();
        call.finish(target, self.list_refresh_inner(r).await)
    }

    async fn revoke_refresh(
        &self,
        request: Request<RevokeRefreshReq>,
    ) -> Result<Response<RevokeRefreshResp>, Status> {
        let call = Call::start("RevokeRefresh", &request);
        let r = request.into_inner();
        let target = format!("{} at {}", r.user_id, r.client_id);
        call.finish(target, self.revoke_refresh_inner(r).await)
    }

    async fn verify_password(
        &self,
        request: Request<VerifyPasswordReq>,
    ) -> Result<Response<VerifyPasswordResp>, Status> {
        let call = Call::start("VerifyPassword", &request);
        let r = request.into_inner();
        let target = r.email.clone();
        call.finish(target, self.verify_password_inner(r).await)
    }
}
