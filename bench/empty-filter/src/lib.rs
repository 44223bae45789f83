//! A proxy-wasm filter with an HTTP context that lets every request through untouched:
//! what Envoy pays for any Wasm filter (VM entry per callback, SDK dispatch), nothing more.

use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{ContextType, LogLevel};

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Warn);
    proxy_wasm::set_root_context(|_| -> Box<dyn RootContext> { Box::new(EmptyRoot) });
}}

struct EmptyRoot;

impl Context for EmptyRoot {}

impl RootContext for EmptyRoot {
    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }

    fn create_http_context(&self, _context_id: u32) -> Option<Box<dyn HttpContext>> {
        Some(Box::new(PassThrough))
    }
}

/// The SDK's default callbacks all answer `Continue`.
struct PassThrough;

impl Context for PassThrough {}

impl HttpContext for PassThrough {}
