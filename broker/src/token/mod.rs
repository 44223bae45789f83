//! ID and access tokens: claims, Dex-compatible subjects, signing (RS256, ES256 or EdDSA)
//! and verification.

mod audience;
mod claims;
mod id_token_hint;
mod minter;
mod subject;
#[cfg(test)]
mod test_minter;
mod verifying_key;

pub use audience::{cross_client_peer, Audience, CROSS_CLIENT_PREFIX};
pub use claims::{Claims, FederatedClaims, UserInfo};
pub use id_token_hint::verify_id_token_hint;
pub use minter::{at_hash, Grant, IssuedTokens, TokenError, TokenMinter};
pub use subject::encode_subject;
use verifying_key::verifying_key;
