//! TLS to the directory: verified against the system roots, or against `rootCA`/`rootCAData`
//! alone (as Dex: a given CA replaces the system pool), with an optional client certificate.
//! `insecureSkipVerify` keeps the handshake's signature checks but accepts any certificate.

use std::sync::Arc;

use base64::Engine;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{ring, verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

use crate::config::{ConfigError, ReadFile};
use crate::secret::Secret;

/// The TLS keys as written.
pub struct Keys {
    pub root_ca: Option<String>,
    pub root_ca_data: Option<String>,
    pub client_cert: Option<String>,
    pub client_key: Option<String>,
    pub insecure_skip_verify: bool,
}

/// Checked TLS settings: PEM text read from the files, parsed once at check time.
#[derive(Debug, Clone)]
pub struct TlsSettings {
    /// PEM certificates trusted instead of the system roots.
    pub roots: Option<String>,
    /// Client certificate chain (PEM) and its key.
    pub client: Option<(String, Secret)>,
    pub insecure_skip_verify: bool,
}

pub fn settings(keys: Keys, path: &str, read_file: ReadFile) -> Result<TlsSettings, ConfigError> {
    let key = |k: &str| format!("{path}.{k}");
    let read = |k: &str, file: &str| {
        read_file(file).map_err(|e| ConfigError::key(key(k), format!("cannot read {file:?}: {e}")))
    };
    let non_empty = |v: Option<String>| v.filter(|s| !s.trim().is_empty());
    let roots = match (non_empty(keys.root_ca), non_empty(keys.root_ca_data)) {
        (Some(_), Some(_)) => {
            return Err(ConfigError::key(
                key("rootCAData"),
                "set either rootCA (a file) or rootCAData (base64 PEM), not both",
            ))
        }
        (Some(file), None) => Some(("rootCA", read("rootCA", &file)?)),
        (None, Some(data)) => {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(data.trim())
                .map_err(|_| {
                    ConfigError::key(key("rootCAData"), "is not base64 (of PEM certificates)")
                })?;
            let text = String::from_utf8(bytes)
                .map_err(|_| ConfigError::key(key("rootCAData"), "does not hold PEM text"))?;
            Some(("rootCAData", text))
        }
        (None, None) => None,
    };
    if let Some((k, pem)) = &roots {
        let certs = certificates(pem).map_err(|e| ConfigError::key(key(k), e))?;
        if certs.is_empty() {
            return Err(ConfigError::key(key(k), "holds no PEM certificate"));
        }
    }
    let client = match (non_empty(keys.client_cert), non_empty(keys.client_key)) {
        (None, None) => None,
        (Some(_), None) => {
            return Err(ConfigError::key(
                key("clientKey"),
                "missing while clientCert is set",
            ))
        }
        (None, Some(_)) => {
            return Err(ConfigError::key(
                key("clientCert"),
                "missing while clientKey is set",
            ))
        }
        (Some(cert_file), Some(key_file)) => {
            let cert = read("clientCert", &cert_file)?;
            let private = Secret::new(read("clientKey", &key_file)?);
            match certificates(&cert) {
                Ok(c) if !c.is_empty() => {}
                _ => {
                    return Err(ConfigError::key(
                        key("clientCert"),
                        "holds no PEM certificate",
                    ))
                }
            }
            PrivateKeyDer::from_pem_slice(private.expose().as_bytes())
                .map_err(|_| ConfigError::key(key("clientKey"), "holds no PEM private key"))?;
            Some((cert, private))
        }
    };
    let settings = TlsSettings {
        roots: roots.map(|(_, pem)| pem),
        client,
        insecure_skip_verify: keys.insecure_skip_verify,
    };
    // Everything the handshake needs is checked now, not at the first sign-in.
    build(&settings, false).map_err(|e| ConfigError::key(key("clientKey"), e))?;
    Ok(settings)
}

fn certificates(pem: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("is not valid PEM: {e}"))
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(ring::default_provider())
}

/// The client TLS config; `system_roots` loads the machine's roots when no CA is configured.
pub fn build(settings: &TlsSettings, system_roots: bool) -> Result<Arc<ClientConfig>, String> {
    let mut roots = RootCertStore::empty();
    match &settings.roots {
        Some(pem) => {
            for cert in certificates(pem)? {
                roots
                    .add(cert)
                    .map_err(|e| format!("a CA certificate is unusable: {e}"))?;
            }
        }
        None if system_roots => {
            let loaded = rustls_native_certs::load_native_certs();
            for cert in loaded.certs {
                // A broken system certificate is skipped, as every TLS client does.
                let _ = roots.add(cert);
            }
        }
        None => {}
    }
    let builder = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup: {e}"))?
        .with_root_certificates(roots);
    let mut config = match &settings.client {
        None => builder.with_no_client_auth(),
        Some((cert, key)) => {
            let key = PrivateKeyDer::from_pem_slice(key.expose().as_bytes())
                .map_err(|_| "clientKey holds no PEM private key".to_string())?;
            builder
                .with_client_auth_cert(certificates(cert)?, key)
                .map_err(|e| format!("clientCert/clientKey do not make a client identity: {e}"))?
        }
    };
    if settings.insecure_skip_verify {
        config
            .dangerous()
            .set_certificate_verifier(Arc::new(AnyCertificate(provider())));
    }
    Ok(Arc::new(config))
}

/// `insecureSkipVerify`: any server certificate, but the handshake signatures are still checked.
#[derive(Debug)]
struct AnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
