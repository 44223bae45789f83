//! Proxy-Wasm host glue, kept thin: the root context loads the configuration and keeps the
//! broker's discovery document and keys fresh; the HTTP context collects request facts, asks
//! the [`Engine`] and carries out its answer. Written for both Envoy and Kong (DESIGN.md,
//! "Two hosts, one .wasm").

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::{Duration, UNIX_EPOCH};

mod metrics;

use metrics::{Metric, Metrics};
use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{Action, ContextType, LogLevel};

use crate::config::Settings;
use crate::engine::{Engine, Event, Forward, Outcome, Pending, Reply, Request};
use crate::headers;
use crate::pages::{LocalResponse, Problem};
use crate::path::decision::{decision_path, PathSource};
use crate::provider::fetch::{Answered, Due, ProviderFetch};
use crate::provider::share::{ProviderShare, SharedDocs};
use crate::provider::{parse_discovery, Provider};
use crate::token::exchange::BrokerCall;

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Info);
    proxy_wasm::set_root_context(|_| -> Box<dyn RootContext> { Box::new(Root::default()) });
}}

type SharedProvider = Rc<RefCell<Option<Rc<Provider>>>>;

/// Which path this VM's host forwards; learnt in the first HTTP context (a property read in
/// Kong's `on_configure` crashes the worker).
type SharedPathSource = Rc<Cell<Option<PathSource>>>;

/// A property as a string; any host error reads as absent (the trait method would panic).
fn property(path: Vec<&str>) -> Option<String> {
    match proxy_wasm::hostcalls::get_property(path) {
        Ok(Some(bytes)) => Some(String::from_utf8_lossy(&bytes).into_owned()),
        _ => None,
    }
}

const TICK: Duration = Duration::from_secs(1);

fn now_s(ctx: &dyn Context) -> u64 {
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

#[derive(Default)]
struct Root {
    engine: Option<Rc<Engine>>,
    metrics: Option<Rc<Metrics>>,
    provider: SharedProvider,
    /// Advanced only from `on_tick`: calls are never sent from a call's answer.
    fetch: Option<ProviderFetch>,
    share: Option<ProviderShare>,
    /// Fetch time of the provider we hold (ours or adopted from shared data).
    fetched_at: u64,
    tick_set: bool,
    path_source: SharedPathSource,
}

impl Root {
    fn use_provider(&mut self, p: Provider, fetched_at: u64) {
        if self.provider.borrow().is_none() {
            log::info!(
                "gatehouse: broker keys loaded ({} keys); serving",
                p.keys.borrow().len()
            );
        }
        *self.provider.borrow_mut() = Some(Rc::new(p));
        self.fetched_at = fetched_at;
        if let Some(f) = &mut self.fetch {
            f.loaded(fetched_at);
        }
    }

    /// Adopts a fresher provider another VM fetched, if its record is authentic; true when
    /// ours is now fresh.
    fn adopt_shared(&mut self, engine: &Engine, now: u64) -> bool {
        let Some(share) = &self.share else {
            return false;
        };
        let (Some(bytes), _) = self.get_shared_data(share.key()) else {
            return false;
        };
        let docs = match share.open(&bytes) {
            Ok(d) => d,
            Err(e) => {
                log::warn!("gatehouse: ignoring shared provider record: {e}");
                return false;
            }
        };
        if docs.fetched_at <= self.fetched_at
            || now
                >= docs
                    .fetched_at
                    .saturating_add(engine.settings.jwks_refresh_s)
        {
            return false;
        }
        match Provider::from_documents(
            docs.discovery.as_bytes(),
            docs.jwks.as_bytes(),
            &engine.settings.issuer,
            docs.fetched_at,
        ) {
            Ok(p) => {
                self.use_provider(p, docs.fetched_at);
                true
            }
            Err(_) => false,
        }
    }

    fn publish_shared(&self, discovery: &[u8], jwks: &[u8], now: u64) {
        let Some(share) = &self.share else {
            return;
        };
        let docs = SharedDocs {
            fetched_at: now,
            discovery: String::from_utf8_lossy(discovery).into_owned(),
            jwks: String::from_utf8_lossy(jwks).into_owned(),
        };
        let Some(bytes) = share.seal(&docs) else {
            return;
        };
        // Write with the CAS just read: Kong refuses a CAS-less overwrite of an existing key.
        let (_, cas) = self.get_shared_data(share.key());
        if let Err(e) = self.set_shared_data(share.key(), Some(&bytes), cas) {
            log::debug!("gatehouse: shared data unavailable ({e:?}); keys stay per worker");
        }
    }

    fn fetch_failed(&mut self, why: &str, now: u64) {
        log::warn!("gatehouse: broker discovery/JWKS fetch failed: {why}; retrying");
        if let Some(m) = &self.metrics {
            m.inc(Metric::BrokerCallFailures);
        }
        if let Some(f) = &mut self.fetch {
            f.failed(now);
        }
    }

    /// Sends the call a tick found due; the only place the root context dispatches.
    fn send(&mut self, engine: &Engine, path: String, now: u64) {
        let call = BrokerCall {
            method: "GET",
            path,
            headers: vec![("accept", "application/json".into())],
            body: vec![],
        };
        match dispatch(self, engine, &call) {
            Ok(token) => {
                if let Some(f) = &mut self.fetch {
                    f.sent(token, now);
                }
            }
            Err(e) => self.fetch_failed(&e, now),
        }
    }
}

impl Context for Root {
    /// Records the answer; never dispatches (the next call goes out from `on_tick`).
    fn on_http_call_response(&mut self, token_id: u32, _: usize, body_size: usize, _: usize) {
        let Some(engine) = self.engine.clone() else {
            return;
        };
        let now = now_s(self);
        let status = call_status(&self.get_http_call_response_headers());
        let body = self
            .get_http_call_response_body(0, body_size)
            .unwrap_or_default();
        let Some(fetch) = &mut self.fetch else {
            return;
        };
        let issuer = &engine.settings.issuer;
        let answered = fetch.answer(token_id, status, body, now, |d| {
            parse_discovery(d, issuer)
                .map(|e| e.jwks_path)
                .map_err(|e| e.to_string())
        });
        match answered {
            Answered::NotOurs | Answered::JwksNext => {}
            Answered::Failed(why) => self.fetch_failed(&why, now),
            Answered::Documents { discovery, jwks } => {
                match Provider::from_documents(&discovery, &jwks, issuer, now) {
                    Ok(p) => {
                        self.use_provider(p, now);
                        self.publish_shared(&discovery, &jwks, now);
                    }
                    Err(e) => self.fetch_failed(&e.to_string(), now),
                }
            }
        }
    }
}

impl RootContext for Root {
    fn on_configure(&mut self, _: usize) -> bool {
        let bytes = self.get_plugin_configuration().unwrap_or_default();
        let settings = match Settings::from_json(&bytes) {
            Ok(s) => s,
            Err(e) => {
                log::error!("gatehouse: refusing to start: {e}");
                return false;
            }
        };
        let engine = match Engine::new(settings) {
            Ok(e) => e,
            Err(e) => {
                log::error!("gatehouse: refusing to start: {e}");
                return false;
            }
        };
        log::info!(
            "gatehouse: configured for issuer {}",
            engine.settings.issuer
        );
        self.share =
            match ProviderShare::new(&engine.settings.cookie_secrets, &engine.settings.issuer) {
                Ok(s) => Some(s),
                Err(e) => {
                    log::warn!("gatehouse: shared data off: {e}; keys stay per worker");
                    None
                }
            };
        self.fetch = Some(ProviderFetch::new(
            engine.settings.jwks_refresh_s,
            engine.settings.broker_timeout_ms,
        ));
        self.fetched_at = 0;
        self.engine = Some(Rc::new(engine));
        if self.metrics.is_none() {
            self.metrics = Some(Rc::new(Metrics::define()));
        }
        // Kong traps on a second set_tick_period call.
        if !self.tick_set {
            self.set_tick_period(TICK);
            self.tick_set = true;
        }
        true
    }

    fn on_tick(&mut self) {
        // Never panic here: Kong recreates the root context in a hot loop after a trap.
        let Some(engine) = self.engine.clone() else {
            return;
        };
        let now = now_s(self);
        let due = match &mut self.fetch {
            Some(f) => f.due(now),
            None => return,
        };
        match due {
            Due::Nothing => {}
            Due::Discovery => {
                if !self.adopt_shared(&engine, now) {
                    self.send(&engine, engine.settings.discovery_path(), now);
                }
            }
            Due::Jwks(path) => self.send(&engine, path, now),
        }
    }

    fn create_http_context(&self, _: u32) -> Option<Box<dyn HttpContext>> {
        let engine = self.engine.clone()?;
        let metrics = self.metrics.clone()?;
        Some(Box::new(Http {
            engine,
            metrics,
            provider: self.provider.clone(),
            path_source: self.path_source.clone(),
            pending: None,
            response_cookies: Vec::new(),
        }))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}

struct Http {
    engine: Rc<Engine>,
    metrics: Rc<Metrics>,
    provider: SharedProvider,
    path_source: SharedPathSource,
    pending: Option<(u32, Box<Pending>)>,
    response_cookies: Vec<String>,
}

impl Http {
    /// Detected once per VM: one host call, then never again.
    fn path_source(&self) -> PathSource {
        if let Some(s) = self.path_source.get() {
            return s;
        }
        let s = PathSource::detect(property(vec!["ngx", "server_name"]).is_some());
        if s == PathSource::RawTarget {
            log::info!("gatehouse: nginx host: deciding on the raw request target");
        }
        self.path_source.set(Some(s));
        s
    }

    fn respond(&mut self, r: LocalResponse) {
        // One Set-Cookie goes with the response, the rest are added to it in
        // `on_http_response_headers`, before the host may run that callback.
        let (r, extra) = r.split_cookies();
        self.response_cookies = extra;
        let headers: Vec<(&str, &str)> = r.headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let body = if r.body.is_empty() {
            None
        } else {
            Some(r.body.as_bytes())
        };
        self.send_http_response(r.status, headers, body);
    }

    /// Only replacing calls: on Kong's host a removed request header still reaches the
    /// upstream, a replaced one does not (client-sent identity headers were refused before).
    fn forward(&mut self, f: Forward) {
        for (k, v) in &f.identity {
            self.set_http_request_header(k, Some(v));
        }
        if let Some(cookie) = &f.cookie {
            // Nothing left: an empty value, since removing would leave the old one on Kong.
            self.set_http_request_header("cookie", Some(cookie.as_deref().unwrap_or("")));
        }
        self.response_cookies = f.response_cookies;
    }

    fn log_event(&self, ev: &Event) {
        self.metrics.record(ev);
        match ev {
            Event::None => {}
            Event::LoginStarted | Event::LoginCompleted | Event::Refreshed | Event::SignedOut => {
                log::debug!("gatehouse: {ev:?}")
            }
            Event::Denied => log::info!("gatehouse: access denied by rule"),
            Event::NoProvider => log::warn!("gatehouse: refused: broker keys not loaded yet"),
            Event::Refused(why) => log::info!("gatehouse: bad request refused: {why}"),
            Event::InvalidCookie(why) => log::warn!("gatehouse: invalid session cookie: {why}"),
            Event::LoginFailed(why) => log::warn!("gatehouse: login failed: {why}"),
            Event::RefreshFailed(why) => log::warn!("gatehouse: refresh failed: {why}"),
            Event::BearerRejected(why) => log::info!("gatehouse: bearer token refused: {why}"),
            Event::KeysRefetched => log::info!("gatehouse: JWKS refetched for an unknown key id"),
        }
    }

    /// Ends a request that waited on a broker call; never dispatches another one.
    fn settle(&mut self, reply: Reply) {
        match reply {
            Reply::Forward(f) => {
                self.forward(f);
                self.resume_http_request();
            }
            Reply::Respond(r) => self.respond(r),
        }
    }

    /// Carries out a request-time outcome: at most one broker call per request.
    fn act(&mut self, outcome: Outcome) -> Action {
        match outcome {
            Outcome::Forward(f) => {
                self.forward(f);
                Action::Continue
            }
            Outcome::Respond(r) => {
                self.respond(r);
                Action::Pause
            }
            Outcome::Call { call, pending } => match dispatch(self, &self.engine, &call) {
                Ok(token) => {
                    self.pending = Some((token, pending));
                    Action::Pause
                }
                Err(e) => {
                    log::warn!("gatehouse: {e}");
                    self.metrics.inc(Metric::BrokerCallFailures);
                    self.respond(
                        Problem::Unavailable.response(false, &self.engine.settings.client_id),
                    );
                    Action::Pause
                }
            },
        }
    }
}

impl Context for Http {
    fn on_http_call_response(&mut self, token_id: u32, _: usize, body_size: usize, _: usize) {
        let Some((token, pending)) = self.pending.take() else {
            return;
        };
        if token != token_id {
            self.pending = Some((token, pending));
            return;
        }
        let status = call_status(&self.get_http_call_response_headers());
        // No answer, or the gateway's own 502/503/504 for an unreachable or slow broker.
        if status.is_none_or(|s| s >= 500) {
            self.metrics.inc(Metric::BrokerCallFailures);
        }
        let body = self
            .get_http_call_response_body(0, body_size)
            .unwrap_or_default();
        let provider = self.provider.borrow().clone();
        let now = now_s(self);
        let (reply, event) =
            self.engine
                .on_token_response(*pending, status, &body, provider.as_deref(), now);
        self.log_event(&event);
        self.settle(reply);
    }
}

impl HttpContext for Http {
    fn on_http_request_headers(&mut self, _: usize, _: bool) -> Action {
        let headers = self.get_http_request_headers();
        let h = headers::request::scan(&headers);
        let source = self.path_source();
        let raw = match source {
            PathSource::RawTarget => property(vec!["request", "path"]),
            PathSource::PseudoHeader => None,
        };
        let Some(path) = decision_path(source, h.path, raw.as_deref()) else {
            log::error!("gatehouse: refused: the host did not give the raw request target");
            self.respond(Problem::Unavailable.response(false, &self.engine.settings.client_id));
            return Action::Pause;
        };
        let cookie = if h.cookies.len() > 1 {
            Some(h.cookies.join("; "))
        } else {
            h.cookies.first().map(|c| c.to_string())
        };
        let req = Request {
            method: h.method,
            path,
            authority: h.authority,
            scheme: h.scheme,
            cookie: cookie.as_deref(),
            cookie_headers: h.cookies.len(),
            accept: h.accept,
            authorization: h.authorization,
            authorizations: h.authorizations,
            xhr: h.xhr,
            forged: h.forged,
        };
        let provider = self.provider.borrow().clone();
        let now = now_s(self);
        let (outcome, event) = self.engine.on_request(&req, provider.as_deref(), now);
        self.log_event(&event);
        self.act(outcome)
    }

    /// Adds the pending Set-Cookies, on an upstream's response and on the filter's own local
    /// response alike (add mode appends on both hosts).
    fn on_http_response_headers(&mut self, _: usize, _: bool) -> Action {
        for c in std::mem::take(&mut self.response_cookies) {
            self.add_http_response_header("set-cookie", &c);
        }
        Action::Continue
    }
}
