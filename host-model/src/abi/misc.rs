//! Logging, time, ticks, properties, metrics, stream control
//! (src/common/proxy_wasm/ngx_proxy_wasm_host.c, ngx_proxy_wasm_properties.c).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Result;
use wasmtime::Linker;

use super::memory::{give, read, read_string, write, Ctx};
use super::{status, trap};
use crate::logger::Level;
use crate::state::HostState;

pub fn link(linker: &mut Linker<HostState>) -> Result<()> {
    linker.func_wrap("env", "proxy_log", proxy_log)?;
    linker.func_wrap("env", "proxy_get_current_time_nanoseconds", current_time)?;
    // Kong ignores it: the host always knows which context it runs.
    linker.func_wrap(
        "env",
        "proxy_set_effective_context",
        |_: Ctx<'_>, _: i32| status::OK,
    )?;
    linker.func_wrap("env", "proxy_set_tick_period_milliseconds", set_tick_period)?;
    linker.func_wrap("env", "proxy_get_property", get_property)?;
    linker.func_wrap("env", "proxy_set_property", set_property)?;
    linker.func_wrap("env", "proxy_continue_stream", continue_stream)?;
    linker.func_wrap("env", "proxy_continue_request", |mut c: Ctx<'_>| {
        resume(&mut c);
        status::OK
    })?;
    linker.func_wrap("env", "proxy_define_metric", define_metric)?;
    linker.func_wrap("env", "proxy_increment_metric", increment_metric)?;
    linker.func_wrap("env", "proxy_record_metric", record_metric)?;
    linker.func_wrap("env", "proxy_get_metric", get_metric)?;
    Ok(())
}

fn proxy_log(mut c: Ctx<'_>, level: i32, ptr: i32, len: i32) -> Result<i32> {
    let level = match level {
        0 | 1 => Level::Debug,
        2 => Level::Info,
        3 => Level::Warn,
        4 => Level::Error,
        5 => Level::Crit,
        _ => return Ok(status::BAD_ARGUMENT),
    };
    let message = read_string(&mut c, ptr, len)?;
    let state = c.data();
    state.log.log(
        level,
        &format!("[wasm] {}: {message}", state.options.filter_name),
    );
    Ok(status::OK)
}

fn current_time(mut c: Ctx<'_>, ptr: i32) -> Result<i32> {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    write(&mut c, ptr as u32, &nanos.to_le_bytes())?;
    Ok(status::OK)
}

/// A second non-zero period traps ("tick_period already set"); only the root context may.
fn set_tick_period(mut c: Ctx<'_>, period: i32) -> Result<i32> {
    let state = c.data_mut();
    if !state.in_root() {
        return Err(trap(
            "bad usage",
            "can only set tick_period in root context",
        ));
    }
    if period != 0 && state.tick_period.is_some() {
        return Err(trap("bad usage", "tick_period already set"));
    }
    if period != 0 {
        state.tick_period = Some(Duration::from_millis(period as u32 as u64));
    }
    Ok(status::OK)
}

/// Properties are strings (nginx variables); `request.host` is the machine's host name
/// (`ngx.hostname`), not the request's Host header.
fn property(state: &mut HostState, path: &[&str]) -> Option<String> {
    let name = state.options.filter_name.clone();
    let stream = state.stream();
    let joined = path.join(".");
    match (joined.as_str(), stream) {
        ("plugin_name", _) => Some(name),
        ("plugin_root_id", _) => Some(name),
        ("request.host", _) | ("ngx.hostname", _) => Some(hostname()),
        ("request.path", Some(s)) | ("ngx.request_uri", Some(s)) => Some(s.target.clone()),
        ("request.url_path", Some(s)) | ("ngx.uri", Some(s)) => {
            Some(s.path.split('?').next().unwrap_or_default().to_string())
        }
        ("request.query", Some(s)) | ("ngx.args", Some(s)) => Some(
            s.target
                .split_once('?')
                .map(|(_, q)| q)
                .unwrap_or_default()
                .to_string(),
        ),
        ("request.method", Some(s)) | ("ngx.request_method", Some(s)) => Some(s.method.clone()),
        ("request.scheme", Some(s)) | ("ngx.scheme", Some(s)) => Some(s.scheme.clone()),
        ("request.protocol", Some(s)) | ("ngx.server_protocol", Some(s)) => {
            Some(s.protocol.to_string())
        }
        ("source.address", Some(s)) | ("ngx.remote_addr", Some(s)) => Some(s.peer.ip().to_string()),
        ("source.port", Some(s)) | ("ngx.remote_port", Some(s)) => Some(s.peer.port().to_string()),
        ("destination.address", Some(s)) | ("ngx.server_addr", Some(s)) => {
            Some(s.local_addr.ip().to_string())
        }
        ("destination.port", Some(s)) | ("ngx.server_port", Some(s)) => {
            Some(s.local_addr.port().to_string())
        }
        ("ngx.server_name", Some(s)) => Some(state_server_name_fallback(&s.authority)),
        ("ngx.host", Some(s)) => Some(
            s.request
                .get("host")
                .map(|h| h.split(':').next().unwrap_or_default().to_ascii_lowercase())
                .unwrap_or_else(|| state_server_name_fallback(&s.authority)),
        ),
        _ => None,
    }
}

fn state_server_name_fallback(authority: &str) -> String {
    authority.split(':').next().unwrap_or_default().to_string()
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "localhost".to_string())
}

fn get_property(mut c: Ctx<'_>, ptr: i32, len: i32, ret_ptr: i32, ret_len: i32) -> Result<i32> {
    let raw = read(&mut c, ptr, len)?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let path: Vec<&str> = text.split('\0').filter(|s| !s.is_empty()).collect();
    match property(c.data_mut(), &path) {
        Some(value) => {
            give(&mut c, value.as_bytes(), ret_ptr, ret_len)?;
            Ok(status::OK)
        }
        None => Ok(status::NOT_FOUND),
    }
}

fn set_property(_: Ctx<'_>, _: i32, _: i32, _: i32, _: i32) -> i32 {
    // Only a few nginx variables are writable on Kong; none is modelled.
    status::NOT_FOUND
}

/// `proxy_continue_stream` resumes the request for both request and response streams
/// (ngx_proxy_wasm_hfuncs_continue); other stream types are an error.
fn continue_stream(mut c: Ctx<'_>, stream_type: i32) -> i32 {
    match stream_type {
        0 | 1 => {
            resume(&mut c);
            status::OK
        }
        _ => status::INTERNAL_FAILURE,
    }
}

fn resume(c: &mut Ctx<'_>) {
    if let Some(s) = c.data_mut().stream() {
        s.resume_requested = true;
    }
}

fn define_metric(mut c: Ctx<'_>, kind: i32, ptr: i32, len: i32, ret_id: i32) -> Result<i32> {
    if !(0..=2).contains(&kind) {
        return Err(trap(
            "internal error",
            format!("could not define metric: unknown type {kind}"),
        ));
    }
    let name = read_string(&mut c, ptr, len)?;
    let prefixed = format!("pw:{}:{name}", c.data().options.filter_name);
    let metrics = &mut c.data_mut().metrics;
    let id = match metrics.iter().position(|(n, _)| *n == prefixed) {
        Some(i) => i,
        None => {
            metrics.push((prefixed, 0));
            metrics.len() - 1
        }
    };
    super::memory::write_u32(&mut c, ret_id, id as u32)?;
    Ok(status::OK)
}

fn metric_slot(state: &mut HostState, id: i32) -> Result<&mut i64> {
    state
        .metrics
        .get_mut(id as u32 as usize)
        .map(|(_, v)| v)
        .ok_or_else(|| {
            trap(
                "internal error",
                format!("could not find metric id \"{id}\": metric not found"),
            )
        })
}

fn increment_metric(mut c: Ctx<'_>, id: i32, offset: i64) -> Result<i32> {
    *metric_slot(c.data_mut(), id)? += offset;
    Ok(status::OK)
}

fn record_metric(mut c: Ctx<'_>, id: i32, value: i64) -> Result<i32> {
    *metric_slot(c.data_mut(), id)? = value;
    Ok(status::OK)
}

fn get_metric(mut c: Ctx<'_>, id: i32, ret: i32) -> Result<i32> {
    let value = *metric_slot(c.data_mut(), id)?;
    write(&mut c, ret as u32, &(value as u64).to_le_bytes())?;
    Ok(status::OK)
}
