//! Starts the API listener beside the HTTP one: TLS and client certificates from `grpc:`,
//! request size capped, reflection when asked for, stopped with the rest of the broker.

use std::sync::Arc;

use tokio_stream::StreamExt;
use tonic::codegen::http;
use tonic::transport::server::TcpIncoming;
use tonic::transport::Server;

use super::proto::dex_server::DexServer;
use super::proto::sessions::sessions_server::SessionsServer;
use super::service::DexApi;
use super::sessions::SessionsApi;
use super::MAX_REQUEST_BYTES;
use crate::config::GrpcConfig;
use crate::oidc::AppState;

/// Why the API did not start (the server wraps it, printing the same words).
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: String,
        source: std::io::Error,
    },
    #[error("gRPC API: {message}")]
    Api { message: String },
    #[error("server failed: {0}")]
    Io(#[from] std::io::Error),
}

/// Binds `grpc.addr` (a failure stops start-up) and serves the API until `stop` changes.
pub async fn spawn_api(
    config: &GrpcConfig,
    app: Arc<AppState>,
    stop: tokio::sync::watch::Receiver<bool>,
) -> Result<tokio::task::JoinHandle<()>, StartError> {
    let builder = Server::builder();
    let service =
        DexServer::new(DexApi::new(app.clone())).max_decoding_message_size(MAX_REQUEST_BYTES);
    let sessions =
        SessionsServer::new(SessionsApi::new(app)).max_decoding_message_size(MAX_REQUEST_BYTES);
    let mut router = builder
        .layer(tower::util::MapResponseLayer::new(
            too_large_is_resource_exhausted::<tonic::body::Body>,
        ))
        .add_service(service)
        .add_service(sessions);
    if config.reflection {
        let reflection = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(super::proto::FILE_DESCRIPTOR_SET)
            .build_v1()
            .map_err(|e| StartError::Api {
                message: format!("grpc.reflection: {e}"),
            })?;
        router = router.add_service(reflection);
    }
    let listener = tokio::net::TcpListener::bind(config.addr)
        .await
        .map_err(|source| StartError::Bind {
            addr: config.addr.to_string(),
            source,
        })?;
    tracing::info!(
        addr = %listener.local_addr()?,
        tls = config.tls.is_some(),
        client_certificates = config.tls.as_ref().is_some_and(|t| t.client_ca_path.is_some()),
        reflection = config.reflection,
        "gRPC API listening"
    );
    let stopped = {
        let mut stop = stop.clone();
        async move {
            let _ = stop.changed().await;
        }
    };
    let Some(tls) = &config.tls else {
        let incoming = TcpIncoming::from(listener);
        return Ok(tokio::spawn(async move {
            if let Err(e) = router.serve_with_incoming_shutdown(incoming, stopped).await {
                tracing::error!(error = %e, "gRPC API failed");
            }
        }));
    };
    // TLS is ours rather than tonic's, for Dex's tlsMinVersion/tlsMaxVersion and a certificate
    // reloaded from its files without a restart (as web.https).
    let api_error = |message: String| StartError::Api { message };
    let cert = crate::tls::ReloadingCert::load(&tls.cert_path, &tls.key_path)
        .map_err(|e| api_error(format!("grpc.tlsCert/tlsKey: {e}")))?;
    let reload = cert.spawn_reload("grpc", stop.clone());
    // The client CA follows its file too: a replaced CA is used for the next handshake.
    let client_ca = tls
        .client_ca_path
        .as_deref()
        .map(crate::tls::ReloadingClientCa::load)
        .transpose()
        .map_err(|e| api_error(format!("grpc.tlsClientCA: {e}")))?;
    let ca_reload = client_ca
        .as_ref()
        .map(|ca| ca.spawn_reload("grpc", stop.clone()));
    let client_auth = client_ca.map(|ca| ca as Arc<dyn rustls::server::danger::ClientCertVerifier>);
    let tls_config = crate::tls::server_config(cert, tls.versions, &[b"h2"], client_auth)
        .map_err(|e| api_error(format!("grpc TLS: {e}")))?;
    let incoming = crate::tls::spawn_acceptor(listener, tls_config, "grpc", stop);
    let incoming = tokio_stream::wrappers::ReceiverStream::new(incoming)
        .map(|(tls, _peer)| Ok::<_, std::io::Error>(tls));
    Ok(tokio::spawn(async move {
        if let Err(e) = router.serve_with_incoming_shutdown(incoming, stopped).await {
            tracing::error!(error = %e, "gRPC API failed");
        }
        let _ = reload.await;
        if let Some(ca_reload) = ca_reload {
            let _ = ca_reload.await;
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
