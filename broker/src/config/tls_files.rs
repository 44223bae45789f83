//! TLS settings shared by `web` and `grpc`: Dex's `tlsMinVersion`/`tlsMaxVersion` ("1.2",
//! "1.3") and a certificate/key pair read from PEM files with rustls (ring provider).

use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::sign::CertifiedKey;

use super::error::ConfigError;

/// Which TLS versions a listener speaks. rustls has 1.2 and 1.3 only, as Dex allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TlsVersions {
    pub tls12: bool,
    pub tls13: bool,
}

impl Default for TlsVersions {
    /// Dex's default: at least 1.2, at most the newest.
    fn default() -> Self {
        TlsVersions {
            tls12: true,
            tls13: true,
        }
    }
}

impl TlsVersions {
    /// The rustls protocol versions, newest first.
    pub fn protocol_versions(&self) -> Vec<&'static rustls::SupportedProtocolVersion> {
        let mut out = Vec::new();
        if self.tls13 {
            out.push(&rustls::version::TLS13);
        }
        if self.tls12 {
            out.push(&rustls::version::TLS12);
        }
        out
    }
}

/// `<block>.tlsMinVersion` / `tlsMaxVersion`, checked as Dex does.
pub fn tls_versions(
    block: &str,
    min: Option<&str>,
    max: Option<&str>,
) -> Result<TlsVersions, ConfigError> {
    let parse = |key: &str, text: Option<&str>| -> Result<Option<u8>, ConfigError> {
        match text.map(str::trim) {
            None | Some("") => Ok(None),
            Some("1.2") => Ok(Some(2)),
            Some("1.3") => Ok(Some(3)),
            Some(other) => Err(ConfigError::key(
                format!("{block}.{key}"),
                format!("{other:?} is not a supported TLS version: use \"1.2\" or \"1.3\""),
            )),
        }
    };
    let min = parse("tlsMinVersion", min)?.unwrap_or(2);
    let max = parse("tlsMaxVersion", max)?.unwrap_or(3);
    if min > max {
        return Err(ConfigError::key(
            format!("{block}.tlsMinVersion"),
            format!("1.{min} is greater than {block}.tlsMaxVersion 1.{max}"),
        ));
    }
    Ok(TlsVersions {
        tls12: min <= 2,
        tls13: max >= 3,
    })
}

/// Why a certificate/key pair could not be used (the message names no secret).
#[derive(Debug, thiserror::Error)]
pub enum TlsFileError {
    #[error("cannot read {path:?}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path:?} holds no PEM CERTIFICATE block")]
    NoCertificate { path: String },
    #[error("{path:?} holds no PEM private key (PKCS#8, RSA or EC): {reason}")]
    NoKey { path: String, reason: String },
    #[error("the key does not fit: {0}")]
    Mismatch(String),
}

impl TlsFileError {
    /// True when the fault lies in the key file (so a config error names `tlsKey`).
    pub fn is_key_fault(&self) -> bool {
        matches!(self, TlsFileError::NoKey { .. } | TlsFileError::Mismatch(_))
    }
}

/// Parses a certificate chain and its private key (PEM bytes) into what rustls serves.
pub fn certified_key(
    cert_path: &str,
    cert_pem: &[u8],
    key_path: &str,
    key_pem: &[u8],
) -> Result<Arc<CertifiedKey>, TlsFileError> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert_pem)
        .filter_map(Result::ok)
        .collect();
    if certs.is_empty() {
        return Err(TlsFileError::NoCertificate {
            path: cert_path.to_string(),
        });
    }
    let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|e| TlsFileError::NoKey {
        path: key_path.to_string(),
        reason: e.to_string(),
    })?;
    let provider = rustls::crypto::ring::default_provider();
    CertifiedKey::from_der(certs, key, &provider)
        .map(Arc::new)
        .map_err(|e| TlsFileError::Mismatch(e.to_string()))
}

/// Reads both files and parses them (see [`certified_key`]).
pub fn load_certified_key(
    cert_path: &str,
    key_path: &str,
) -> Result<Arc<CertifiedKey>, TlsFileError> {
    let read = |path: &str| {
        std::fs::read(path).map_err(|source| TlsFileError::Read {
            path: path.to_string(),
            source,
        })
    };
    certified_key(cert_path, &read(cert_path)?, key_path, &read(key_path)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_as_dex() {
        assert_eq!(
            tls_versions("web", None, None).unwrap(),
            TlsVersions::default()
        );
        let only13 = tls_versions("web", Some("1.3"), None).unwrap();
        assert!(only13.tls13 && !only13.tls12);
        let only12 = tls_versions("web", None, Some("1.2")).unwrap();
        assert!(only12.tls12 && !only12.tls13);
        let e = tls_versions("web", Some("1.3"), Some("1.2")).unwrap_err();
        assert!(e.to_string().starts_with("web.tlsMinVersion"), "{e}");
        for bad in ["1.1", "1.0", "TLS1.3", "13"] {
            let e = tls_versions("grpc", None, Some(bad)).unwrap_err();
            assert!(e.to_string().starts_with("grpc.tlsMaxVersion"), "{e}");
        }
    }

    #[test]
    fn garbage_files_are_refused_without_panicking() {
        let e = certified_key("c", b"not pem", "k", b"").unwrap_err();
        assert!(matches!(e, TlsFileError::NoCertificate { .. }), "{e}");
        let fake_cert = b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        let e = certified_key("c", fake_cert, "k", b"junk").unwrap_err();
        assert!(e.is_key_fault(), "{e}");
    }
}
