//! A proxy-wasm filter with an HTTP context that lets every request through untouched:
//! what Envoy pays for any Wasm filter (VM entry per callback, SDK dispatch), nothing more.
//! With the configuration `read-headers` it also fetches the whole request header map on
//! every request (one `proxy_get_header_map_pairs`), to price that host call alone; with
//! `read-eight` it instead reads, one call each, the eight headers a relying party needs;
//! with `gatehouse-calls` it makes exactly the host calls Gatehouse makes for an admitted
//! session request (filter/src/glue/http.rs), with values of the demo user's size, so the
//! host's price is told apart from the filter's own work; `gatehouse-calls:GROUPS` makes the
//! same calls with GROUPS as the groups header (the bench's user with 150 groups).

use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{Action, ContextType, LogLevel};

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Warn);
    proxy_wasm::set_root_context(|_| -> Box<dyn RootContext> {
        Box::new(EmptyRoot { read: Read::Nothing })
    });
}}

#[derive(Clone)]
enum Read {
    Nothing,
    AllHeaders,
    EightHeaders,
    /// With the groups header's value.
    GatehouseCalls(std::rc::Rc<str>),
}

/// The identity headers Gatehouse sets for the demo user (ADMIN in tests/src/broker.rs).
const IDENTITY: [(&str, &str); 4] = [
    (
        "x-auth-request-user",
        "CiQwOGE4Njg0Yi1kYjg4LTRiNzMtOTBhOS0zY2QxNjYxZjU0NjYSBWxvY2Fs",
    ),
    ("x-auth-request-email", "admin@example.com"),
    ("x-auth-request-groups", "admins,developers"),
    ("x-auth-request-preferred-username", "admin"),
];

/// Where the demo user's groups are in [`IDENTITY`].
const GROUPS_AT: usize = 2;

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
        let config = self.get_plugin_configuration().unwrap_or_default();
        self.read = match config.as_slice() {
            b"read-headers" => Read::AllHeaders,
            b"read-eight" => Read::EightHeaders,
            b"gatehouse-calls" => Read::GatehouseCalls(IDENTITY[GROUPS_AT].1.into()),
            other => match other.strip_prefix(b"gatehouse-calls:") {
                Some(groups) => Read::GatehouseCalls(String::from_utf8_lossy(groups).into()),
                None => Read::Nothing,
            },
        };
        true
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }

    fn create_http_context(&self, _context_id: u32) -> Option<Box<dyn HttpContext>> {
        Some(Box::new(PassThrough {
            read: self.read.clone(),
        }))
    }
}

/// Answers `Continue` everywhere (the SDK's defaults), optionally after reading the headers.
struct PassThrough {
    read: Read,
}

impl Context for PassThrough {}

impl HttpContext for PassThrough {
    fn on_http_request_headers(&mut self, _: usize, _: bool) -> Action {
        match &self.read {
            Read::Nothing => {}
            Read::AllHeaders => {
                std::hint::black_box(self.get_http_request_headers());
            }
            Read::EightHeaders => {
                for name in EIGHT {
                    std::hint::black_box(self.get_http_request_header(name));
                }
            }
            Read::GatehouseCalls(groups) => {
                // The header map, the clock, the identity headers, the Cookie rewrite (the
                // request carried only the session cookie: nothing is left of it).
                std::hint::black_box(self.get_http_request_headers());
                std::hint::black_box(self.get_current_time());
                for (i, (name, value)) in IDENTITY.into_iter().enumerate() {
                    let value: &str = if i == GROUPS_AT { groups } else { value };
                    self.set_http_request_header(name, Some(value));
                }
                self.set_http_request_header("cookie", Some(""));
            }
        }
        Action::Continue
    }
}
