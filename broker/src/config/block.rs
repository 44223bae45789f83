//! Helpers for reading one connector's `config:` block, shared by every connector type (which
//! owns its block's keys and checks): normalise against the type's [`Shape`], deserialise with
//! the full key path in errors, and the checks most blocks need.

use serde::de::DeserializeOwned;

use super::error::ConfigError;
use super::schema::{normalize, Shape};

/// Reads a file a config key names (certificates, metadata); tests hand in their own.
pub type ReadFile<'a> = &'a dyn Fn(&str) -> std::io::Result<String>;

/// Normalises a block against its shape and deserialises it; an absent block reads as empty.
/// Errors name the full key path (`connectors[1].config.tenant`).
pub fn parse_block<T: DeserializeOwned>(
    value: &serde_json::Value,
    shape: &Shape,
    path: &str,
) -> Result<T, ConfigError> {
    let value = match value {
        serde_json::Value::Null => serde_json::Value::Object(Default::default()),
        v => v.clone(),
    };
    let normalized = normalize(&value, shape, path)?;
    serde_path_to_error::deserialize(normalized)
        .map_err(|e| ConfigError::key(format!("{path}.{}", e.path()), e.inner().to_string()))
}

/// A key that must be given and not blank.
pub fn required(value: Option<String>, key: &str) -> Result<String, ConfigError> {
    value
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| ConfigError::key(key, "missing"))
}

/// An absolute http(s) URL with a host.
pub fn check_url(text: &str, key: &str) -> Result<(), ConfigError> {
    match url::Url::parse(text) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => Ok(()),
        _ => Err(ConfigError::key(
            key,
            format!("{text:?} is not an absolute http(s) URL"),
        )),
    }
}
