//! The HTTP context: collects one request's facts, asks the [`Engine`], and carries out its
//! answer — forward with changes, answer locally, or wait for one broker call.

use std::rc::Rc;

use proxy_wasm::traits::{Context, HttpContext};
use proxy_wasm::types::Action;

use super::header_map;
use super::metrics::{Metric, Metrics};
use super::property;
use super::{call_status, dispatch, now_s, SharedPathSource, SharedProvider};
use crate::engine::{Engine, Event, Forward, Outcome, Pending, Reply, Request};
use crate::headers;
use crate::pages::{LocalResponse, Problem};
use crate::path::decision::{decision_path, PathSource};

pub(super) struct Http {
    engine: Rc<Engine>,
    metrics: Rc<Metrics>,
    provider: SharedProvider,
    path_source: SharedPathSource,
    pending: Option<(u32, Box<Pending>)>,
    response_cookies: Vec<String>,
}

impl Http {
    pub(super) fn new(
        engine: Rc<Engine>,
        metrics: Rc<Metrics>,
        provider: SharedProvider,
        path_source: SharedPathSource,
    ) -> Http {
        Http {
            engine,
            metrics,
            provider,
            path_source,
            pending: None,
            response_cookies: Vec::new(),
        }
    }

    /// Detected once per VM: one host call, then never again.
    fn path_source(&self) -> PathSource {
        if let Some(s) = self.path_source.get() {
            return s;
        }
        let s = PathSource::detect(property::get(&property::NGX_SERVER_NAME).is_some());
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
        for (k, v) in f.identity.iter() {
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
            Event::FeedStale => {
                log::warn!("gatehouse: refused: the broker's revocation feed is too old")
            }
            Event::Refused(why) => log::info!("gatehouse: bad request refused: {why}"),
            Event::InvalidCookie(why) => log::warn!("gatehouse: invalid session cookie: {why}"),
            Event::LoginFailed(why) => log::warn!("gatehouse: login failed: {why}"),
            Event::RefreshFailed(why) => log::warn!("gatehouse: refresh failed: {why}"),
            Event::SignOutIncomplete(why) => {
                log::warn!("gatehouse: sign-out: session not revoked at the broker: {why}")
            }
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
        // One host call for the whole map, read in place (the forged-header check needs
        // every name); a map the host cannot give or that does not parse fails closed.
        let map = header_map::request_headers();
        let scanned = map.as_deref().and_then(|m| {
            let mut pairs = headers::pairs::parse(m).ok()?;
            let h = headers::request::scan(&mut pairs);
            pairs.finish().ok().map(|()| h)
        });
        let Some(h) = scanned else {
            log::error!("gatehouse: refused: the host's request header map is unreadable");
            self.respond(Problem::Unavailable.response(false, &self.engine.settings.client_id));
            return Action::Pause;
        };
        let source = self.path_source();
        let raw = match source {
            PathSource::RawTarget => property::get(&property::REQUEST_PATH),
            PathSource::PseudoHeader => None,
        };
        // Borrowed from the host's buffer unless it is not UTF-8 (then replaced, as before).
        let raw = raw.as_deref().map(String::from_utf8_lossy);
        let Some(path) = decision_path(source, h.path, raw.as_deref()) else {
            log::error!("gatehouse: refused: the host did not give the raw request target");
            self.respond(Problem::Unavailable.response(false, &self.engine.settings.client_id));
            return Action::Pause;
        };
        // Borrowed from the header map unless several Cookie headers must be joined.
        let cookie = h.cookies.joined();
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
            unreadable: h.unreadable,
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
