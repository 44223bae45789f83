//! Proxy-Wasm host glue, kept thin: the root context loads the configuration and keeps the
//! broker's discovery document and keys fresh; the HTTP context collects request facts, asks
//! the [`Engine`] and carries out its answer. Written for both Envoy and Kong (DESIGN.md,
//! "Two hosts, one .wasm").
//! `root.rs` and `http.rs` hold the two contexts; this file the calls both make.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::{Duration, UNIX_EPOCH};

mod feed;
mod header_map;
mod http;
mod metrics;
mod property;
mod root;

use proxy_wasm::traits::{Context, RootContext};
use proxy_wasm::types::LogLevel;

use crate::engine::Engine;
use crate::path::decision::PathSource;
use crate::provider::Provider;
use crate::token::exchange::BrokerCall;
use root::Root;

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Info);
    proxy_wasm::set_root_context(|_| -> Box<dyn RootContext> { Box::new(Root::default()) });
}}

type SharedProvider = Rc<RefCell<Option<Rc<Provider>>>>;

/// Which path this VM's host forwards; learnt in the first HTTP context (a property read in
/// Kong's `on_configure` crashes the worker).
type SharedPathSource = Rc<Cell<Option<PathSource>>>;

const TICK: Duration = Duration::from_secs(1);

#[link(wasm_import_module = "env")]
extern "C" {
    // The host call the SDK's `hostcalls::get_current_time` makes, declared as the SDK does.
    fn proxy_get_current_time_nanoseconds(return_time: *mut u64) -> proxy_wasm::types::Status;
}

/// Seconds since the epoch: the host's nanoseconds divided, which is what the SDK's
/// `SystemTime` (the epoch plus a `Duration`, then `duration_since` and `as_secs`) gave, at a
/// few hundred instructions less per request. A status other than success takes the SDK's way,
/// which panics on it as before.
fn now_s(ctx: &dyn Context) -> u64 {
    let mut nanos = 0u64;
    // SAFETY: the host writes one u64 through the pointer, as for the SDK's own call.
    let status = unsafe { proxy_get_current_time_nanoseconds(&mut nanos) };
    if matches!(status, proxy_wasm::types::Status::Ok) {
        return nanos / 1_000_000_000;
    }
    ctx.get_current_time()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// `:status` of a dispatched call's answer; `None` when the call failed (no headers, as Kong
/// reports failures, or a `:dispatch_status` other than success).
fn call_status(headers: &[(String, String)]) -> Option<u32> {
    if headers
        .iter()
        .any(|(k, v)| k == ":dispatch_status" && v != "ok")
    {
        return None;
    }
    headers
        .iter()
        .find(|(k, _)| k == ":status")
        .and_then(|(_, v)| v.parse().ok())
}

fn dispatch(ctx: &dyn Context, engine: &Engine, call: &BrokerCall) -> Result<u32, String> {
    let s = &engine.settings;
    let mut headers: Vec<(&str, &str)> = vec![
        (":method", call.method),
        (":path", &call.path),
        (":authority", &s.broker_authority),
    ];
    headers.extend(call.headers.iter().map(|(k, v)| (*k, v.as_str())));
    let body = if call.body.is_empty() {
        None
    } else {
        Some(call.body.as_slice())
    };
    ctx.dispatch_http_call(
        &s.broker_upstream,
        headers,
        body,
        vec![],
        Duration::from_millis(s.broker_timeout_ms),
    )
    .map_err(|e| format!("dispatch to {} failed: {e:?}", s.broker_upstream))
}
