//! ID and access tokens: claims, Dex-compatible subjects, RS256 signing and verification.

mod audience;
mod claims;
mod id_token_hint;
mod minter;
mod subject;

pub use audience::{cross_client_peer, Audience, CROSS_CLIENT_PREFIX};
pub use claims::{Claims, FederatedClaims, UserInfo};
pub use id_token_hint::verify_id_token_hint;
pub use minter::{at_hash, Grant, IssuedTokens, TokenError, TokenMinter};
pub use subject::encode_subject;
