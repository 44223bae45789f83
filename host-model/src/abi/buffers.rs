//! `proxy_get_buffer_bytes` / `proxy_set_buffer_bytes` (ngx_proxy_wasm_hfuncs_get_buffer and
//! ngx_proxy_wasm_get_buffer_helper in src/common/proxy_wasm/ngx_proxy_wasm_host.c):
//! - the `offset` argument is ignored: every read starts at the buffer's beginning;
//! - an empty buffer returns OK without writing anything (the SDK then sees `None`);
//! - the dispatch response body is readable only inside `on_http_call_response` (else a trap);
//!   a call that got no body is NOT_FOUND;
//! - the request body is not read in the access phase: NOT_FOUND during request headers.

use anyhow::Result;
use wasmtime::Linker;

use super::memory::{give, Ctx};
use super::{status, trap};
use crate::state::{HostState, Step};

const REQUEST_BODY: i32 = 0;
const RESPONSE_BODY: i32 = 1;
const CALL_RESPONSE_BODY: i32 = 4;
const VM_CONFIGURATION: i32 = 6;
const PLUGIN_CONFIGURATION: i32 = 7;

pub fn link(linker: &mut Linker<HostState>) -> Result<()> {
    linker.func_wrap("env", "proxy_get_buffer_bytes", get_buffer)?;
    linker.func_wrap("env", "proxy_set_buffer_bytes", set_buffer)?;
    Ok(())
}

fn get_buffer(
    mut c: Ctx<'_>,
    kind: i32,
    _offset: i32,
    max: i32,
    ret_ptr: i32,
    ret_len: i32,
) -> Result<i32> {
    let state = c.data();
    let bytes: Vec<u8> = match kind {
        PLUGIN_CONFIGURATION => state.options.filter_config.clone(),
        VM_CONFIGURATION => Vec::new(),
        CALL_RESPONSE_BODY => {
            if !matches!(state.step, Step::DispatchResponse { .. } | Step::Log) {
                return Err(trap(
                    "bad usage",
                    "can only get dispatch response body during \"on_http_dispatch_response\"",
                ));
            }
            match &state.call_response {
                Some(r) if !r.body.is_empty() => r.body.clone(),
                Some(_) => return Ok(status::NOT_FOUND),
                None => return Ok(status::BAD_ARGUMENT),
            }
        }
        REQUEST_BODY => {
            if !matches!(state.step, Step::RequestHeaders | Step::Log) {
                return Err(trap(
                    "bad usage",
                    "can only get request body during \"on_request_body\", \"on_log\"",
                ));
            }
            return Ok(status::NOT_FOUND);
        }
        RESPONSE_BODY => {
            if state.step != Step::ResponseBody {
                return Err(trap(
                    "bad usage",
                    "can only get response body during \"on_response_body\"",
                ));
            }
            return Ok(status::NOT_FOUND);
        }
        _ => return Ok(status::BAD_ARGUMENT),
    };
    let len = bytes.len().min(max as u32 as usize);
    if len == 0 {
        return Ok(status::OK);
    }
    give(&mut c, &bytes[..len], ret_ptr, ret_len)?;
    Ok(status::OK)
}

fn set_buffer(c: Ctx<'_>, kind: i32, _: i32, _: i32, _: i32, _: i32) -> Result<i32> {
    let step = c.data().step;
    match kind {
        REQUEST_BODY if step == Step::RequestHeaders => Err(trap(
            "not modelled",
            "replacing the request body is not part of this model of the host",
        )),
        REQUEST_BODY => Err(trap(
            "bad usage",
            "can only set request body during \"on_request_body\"",
        )),
        RESPONSE_BODY if step == Step::ResponseBody => Err(trap(
            "not modelled",
            "replacing the response body is not part of this model of the host",
        )),
        RESPONSE_BODY => Err(trap(
            "bad usage",
            "can only set response body during \"on_response_body\"",
        )),
        _ => Ok(status::BAD_ARGUMENT),
    }
}
