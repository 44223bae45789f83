//! Proxy-Wasm host glue, kept thin: the root context loads the configuration and keeps the
//! broker's discovery document and keys fresh; the HTTP context collects request facts, asks
//! the [`Engine`] and carries out its answer. Written for both Envoy and Kong (DESIGN.md,
//! "Two hosts, one .wasm").

use std::cell::RefCell;
use std::rc::Rc;
use std::time::{Duration, UNIX_EPOCH};

mod metrics;

use metrics::{Metric, Metrics};
use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{Action, ContextType, LogLevel};

use crate::config::Settings;
use crate::engine::{Engine, Event, Forward, Outcome, Pending, Request};
use crate::pages::{LocalResponse, Problem};
use crate::provider::{parse_discovery, KeySet, Provider};
use crate::request_headers;
use crate::token_exchange::BrokerCall;

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Info);
    proxy_wasm::set_root_context(|_| -> Box<dyn RootContext> { Box::new(Root::default()) });
}}

type SharedProvider = Rc<RefCell<Option<Rc<Provider>>>>;

const TICK: Duration = Duration::from_secs(1);
/// Retry interval while the broker has not answered yet.
const RETRY_S: u64 = 2;

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

enum Fetch {
    Discovery(u32),
    /// The discovery body is kept to publish it with the keys.
    Jwks {
        token: u32,
        discovery: Vec<u8>,
    },
}

#[derive(Default)]
struct Root {
    engine: Option<Rc<Engine>>,
    metrics: Option<Rc<Metrics>>,
    provider: SharedProvider,
    fetch: Option<Fetch>,
    next_fetch: u64,
    /// Fetch time of the provider we hold (ours or adopted from shared data).
    fetched_at: u64,
    tick_set: bool,
}

/// What is kept in shared data so every worker VM uses the same keys.
#[derive(serde::Serialize, serde::Deserialize)]
struct SharedDoc {
    fetched_at: u64,
    discovery: String,
    jwks: String,
}

impl Root {
    fn shared_key(engine: &Engine) -> String {
        // `gatehouse/` is an ngx_wasm_module namespace: on Kong the key lives in a store named
        // `gatehouse`, which every Kong version with Wasm can create (see kong/README.md).
        format!("gatehouse/provider.v1:{}", engine.settings.issuer)
    }

    fn build(engine: &Engine, discovery: &[u8], jwks: &[u8], now: u64) -> Result<Provider, String> {
        let endpoints =
            parse_discovery(discovery, &engine.settings.issuer).map_err(|e| e.to_string())?;
        let keys = KeySet::parse(jwks).map_err(|e| e.to_string())?;
        Ok(Provider::new(endpoints, keys, now))
    }

    /// Adopts a fresher provider another VM fetched; true when ours is now fresh.
    fn adopt_shared(&mut self, engine: &Engine, now: u64) -> bool {
        let (Some(bytes), _) = self.get_shared_data(&Self::shared_key(engine)) else {
            return false;
        };
        let Ok(doc) = serde_json::from_slice::<SharedDoc>(&bytes) else {
            return false;
        };
        if doc.fetched_at <= self.fetched_at
            || now >= doc.fetched_at + engine.settings.jwks_refresh_s
        {
            return false;
        }
        match Self::build(
            engine,
            doc.discovery.as_bytes(),
            doc.jwks.as_bytes(),
            doc.fetched_at,
        ) {
            Ok(p) => {
                *self.provider.borrow_mut() = Some(Rc::new(p));
                self.fetched_at = doc.fetched_at;
                self.next_fetch = doc.fetched_at + engine.settings.jwks_refresh_s;
                true
            }
            Err(_) => false,
        }
    }

    fn publish_shared(&self, engine: &Engine, discovery: &[u8], jwks: &[u8], now: u64) {
        let doc = SharedDoc {
            fetched_at: now,
            discovery: String::from_utf8_lossy(discovery).into_owned(),
            jwks: String::from_utf8_lossy(jwks).into_owned(),
        };
        let Ok(bytes) = serde_json::to_vec(&doc) else {
            return;
        };
        let key = Self::shared_key(engine);
        // Write with the CAS just read: Kong refuses a CAS-less overwrite of an existing key.
        let (_, cas) = self.get_shared_data(&key);
        if let Err(e) = self.set_shared_data(&key, Some(&bytes), cas) {
            log::debug!("gatehouse: shared data unavailable ({e:?}); keys stay per worker");
        }
    }

    fn start_fetch(&mut self, engine: &Engine, now: u64) {
        let path = engine.settings.discovery_path();
        let call = BrokerCall {
            method: "GET",
            path,
            headers: vec![("accept", "application/json".into())],
            body: vec![],
        };
        match dispatch(self, engine, &call) {
            Ok(token) => self.fetch = Some(Fetch::Discovery(token)),
            Err(e) => {
                log::warn!("gatehouse: cannot fetch discovery: {e}");
                self.next_fetch = now + RETRY_S;
            }
        }
    }

    fn fetch_failed(&mut self, what: &str, why: &str, now: u64) {
        log::warn!("gatehouse: {what} fetch failed: {why}; retrying");
        if let Some(m) = &self.metrics {
            m.inc(Metric::BrokerCallFailures);
        }
        self.fetch = None;
        self.next_fetch = now + RETRY_S;
    }
}

impl Context for Root {
    fn on_http_call_response(&mut self, token_id: u32, _: usize, body_size: usize, _: usize) {
        let Some(engine) = self.engine.clone() else {
            return;
        };
        let now = now_s(self);
        let status = call_status(&self.get_http_call_response_headers());
        let body = self
            .get_http_call_response_body(0, body_size)
            .unwrap_or_default();
        match self.fetch.take() {
            Some(Fetch::Discovery(t)) if t == token_id => {
                if status != Some(200) {
                    return self.fetch_failed("discovery", &format!("status {status:?}"), now);
                }
                let endpoints = match parse_discovery(&body, &engine.settings.issuer) {
                    Ok(e) => e,
                    Err(e) => return self.fetch_failed("discovery", &e.to_string(), now),
                };
                let call = BrokerCall {
                    method: "GET",
                    path: endpoints.jwks_path.clone(),
                    headers: vec![("accept", "application/json".into())],
                    body: vec![],
                };
                match dispatch(self, &engine, &call) {
                    Ok(token) => {
                        self.fetch = Some(Fetch::Jwks {
                            token,
                            discovery: body,
                        })
                    }
                    Err(e) => self.fetch_failed("JWKS", &e, now),
                }
            }
            Some(Fetch::Jwks {
                token, discovery, ..
            }) if token == token_id => {
                if status != Some(200) {
                    return self.fetch_failed("JWKS", &format!("status {status:?}"), now);
                }
                match Self::build(&engine, &discovery, &body, now) {
                    Ok(p) => {
                        let first = self.provider.borrow().is_none();
                        if first {
                            log::info!(
                                "gatehouse: broker keys loaded ({} keys); serving",
                                p.keys.borrow().len()
                            );
                        }
                        *self.provider.borrow_mut() = Some(Rc::new(p));
                        self.fetched_at = now;
                        self.next_fetch = now + engine.settings.jwks_refresh_s;
                        self.publish_shared(&engine, &discovery, &body, now);
                    }
                    Err(e) => self.fetch_failed("JWKS", &e, now),
                }
            }
            other => self.fetch = other,
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
        self.engine = Some(Rc::new(engine));
        if self.metrics.is_none() {
            self.metrics = Some(Rc::new(Metrics::define()));
        }
        // Kong traps on a second set_tick_period call.
        if !self.tick_set {
            self.set_tick_period(TICK);
            self.tick_set = true;
        }
        self.next_fetch = 0;
        true
    }

    fn on_tick(&mut self) {
        // Never panic here: Kong recreates the root context in a hot loop after a trap.
        let Some(engine) = self.engine.clone() else {
            return;
        };
        let now = now_s(self);
        if self.fetch.is_some() || now < self.next_fetch {
            return;
        }
        if self.adopt_shared(&engine, now) {
            return;
        }
        self.start_fetch(&engine, now);
    }

    fn create_http_context(&self, _: u32) -> Option<Box<dyn HttpContext>> {
        let engine = self.engine.clone()?;
        let metrics = self.metrics.clone()?;
        Some(Box::new(Http {
            engine,
            metrics,
            provider: self.provider.clone(),
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
    pending: Option<(u32, Box<Pending>)>,
    response_cookies: Vec<String>,
}

impl Http {
    fn respond(&self, r: LocalResponse) {
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

    /// Carries out an outcome; the returned action is for request-header time.
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
        let (outcome, event) =
            self.engine
                .on_token_response(*pending, status, &body, provider.as_deref(), now);
        self.log_event(&event);
        if let Action::Continue = self.act(outcome) {
            self.resume_http_request();
        }
    }
}

impl HttpContext for Http {
    fn on_http_request_headers(&mut self, _: usize, _: bool) -> Action {
        let headers = self.get_http_request_headers();
        let h = request_headers::scan(&headers);
        let cookie = if h.cookies.len() > 1 {
            Some(h.cookies.join("; "))
        } else {
            h.cookies.first().map(|c| c.to_string())
        };
        let req = Request {
            method: h.method,
            path: h.path,
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

    fn on_http_response_headers(&mut self, _: usize, _: bool) -> Action {
        for c in std::mem::take(&mut self.response_cookies) {
            self.add_http_response_header("set-cookie", &c);
        }
        Action::Continue
    }
}
