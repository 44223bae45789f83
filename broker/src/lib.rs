//! Gatehouse broker: an OpenID Connect provider that reads Dex's configuration language.
//!
//! Modules depend one way only (`scripts/import-cycles.py` checks), each on those below it:
//! 1. leaves: `identity`, `signing_algorithm`, `secret`, `random`, `metrics`, `saml` (the protocol)
//! 2. `config` (validated settings, raw file types)
//! 3. `storage`
//! 4. `keys`, `connector`, `tls`
//! 5. `token`
//! 6. `clients`
//! 7. `web` (pages)
//! 8. `oidc` (endpoints and the shared `AppState`)
//! 9. `api` (gRPC), then `server`, which wires everything together.

pub mod api;
pub mod clients;
pub mod config;
pub mod connector;
pub mod identity;
pub mod keys;
pub mod metrics;
pub mod oidc;
pub mod random;
pub mod saml;
pub mod secret;
pub mod server;
pub mod signing_algorithm;
pub mod storage;
pub mod tls;
pub mod token;
pub mod web;
