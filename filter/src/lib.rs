//! Gatehouse filter: an OpenID Connect relying party that runs inside the gateway as a
//! Proxy-Wasm HTTP filter (Envoy, Kong). The modules below are pure logic, tested natively
//! and on wasm; `glue` is the only place that talks to the host.
//!
//! Folders follow the protocol pieces, each using only those listed before it
//! (`scripts/import-cycles.py filter/src` checks there is no circle): `key_derivation`,
//! `random`, `pages`; `path` (which path is judged, where to return); `rules`, `config`;
//! `cookie` (Cookie/Set-Cookie syntax, sealed values); `login` (in-flight login state, PKCE);
//! `session` (the session and its cookies); `headers` (identity headers to the upstream,
//! client headers read); `provider` (discovery, keys, their fetch and sharing); `token` (ID
//! tokens, the token endpoint, verified bearer tokens); `engine` (the flows); `glue`.

pub mod config;
pub mod cookie;
pub mod engine;
pub mod headers;
pub mod key_derivation;
pub mod login;
pub mod pages;
pub mod path;
pub mod provider;
pub mod random;
pub mod revocation;
pub mod rules;
pub mod session;
pub mod token;

#[cfg(target_arch = "wasm32")]
mod glue;
