//! Callback flow: the broker sent the browser back to `redirect_path`. The `state` is checked
//! against the login's own cookie, the code is exchanged at the token endpoint, and the
//! answer becomes the session cookie and a redirect to where the login started.

use crate::cookie;
use crate::login::state::{LoginState, LoginStateError};
use crate::pages::{LocalResponse, Problem};
use crate::path::return_url;
use crate::provider::Provider;
use crate::session;
use crate::token::exchange;

use super::{Engine, Event, Outcome, Pending, Reply, Request};

/// A login waiting for the code exchange.
pub struct LoginWait {
    login: LoginState,
    /// The login's own cookie, cleared whatever the answer.
    cookie_name: String,
    /// Session cookie parts the browser holds now, cleared if the new layout differs.
    present: Vec<String>,
}

impl Engine {
    /// The broker sent the browser back: check `state`, then exchange the code.
    pub(super) fn callback(
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
        let value = req.cookie.and_then(|c| cookie::header::get(c, &name));
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
        let call = exchange::code_exchange(
            &self.settings,
            &provider.endpoints.token_path,
            &code,
            &redirect_uri,
            &login.verifier,
        );
        (
            Outcome::Call {
                call,
                pending: Box::new(Pending::Login(LoginWait {
                    login,
                    cookie_name: name,
                    present: session::cookies::present(req.cookie, &self.settings.cookie.name),
                })),
            },
            Event::None,
        )
    }

    /// The code exchange answered: set the session and go back, or explain the failure.
    pub(super) fn login_finished(
        &self,
        wait: LoginWait,
        status: Option<u32>,
        body: &[u8],
        provider: Option<&Provider>,
        now: u64,
    ) -> (Reply, Event) {
        let LoginWait {
            login,
            cookie_name,
            present,
        } = wait;
        let clear_login = cookie::header::clear(&self.settings.cookie, &cookie_name);
        match self.session_from_tokens(status, body, provider, Some(&login.nonce), now, None) {
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
}
