//! Starts the API listener beside the HTTP one: TLS and client certificates from `grpc:`,
//! request size capped, reflection when asked for, stopped with the rest of the broker.

use std::sync::Arc;

use tonic::codegen::http;
use tonic::transport::server::TcpIncoming;
use tonic::transport::{Certificate, Identity, Server, ServerTlsConfig};

use super::proto::dex_server::DexServer;
use super::service::DexApi;
use super::MAX_REQUEST_BYTES;
use crate::config::GrpcConfig;
use crate::oidc::AppState;
use crate::server::ServeError;

/// Binds `grpc.addr` (a failure stops start-up) and serves the API until `stop` changes.
pub async fn spawn_api(
    config: &GrpcConfig,
    app: Arc<AppState>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> Result<tokio::task::JoinHandle<()>, ServeError> {
    let mut builder = Server::builder();
    if let Some(tls) = &config.tls {
        let mut tls_config = ServerTlsConfig::new()
            .identity(Identity::from_pem(&tls.cert_pem, tls.key_pem.expose()));
        if let Some(ca) = &tls.client_ca_pem {
            // Required, not optional: a caller without a certificate is refused in the handshake.
            tls_config = tls_config.client_ca_root(Certificate::from_pem(ca));
        }
        builder = builder
            .tls_config(tls_config)
            .map_err(|e| ServeError::Api {
                message: format!("grpc.tlsCert/tlsKey/tlsClientCA: {e}"),
            })?;
    }
    let service = DexServer::new(DexApi::new(app)).max_decoding_message_size(MAX_REQUEST_BYTES);
    let mut router = builder
        .layer(tower::util::MapResponseLayer::new(
            too_large_is_resource_exhausted::<tonic::body::Body>,
        ))
        .add_service(service);
    if config.reflection {
        let reflection = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(super::proto::FILE_DESCRIPTOR_SET)
            .build_v1()
            .map_err(|e| ServeError::Api {
                message: format!("grpc.reflection: {e}"),
            })?;
        router = router.add_service(reflection);
    }
    let listener = tokio::net::TcpListener::bind(config.addr)
        .await
        .map_err(|source| ServeError::Bind {
            addr: config.addr.to_string(),
            source,
        })?;
    tracing::info!(
        addr = %listener.local_addr()?,
        tls = config.tls.is_some(),
        client_certificates = config.tls.as_ref().is_some_and(|t| t.client_ca_pem.is_some()),
        reflection = config.reflection,
        "gRPC API listening"
    );
    let incoming = TcpIncoming::from(listener);
    Ok(tokio::spawn(async move {
        let stopped = async move {
            let _ = stop.changed().await;
        };
        if let Err(e) = router.serve_with_incoming_shutdown(incoming, stopped).await {
            tracing::error!(error = %e, "gRPC API failed");
        }
    }))
}

/// tonic refuses a request over the size limit with OUT_OF_RANGE; the gRPC status-code table
/// (and grpc-go, which Dex uses) says RESOURCE_EXHAUSTED. The refusal is a trailers-only
/// answer, so its status is in the headers and is rewritten there.
fn too_large_is_resource_exhausted<B>(mut response: http::Response<B>) -> http::Response<B> {
    let headers = response.headers();
    let out_of_range = headers
        .get("grpc-status")
        .is_some_and(|s| s.as_bytes() == b"11");
    let too_large = headers.get("grpc-message").is_some_and(|m| {
        let m = String::from_utf8_lossy(m.as_bytes()).replace("%20", " ");
        m.contains("decoded message length too large")
    });
    if out_of_range && too_large {
        response
            .headers_mut()
            .insert("grpc-status", http::HeaderValue::from_static("8"));
    }
    response
}
