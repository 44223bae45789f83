//! Gatehouse broker: an OpenID Connect provider that reads Dex's configuration language.

pub mod api;
pub mod clients;
pub mod config;
pub mod connector;
pub mod keys;
pub mod metrics;
pub mod oidc;
pub mod random;
pub mod saml;
pub mod secret;
pub mod server;
pub mod storage;
pub mod token;
pub mod web;
