//! The per-request decisions of the relying party, free of any host call: the glue collects
//! the request facts, asks the engine, and carries out the [`Outcome`].

use url::form_urlencoded;

use crate::bearer_cache::{self, BearerCache};
use crate::config::Settings;
use crate::cookie_codec::{CodecError, CookieCodec};
use crate::cookie_header;
use crate::id_token::{self, Expect, IdClaims, TokenError};
use crate::identity;
use crate::login_state::{LoginState, LoginStateError, MAX_IN_FLIGHT};
use crate::pages::{LocalResponse, Problem};
use crate::path::decide;
use crate::pkce;
use crate::provider::{KeySet, Provider};
use crate::return_url;
use crate::rules::{self, Subject};
use crate::session::{Freshness, Session};
use crate::session_cookies;
use crate::token_exchange::{self, BrokerCall, ExchangeError};
use std::cell::RefCell;

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
    /// A filter-owned header the client sent (see [`crate::request_headers::scan`]).
    pub forged: Option<&'a str>,
}

/// Send the request upstream with these changes.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Forward {
    /// Identity headers to set (after the filter's headers were stripped).
    pub identity: Vec<(&'static str, String)>,
    /// `Some(new)` replaces the `Cookie` header (`Some(None)`: nothing is left of it);
    /// `None` leaves it.
    pub cookie: Option<Option<String>>,
    /// `Set-Cookie` values to add to the upstream's response.
    pub response_cookies: Vec<String>,
}

/// A token-endpoint call the request waits for.
pub enum Pending {
    Login {
        login: LoginState,
        cookie_name: String,
        /// Session cookie parts the browser holds now, cleared if the new layout differs.
        present: Vec<String>,
    },
    Refresh(Box<RefreshWait>),
    Probe(ProbeWait),
    Keys(KeysWait),
    SignOut(SignOutWait),
}

/// A sign-out waiting for an ID token to end the broker session with.
pub struct SignOutWait {
    /// Same-origin path to land on.
    rd: String,
    /// `rd` as an absolute URL, the broker's `post_logout_redirect_uri`.
    back: String,
    /// `Set-Cookie` values that clear the filter's cookies.
    clear: Vec<String>,
}

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

/// A request held while its session is refreshed.
pub struct RefreshWait {
    session: Session,
    api: bool,
    return_to: String,
    /// The `Cookie` header to forward (the filter's cookies removed).
    request_cookie: Option<String>,
    present: Vec<String>,
    scheme: String,
    authority: String,
    rule: RuleRef,
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
    /// Refused with 400 before any decision: an ambiguous path or a forged header.
    Refused(String),
    NoProvider,
    BearerRejected(String),
    KeysRefetched,
}

pub struct Engine {
    pub settings: Settings,
    codec: CookieCodec,
    bearer_cache: RefCell<BearerCache>,
}

/// The identity a verified token names; `ends_at` defaults to the token's expiry. An
/// unverified address is not part of it unless `allow_unverified_email`.
fn identity_from_claims(
    claims: IdClaims,
    issued_at: u64,
    ends_at: Option<u64>,
    access_token: Option<String>,
    allow_unverified_email: bool,
) -> Session {
    Session {
        sub: claims.sub,
        email: identity::trusted_email(claims.email, claims.email_verified, allow_unverified_email),
        name: claims.name.unwrap_or_default(),
        preferred_username: claims.preferred_username.unwrap_or_default(),
        groups: claims.groups,
        issued_at,
        expires_at: claims.exp,
        ends_at: ends_at.unwrap_or(claims.exp),
        refresh_token: None,
        access_token,
    }
}

/// The token of an `Authorization: Bearer` header when it has the shape of a JWT.
fn bearer_jwt(header: &str) -> Option<&str> {
    let (scheme, token) = header.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer")
        && token.len() <= 16 * 1024
        && token.split('.').count() == 3)
        .then_some(token)
}

/// An unknown `kid` refetches the JWKS at most this often per worker.
pub const KEY_REFETCH_S: u64 = 30;

/// A bearer-token request held while the JWKS is refetched for an unknown `kid`.
pub struct KeysWait {
    token: String,
    api: bool,
    rule: RuleRef,
    cookie: Option<Option<String>>,
}

impl Engine {
    pub fn new(settings: Settings) -> Result<Engine, CodecError> {
        let codec = CookieCodec::new(&settings.cookie_secrets)?;
        let bearer_cache = RefCell::new(BearerCache::new(settings.bearer_cache_size));
        Ok(Engine {
            settings,
            codec,
            bearer_cache,
        })
    }

    /// The identity of a bearer JWT from the broker (cached once verified).
    fn verify_bearer(
        &self,
        token: &str,
        provider: &Provider,
        now: u64,
    ) -> Result<Session, TokenError> {
        let key = bearer_cache::hash(token);
        if let Some(identity) = self.bearer_cache.borrow().get(&key, now) {
            return Ok(identity.clone());
        }
        let expect = Expect {
            issuer: &self.settings.issuer,
            audiences: &self.settings.jwt_bearer_audiences,
            nonce: None,
            now,
        };
        let claims = id_token::validate(token, &provider.keys.borrow(), &expect)?;
        let identity = identity_from_claims(
            claims,
            now,
            None,
            None,
            self.settings.allow_unverified_email,
        );
        self.bearer_cache
            .borrow_mut()
            .insert(key, identity.clone(), now);
        Ok(identity)
    }

    /// Admits a request carrying a bearer JWT from the broker, refuses it with 401, or (an
    /// unknown `kid`, at most every KEY_REFETCH_S) refetches the JWKS first.
    fn bearer(&self, wait: KeysWait, provider: &Provider, now: u64) -> (Outcome, Event) {
        match self.verify_bearer(&wait.token, provider, now) {
            Err(TokenError::UnknownKey(_))
                if now >= provider.last_key_fetch.get() + KEY_REFETCH_S =>
            {
                provider.last_key_fetch.set(now);
                let call = BrokerCall {
                    method: "GET",
                    path: provider.endpoints.jwks_path.clone(),
                    headers: vec![("accept", "application/json".to_string())],
                    body: Vec::new(),
                };
                (
                    Outcome::Call {
                        call,
                        pending: Box::new(Pending::Keys(wait)),
                    },
                    Event::None,
                )
            }
            _ => {
                let (reply, event) = self.bearer_settled(wait, provider, now);
                (reply.into(), event)
            }
        }
    }

    /// Admits or refuses a bearer JWT with the keys at hand (no further refetch).
    fn bearer_settled(&self, wait: KeysWait, provider: &Provider, now: u64) -> (Reply, Event) {
        match self.verify_bearer(&wait.token, provider, now) {
            Ok(identity) => {
                let rule = self.rule_by_ref(wait.rule);
                self.admit(identity, rule, wait.api, wait.cookie, Vec::new())
            }
            Err(e) => (
                Reply::Respond(Problem::InvalidToken.response(true, self.realm())),
                Event::BearerRejected(e.to_string()),
            ),
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

    /// Decides what happens to one request.
    pub fn on_request(
        &self,
        req: &Request<'_>,
        provider: Option<&Provider>,
        now: u64,
    ) -> (Outcome, Event) {
        let refuse = |why: String| {
            (
                Outcome::Respond(Problem::BadRequest.response(true, self.realm())),
                Event::Refused(why),
            )
        };
        // A header the filter owns never comes from the client, on any route. Refused rather
        // than removed: a removed request header still reaches the upstream on Kong's host.
        if let Some(name) = req.forged {
            return refuse(format!("client sent the filter's header {name:?}"));
        }
        let path = match decide(req.path) {
            Ok(p) => p,
            Err(why) => return refuse(why.to_string()),
        };
        let s = &self.settings;
        let cookie_rewrite = match req.cookie {
            Some(c) if cookie_header::pairs(c).any(|(n, _)| self.is_ours(n)) => {
                // Only the first of several Cookie headers can be replaced on every host.
                if req.cookie_headers > 1 {
                    return refuse("the filter's cookies in one of several Cookie headers".into());
                }
                Some(cookie_header::without(c, |n| self.is_ours(n)))
            }
            _ => None,
        };
        if path == s.redirect_path {
            return self.callback(req, provider, now);
        }
        if path == s.sign_out_path {
            return (self.sign_out(req, provider), Event::SignedOut);
        }
        let session_cookie = &s.cookie.name;
        let (applied, rule_ref) = self.rule_ref(req.method, &path);
        let api = self.wants_api_answer(applied.api, req);

        if applied.public && path != s.userinfo_path {
            return (
                Outcome::Forward(Forward {
                    cookie: cookie_rewrite,
                    ..Forward::default()
                }),
                Event::None,
            );
        }
        // Fail closed: until the broker's keys were loaded once, nothing protected passes.
        let Some(provider) = provider else {
            return (
                Outcome::Respond(Problem::Unavailable.response(api, self.realm())),
                Event::NoProvider,
            );
        };
        // Past this point the upstream trusts what the filter adds: a second Authorization
        // header could be read instead of the one the filter checked or set.
        if req.authorizations > 1 {
            return refuse("several Authorization headers".into());
        }
        if s.skip_jwt_bearer_tokens && path != s.userinfo_path {
            if let Some(token) = req.authorization.and_then(bearer_jwt) {
                let wait = KeysWait {
                    token: token.to_string(),
                    api: true,
                    rule: rule_ref,
                    cookie: cookie_rewrite,
                };
                return self.bearer(wait, provider, now);
            }
        }
        // With pass_access_token the upstream reads Authorization as the filter's: a client's
        // copy is refused rather than left for the upstream to trust.
        if s.pass_access_token && req.authorization.is_some() && path != s.userinfo_path {
            return refuse("Authorization header sent while pass_access_token is on".into());
        }

        let raw = req
            .cookie
            .and_then(|c| session_cookies::read(c, session_cookie));
        let mut event = Event::None;
        let mut clear_invalid = Vec::new();
        let session = match raw.map(|v| Session::open(&self.codec, session_cookie, &v)) {
            Some(Ok(sess)) => match sess.freshness(now) {
                Freshness::Valid => Some(sess),
                Freshness::NeedsRefresh => {
                    if let Some(rt) = sess.refresh_token.clone() {
                        let call = token_exchange::refresh(s, &provider.endpoints.token_path, &rt);
                        let pending = Pending::Refresh(Box::new(RefreshWait {
                            session: sess,
                            api,
                            return_to: return_url::sanitize(req.path),
                            request_cookie: cookie_rewrite.flatten(),
                            present: session_cookies::present(req.cookie, session_cookie),
                            scheme: req.scheme.to_string(),
                            authority: req.authority.to_string(),
                            rule: rule_ref,
                        }));
                        return (
                            Outcome::Call {
                                call,
                                pending: Box::new(pending),
                            },
                            Event::None,
                        );
                    }
                    None
                }
                Freshness::Expired => None,
            },
            Some(Err(e)) => {
                event = Event::InvalidCookie(e.to_string());
                clear_invalid = session_cookies::clear(
                    &s.cookie,
                    session_cookie,
                    &session_cookies::present(req.cookie, session_cookie),
                );
                None
            }
            None => None,
        };

        if path == s.userinfo_path {
            return (Outcome::Respond(self.userinfo(session.as_ref())), event);
        }

        match session {
            Some(sess) => {
                let (reply, event) =
                    self.admit(sess, applied.rule, api, cookie_rewrite, Vec::new());
                (reply.into(), event)
            }
            None if api => (
                Outcome::Respond(
                    Problem::Unauthenticated
                        .response(true, self.realm())
                        .with_cookies(clear_invalid),
                ),
                event,
            ),
            None if now > provider.last_contact.get() + CONTACT_FRESH_S => {
                // Not heard from the broker lately: make sure it answers before sending the
                // browser there, so a dead broker gives a clear 503 here, within the timeout.
                let call = BrokerCall {
                    method: "GET",
                    path: s.discovery_path(),
                    headers: vec![("accept", "application/json".to_string())],
                    body: Vec::new(),
                };
                let wait = ProbeWait {
                    path: req.path.to_string(),
                    scheme: req.scheme.to_string(),
                    authority: req.authority.to_string(),
                    cookie: req.cookie.map(str::to_string),
                    clear: clear_invalid,
                };
                (
                    Outcome::Call {
                        call,
                        pending: Box::new(Pending::Probe(wait)),
                    },
                    event,
                )
            }
            None => {
                let (resp, ev) = self.start_login(req, provider, now, clear_invalid);
                (
                    Outcome::Respond(resp),
                    if event == Event::None { ev } else { event },
                )
            }
        }
    }

    /// A valid session meets the rule: forward with identity, or deny.
    fn admit(
        &self,
        sess: Session,
        rule: &rules::Rule,
        api: bool,
        cookie: Option<Option<String>>,
        response_cookies: Vec<String>,
    ) -> (Reply, Event) {
        let who = Subject {
            email: &sess.email,
            groups: &sess.groups,
        };
        if !rule.allows(&who) {
            return (
                Reply::Respond(
                    Problem::Forbidden
                        .response(api, self.realm())
                        .with_cookies(response_cookies),
                ),
                Event::Denied,
            );
        }
        (
            Reply::Forward(Forward {
                identity: identity::headers(&sess, self.settings.pass_access_token),
                cookie,
                response_cookies,
            }),
            Event::None,
        )
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

    /// 302 to the broker with state, nonce and PKCE; the login lives in its own cookie.
    fn start_login(
        &self,
        req: &Request<'_>,
        provider: &Provider,
        now: u64,
        cleanup: Vec<String>,
    ) -> (LocalResponse, Event) {
        let s = &self.settings;
        let Ok(login) = LoginState::new(return_url::sanitize(req.path), now) else {
            return (
                Problem::Unavailable.response(false, self.realm()),
                Event::LoginFailed("no randomness".into()),
            );
        };
        let Some(name) = LoginState::cookie_name(&s.cookie.name, &login.state) else {
            return (
                Problem::Unavailable.response(false, self.realm()),
                Event::LoginFailed("state".into()),
            );
        };
        let Some(value) = login.seal(&self.codec, &name) else {
            return (
                Problem::Unavailable.response(false, self.realm()),
                Event::LoginFailed("seal".into()),
            );
        };
        // The login cookie first, the one this response depends on; clean-ups after it.
        let mut cookies = vec![cookie_header::set(
            &s.cookie,
            &name,
            &value,
            s.login_timeout_s,
        )];
        cookies.extend(cleanup);
        cookies.extend(self.evict_old_logins(req.cookie));

        let redirect_uri = self.redirect_uri(req.scheme, req.authority);
        let scope = s.scopes.join(" ");
        let challenge = pkce::s256_challenge(&login.verifier);
        let query = form_urlencoded::Serializer::new(String::new())
            .append_pair("response_type", "code")
            .append_pair("client_id", &s.client_id)
            .append_pair("redirect_uri", &redirect_uri)
            .append_pair("scope", &scope)
            .append_pair("state", &login.state)
            .append_pair("nonce", &login.nonce)
            .append_pair("code_challenge", &challenge)
            .append_pair("code_challenge_method", "S256")
            .finish();
        let auth = &provider.endpoints.authorization;
        let sep = if auth.contains('?') { '&' } else { '?' };
        (
            LocalResponse::redirect(format!("{auth}{sep}{query}"), cookies),
            Event::LoginStarted,
        )
    }

    /// Keeps at most MAX_IN_FLIGHT - 1 older logins so the new one fits; oldest go first.
    fn evict_old_logins(&self, cookie: Option<&str>) -> Vec<String> {
        let Some(header) = cookie else {
            return Vec::new();
        };
        let prefix = LoginState::cookie_prefix(&self.settings.cookie.name);
        let mut logins: Vec<(u64, &str)> = cookie_header::pairs(header)
            .filter(|(n, _)| n.starts_with(&prefix))
            .map(|(n, v)| (LoginState::created_at_of(&self.codec, n, v).unwrap_or(0), n))
            .collect();
        if logins.len() < MAX_IN_FLIGHT {
            return Vec::new();
        }
        logins.sort();
        let excess = logins.len() + 1 - MAX_IN_FLIGHT;
        logins
            .iter()
            .take(excess)
            .map(|(_, n)| cookie_header::clear(&self.settings.cookie, n))
            .collect()
    }

    /// The broker sent the browser back: check `state`, then exchange the code.
    fn callback(
        &self,
        req: &Request<'_>,
        provider: Option<&Provider>,
        now: u64,
    ) -> (Outcome, Event) {
        let fail = |why: String| {
            (
                Outcome::Respond(Problem::LoginFailed.response(false, self.realm())),
                Event::LoginFailed(why),
            )
        };
        let query = req.path.split_once('?').map_or("", |(_, q)| q);
        let (mut code, mut state, mut error) = (None, None, None);
        for (k, v) in form_urlencoded::parse(query.as_bytes()) {
            match k.as_ref() {
                "code" if code.is_none() => code = Some(v.into_owned()),
                "state" if state.is_none() => state = Some(v.into_owned()),
                "error" if error.is_none() => error = Some(v.into_owned()),
                _ => {}
            }
        }
        if let Some(e) = error {
            let e: String = e
                .chars()
                .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
                .take(64)
                .collect();
            return fail(format!("broker returned error {e}"));
        }
        let Some(state) = state else {
            return fail(LoginStateError::BadState.to_string());
        };
        let Some(name) = LoginState::cookie_name(&self.settings.cookie.name, &state) else {
            return fail(LoginStateError::BadState.to_string());
        };
        let value = req.cookie.and_then(|c| cookie_header::get(c, &name));
        let login = match LoginState::open(
            &self.codec,
            &name,
            value,
            &state,
            now,
            self.settings.login_timeout_s,
        ) {
            Ok(l) => l,
            Err(e) => return fail(e.to_string()),
        };
        let Some(code) = code.filter(|c| !c.is_empty() && c.len() <= 2048) else {
            return fail("callback without code".into());
        };
        let Some(provider) = provider else {
            return (
                Outcome::Respond(Problem::Unavailable.response(false, self.realm())),
                Event::NoProvider,
            );
        };
        let redirect_uri = self.redirect_uri(req.scheme, req.authority);
        let call = token_exchange::code_exchange(
            &self.settings,
            &provider.endpoints.token_path,
            &code,
            &redirect_uri,
            &login.verifier,
        );
        (
            Outcome::Call {
                call,
                pending: Box::new(Pending::Login {
                    login,
                    cookie_name: name,
                    present: session_cookies::present(req.cookie, &self.settings.cookie.name),
                }),
            },
            Event::None,
        )
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
            Pending::SignOut(wait) => (
                Reply::Respond(self.end_broker_session(wait, status, body, provider)),
                Event::None,
            ),
            Pending::Keys(wait) => {
                let Some(p) = provider else {
                    return (
                        Reply::Respond(Problem::Unavailable.response(true, self.realm())),
                        Event::NoProvider,
                    );
                };
                let fresh = match status {
                    Some(200) => KeySet::parse(body).ok(),
                    _ => None,
                };
                let event = match fresh {
                    Some(keys) => {
                        *p.keys.borrow_mut() = keys;
                        Event::KeysRefetched
                    }
                    None => Event::None,
                };
                let (outcome, ev) = self.bearer_settled(wait, p, now);
                (outcome, if ev == Event::None { event } else { ev })
            }
            Pending::Probe(wait) => match (provider, status) {
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
            },
            Pending::Login {
                login,
                cookie_name,
                present,
            } => {
                let clear_login = cookie_header::clear(&self.settings.cookie, &cookie_name);
                match self.session_from_tokens(
                    status,
                    body,
                    provider,
                    Some(&login.nonce),
                    now,
                    None,
                ) {
                    Ok(session) => match self.session_cookie(&session, now, &present) {
                        Ok(mut set) => (
                            Reply::Respond(LocalResponse::redirect(
                                return_url::sanitize(&login.return_to),
                                {
                                    // The session first: a local response on Kong keeps
                                    // one Set-Cookie, the rest are added (pages.rs).
                                    set.push(clear_login);
                                    set
                                },
                            )),
                            Event::LoginCompleted,
                        ),
                        Err(why) => (
                            Reply::Respond(
                                Problem::LoginFailed
                                    .response(false, self.realm())
                                    .with_cookies(vec![clear_login]),
                            ),
                            Event::LoginFailed(why),
                        ),
                    },
                    Err(why) => {
                        let status = if why.starts_with("broker unavailable") {
                            Problem::Unavailable
                        } else {
                            Problem::LoginFailed
                        };
                        (
                            Reply::Respond(
                                status
                                    .response(false, self.realm())
                                    .with_cookies(vec![clear_login]),
                            ),
                            Event::LoginFailed(why),
                        )
                    }
                }
            }
            Pending::Refresh(wait) => {
                let fresh = self
                    .session_from_tokens(status, body, provider, None, now, Some(&wait.session))
                    .and_then(|fresh| {
                        Ok((self.session_cookie(&fresh, now, &wait.present)?, fresh))
                    });
                match fresh {
                    Ok((set, fresh)) => {
                        let rule = self.rule_by_ref(wait.rule);
                        let (outcome, ev) =
                            self.admit(fresh, rule, wait.api, Some(wait.request_cookie), set);
                        let ev = if ev == Event::None {
                            Event::Refreshed
                        } else {
                            ev
                        };
                        (outcome, ev)
                    }
                    Err(why) => self.after_failed_refresh(*wait, provider, now, why),
                }
            }
        }
    }

    fn after_failed_refresh(
        &self,
        wait: RefreshWait,
        provider: Option<&Provider>,
        now: u64,
        why: String,
    ) -> (Reply, Event) {
        let clear = session_cookies::clear(
            &self.settings.cookie,
            &self.settings.cookie.name,
            &wait.present,
        );
        let (api, return_to, scheme, authority) = (
            wait.api,
            wait.return_to.as_str(),
            wait.scheme.as_str(),
            wait.authority.as_str(),
        );
        let resp = match provider {
            Some(p) if !api => {
                let req = Request {
                    method: "GET",
                    path: return_to,
                    authority,
                    scheme,
                    accept: Some("text/html"),
                    ..Request::default()
                };
                self.start_login(&req, p, now, clear).0
            }
            _ => Problem::Unauthenticated
                .response(true, self.realm())
                .with_cookies(clear),
        };
        (Reply::Respond(resp), Event::RefreshFailed(why))
    }

    /// Validates a token response into a session. `previous` is the session being refreshed.
    fn session_from_tokens(
        &self,
        status: Option<u32>,
        body: &[u8],
        provider: Option<&Provider>,
        nonce: Option<&str>,
        now: u64,
        previous: Option<&Session>,
    ) -> Result<Session, String> {
        let tokens = token_exchange::parse_response(status, body).map_err(|e| match e {
            ExchangeError::NoAnswer | ExchangeError::Unavailable(_) => {
                format!("broker unavailable: {e}")
            }
            e => e.to_string(),
        })?;
        let provider = provider.ok_or("broker unavailable: no keys")?;
        let expect = Expect {
            issuer: &self.settings.issuer,
            audiences: std::slice::from_ref(&self.settings.client_id),
            nonce,
            now,
        };
        let claims: IdClaims =
            id_token::validate(&tokens.id_token, &provider.keys.borrow(), &expect)
                .map_err(|e: TokenError| format!("ID token refused: {e}"))?;
        if let Some(prev) = previous {
            // A refresh must not switch users.
            if prev.sub != claims.sub {
                return Err("refreshed ID token names another subject".into());
            }
        }
        let ends_at = previous.map_or(now.saturating_add(self.settings.cookie.expire_s), |p| {
            p.ends_at
        });
        let mut session = identity_from_claims(
            claims,
            previous.map_or(now, |p| p.issued_at),
            Some(ends_at),
            None,
            self.settings.allow_unverified_email,
        );
        // The broker rotates refresh tokens; keep the old one only if it sent none.
        session.refresh_token = tokens
            .refresh_token
            .or_else(|| previous.and_then(|p| p.refresh_token.clone()));
        if self.settings.pass_access_token {
            session.access_token = tokens.access_token;
        }
        Ok(session)
    }

    fn session_cookie(
        &self,
        session: &Session,
        now: u64,
        present: &[String],
    ) -> Result<Vec<String>, String> {
        let name = &self.settings.cookie.name;
        let value = session.seal(&self.codec, name).map_err(|e| e.to_string())?;
        if value.len() > session_cookies::CHUNK * session_cookies::MAX_CHUNKS {
            return Err(format!(
                "session is {} bytes, above the {}-byte limit",
                value.len(),
                session_cookies::CHUNK * session_cookies::MAX_CHUNKS
            ));
        }
        let max_age = session.ends_at.saturating_sub(now);
        Ok(session_cookies::write(
            &self.settings.cookie,
            name,
            &value,
            max_age,
            present,
        ))
    }

    /// Clears every cookie of the filter. With `rd` (or `sign_out_redirect`), a broker that
    /// offers RP-initiated logout and a refresh token, the broker session ends too: a fresh
    /// ID token is fetched with the refresh token to serve as `id_token_hint`, so the
    /// session cookie need not carry an ID token on every request.
    fn sign_out(&self, req: &Request<'_>, provider: Option<&Provider>) -> Outcome {
        let query = req.path.split_once('?').map_or("", |(_, q)| q);
        let asked = form_urlencoded::parse(query.as_bytes())
            .find(|(k, _)| k == "rd")
            .map(|(_, v)| return_url::sanitize(&v))
            .or_else(|| self.settings.sign_out_redirect.clone());
        let name = &self.settings.cookie.name;
        // The session part a reader goes by first, so the session ends even where only the
        // first Set-Cookie of a local response were kept; then the other parts and logins.
        let present = session_cookies::present(req.cookie, name);
        let mut clear = session_cookies::clear(&self.settings.cookie, name, &present);
        if let Some(header) = req.cookie {
            let mut logins: Vec<&str> = cookie_header::pairs(header)
                .map(|(n, _)| n)
                .filter(|n| self.is_ours(n) && !session_cookies::is_part(name, n))
                .collect();
            logins.dedup();
            clear.extend(
                logins
                    .into_iter()
                    .map(|n| cookie_header::clear(&self.settings.cookie, n)),
            );
        }
        let Some(rd) = asked else {
            return Outcome::Respond(LocalResponse::redirect("/".to_string(), clear));
        };
        let refresh_token = req
            .cookie
            .and_then(|c| session_cookies::read(c, name))
            .and_then(|v| Session::open(&self.codec, name, &v).ok())
            .and_then(|s| s.refresh_token);
        match (provider, refresh_token) {
            (Some(p), Some(rt)) if p.endpoints.end_session.is_some() => Outcome::Call {
                call: token_exchange::refresh(&self.settings, &p.endpoints.token_path, &rt),
                pending: Box::new(Pending::SignOut(SignOutWait {
                    back: format!("{}://{}{rd}", req.scheme, req.authority),
                    rd,
                    clear,
                })),
            },
            _ => Outcome::Respond(LocalResponse::redirect(rd, clear)),
        }
    }

    /// Where the browser goes once the hint for the broker's logout arrived (or did not).
    fn end_broker_session(
        &self,
        wait: SignOutWait,
        status: Option<u32>,
        body: &[u8],
        provider: Option<&Provider>,
    ) -> LocalResponse {
        let end = provider.and_then(|p| p.endpoints.end_session.as_deref());
        let hint = token_exchange::parse_response(status, body)
            .ok()
            .map(|t| t.id_token);
        let location = match (end, hint) {
            (Some(end), Some(hint)) => {
                let query = form_urlencoded::Serializer::new(String::new())
                    .append_pair("id_token_hint", &hint)
                    .append_pair("post_logout_redirect_uri", &wait.back)
                    .append_pair("client_id", &self.settings.client_id)
                    .finish();
                let sep = if end.contains('?') { '&' } else { '?' };
                format!("{end}{sep}{query}")
            }
            // The local session is gone either way; the broker's may outlive it.
            _ => wait.rd,
        };
        LocalResponse::redirect(location, wait.clear)
    }

    fn userinfo(&self, session: Option<&Session>) -> LocalResponse {
        match session {
            None => Problem::Unauthenticated.response(true, self.realm()),
            Some(s) => LocalResponse::json(
                200,
                serde_json::json!({
                    "user": s.sub,
                    "email": s.email,
                    "preferred_username": s.preferred_username,
                    "name": s.name,
                    "groups": s.groups,
                })
                .to_string(),
            ),
        }
    }
}
