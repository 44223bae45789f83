//! The broker's tokens: ID-token validation and the token-endpoint calls (code exchange,
//! refresh).

pub mod exchange;
pub mod id_token;
pub mod jws;
