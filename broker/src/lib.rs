//! Gatehouse broker: an OpenID Connect provider that reads Dex's configuration language.

pub mod config;
pub mod connector;
pub mod secret;
pub mod storage;
pub mod keys;
pub mod random;
pub mod token;
pub mod web;
pub mod oidc;
pub mod server;
