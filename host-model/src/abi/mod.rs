//! The proxy-wasm 0.2.1 host functions, behaving as Kong's ngx_wasm_module does at the commits
//! Kong 3.9 and 3.10 pin. Each file names the ngx_wasm_module source its facts come from
//! (read, never copied: this is a model written from those facts).

use anyhow::anyhow;
use wasmtime::Linker;

use crate::state::HostState;

mod buffers;
mod dispatch;
mod header_maps;
mod local_response;
pub mod memory;
mod misc;
mod shared;
mod unsupported;
mod wasi;

/// proxy-wasm status codes (proxy-wasm/spec, `proxy_result_t`).
pub mod status {
    pub const OK: i32 = 0;
    pub const NOT_FOUND: i32 = 1;
    pub const BAD_ARGUMENT: i32 = 2;
    pub const EMPTY: i32 = 7;
    pub const CAS_MISMATCH: i32 = 8;
    pub const INTERNAL_FAILURE: i32 = 10;
}

/// A host trap, worded like ngx_wavm_host.c's trampoline (`host trap (<kind>): <message>`).
pub fn trap(kind: &str, message: impl std::fmt::Display) -> anyhow::Error {
    anyhow!("host trap ({kind}): {message}")
}

pub fn link(linker: &mut Linker<HostState>) -> anyhow::Result<()> {
    misc::link(linker)?;
    buffers::link(linker)?;
    header_maps::link(linker)?;
    local_response::link(linker)?;
    dispatch::link(linker)?;
    shared::link(linker)?;
    unsupported::link(linker)?;
    wasi::link(linker)?;
    Ok(())
}
