//! `proxy_http_call` (src/http/proxy_wasm/ngx_http_proxy_wasm_dispatch.c):
//! - allowed in `on_request_headers`, `on_request_body`, `on_tick` and `on_http_call_response`;
//!   elsewhere a trap;
//! - the target is `host:port` (port 80 when absent), never an Envoy cluster name: a name that
//!   does not resolve fails later with `:dispatch_status: resolver failure`;
//! - `:method` and `:path` are required (else the call traps: "dispatch failed: no :method");
//!   `:authority` becomes `Host` (the target when absent); the filter's own `Host` and
//!   `Connection` are dropped; the request is HTTP/1.1 with `Connection: close` and always a
//!   `Content-Length`;
//! - the real host crashes the worker (SIGSEGV) when the root context dispatches from inside its
//!   own `on_http_call_response`: it builds the new request on the connection it is freeing
//!   (seen on the real host, /work/kong-real/FINDINGS.md). The model aborts that worker loudly.

use std::time::Duration;

use anyhow::Result;
use wasmtime::Linker;

use super::memory::{read, read_string, write_u32, Ctx};
use super::{status, trap};
use crate::logger::Level;
use crate::pairs;
use crate::state::{HostState, NewCall, Step};

/// ngx_wasm_module's default socket timeouts (proxy_wasm_socket_*_timeout) are 60 s.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

pub fn link(linker: &mut Linker<HostState>) -> Result<()> {
    linker.func_wrap("env", "proxy_http_call", http_call)?;
    linker.func_wrap("env", "proxy_dispatch_http_call", http_call)?;
    Ok(())
}

pub const ROOT_REDISPATCH_FAULT: &str = "dispatch_http_call from inside the root context's \
on_http_call_response: the real host (ngx_wasm_module) builds this request on the connection it \
is freeing and the worker dies with SIGSEGV; nginx respawns it and the filter starts over";

#[allow(clippy::too_many_arguments)]
fn http_call(
    mut c: Ctx<'_>,
    target_ptr: i32,
    target_len: i32,
    headers_ptr: i32,
    headers_len: i32,
    body_ptr: i32,
    body_len: i32,
    _trailers_ptr: i32,
    _trailers_len: i32,
    timeout_ms: i32,
    ret_token: i32,
) -> Result<i32> {
    match c.data().step {
        Step::RequestHeaders | Step::Tick | Step::DispatchResponse { root: false } => {}
        Step::DispatchResponse { root: true } => {
            let state = c.data_mut();
            state.fault = Some(ROOT_REDISPATCH_FAULT.to_string());
            return Err(trap("worker crash", ROOT_REDISPATCH_FAULT));
        }
        _ => {
            return Err(trap(
                "bad usage",
                "can only send HTTP dispatch during \"on_request_headers\", \"on_request_body\", \
                 \"on_dispatch_response\", \"on_tick\"",
            ))
        }
    }
    let target = read_string(&mut c, target_ptr, target_len)?;
    let raw_headers = read(&mut c, headers_ptr, headers_len)?;
    let body = read(&mut c, body_ptr, body_len)?;
    let Ok(headers) = pairs::deserialize(&raw_headers) else {
        return Err(trap("internal error", "dispatch failed: marshalling error"));
    };
    let mut method = None;
    let mut path = None;
    let mut authority = None;
    let mut rest = Vec::new();
    let log = c.data().log.clone();
    for (k, v) in headers {
        match k.as_str() {
            ":method" => method = Some(v),
            ":path" => path = Some(v),
            ":authority" => authority = Some(v),
            ":scheme" => {
                if v == "https" {
                    log.log(
                        Level::Warn,
                        "dispatch over TLS is not modelled; sending plain HTTP",
                    );
                }
            }
            name if name.starts_with(':') => {
                log.log(
                    Level::Warn,
                    &format!("NYI - dispatch_http_call header \"{name}\""),
                );
            }
            name if name.eq_ignore_ascii_case("host")
                || name.eq_ignore_ascii_case("connection") => {}
            _ => rest.push((k, v)),
        }
    }
    let Some(method) = method.filter(|m| !m.is_empty()) else {
        return Err(trap("internal error", "dispatch failed: no :method"));
    };
    let Some(path) = path.filter(|p| !p.is_empty()) else {
        return Err(trap("internal error", "dispatch failed: no :path"));
    };
    let host = authority
        .filter(|a| !a.is_empty())
        .unwrap_or_else(|| target.clone());
    let mut request = format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n");
    if !rest
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case("content-length"))
    {
        request.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    for (k, v) in &rest {
        request.push_str(&format!("{k}: {v}\r\n"));
    }
    request.push_str("\r\n");
    let mut request = request.into_bytes();
    request.extend_from_slice(&body);

    let state = c.data_mut();
    let token = state.next_token;
    state.next_token = state.next_token.wrapping_add(1);
    let context_id = state.context_id;
    if let Some(s) = state.stream() {
        s.pending_calls += 1;
    }
    let timeout = match timeout_ms as u32 {
        0 => DEFAULT_TIMEOUT,
        ms => Duration::from_millis(ms as u64),
    };
    state.new_calls.push(NewCall {
        token,
        context_id,
        target,
        request,
        timeout,
    });
    write_u32(&mut c, ret_token, token)?;
    Ok(status::OK)
}
