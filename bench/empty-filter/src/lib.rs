//! A proxy-wasm filter with an HTTP context that lets every request through untouched:
//! what Envoy pays for any Wasm filter (VM entry per callback, SDK dispatch), nothing more.
//! With the configuration `read-headers` it also fetches the whole request header map on
//! every request (one `proxy_get_header_map_pairs`), to price that host call alone; with
//! `read-eight` it instead reads, one call each, the eight headers a relying party needs.

use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{Action, ContextType, LogLevel};

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Warn);
    proxy_wasm::set_root_context(|_| -> Box<dyn RootContext> {
        Box::new(EmptyRoot { read: Read::Nothing })
    });
}}

#[derive(Clone, Copy)]
enum Read {
    Nothing,
    AllHeaders,
    EightHeaders,
}

/// What a relying party looks at: the pseudo-headers, cookies, credentials, the answer type.
const EIGHT: [&str; 8] = [
    ":method",
    ":path",
    ":authority",
    ":scheme",
    "cookie",
    "accept",
    "authorization",
    "x-requested-with",
];

struct EmptyRoot {
    read: Read,
}

impl Context for EmptyRoot {}

impl RootContext for EmptyRoot {
    fn on_configure(&mut self, _: usize) -> bool {
        self.read = match self.get_plugin_configuration().as_deref() {
            Some(b"read-headers") => Read::AllHeaders,
            Some(b"read-eight") => Read::EightHeaders,
            _ => Read::Nothing,
        };
        true
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }

    fn create_http_context(&self, _context_id: u32) -> Option<Box<dyn HttpContext>> {
        Some(Box::new(PassThrough { read: self.read }))
    }
}

/// Answers `Continue` everywhere (the SDK's defaults), optionally after reading the headers.
struct PassThrough {
    read: Read,
}

impl Context for PassThrough {}

impl HttpContext for PassThrough {
    fn on_http_request_headers(&mut self, _: usize, _: bool) -> Action {
        match self.read {
            Read::Nothing => {}
            Read::AllHeaders => {
                std::hint::black_box(self.get_http_request_headers());
            }
            Read::EightHeaders => {
                for name in EIGHT {
                    std::hint::black_box(self.get_http_request_header(name));
                }
            }
        }
        Action::Continue
    }
}
