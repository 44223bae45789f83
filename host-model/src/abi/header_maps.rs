//! Header maps (src/common/proxy_wasm/ngx_proxy_wasm_maps.c, src/http/ngx_http_wasm_headers*.c):
//! - request maps start with `:path`, `:method`, `:scheme`, `:authority`; `:authority` is nginx's
//!   `server_name:port`, never the client's Host; `:scheme` and `:authority` are read-only;
//! - names keep the case nginx stored (HTTP/1.x: the client's; HTTP/2: lower case);
//! - replace/remove match names case-insensitively; see `headers.rs` for what removal means;
//! - `set_header_map_pairs` removes every header, then sets the pairs one by one and stops at the
//!   first read-only pseudo-header (ngx_proxy_wasm_maps_set_all);
//! - a dispatch response map holds `:status` only when a response arrived, and
//!   `:dispatch_status` always (`ok`, `timeout`, `broken connection`, …);
//! - trailer maps do not exist (BAD_ARGUMENT, which the Rust SDK turns into a panic).

use anyhow::Result;
use wasmtime::Linker;

use super::memory::{give, read, read_string, Ctx};
use super::{status, trap};
use crate::logger::Level;
use crate::pairs;
use crate::state::{HostState, Step};

const REQUEST: i32 = 0;
const RESPONSE: i32 = 2;
const CALL_RESPONSE: i32 = 6;

/// Request headers nginx keeps one pointer to: adding a second copy is refused
/// (ngx_http_wasm_set_builtin_header_handler, "cannot add new … builtin request header").
const SINGLE_BUILTINS: [&str; 22] = [
    "host",
    "connection",
    "if-modified-since",
    "if-unmodified-since",
    "if-match",
    "if-none-match",
    "user-agent",
    "referer",
    "content-length",
    "content-type",
    "range",
    "if-range",
    "transfer-encoding",
    "expect",
    "upgrade",
    "accept-encoding",
    "via",
    "authorization",
    "keep-alive",
    "x-real-ip",
    "date",
    "destination",
];

pub fn link(linker: &mut Linker<HostState>) -> Result<()> {
    linker.func_wrap("env", "proxy_get_header_map_pairs", get_pairs)?;
    linker.func_wrap("env", "proxy_get_header_map_value", get_value)?;
    linker.func_wrap("env", "proxy_set_header_map_pairs", set_pairs)?;
    linker.func_wrap("env", "proxy_add_header_map_value", add_value)?;
    linker.func_wrap("env", "proxy_replace_header_map_value", replace_value)?;
    linker.func_wrap("env", "proxy_remove_header_map_value", remove_value)?;
    Ok(())
}

fn map_pairs(state: &mut HostState, map: i32) -> Option<Vec<(String, String)>> {
    match map {
        REQUEST => {
            let s = state.stream()?;
            let mut out: Vec<(String, String)> = [
                (":path", s.path.clone()),
                (":method", s.method.clone()),
                (":scheme", s.scheme.clone()),
                (":authority", s.authority.clone()),
            ]
            .into_iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| (k.to_string(), v))
            .collect();
            out.extend(s.request.live().map(|e| (e.name.clone(), e.value.clone())));
            Some(out)
        }
        RESPONSE => {
            let s = state.stream()?;
            let mut out = Vec::new();
            if let Some(code) = s.status {
                out.push((":status".to_string(), format!("{code:03}")));
            }
            out.extend(s.response.live().map(|e| (e.name.clone(), e.value.clone())));
            Some(out)
        }
        CALL_RESPONSE => {
            let r = state.call_response.as_ref()?;
            let mut out = Vec::new();
            if let Some(code) = r.status {
                out.push((":status".to_string(), format!("{code:03}")));
            }
            out.push((
                ":dispatch_status".to_string(),
                r.dispatch_status.to_string(),
            ));
            out.extend(r.headers.iter().cloned());
            Some(out)
        }
        _ => None,
    }
}

fn get_pairs(mut c: Ctx<'_>, map: i32, ret_ptr: i32, ret_len: i32) -> Result<i32> {
    let Some(list) = map_pairs(c.data_mut(), map) else {
        return Ok(status::BAD_ARGUMENT);
    };
    let bytes = pairs::serialize(list.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    give(&mut c, &bytes, ret_ptr, ret_len)?;
    Ok(status::OK)
}

fn get_value(
    mut c: Ctx<'_>,
    map: i32,
    kp: i32,
    kl: i32,
    ret_ptr: i32,
    ret_len: i32,
) -> Result<i32> {
    let key = read_string(&mut c, kp, kl)?;
    let state = c.data_mut();
    let value = match map {
        REQUEST => state.stream().and_then(|s| match key.as_str() {
            ":path" => Some(s.path.clone()),
            ":method" => Some(s.method.clone()),
            ":scheme" => Some(s.scheme.clone()),
            ":authority" => Some(s.authority.clone()),
            // A removed header is still found here (ngx_wasm_get_list_elem ignores the mark).
            name => s.request.get(name).map(str::to_string),
        }),
        RESPONSE => state.stream().and_then(|s| match key.as_str() {
            ":status" => s.status.map(|c| format!("{c:03}")),
            name => s.response.get(name).map(str::to_string),
        }),
        CALL_RESPONSE => state
            .call_response
            .as_ref()
            .and_then(|r| match key.as_str() {
                ":status" => r.status.map(|c| format!("{c:03}")),
                ":dispatch_status" => Some(r.dispatch_status.to_string()),
                name => r
                    .headers
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(name))
                    .map(|(_, v)| v.clone()),
            }),
        _ => None,
    };
    match value {
        Some(v) => {
            give(&mut c, v.as_bytes(), ret_ptr, ret_len)?;
            Ok(status::OK)
        }
        None => Ok(status::NOT_FOUND),
    }
}

/// ngx_proxy_wasm_hfuncs_set_header_check: `Ok(true)` to go on, `Ok(false)` to return OK
/// without doing anything, `Err` traps.
fn check_set(state: &mut HostState, map: i32) -> Result<Option<i32>> {
    let step = state.step;
    let started = state.stream().map(|s| s.response_started);
    match map {
        REQUEST => match step {
            Step::RequestHeaders => Ok(None),
            Step::DispatchResponse { .. } if started == Some(false) => Ok(None),
            _ => Err(trap(
                "bad usage",
                "can only set request headers before response is produced",
            )),
        },
        RESPONSE => match step {
            Step::RequestHeaders | Step::ResponseHeaders => Ok(None),
            Step::DispatchResponse { .. } if started == Some(false) => Ok(None),
            _ => Err(trap(
                "bad usage",
                "can only set response headers before \"on_response_body\"",
            )),
        },
        _ => Ok(Some(status::BAD_ARGUMENT)),
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    Set,
    Add,
    Remove,
}

/// One edit; `false` when the key is a read-only pseudo-header (the caller stops there).
fn edit(state: &mut HostState, map: i32, key: &str, value: &str, op: Op) -> bool {
    let log = state.log.clone();
    let Some(s) = state.stream() else {
        return true;
    };
    let pseudo = match map {
        REQUEST => [":path", ":method", ":scheme", ":authority"].contains(&key),
        RESPONSE => key == ":status",
        _ => false,
    };
    if pseudo {
        match (key, op) {
            (":path", Op::Set | Op::Add) => {
                s.path = value.to_string();
                s.target = value.to_string();
            }
            (":method", Op::Set | Op::Add) => s.method = value.to_string(),
            (":status", Op::Set | Op::Add) => match value.parse::<u16>() {
                Ok(code) if (100..=599).contains(&code) => s.status = Some(code),
                _ => log.log(
                    Level::Warn,
                    &format!("ignoring attempt to set invalid response status: \"{value}\""),
                ),
            },
            _ => {
                log.log(
                    Level::Error,
                    &format!("cannot set read-only \"{key}\" header"),
                );
                return false;
            }
        }
        return true;
    }
    let list = if map == REQUEST {
        &mut s.request
    } else {
        &mut s.response
    };
    match op {
        Op::Set => list.set(key, value),
        Op::Add => {
            let single = map == REQUEST
                && SINGLE_BUILTINS.iter().any(|b| b.eq_ignore_ascii_case(key))
                && list.live().any(|e| e.name.eq_ignore_ascii_case(key));
            if single {
                log.log(
                    Level::Error,
                    &format!("cannot add new \"{key}\" builtin request header"),
                );
            } else {
                list.add(key, value);
            }
        }
        Op::Remove => list.remove(key),
    }
    true
}

fn set_pairs(mut c: Ctx<'_>, map: i32, ptr: i32, len: i32) -> Result<i32> {
    let bytes = read(&mut c, ptr, len)?;
    let Ok(list) = pairs::deserialize(&bytes) else {
        return Ok(status::INTERNAL_FAILURE);
    };
    let state = c.data_mut();
    if let Some(code) = check_set(state, map)? {
        return Ok(code);
    }
    if let Some(s) = state.stream() {
        if map == REQUEST {
            s.request.clear();
        } else {
            s.response.clear();
        }
    }
    for (k, v) in &list {
        if !edit(state, map, k, v, Op::Set) {
            break;
        }
    }
    Ok(status::OK)
}

fn one(
    mut c: Ctx<'_>,
    map: i32,
    kp: i32,
    kl: i32,
    value: Option<(i32, i32)>,
    op: Op,
) -> Result<i32> {
    let key = read_string(&mut c, kp, kl)?;
    let value = match value {
        Some((vp, vl)) => read_string(&mut c, vp, vl)?,
        None => String::new(),
    };
    let state = c.data_mut();
    if let Some(code) = check_set(state, map)? {
        return Ok(code);
    }
    edit(state, map, &key, &value, op);
    Ok(status::OK)
}

fn add_value(c: Ctx<'_>, map: i32, kp: i32, kl: i32, vp: i32, vl: i32) -> Result<i32> {
    one(c, map, kp, kl, Some((vp, vl)), Op::Add)
}

fn replace_value(c: Ctx<'_>, map: i32, kp: i32, kl: i32, vp: i32, vl: i32) -> Result<i32> {
    one(c, map, kp, kl, Some((vp, vl)), Op::Set)
}

fn remove_value(c: Ctx<'_>, map: i32, kp: i32, kl: i32) -> Result<i32> {
    one(c, map, kp, kl, None, Op::Remove)
}
