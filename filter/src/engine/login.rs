//! Login start: a 302 to the broker's authorization endpoint with state, nonce and PKCE; the
//! login waits in a cookie of its own, and the oldest in-flight logins make room for it.

use crate::cookie;
use crate::login::pkce;
use crate::login::state::{LoginState, MAX_IN_FLIGHT};
use crate::pages::{LocalResponse, Problem};
use crate::path::return_url;
use crate::provider::Provider;

use super::{Engine, Event, Request};

impl Engine {
    /// 302 to the broker with state, nonce and PKCE; the login lives in its own cookie.
    pub(super) fn start_login(
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
        let mut cookies = vec![cookie::header::set(
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
        let mut logins: Vec<(u64, &str)> = cookie::header::pairs(header)
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
            .map(|(_, n)| cookie::header::clear(&self.settings.cookie, n))
            .collect()
    }
}
