//! Sign-out flow: every cookie of the filter is cleared; with a place to land, a broker that
//! offers RP-initiated logout and a refresh token, the broker session ends too.

use crate::cookie;
use crate::pages::LocalResponse;
use crate::path::return_url;
use crate::provider::Provider;
use crate::session;
use crate::session::Session;
use crate::token::exchange;

use super::{Engine, Outcome, Pending, Request};

/// A sign-out waiting for an ID token to end the broker session with.
pub struct SignOutWait {
    /// Same-origin path to land on.
    rd: String,
    /// `rd` as an absolute URL, the broker's `post_logout_redirect_uri`.
    back: String,
    /// `Set-Cookie` values that clear the filter's cookies.
    clear: Vec<String>,
}

impl Engine {
    /// Clears every cookie of the filter. With `rd` (or `sign_out_redirect`), a broker that
    /// offers RP-initiated logout and a refresh token, the broker session ends too: a fresh
    /// ID token is fetched with the refresh token to serve as `id_token_hint`, so the
    /// session cookie need not carry an ID token on every request.
    pub(super) fn sign_out(&self, req: &Request<'_>, provider: Option<&Provider>) -> Outcome {
        let query = req.path.split_once('?').map_or("", |(_, q)| q);
        let asked = form_urlencoded::parse(query.as_bytes())
            .find(|(k, _)| k == "rd")
            .map(|(_, v)| return_url::sanitize(&v))
            .or_else(|| self.settings.sign_out_redirect.clone());
        let name = &self.settings.cookie.name;
        // The session part a reader goes by first, so the session ends even where only the
        // first Set-Cookie of a local response were kept; then the other parts and logins.
        let present = session::cookies::present(req.cookie, name);
        let mut clear = session::cookies::clear(&self.settings.cookie, name, &present);
        if let Some(header) = req.cookie {
            let mut logins: Vec<&str> = cookie::header::pairs(header)
                .map(|(n, _)| n)
                .filter(|n| self.is_ours(n) && !session::cookies::is_part(name, n))
                .collect();
            logins.dedup();
            clear.extend(
                logins
                    .into_iter()
                    .map(|n| cookie::header::clear(&self.settings.cookie, n)),
            );
        }
        let Some(rd) = asked else {
            return Outcome::Respond(LocalResponse::redirect("/".to_string(), clear));
        };
        let refresh_token = req
            .cookie
            .and_then(|c| session::cookies::read(c, name))
            .and_then(|v| Session::open(&self.codec, name, &v).ok())
            .and_then(|s| s.refresh_token);
        match (provider, refresh_token) {
            (Some(p), Some(rt)) if p.endpoints.end_session.is_some() => Outcome::Call {
                call: exchange::refresh(&self.settings, &p.endpoints.token_path, &rt),
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
    pub(super) fn end_broker_session(
        &self,
        wait: SignOutWait,
        status: Option<u32>,
        body: &[u8],
        provider: Option<&Provider>,
    ) -> LocalResponse {
        let end = provider.and_then(|p| p.endpoints.end_session.as_deref());
        let hint = exchange::parse_response(status, body)
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
}
