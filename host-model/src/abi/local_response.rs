//! `proxy_send_local_response` (ngx_proxy_wasm_hfuncs_send_local_response,
//! src/http/ngx_http_wasm_local_response.c):
//! - the response is stashed and sent after the current step; a second one traps ("local
//!   response already stashed"), one after the response started traps ("response already sent");
//! - status must be 100–999 (else BAD_ARGUMENT);
//! - headers are applied in "set" mode, one per name: of several `Set-Cookie` only the last
//!   survives;
//! - the body gets a trailing line feed;
//! - pending dispatch calls of the request are cancelled.

use anyhow::Result;
use wasmtime::Linker;

use super::memory::{read, Ctx};
use super::{status, trap};
use crate::pairs;
use crate::state::{HostState, LocalResponse};

pub fn link(linker: &mut Linker<HostState>) -> Result<()> {
    linker.func_wrap("env", "proxy_send_local_response", send_local_response)?;
    linker.func_wrap("env", "proxy_send_http_response", send_local_response)?;
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn send_local_response(
    mut c: Ctx<'_>,
    code: i32,
    _reason_ptr: i32,
    _reason_len: i32,
    body_ptr: i32,
    body_len: i32,
    headers_ptr: i32,
    headers_len: i32,
    _grpc_status: i32,
) -> Result<i32> {
    let mut body = read(&mut c, body_ptr, body_len)?;
    let raw = read(&mut c, headers_ptr, headers_len)?;
    let Ok(headers) = pairs::deserialize(&raw) else {
        return Ok(status::INTERNAL_FAILURE);
    };
    let Some(stream) = c.data_mut().stream() else {
        return Ok(status::BAD_ARGUMENT);
    };
    if stream.response_started {
        return Err(trap("bad usage", "response already sent"));
    }
    if stream.local.is_some() {
        return Err(trap("bad usage", "local response already stashed"));
    }
    if !(100..=999).contains(&code) {
        return Ok(status::BAD_ARGUMENT);
    }
    if !body.is_empty() {
        body.push(b'\n');
    }
    stream.local = Some(LocalResponse {
        status: code as u16,
        headers,
        body,
    });
    Ok(status::OK)
}
