//! Gatehouse filter: an OpenID Connect relying party that runs inside the gateway as a
//! Proxy-Wasm HTTP filter (Envoy, Kong). The modules below are pure logic, tested natively
//! and on wasm; `glue` is the only place that talks to the host.

pub mod bearer_cache;
pub mod config;
pub mod cookie_codec;
pub mod cookie_header;
pub mod decision_path;
pub mod engine;
pub mod id_token;
pub mod identity;
pub mod key_derivation;
pub mod login_state;
pub mod pages;
pub mod path;
pub mod pkce;
pub mod provider;
pub mod provider_fetch;
pub mod provider_share;
pub mod random;
pub mod request_headers;
pub mod return_url;
pub mod rules;
pub mod session;
pub mod session_cookies;
pub mod token_exchange;

#[cfg(target_arch = "wasm32")]
mod glue;
