//! The `api.Dex` service, with Dex's semantics (`server/api.go`): `already_exists` /
//! `not_found` flags rather than errors for those cases, hashes checked before they are
//! stored, ids and secrets generated when empty. Static users and clients from the config
//! are listed and readable, but read-only. Where Dex answers a bad request with an untyped
//! error (gRPC UNKNOWN), this answers INVALID_ARGUMENT / FAILED_PRECONDITION / NOT_FOUND.

mod clients;
mod discovery;
mod passwords;
mod refresh;

use std::sync::Arc;

use tonic::{Request, Response, Status};

use super::audit::Call;
use super::proto::dex_server::Dex;
use super::proto::*;
use super::API_VERSION;
use crate::oidc::AppState;
use crate::storage::StorageError;

pub struct DexApi {
    app: Arc<AppState>,
}

impl DexApi {
    pub fn new(app: Arc<AppState>) -> Self {
        DexApi { app }
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

fn connectors_unsupported() -> Status {
    Status::unimplemented(
        "connectors are configured in the config file; the connector RPCs are not supported",
    )
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
