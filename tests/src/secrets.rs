//! Random secrets for the filter's configuration.

use anyhow::{anyhow, Result};
use base64::Engine;

/// A fresh `cookie_secret`: base64 of 32 random bytes (DESIGN.md's minimum).
pub fn random_cookie_secret() -> Result<String> {
    let mut bytes = [0u8; 32];
    getrandom::getrandom(&mut bytes).map_err(|err| anyhow!("reading OS randomness: {err}"))?;
    Ok(base64::engine::general_purpose::STANDARD.encode(bytes))
}
