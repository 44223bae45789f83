//! Wires config, storage, keys and connectors into a running HTTP server.

mod access_log;
mod request_metrics;
mod shutdown;
mod telemetry;
mod web_headers;

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
use crate::tls;
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
    #[error("web.https: {message}")]
    Tls { message: String },
    #[error(transparent)]
    Api(#[from] crate::api::StartError),
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
    for warning in &config.warnings {
        tracing::warn!("{warning}");
    }
    let web = config.web.clone();
    let state = build_state(config, connectors).await?;
    // Bound before anything else starts, so a taken port stops start-up at once.
    let http = match &web.http {
        Some(addr) => Some(bind(addr).await?),
        None => None,
    };
    let https = match &web.https {
        Some(h) => Some((bind(&h.addr).await?, h)),
        None => None,
    };

    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    // `quit` ends the listeners (in-flight requests finish); `stop` then ends the rest.
    let (quit_tx, quit_rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown::signal().await;
        let _ = quit_tx.send(true);
    });
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
    let key_refresh = spawn_key_refresh(state.keys.clone(), key_every, stop_rx.clone());

    let metrics = state.metrics.clone();
    let issuer = state.config.issuer.url.clone();
    let app = oidc::router(state)
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            REQUEST_TIMEOUT,
        ))
        // `web.headers` replace the pages' own values, so this wraps every route.
        .layer(axum::middleware::from_fn_with_state(
            Arc::new(web.headers.clone()),
            web_headers::add_headers,
        ))
        .layer(axum::middleware::from_fn(access_log::log_request))
        // Outermost, so timeouts are counted too.
        .layer(axum::middleware::from_fn_with_state(
            metrics,
            request_metrics::count_request,
        ));
    let quit = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|q| *q).await;
    };
    let mut servers = Vec::new();
    let mut reloads = Vec::new();
    if let Some(listener) = http {
        tracing::info!(addr = %listener.local_addr()?, issuer = %issuer, "listening (http)");
        // The TCP peer reaches handlers (login throttling; see oidc::client_address).
        let serving = axum::serve(
            listener,
            app.clone()
                .into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .with_graceful_shutdown(quit(quit_rx.clone()));
        servers.push(tokio::spawn(async move { serving.await }));
    }
    if let Some((listener, settings)) = https {
        let local = listener.local_addr()?;
        let cert = tls::ReloadingCert::load(&settings.cert_path, &settings.key_path)
            .map_err(|message| ServeError::Tls { message })?;
        reloads.push(cert.spawn_reload("web.https", stop_rx.clone()));
        let tls_config = tls::server_config(cert, settings.versions, &[b"http/1.1"], None)
            .map_err(|message| ServeError::Tls { message })?;
        let listener = tls::TlsListener::new(listener, tls_config, quit_rx.clone())?;
        tracing::info!(addr = %local, issuer = %issuer, "listening (https)");
        use axum::serve::ListenerExt;
        let serving = axum::serve(
            listener.tap_io(|_| {}),
            app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .with_graceful_shutdown(quit(quit_rx.clone()));
        servers.push(tokio::spawn(async move { serving.await }));
    }
    let mut failed = None;
    for server in servers {
        match server.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => failed = Some(ServeError::Io(e)),
            Err(e) => failed = Some(ServeError::Io(std::io::Error::other(e))),
        }
    }
    let _ = stop_tx.send(true);
    let _ = tokio::join!(gc, key_refresh);
    for reload in reloads {
        let _ = reload.await;
    }
    if let Some(telemetry) = telemetry {
        let _ = telemetry.await;
    }
    if let Some(api) = api {
        let _ = api.await;
    }
    if let Some(e) = failed {
        return Err(e);
    }
    tracing::info!("stopped");
    Ok(())
}

async fn bind(addr: &str) -> Result<tokio::net::TcpListener, ServeError> {
    tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| ServeError::Bind {
            addr: addr.to_string(),
            source,
        })
}

/// Binds `telemetry.http` (a bind failure stops start-up) and serves it until `stop`.
async fn spawn_telemetry(
    addr: &str,
    state: Arc<AppState>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> Result<tokio::task::JoinHandle<()>, ServeError> {
    let listener = bind(addr).await?;
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
