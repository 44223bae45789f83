//! Probe flow: before sending a browser to a broker not heard from lately, the discovery
//! document is fetched, so a dead broker gives a clear 503 at the gateway instead of a
//! browser stuck on an unreachable login page.

use crate::pages::Problem;
use crate::provider::Provider;
use crate::token::exchange::BrokerCall;

use super::{Engine, Event, Outcome, Pending, Reply, Request};

/// A login held until the broker answered a probe.
pub struct ProbeWait {
    path: String,
    scheme: String,
    authority: String,
    cookie: Option<String>,
    /// `Set-Cookie` values decided before the probe (clearing an invalid session).
    clear: Vec<String>,
}

/// How recently the broker must have answered for a login to go there without a probe.
pub const CONTACT_FRESH_S: u64 = 5;

impl Engine {
    /// Holds a login until the broker answered its discovery document.
    pub(super) fn probe(&self, req: &Request<'_>, clear: Vec<String>) -> Outcome {
        let call = BrokerCall {
            method: "GET",
            path: self.settings.discovery_path(),
            headers: vec![("accept", "application/json".to_string())],
            body: Vec::new(),
        };
        let wait = ProbeWait {
            path: req.path.to_string(),
            scheme: req.scheme.to_string(),
            authority: req.authority.to_string(),
            cookie: req.cookie.map(str::to_string),
            clear,
        };
        Outcome::Call {
            call,
            pending: Box::new(Pending::Probe(wait)),
        }
    }

    /// The probe answered: a live broker gets the held login, anything else a 503.
    pub(super) fn probed(
        &self,
        wait: ProbeWait,
        status: Option<u32>,
        provider: Option<&Provider>,
        now: u64,
    ) -> (Reply, Event) {
        match (provider, status) {
            (Some(p), Some(200)) => {
                let req = Request {
                    method: "GET",
                    path: &wait.path,
                    authority: &wait.authority,
                    scheme: &wait.scheme,
                    cookie: wait.cookie.as_deref(),
                    accept: Some("text/html"),
                    ..Request::default()
                };
                let (resp, ev) = self.start_login(&req, p, now, wait.clear);
                (Reply::Respond(resp), ev)
            }
            _ => (
                Reply::Respond(Problem::Unavailable.response(false, self.realm())),
                Event::LoginFailed(format!("broker unavailable: probe answered {status:?}")),
            ),
        }
    }
}
