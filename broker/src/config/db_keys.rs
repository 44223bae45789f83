//! Dex's connection keys shared by the network databases (PostgreSQL, MySQL): whole numbers,
//! also given as strings (what `$VAR` expansion produces), and `host:port`.

use super::error::ConfigError;
use super::raw::IntOrString;

pub(super) fn int(
    key: &str,
    raw: &Option<IntOrString>,
    min: i64,
    max: i64,
) -> Result<Option<u64>, ConfigError> {
    let path = format!("storage.config.{key}");
    let n = match raw {
        None => return Ok(None),
        Some(IntOrString::Int(n)) => *n,
        Some(IntOrString::Text(t)) => t
            .trim()
            .parse::<i64>()
            .map_err(|_| ConfigError::key(&path, format!("{t:?} is not a whole number")))?,
    };
    if n < min || n > max {
        return Err(ConfigError::key(
            path,
            format!("{n} is out of range ({min}–{max})"),
        ));
    }
    Ok(Some(n as u64))
}

pub(super) fn split_host_port(text: &str) -> Option<(&str, u16)> {
    if text.starts_with('/') {
        return None;
    }
    let (host, port) = if let Some(rest) = text.strip_prefix('[') {
        let (h, after) = rest.split_once(']')?;
        (h, after.strip_prefix(':')?)
    } else {
        let (h, p) = text.rsplit_once(':')?;
        if h.contains(':') {
            return None; // a bare IPv6 address
        }
        (h, p)
    };
    port.parse().ok().map(|p| (host, p))
}
