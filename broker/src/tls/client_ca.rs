//! Client certificates checked against a CA file that follows its file (`grpc.tlsClientCA`), as
//! the server certificate does ([`super::ReloadingCert`]): the file is polled every
//! [`super::RELOAD_POLL`]; once a changed file parses, new handshakes are checked against it; a
//! file that does not parse is logged as an error and the CAs read last keep being used, so a
//! bad write never opens the API nor locks every caller out.

use std::sync::{Arc, RwLock};

use rustls::client::danger::HandshakeSignatureValid;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{DigitallySignedStruct, DistinguishedName, SignatureScheme};
use sha2::{Digest, Sha256};
use tokio::sync::watch;

/// A verifier requiring a client certificate that chains to one of the CAs in `pem`.
pub fn client_verifier(pem: &[u8]) -> Result<Arc<dyn ClientCertVerifier>, String> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(pem) {
        let cert = cert.map_err(|e| e.to_string())?;
        roots.add(cert).map_err(|e| e.to_string())?;
    }
    if roots.is_empty() {
        return Err("no PEM CERTIFICATE block".into());
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
        .build()
        .map_err(|e| e.to_string())
}

/// What a re-read of the file did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reload {
    /// Same bytes as last time (or unreadable, as last time).
    Unchanged,
    /// New CAs in use.
    Swapped,
    /// Changed but unusable; the previous CAs stay (the reason, naming no secret).
    Kept(String),
}

/// The verifier rustls asks; it hands each question to the last good one read from `path`.
#[derive(Debug)]
pub struct ReloadingClientCa {
    current: RwLock<Arc<dyn ClientCertVerifier>>,
    path: String,
    /// Digest of the bytes last looked at (good or not), so a broken file is reported once.
    seen: RwLock<Option<[u8; 32]>>,
}

impl ReloadingClientCa {
    /// Reads the file once; a failure here stops start-up.
    pub fn load(path: &str) -> Result<Arc<ReloadingClientCa>, String> {
        let bytes = std::fs::read(path).map_err(|e| format!("cannot read {path:?}: {e}"))?;
        let first = client_verifier(&bytes).map_err(|e| format!("{path:?}: {e}"))?;
        Ok(Arc::new(ReloadingClientCa {
            current: RwLock::new(first),
            path: path.to_string(),
            seen: RwLock::new(Some(digest(&bytes))),
        }))
    }

    /// Re-reads the file and swaps in its CAs when they changed and parse.
    pub fn reload(&self) -> Reload {
        let Ok(bytes) = std::fs::read(&self.path) else {
            // Mid-rename or removed: not a change to act on; the old CAs stay.
            return Reload::Unchanged;
        };
        let now = Some(digest(&bytes));
        {
            let Ok(mut seen) = self.seen.write() else {
                return Reload::Unchanged;
            };
            if *seen == now {
                return Reload::Unchanged;
            }
            *seen = now;
        }
        match client_verifier(&bytes) {
            Ok(verifier) => {
                if let Ok(mut current) = self.current.write() {
                    *current = verifier;
                }
                Reload::Swapped
            }
            Err(e) => Reload::Kept(e),
        }
    }

    /// Polls the file every [`super::RELOAD_POLL`] until `stop` changes.
    pub fn spawn_reload(
        self: &Arc<Self>,
        what: &'static str,
        mut stop: watch::Receiver<bool>,
    ) -> tokio::task::JoinHandle<()> {
        let this = self.clone();
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(super::RELOAD_POLL);
            loop {
                tokio::select! {
                    _ = ticker.tick() => {}
                    _ = stop.changed() => return,
                }
                match this.reload() {
                    Reload::Unchanged => {}
                    Reload::Swapped => {
                        tracing::info!(listener = what, file = %this.path, "client CA reloaded")
                    }
                    Reload::Kept(reason) => tracing::error!(
                        listener = what,
                        file = %this.path,
                        error = %reason,
                        "client CA file changed but cannot be used; still checking callers against the previous CAs"
                    ),
                }
            }
        })
    }

    fn verifier(&self) -> Result<Arc<dyn ClientCertVerifier>, rustls::Error> {
        self.current
            .read()
            .map(|v| v.clone())
            .map_err(|_| rustls::Error::General("client CA lock poisoned".into()))
    }
}

fn digest(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

impl ClientCertVerifier for ReloadingClientCa {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        true
    }

    /// No CA names in the certificate request: the names would have to be borrowed from a
    /// verifier that a reload may replace. TLS allows an empty list (the client then sends
    /// the certificate it has); the check itself is unchanged.
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        self.verifier()?
            .verify_client_cert(end_entity, intermediates, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.verifier()?.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.verifier()?.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.verifier()
            .map(|v| v.supported_verify_schemes())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests;
