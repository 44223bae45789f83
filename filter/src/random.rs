//! Randomness for state, nonces, PKCE verifiers and AEAD nonces. Under Envoy and Kong this is
//! WASI `random_get`; natively the OS generator.

use base64::Engine;

#[derive(Debug, thiserror::Error)]
#[error("the host's random generator failed")]
pub struct RandomError;

pub fn fill(buf: &mut [u8]) -> Result<(), RandomError> {
    getrandom::getrandom(buf).map_err(|_| RandomError)
}

/// `n` random bytes as unpadded base64url: 32 bytes give 43 characters, enough for PKCE.
pub fn token(n: usize) -> Result<String, RandomError> {
    let mut buf = vec![0u8; n];
    fill(&mut buf)?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(buf))
}
