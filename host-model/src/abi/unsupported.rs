//! Functions ngx_wasm_module lists but does not implement (`ngx_proxy_wasm_hfuncs_nop`, "NYI"
//! in the host function table of src/common/proxy_wasm/ngx_proxy_wasm_host.c): calling one
//! traps with "host trap (function not yet implemented): <name>" (src/wasm/vm/ngx_wavm_host.c).
//! That covers `proxy_get_log_level` (the Rust SDK's `get_log_level`), `proxy_continue_response`,
//! `proxy_close_stream`, every gRPC call, `proxy_resolve_shared_queue`, `proxy_done`, foreign
//! functions.

use anyhow::Result;
use wasmtime::{FuncType, Linker, ValType};

use super::trap;
use crate::state::HostState;

const NYI: [(&str, usize); 16] = [
    ("proxy_get_log_level", 1),
    ("proxy_done", 0),
    ("proxy_close_stream", 1),
    ("proxy_continue_response", 0),
    ("proxy_resume_downstream", 1),
    ("proxy_resume_upstream", 1),
    ("proxy_grpc_call", 12),
    ("proxy_grpc_stream", 9),
    ("proxy_grpc_send", 4),
    ("proxy_grpc_cancel", 1),
    ("proxy_grpc_close", 1),
    ("proxy_get_status", 3),
    ("proxy_resolve_shared_queue", 5),
    ("proxy_call_foreign_function", 6),
    ("proxy_clear_route_cache", 0),
    ("proxy_get_configuration", 2),
];

pub fn link(linker: &mut Linker<HostState>) -> Result<()> {
    for (name, arity) in NYI {
        let ty = FuncType::new(
            linker.engine(),
            std::iter::repeat_n(ValType::I32, arity),
            [ValType::I32],
        );
        linker.func_new("env", name, ty, move |_, _, _| {
            Err(trap("function not yet implemented", name))
        })?;
    }
    Ok(())
}
