//! The broker's tokens: ID-token validation, the token-endpoint calls (code exchange,
//! refresh) and the cache of verified bearer tokens.

pub mod bearer_cache;
pub mod exchange;
pub mod id_token;
pub mod jws;
