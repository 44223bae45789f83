//! Signing keys (RS256, ES256 or EdDSA: `signer.config.algorithm`): generated once, kept in
//! storage so restarts keep tokens valid, published as JWKS. Each key has a signing window and a
//! longer verification window, so rotation only has to add a key and let the old one age out.

mod jwk;
mod manager;
mod signing_key;

pub use crate::signing_algorithm::SigningAlgorithm;
pub use jwk::{Jwk, JwkSet};
pub use manager::{rotation_lead, KeyManager, KeySet};
pub use signing_key::{generate_record, SigningKey};

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("key generation failed: {0}")]
    Generate(String),
    #[error("stored signing key {kid} is unusable: {reason}")]
    Corrupt { kid: String, reason: String },
    #[error(transparent)]
    Storage(#[from] crate::storage::StorageError),
    #[error("no signing key available")]
    NoKey,
    #[error("signing failed")]
    Sign,
}
