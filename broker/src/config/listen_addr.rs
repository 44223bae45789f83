//! Listener addresses (`web.http`, `web.https`, `telemetry.http`) in Dex's Go form.

use super::error::ConfigError;

/// A `host:port` to listen on; Go's ":5556" (every interface) becomes "0.0.0.0:5556".
pub(super) fn listen_addr(key: &str, addr: String) -> Result<String, ConfigError> {
    let addr = if addr.starts_with(':') {
        format!("0.0.0.0{addr}")
    } else {
        addr
    };
    let port_ok = addr
        .rsplit_once(':')
        .map(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok())
        .unwrap_or(false);
    if !port_ok {
        return Err(ConfigError::key(key, format!("{addr:?} is not host:port")));
    }
    Ok(addr)
}
