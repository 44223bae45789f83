//! The per-request decisions of the relying party, free of any host call: the glue collects
//! the request facts, asks the engine, and carries out the [`Outcome`].
//!
//! One file per flow. Every request enters at `session_check` (refusals, then the session
//! check), which hands off to `login`, `callback`, `refresh`, `sign_out`, `bearer` or `probe`;
//! the answer to a broker call comes back through [`Engine::on_token_response`] to the flow that
//! made it. `tokens` turns a token response into a session and its cookie (login and refresh).
//! This file holds what they share: the request facts, the outcomes and the engine itself.

mod bearer;
mod callback;
mod login;
mod probe;
mod refresh;
mod revoked;
mod session_check;
mod session_open;
mod sign_out;
mod tokens;

pub use bearer::{KeysWait, KEY_REFETCH_S};
pub use callback::LoginWait;
pub use probe::{ProbeWait, CONTACT_FRESH_S};
pub use refresh::RefreshWait;
pub use sign_out::SignOutWait;

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use crate::config::Settings;
use crate::cookie::codec::{CodecError, CookieCodec};
use crate::pages::LocalResponse;
use crate::provider::Provider;
use crate::revocation::held::HeldFeed;
use crate::rules;
use crate::session::cache::SessionCache;
use crate::token::exchange::BrokerCall;

/// The facts of one request the engine needs.
#[derive(Default)]
pub struct Request<'a> {
    pub method: &'a str,
    /// Raw `:path`, query included.
    pub path: &'a str,
    pub authority: &'a str,
    pub scheme: &'a str,
    /// Every `Cookie` header joined with `; `.
    pub cookie: Option<&'a str>,
    /// How many `Cookie` headers carried it.
    pub cookie_headers: usize,
    pub accept: Option<&'a str>,
    /// The first `Authorization` header, and how many there were.
    pub authorization: Option<&'a str>,
    pub authorizations: usize,
    pub xhr: bool,
    /// A filter-owned header the client sent (see [`crate::headers::request::scan`]).
    pub forged: Option<&'a str>,
    /// A header the filter reads whose value is not UTF-8 (see the same scan).
    pub unreadable: Option<&'a str>,
}

/// Send the request upstream with these changes.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Forward {
    /// Identity headers to set (after the filter's headers were stripped); shared with the
    /// cached session they were built from.
    pub identity: Rc<[(&'static str, String)]>,
    /// `Some(new)` replaces the `Cookie` header (`Some(None)`: nothing is left of it);
    /// `None` leaves it.
    pub cookie: Option<Option<String>>,
    /// `Set-Cookie` values to add to the upstream's response.
    pub response_cookies: Vec<String>,
}

/// A token-endpoint call the request waits for.
pub enum Pending {
    Login(LoginWait),
    Refresh(Box<RefreshWait>),
    Probe(ProbeWait),
    Keys(KeysWait),
    SignOut(SignOutWait),
}

/// Which rule applied to a request waiting on a refresh (rules are borrowed from settings).
#[derive(Debug, Clone, Copy)]
pub enum RuleRef {
    Default,
    Route(usize),
}

pub enum Outcome {
    Forward(Forward),
    Respond(LocalResponse),
    /// One broker call; its answer settles the request with a [`Reply`].
    Call {
        call: BrokerCall,
        pending: Box<Pending>,
    },
}

/// How a request waiting on a broker call ends. There is no `Call` here on purpose: nothing
/// is dispatched from inside a call's response callback (Kong's host builds such a request on
/// a connection it already freed), so a request makes at most one broker call.
pub enum Reply {
    Forward(Forward),
    Respond(LocalResponse),
}

impl From<Reply> for Outcome {
    fn from(r: Reply) -> Outcome {
        match r {
            Reply::Forward(f) => Outcome::Forward(f),
            Reply::Respond(r) => Outcome::Respond(r),
        }
    }
}

/// Why a request was turned away; the glue logs it and counts it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    None,
    InvalidCookie(String),
    LoginStarted,
    LoginCompleted,
    LoginFailed(String),
    Denied,
    Refreshed,
    RefreshFailed(String),
    SignedOut,
    /// Signed out here, but the broker did not confirm it revoked the session.
    SignOutIncomplete(String),
    /// Refused with 400 before any decision: an ambiguous path or a forged header.
    Refused(String),
    NoProvider,
    /// Refused with 503: the revocation feed is too old to tell (and the config refuses then).
    FeedStale,
    BearerRejected(String),
    KeysRefetched,
}

pub struct Engine {
    pub settings: Settings,
    codec: CookieCodec,
    bearer_cache: RefCell<SessionCache>,
    /// Opened session cookies (the same cache type, keyed by the sealed value).
    session_cache: RefCell<SessionCache>,
    /// The broker's revocation feed as this worker holds it (set by the root context).
    feed: RefCell<Option<HeldFeed>>,
    /// Set by the root context once it has a clock (see `revoked.rs`).
    started: Cell<u64>,
    /// The identity of a request forwarded without one (a public route), made once:
    /// `Rc<[_]>::default()` allocates on every call.
    no_identity: Rc<[(&'static str, String)]>,
}

/// Opened sessions kept per worker VM; at most a few MiB with 150-group sessions.
pub const SESSION_CACHE_ENTRIES: usize = 512;

impl Engine {
    pub fn new(settings: Settings) -> Result<Engine, CodecError> {
        let codec = CookieCodec::new(&settings.cookie_secrets)?;
        let bearer_cache = RefCell::new(SessionCache::new(settings.bearer_cache_size));
        Ok(Engine {
            settings,
            codec,
            bearer_cache,
            session_cache: RefCell::new(SessionCache::new(SESSION_CACHE_ENTRIES)),
            feed: RefCell::new(None),
            started: Cell::new(0),
            no_identity: Rc::from([]),
        })
    }

    /// The token endpoint answered (`status` is `None` when the call itself failed).
    pub fn on_token_response(
        &self,
        pending: Pending,
        status: Option<u32>,
        body: &[u8],
        provider: Option<&Provider>,
        now: u64,
    ) -> (Reply, Event) {
        // Only an answer from the broker itself is a sign of life: the gateway reports a
        // refused or timed-out call as its own 502/503/504.
        if let (Some(p), Some(s)) = (provider, status) {
            if s < 500 {
                p.last_contact.set(now);
            }
        }
        match pending {
            Pending::SignOut(wait) => {
                let event = if Self::revocation_failed(&wait, status) {
                    Event::SignOutIncomplete(format!("the broker answered {status:?}"))
                } else {
                    Event::None
                };
                (
                    Reply::Respond(self.end_broker_session(wait, status, body, provider)),
                    event,
                )
            }
            Pending::Keys(wait) => self.keys_fetched(wait, status, body, provider, now),
            Pending::Probe(wait) => self.probed(wait, status, provider, now),
            Pending::Login(wait) => self.login_finished(wait, status, body, provider, now),
            Pending::Refresh(wait) => self.refreshed(*wait, status, body, provider, now),
        }
    }

    fn wants_api_answer(&self, api_route: bool, req: &Request<'_>) -> bool {
        api_route || req.xhr || !req.accept.is_some_and(|a| a.contains("text/html"))
    }

    fn realm(&self) -> &str {
        &self.settings.client_id
    }

    fn rule_ref(&self, method: &str, path: &str) -> (rules::Applied<'_>, RuleRef) {
        let (applied, idx) = rules::select(
            &self.settings.routes,
            &self.settings.default_rule,
            method,
            path,
        );
        (applied, idx.map_or(RuleRef::Default, RuleRef::Route))
    }

    fn rule_by_ref(&self, r: RuleRef) -> &rules::Rule {
        match r {
            RuleRef::Route(i) => self
                .settings
                .routes
                .get(i)
                .map_or(&self.settings.default_rule, |r| &r.rule),
            RuleRef::Default => &self.settings.default_rule,
        }
    }

    /// Whether a cookie name belongs to the filter (never passed upstream).
    fn is_ours(&self, name: &str) -> bool {
        let base = &self.settings.cookie.name;
        name.strip_prefix(base.as_str())
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('_'))
    }

    fn redirect_uri(&self, scheme: &str, authority: &str) -> String {
        match &self.settings.redirect_url {
            Some(u) => u.clone(),
            None => format!("{scheme}://{authority}{}", self.settings.redirect_path),
        }
    }
}
