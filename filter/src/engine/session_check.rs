//! Where every request starts: refusals (forged headers, ambiguous paths, several
//! `Authorization` headers), the hand-off to the callback, sign-out, public and bearer flows,
//! then the session check itself — a valid session is admitted by its rule, one past its
//! refresh point is refreshed first, and none starts a login (after a probe when the broker
//! has been quiet).

use crate::cookie;
use crate::headers::identity;
use crate::pages::{LocalResponse, Problem};
use crate::path::decide;
use crate::path::return_url;
use crate::provider::Provider;
use crate::rules::{self, Subject};
use crate::session;
use crate::session::cache::Opened;
use crate::session::{Freshness, Session};
use crate::token::exchange;

use super::bearer::bearer_jwt;
use super::probe::CONTACT_FRESH_S;
use super::{Engine, Event, Forward, Outcome, Pending, RefreshWait, Reply, Request};

impl Engine {
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
        if let Some(name) = req.unreadable {
            return refuse(format!("header {name:?} is not UTF-8"));
        }
        let path = match decide(req.path) {
            Ok(p) => p,
            Err(why) => return refuse(why.to_string()),
        };
        let s = &self.settings;
        // The rule is only looked up here (pure), to know before the cookie walk whether the
        // request goes on to the session check below.
        let (applied, rule_ref) = self.rule_ref(req.method, &path);
        let public = applied.public && path != s.userinfo_path;
        let checks_session = !public && path != s.redirect_path && path != s.sign_out_path;
        // The session cookie is read in the same walk that removes the filter's cookies: a
        // header with none of them (no name of ours) has no session cookie either.
        let mut session_value = None;
        let cookie_rewrite = match req.cookie {
            Some(c) if cookie::header::any_named(c, |n| self.is_ours(n)) => {
                // Only the first of several Cookie headers can be replaced on every host.
                if req.cookie_headers > 1 {
                    return refuse("the filter's cookies in one of several Cookie headers".into());
                }
                Some(if checks_session {
                    let reader =
                        session_value.insert(session::cookies::Reader::new(&s.cookie.name));
                    cookie::header::without_seeing(c, |n| self.is_ours(n), |n, v| reader.see(n, v))
                } else {
                    cookie::header::without(c, |n| self.is_ours(n))
                })
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
        let api = self.wants_api_answer(applied.api, req);

        if public {
            return (
                Outcome::Forward(Forward {
                    identity: self.no_identity.clone(),
                    cookie: cookie_rewrite,
                    response_cookies: Vec::new(),
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
                return self.bearer(token, (true, rule_ref, cookie_rewrite), provider, now);
            }
        }
        // With pass_access_token the upstream reads Authorization as the filter's: a client's
        // copy is refused rather than left for the upstream to trust.
        if s.pass_access_token && req.authorization.is_some() && path != s.userinfo_path {
            return refuse("Authorization header sent while pass_access_token is on".into());
        }

        let raw = session_value.and_then(session::cookies::Reader::finish);
        let mut event = Event::None;
        let mut clear_invalid = Vec::new();
        let opened = raw.map(|v| self.open_session(session_cookie, &v, now));
        let Ok(opened) = self.screen_revoked(opened, provider, now) else {
            return (
                Outcome::Respond(Problem::Unavailable.response(api, self.realm())),
                Event::FeedStale,
            );
        };
        let session = match opened {
            Some(Ok(sess)) => match sess.freshness(now) {
                Freshness::Valid => Some(sess),
                Freshness::NeedsRefresh => {
                    if let Some(rt) = sess.refresh_token.clone() {
                        let call = exchange::refresh(s, &provider.endpoints.token_path, &rt);
                        let pending = Pending::Refresh(Box::new(RefreshWait {
                            session: Session::clone(&sess),
                            api,
                            return_to: return_url::sanitize(req.path),
                            request_cookie: cookie_rewrite.flatten(),
                            present: session::cookies::present(req.cookie, session_cookie),
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
                clear_invalid = session::cookies::clear(
                    &s.cookie,
                    session_cookie,
                    &session::cookies::present(req.cookie, session_cookie),
                );
                None
            }
            None => None,
        };

        if path == s.userinfo_path {
            return (
                Outcome::Respond(self.userinfo(session.as_deref().map(|o| &o.session))),
                event,
            );
        }

        match session {
            Some(sess) => {
                let (reply, event) =
                    self.admit(&sess, applied.rule, api, cookie_rewrite, Vec::new());
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
                (self.probe(req, clear_invalid), event)
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
    pub(super) fn admit(
        &self,
        sess: &Opened,
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
                identity: sess
                    .headers
                    .get_or_init(|| identity::headers(sess, self.settings.pass_access_token).into())
                    .clone(),
                cookie,
                response_cookies,
            }),
            Event::None,
        )
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
