//! What the host keeps per VM while the filter runs: the stream being served, the step the
//! host is in (ngx_wasm_module checks it on many calls), calls waiting to be sent.

use std::collections::HashMap;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use crate::headers::HeaderList;
use crate::logger::Logger;
use crate::options::Options;
use crate::shared_kv::SharedKv;

/// The root context's id (any fixed number; Kong uses the filter's id).
pub const ROOT_ID: u32 = 1;

/// Where the host is, as ngx_proxy_wasm's `pwctx->step`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    VmStart,
    Configure,
    Tick,
    RequestHeaders,
    ResponseHeaders,
    ResponseBody,
    Log,
    Done,
    /// Inside `on_http_call_response`; `root` when the call belongs to the root context.
    DispatchResponse {
        root: bool,
    },
}

/// A local response the filter stashed (`send_local_response`), flushed after the step.
#[derive(Debug, Clone)]
pub struct LocalResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// One request as the filter sees it.
pub struct Stream {
    pub method: String,
    /// `:path`: nginx's normalised `r->uri` and the raw query (crate::uri).
    pub path: String,
    /// The raw request target: what the upstream gets, `request.path` / `ngx.request_uri`.
    pub target: String,
    pub scheme: String,
    /// `server_name:port` of the listener (ngx_proxy_wasm_maps_get_authority).
    pub authority: String,
    pub protocol: &'static str,
    pub request: HeaderList,
    /// Response headers: set before the response exists, then the upstream's are appended.
    pub response: HeaderList,
    pub status: Option<u16>,
    pub local: Option<LocalResponse>,
    /// True once the response header filter ran (no more local responses, no request edits).
    pub response_started: bool,
    pub resume_requested: bool,
    pub pending_calls: usize,
    pub peer: std::net::SocketAddr,
    pub local_addr: std::net::SocketAddr,
}

/// A `dispatch_http_call` accepted by the host, sent once the VM call returns.
#[derive(Debug, Clone)]
pub struct NewCall {
    pub token: u32,
    pub context_id: u32,
    pub target: String,
    pub request: Vec<u8>,
    pub timeout: Duration,
}

/// The answer to a dispatched call, readable during `on_http_call_response`.
#[derive(Debug, Clone, Default)]
pub struct CallResponse {
    /// `None` when no response arrived.
    pub status: Option<u16>,
    /// `ok`, `timeout`, `broken connection`, `resolver failure`… (ngx_wasm_socket_tcp.c).
    pub dispatch_status: &'static str,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

pub struct HostState {
    pub worker: usize,
    pub options: Arc<Options>,
    pub shared: Arc<SharedKv>,
    pub log: Rc<Logger>,
    /// The context the host is running and its step.
    pub context_id: u32,
    pub step: Step,
    pub streams: HashMap<u32, Stream>,
    pub tick_period: Option<Duration>,
    pub new_calls: Vec<NewCall>,
    pub call_response: Option<CallResponse>,
    pub next_token: u32,
    /// Set when the filter did something that crashes the real host's worker.
    pub fault: Option<String>,
    pub metrics: Vec<(String, i64)>,
}

impl HostState {
    pub fn new(
        worker: usize,
        options: Arc<Options>,
        shared: Arc<SharedKv>,
        log: Rc<Logger>,
    ) -> Self {
        Self {
            worker,
            options,
            shared,
            log,
            context_id: ROOT_ID,
            step: Step::VmStart,
            streams: HashMap::new(),
            tick_period: None,
            new_calls: Vec::new(),
            call_response: None,
            next_token: 0,
            fault: None,
            metrics: Vec::new(),
        }
    }

    pub fn in_root(&self) -> bool {
        self.context_id == ROOT_ID
    }

    pub fn stream(&mut self) -> Option<&mut Stream> {
        let id = self.context_id;
        self.streams.get_mut(&id)
    }
}
