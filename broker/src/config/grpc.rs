//! Dex's `grpc:` block: where the administration API listens and how callers are checked.
//!
//! The API can create users and clients, so it is an administrator's tool: without client
//! certificates (`tlsClientCA`) it may listen on a loopback address only.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use serde::Deserialize;

use super::error::ConfigError;
use super::ReadFile;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawGrpc {
    pub addr: Option<String>,
    #[serde(rename = "tlsCert")]
    pub tls_cert: Option<String>,
    #[serde(rename = "tlsKey")]
    pub tls_key: Option<String>,
    #[serde(rename = "tlsClientCA")]
    pub tls_client_ca: Option<String>,
    #[serde(rename = "tlsMinVersion")]
    pub tls_min_version: Option<String>,
    #[serde(rename = "tlsMaxVersion")]
    pub tls_max_version: Option<String>,
    pub reflection: Option<bool>,
}

#[derive(Debug, Clone)]
pub struct GrpcConfig {
    pub addr: SocketAddr,
    pub tls: Option<GrpcTls>,
    /// Serve gRPC server reflection (for `grpcurl` without a copy of the proto).
    pub reflection: bool,
}

/// The API's TLS: files checked when the config is loaded so that a bad one names its key.
#[derive(Debug, Clone)]
pub struct GrpcTls {
    /// Callers must present a certificate signed by a CA in this PEM file (checked when the
    /// config is loaded, re-read while serving so a replaced CA is used without a restart).
    pub client_ca_path: Option<String>,
    /// `grpc.tlsMinVersion` / `tlsMaxVersion`.
    pub versions: super::TlsVersions,
    /// The files, re-read while serving so a renewed certificate is used without a restart.
    pub cert_path: String,
    pub key_path: String,
}

pub fn grpc(raw: Option<RawGrpc>, read_file: ReadFile) -> Result<Option<GrpcConfig>, ConfigError> {
    let Some(raw) = raw else { return Ok(None) };
    let text = raw.addr.filter(|a| !a.trim().is_empty()).ok_or_else(|| {
        ConfigError::key(
            "grpc.addr",
            "missing: the address of the gRPC API, e.g. 127.0.0.1:5557",
        )
    })?;
    let addr = socket_addr(&text)?;
    let read = |key: &str, path: &str| {
        read_file(path).map_err(|e| {
            ConfigError::key(format!("grpc.{key}"), format!("cannot read {path:?}: {e}"))
        })
    };
    let versions = super::tls_files::tls_versions(
        "grpc",
        raw.tls_min_version.as_deref(),
        raw.tls_max_version.as_deref(),
    )?;
    let tls = match (raw.tls_cert, raw.tls_key, raw.tls_client_ca) {
        (None, None, None) => None,
        (Some(cert), Some(key), ca) => Some(GrpcTls {
            versions: {
                super::tls_files::load_certified_key(&cert, &key).map_err(|e| {
                    let at = if e.is_key_fault() {
                        "grpc.tlsKey"
                    } else {
                        "grpc.tlsCert"
                    };
                    ConfigError::key(at, e.to_string())
                })?;
                versions
            },
            cert_path: cert,
            key_path: key,
            client_ca_path: ca
                .map(|ca| {
                    pem(&read("tlsClientCA", &ca)?, "tlsClientCA", "CERTIFICATE")?;
                    Ok::<_, ConfigError>(ca)
                })
                .transpose()?,
        }),
        (None, _, Some(_)) | (_, None, Some(_)) => {
            return Err(ConfigError::key(
                "grpc.tlsClientCA",
                "needs grpc.tlsCert and grpc.tlsKey: client certificates are checked over TLS",
            ))
        }
        (Some(_), None, None) => {
            return Err(ConfigError::key(
                "grpc.tlsKey",
                "missing: give the private key of grpc.tlsCert",
            ))
        }
        (None, Some(_), None) => {
            return Err(ConfigError::key(
                "grpc.tlsCert",
                "missing: give the certificate of grpc.tlsKey",
            ))
        }
    };
    let checks_callers = tls.as_ref().is_some_and(|t| t.client_ca_path.is_some());
    if !checks_callers && !addr.ip().is_loopback() {
        return Err(ConfigError::key(
            "grpc.tlsClientCA",
            format!(
                "missing, and grpc.addr {text:?} is not a loopback address: anyone who reaches \
                 it could manage users and clients. Set grpc.tlsClientCA (with tlsCert and \
                 tlsKey) to require client certificates, or listen on 127.0.0.1"
            ),
        ));
    }
    Ok(Some(GrpcConfig {
        addr,
        tls,
        reflection: raw.reflection.unwrap_or(false),
    }))
}

/// `host:port` with an IP address or `localhost`; Go's `:5557` means every interface.
fn socket_addr(text: &str) -> Result<SocketAddr, ConfigError> {
    let bad = || {
        ConfigError::key(
            "grpc.addr",
            format!("{text:?} is not ip:port (e.g. 127.0.0.1:5557)"),
        )
    };
    let (host, port) = text.rsplit_once(':').ok_or_else(bad)?;
    let port: u16 = port.parse().map_err(|_| bad())?;
    let ip = match host.trim_start_matches('[').trim_end_matches(']') {
        "" => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        "localhost" => IpAddr::V4(Ipv4Addr::LOCALHOST),
        other => other.parse().map_err(|_| bad())?,
    };
    Ok(SocketAddr::new(ip, port))
}

/// Checks the file holds a PEM block of the expected kind (`PRIVATE KEY` matches RSA/EC too).
fn pem(text: &str, key: &str, kind: &str) -> Result<String, ConfigError> {
    let found = text
        .lines()
        .any(|l| l.starts_with("-----BEGIN ") && l.contains(kind));
    if !found {
        return Err(ConfigError::key(
            format!("grpc.{key}"),
            format!("is not a PEM file with a {kind} block"),
        ));
    }
    Ok(text.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_files(_: &str) -> std::io::Result<String> {
        Err(std::io::Error::other("no files in this test"))
    }

    fn raw(addr: &str) -> RawGrpc {
        RawGrpc {
            addr: Some(addr.into()),
            tls_cert: None,
            tls_key: None,
            tls_client_ca: None,
            tls_min_version: None,
            tls_max_version: None,
            reflection: None,
        }
    }

    #[test]
    fn loopback_without_tls_is_fine() {
        let g = grpc(Some(raw("127.0.0.1:5557")), &no_files)
            .unwrap()
            .unwrap();
        assert_eq!(g.addr.to_string(), "127.0.0.1:5557");
        assert!(grpc(Some(raw("[::1]:5557")), &no_files).unwrap().is_some());
        assert!(grpc(Some(raw("localhost:5557")), &no_files)
            .unwrap()
            .is_some());
    }

    #[test]
    fn other_addresses_need_client_certificates() {
        for addr in [":5557", "0.0.0.0:5557", "192.0.2.1:5557", "[::]:5557"] {
            let e = grpc(Some(raw(addr)), &no_files).unwrap_err().to_string();
            assert!(e.starts_with("grpc.tlsClientCA: missing"), "{addr}: {e}");
            assert!(e.contains("127.0.0.1"), "{e}");
        }
    }

    #[test]
    fn malformed_and_incomplete_settings_name_the_key() {
        let e = grpc(Some(raw("nowhere")), &no_files)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("grpc.addr"), "{e}");
        let mut r = raw("127.0.0.1:5557");
        r.tls_client_ca = Some("ca.pem".into());
        let e = grpc(Some(r), &no_files).unwrap_err().to_string();
        assert!(e.contains("needs grpc.tlsCert"), "{e}");
        let mut r = raw("127.0.0.1:5557");
        r.tls_cert = Some("c.pem".into());
        r.tls_key = Some("k.pem".into());
        let e = grpc(Some(r), &no_files).unwrap_err().to_string();
        assert!(e.starts_with("grpc.tlsCert: cannot read"), "{e}");
    }
}
