//! A model of Kong's Wasm host — nginx with Kong's ngx_wasm_module on Wasmtime 26 — for running
//! the filter's `.wasm` in CI, where no Kong can run. It is not Kong: it serves one route to one
//! upstream with the filter attached in the access phase, and reproduces the host behaviours a
//! filter can observe, each taken from ngx_wasm_module's source or seen on the real host
//! (cited where implemented). `README.md` lists them.

pub mod abi;
pub mod call_client;
pub mod gateway;
pub mod headers;
pub mod http1;
pub mod logger;
pub mod options;
pub mod pairs;
pub mod server;
pub mod shared_kv;
pub mod state;
pub mod upstream;
pub mod uri;
pub mod vm;
pub mod worker;
