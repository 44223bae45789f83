//! Wires config, storage, keys and connectors into a running HTTP server.

mod access_log;
mod request_metrics;
mod shutdown;
mod telemetry;

use std::sync::Arc;
use std::time::Duration;

use crate::config::Config;
use crate::connector::{
    ConfiguredConnector, Connector, Connectors, LocalConnector, UpstreamClient,
};
use crate::keys::{KeyError, KeyManager};
use crate::metrics::Metrics;
use crate::oidc::{self, AppState};
use crate::storage::{self, StorageError};
use crate::token::TokenMinter;

const GC_INTERVAL: Duration = Duration::from_secs(5 * 60);
/// How often each replica re-reads the keys (and rotates when due), at most.
const KEY_REFRESH_INTERVAL: Duration = Duration::from_secs(60);
/// No request may hold a worker longer than this (the bcrypt queue gives up after 10 s).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// OAuth forms are small; refuse large bodies before reading them.
const MAX_BODY_BYTES: usize = 64 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot open storage: {0}")]
    Storage(#[from] StorageError),
    #[error("cannot load signing keys: {0}")]
    Keys(#[from] KeyError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: String,
        source: std::io::Error,
    },
    #[error("connector {id}: {message}")]
    Connector { id: String, message: String },
    #[error("gRPC API: {message}")]
    Api { message: String },
    #[error("server failed: {0}")]
    Io(#[from] std::io::Error),
}

/// Builds the shared state: opens storage, loads or creates keys, sets up connectors
/// (`connectors`: the config's entries as [`crate::connector::configure`] read them).
pub async fn build_state(
    config: Config,
    connectors: &[ConfiguredConnector],
) -> Result<Arc<AppState>, ServeError> {
    for warning in crate::connector::warnings(connectors) {
        tracing::warn!("DANGEROUS CONFIG: {warning}");
    }
    let storage = storage::open(&config.storage).await?;
    let keys = Arc::new(
        KeyManager::start(
            storage.clone(),
            config.signing_algorithm,
            config.expiry.signing_keys.as_secs() as i64,
            config.expiry.id_tokens.as_secs() as i64,
        )
        .await?,
    );
    let metrics = Arc::new(Metrics::new());
    let configured = connectors;
    let mut connectors: Vec<Arc<dyn Connector>> = Vec::new();
    if config.enable_password_db {
        let parallelism = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2);
        connectors.push(Arc::new(
            LocalConnector::new(&config.static_passwords, parallelism)
                .with_in_flight_gauge(metrics.bcrypt_in_flight())
                .with_storage(storage.clone()),
        ));
    }
    if let Some(first) = configured.first() {
        let http = UpstreamClient::new().map_err(|e| ServeError::Connector {
            id: first.entry.id.clone(),
            message: e.to_string(),
        })?;
        for c in configured {
            let connector = c
                .settings
                .build(&c.entry.id, &c.entry.name, &http)
                .map_err(|message| ServeError::Connector {
                    id: c.entry.id.clone(),
                    message,
                })?;
            connectors.push(connector);
        }
    }
    let minter = TokenMinter::new(
        config.issuer.url.clone(),
        keys.clone(),
        config.expiry.id_tokens.as_secs() as i64,
    );
    Ok(Arc::new(AppState {
        config,
        storage,
        keys,
        minter,
        connectors: Connectors::new(connectors),
        metrics,
    }))
}

/// Runs until SIGINT/SIGTERM, then finishes in-flight requests and returns.
pub async fn serve(config: Config, connectors: &[ConfiguredConnector]) -> Result<(), ServeError> {
    let addr = config.http_addr.clone();
    for warning in &config.warnings {
        tracing::warn!("{warning}");
    }
    let state = build_state(config, connectors).await?;
    let listener = tokio::net::TcpListener::bind(&addr)
        .await
        .map_err(|source| ServeError::Bind {
            addr: addr.clone(),
            source,
        })?;
    let local = listener.local_addr()?;
    tracing::info!(addr = %local, issuer = %state.config.issuer.url, "listening");

    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let telemetry = match state.config.telemetry_addr.clone() {
        Some(addr) => Some(spawn_telemetry(&addr, state.clone(), stop_rx.clone()).await?),
        None => None,
    };
    let api = match state.config.grpc.clone() {
        Some(grpc) => Some(crate::api::spawn_api(&grpc, state.clone(), stop_rx.clone()).await?),
        None => None,
    };
    let gc = storage::spawn_garbage_collector(state.storage.clone(), GC_INTERVAL, stop_rx.clone());
    // Several refreshes fit in the rotation lead, so every replica publishes the next key
    // before any replica signs with it.
    let lead = crate::keys::rotation_lead(state.config.expiry.signing_keys.as_secs() as i64);
    let key_every = KEY_REFRESH_INTERVAL.min(Duration::from_secs((lead / 3).max(1) as u64));
    let key_refresh = spawn_key_refresh(state.keys.clone(), key_every, stop_rx);

    let metrics = state.metrics.clone();
    let app = oidc::router(state)
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            REQUEST_TIMEOUT,
        ))
        .layer(axum::middleware::from_fn(access_log::log_request))
        // Outermost, so timeouts are counted too.
        .layer(axum::middleware::from_fn_with_state(
            metrics,
            request_metrics::count_request,
        ));
    // The TCP peer reaches handlers (login throttling; see oidc::client_address).
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown::signal())
    .await?;
    let _ = stop_tx.send(true);
    let _ = tokio::join!(gc, key_refresh);
    if let Some(telemetry) = telemetry {
        let _ = telemetry.await;
    }
    if let Some(api) = api {
        let _ = api.await;
    }
    tracing::info!("stopped");
    Ok(())
}

/// Binds `telemetry.http` (a bind failure stops start-up) and serves it until `stop`.
async fn spawn_telemetry(
    addr: &str,
    state: Arc<AppState>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> Result<tokio::task::JoinHandle<()>, ServeError> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| ServeError::Bind {
            addr: addr.to_string(),
            source,
        })?;
    tracing::info!(addr = %listener.local_addr()?, "telemetry listening (/metrics, /healthz)");
    let app = telemetry::router(state);
    Ok(tokio::spawn(async move {
        let stopped = async move {
            let _ = stop.changed().await;
        };
        if let Err(e) = axum::serve(listener, app)
            .with_graceful_shutdown(stopped)
            .await
        {
            tracing::error!(error = %e, "telemetry listener failed");
        }
    }))
}

fn spawn_key_refresh(
    keys: Arc<KeyManager>,
    every: Duration,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(every);
        ticker.tick().await; // the first tick is immediate; keys were just loaded
        loop {
            tokio::select! {
                _ = ticker.tick() => {}
                _ = stop.changed() => return,
            }
            if let Err(e) = keys.refresh().await {
                tracing::warn!(error = %e, "refreshing signing keys failed");
            }
        }
    })
}
