//! Refresh flow: a session past its refresh point is renewed with its refresh token before
//! the request goes on (`session_check` starts the call). A refreshed session must name the
//! same subject; a failed refresh clears the session and starts a login (or answers 401).

use crate::pages::Problem;
use crate::provider::Provider;
use crate::session;
use crate::session::cache::Opened;
use crate::session::Session;

use super::{Engine, Event, Reply, Request, RuleRef};

/// A request held while its session is refreshed.
pub struct RefreshWait {
    pub(super) session: Session,
    pub(super) api: bool,
    pub(super) return_to: String,
    /// The `Cookie` header to forward (the filter's cookies removed).
    pub(super) request_cookie: Option<String>,
    pub(super) present: Vec<String>,
    pub(super) scheme: String,
    pub(super) authority: String,
    pub(super) rule: RuleRef,
}

impl Engine {
    /// The refresh answered: admit the request with the fresh session, or start over.
    pub(super) fn refreshed(
        &self,
        wait: RefreshWait,
        status: Option<u32>,
        body: &[u8],
        provider: Option<&Provider>,
        now: u64,
    ) -> (Reply, Event) {
        let fresh = self
            .session_from_tokens(status, body, provider, None, now, Some(&wait.session))
            .and_then(|fresh| Ok((self.session_cookie(&fresh, now, &wait.present)?, fresh)));
        match fresh {
            Ok((set, fresh)) => {
                let rule = self.rule_by_ref(wait.rule);
                let (outcome, ev) = self.admit(
                    &Opened::new(fresh),
                    rule,
                    wait.api,
                    Some(wait.request_cookie),
                    set,
                );
                let ev = if ev == Event::None {
                    Event::Refreshed
                } else {
                    ev
                };
                (outcome, ev)
            }
            Err(why) => self.after_failed_refresh(wait, provider, now, why),
        }
    }

    fn after_failed_refresh(
        &self,
        wait: RefreshWait,
        provider: Option<&Provider>,
        now: u64,
        why: String,
    ) -> (Reply, Event) {
        let clear = session::cookies::clear(
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
}
