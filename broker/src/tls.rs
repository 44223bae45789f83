//! The TLS listeners (`web.https`, and `grpc:` when it has certificates): rustls with the ring provider, Dex's TLS versions, and a
//! certificate (and the API's client CA, `client_ca.rs`) that follows its files. Dex reloads on a file event; we poll the two files every
//! [`RELOAD_POLL`] and swap in a new pair once both parse and match, so a renewal (cert-manager,
//! certbot, `mv` or rewrite in place) is served without a restart and a half-written pair never is.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use sha2::{Digest, Sha256};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

use crate::config::{load_certified_key, TlsVersions};

mod client_ca;
pub use client_ca::{client_verifier, Reload, ReloadingClientCa};

/// How often the certificate files are checked for a change.
pub const RELOAD_POLL: Duration = Duration::from_secs(1);
/// A client that has not finished its handshake by then is dropped (slowloris).
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Handshaken connections waiting for the HTTP server to take them.
const ACCEPT_QUEUE: usize = 128;

/// The certificate rustls presents: the last good pair read from the files.
#[derive(Debug)]
pub struct ReloadingCert {
    current: RwLock<Arc<CertifiedKey>>,
    cert_path: String,
    key_path: String,
}

impl ResolvesServerCert for ReloadingCert {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.current.read().ok().map(|c| c.clone())
    }
}

impl ReloadingCert {
    /// Loads the pair once; a failure here stops start-up (the config check already read it).
    pub fn load(cert_path: &str, key_path: &str) -> Result<Arc<ReloadingCert>, String> {
        let first = load_certified_key(cert_path, key_path).map_err(|e| e.to_string())?;
        Ok(Arc::new(ReloadingCert {
            current: RwLock::new(first),
            cert_path: cert_path.to_string(),
            key_path: key_path.to_string(),
        }))
    }

    /// Re-reads the files every [`RELOAD_POLL`] until `stop` changes; swaps on a good change.
    pub fn spawn_reload(
        self: &Arc<Self>,
        what: &'static str,
        mut stop: watch::Receiver<bool>,
    ) -> tokio::task::JoinHandle<()> {
        let this = self.clone();
        tokio::spawn(async move {
            let mut seen = this.digest();
            let mut ticker = tokio::time::interval(RELOAD_POLL);
            loop {
                tokio::select! {
                    _ = ticker.tick() => {}
                    _ = stop.changed() => return,
                }
                let now = this.digest();
                if now == seen {
                    continue;
                }
                seen = now;
                match load_certified_key(&this.cert_path, &this.key_path) {
                    Ok(pair) => {
                        if let Ok(mut current) = this.current.write() {
                            *current = pair;
                        }
                        tracing::info!(listener = what, cert = %this.cert_path, "TLS certificate reloaded");
                    }
                    // Often the first file of a renewal written before the second: keep serving
                    // the old pair, and try again once either file changes.
                    Err(e) => tracing::warn!(
                        listener = what,
                        error = %e,
                        "TLS certificate files changed but cannot be used yet; still serving the previous certificate"
                    ),
                }
            }
        })
    }

    /// A digest of both files' bytes (the key's bytes are never kept), or None when unreadable.
    fn digest(&self) -> Option<[u8; 32]> {
        let cert = std::fs::read(&self.cert_path).ok()?;
        let key = std::fs::read(&self.key_path).ok()?;
        let mut h = Sha256::new();
        h.update((cert.len() as u64).to_be_bytes());
        h.update(&cert);
        h.update(&key);
        Some(h.finalize().into())
    }
}

/// A rustls server config for `resolver` speaking `versions`, offering `alpn` protocols.
pub fn server_config(
    resolver: Arc<dyn ResolvesServerCert>,
    versions: TlsVersions,
    alpn: &[&[u8]],
    client_auth: Option<Arc<dyn rustls::server::danger::ClientCertVerifier>>,
) -> Result<rustls::ServerConfig, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&versions.protocol_versions())
        .map_err(|e| e.to_string())?;
    let builder = match client_auth {
        Some(verifier) => builder.with_client_cert_verifier(verifier),
        None => builder.with_no_client_auth(),
    };
    let mut config = builder.with_cert_resolver(resolver);
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Ok(config)
}

/// A finished TLS connection and its TCP peer.
pub type Handshaken = (TlsStream<TcpStream>, std::net::SocketAddr);

/// Accepts TCP connections until `stop` changes and completes TLS handshakes off the accept
/// path (a slow client holds up only itself); finished connections come out of the channel.
pub fn spawn_acceptor(
    listener: TcpListener,
    config: rustls::ServerConfig,
    what: &'static str,
    mut stop: watch::Receiver<bool>,
) -> mpsc::Receiver<Handshaken> {
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let (tx, incoming) = mpsc::channel(ACCEPT_QUEUE);
    tokio::spawn(async move {
        loop {
            let (tcp, peer) = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok(pair) => pair,
                    Err(e) => {
                        // EMFILE and the like: wait a little instead of spinning.
                        tracing::warn!(listener = what, error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                },
                _ = stop.changed() => return,
            };
            let acceptor = acceptor.clone();
            let tx = tx.clone();
            tokio::spawn(async move {
                match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                    Ok(Ok(tls)) => {
                        let _ = tx.send((tls, peer)).await;
                    }
                    Ok(Err(e)) => {
                        tracing::debug!(listener = what, %peer, error = %e, "TLS handshake failed")
                    }
                    Err(_) => tracing::debug!(listener = what, %peer, "TLS handshake timed out"),
                }
            });
        }
    });
    incoming
}

/// The HTTPS listener as axum takes it: connections whose handshake is done.
pub struct TlsListener {
    incoming: mpsc::Receiver<Handshaken>,
    local: std::net::SocketAddr,
}

impl TlsListener {
    pub fn new(
        listener: TcpListener,
        config: rustls::ServerConfig,
        stop: watch::Receiver<bool>,
    ) -> std::io::Result<TlsListener> {
        let local = listener.local_addr()?;
        let incoming = spawn_acceptor(listener, config, "web.https", stop);
        Ok(TlsListener { incoming, local })
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = std::net::SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.incoming.recv().await {
            Some(pair) => pair,
            // The accept task ended (shutdown): accept nothing more.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local)
    }
}
