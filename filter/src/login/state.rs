//! An in-flight login (state, nonce, PKCE verifier, where to return), kept in its own
//! short-lived encrypted cookie named after its `state`, so that several tabs can log in at
//! once without clobbering each other.

use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

use crate::cookie::codec::CookieCodec;
use crate::random::{self, RandomError};

/// Random bytes in `state`, `nonce` and the PKCE verifier (43 base64url characters each).
const RANDOM_BYTES: usize = 32;
const STATE_LEN: usize = 43;
/// Characters of `state` used in the cookie name; the full state is checked inside.
const NAME_STATE_CHARS: usize = 16;
/// At most this many logins in flight per browser; the oldest are dropped beyond it.
pub const MAX_IN_FLIGHT: usize = 5;

#[derive(Serialize, Deserialize, Clone, PartialEq, Eq)]
pub struct LoginState {
    #[serde(rename = "s")]
    pub state: String,
    #[serde(rename = "n")]
    pub nonce: String,
    #[serde(rename = "v")]
    pub verifier: String,
    /// Same-origin path to return to after login.
    #[serde(rename = "r")]
    pub return_to: String,
    #[serde(rename = "t")]
    pub created_at: u64,
}

impl std::fmt::Debug for LoginState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginState")
            .field("return_to", &self.return_to)
            .field("created_at", &self.created_at)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LoginStateError {
    #[error("the callback has no usable state parameter")]
    BadState,
    #[error("no login cookie for this state (expired, cleared or from another browser)")]
    Missing,
    #[error("login cookie is forged or corrupted")]
    Forged,
    #[error("login took too long")]
    Expired,
}

impl LoginState {
    pub fn new(return_to: String, now: u64) -> Result<LoginState, RandomError> {
        Ok(LoginState {
            state: random::token(RANDOM_BYTES)?,
            nonce: random::token(RANDOM_BYTES)?,
            verifier: random::token(RANDOM_BYTES)?,
            return_to,
            created_at: now,
        })
    }

    /// Prefix shared by every login cookie of `session_cookie`.
    pub fn cookie_prefix(session_cookie: &str) -> String {
        format!("{session_cookie}_login_")
    }

    /// The cookie name for a given state, or `None` when the state is not one we could have made.
    pub fn cookie_name(session_cookie: &str, state: &str) -> Option<String> {
        if state.len() != STATE_LEN
            || !state
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return None;
        }
        Some(format!(
            "{}{}",
            Self::cookie_prefix(session_cookie),
            &state[..NAME_STATE_CHARS]
        ))
    }

    pub fn seal(&self, codec: &CookieCodec, cookie_name: &str) -> Option<String> {
        let json = serde_json::to_vec(self).ok()?;
        codec.seal(cookie_name, &json).ok()
    }

    /// Opens the login cookie for `state` and checks it belongs to that state and is recent.
    pub fn open(
        codec: &CookieCodec,
        cookie_name: &str,
        value: Option<&str>,
        state: &str,
        now: u64,
        max_age_s: u64,
    ) -> Result<LoginState, LoginStateError> {
        let value = value.ok_or(LoginStateError::Missing)?;
        let json = codec
            .open(cookie_name, value)
            .map_err(|_| LoginStateError::Forged)?;
        let login: LoginState =
            serde_json::from_slice(&json).map_err(|_| LoginStateError::Forged)?;
        if !bool::from(login.state.as_bytes().ct_eq(state.as_bytes())) {
            return Err(LoginStateError::Forged);
        }
        if now >= login.created_at.saturating_add(max_age_s) || login.created_at > now + 60 {
            return Err(LoginStateError::Expired);
        }
        Ok(login)
    }

    /// Created-at time of a login cookie, for evicting the oldest; `None` if unreadable.
    pub fn created_at_of(codec: &CookieCodec, cookie_name: &str, value: &str) -> Option<u64> {
        let json = codec.open(cookie_name, value).ok()?;
        serde_json::from_slice::<LoginState>(&json)
            .ok()
            .map(|l| l.created_at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codec() -> CookieCodec {
        CookieCodec::new(&[vec![3u8; 32]]).unwrap()
    }

    #[test]
    fn state_round_trip() {
        let c = codec();
        let l = LoginState::new("/app?x=1".into(), 100).unwrap();
        assert_eq!(l.state.len(), STATE_LEN);
        let name = LoginState::cookie_name("_gh", &l.state).unwrap();
        let v = l.seal(&c, &name).unwrap();
        let back = LoginState::open(&c, &name, Some(&v), &l.state, 150, 600).unwrap();
        assert_eq!(back, l);
    }

    #[test]
    fn wrong_missing_or_old_state_is_refused() {
        let c = codec();
        let l = LoginState::new("/".into(), 100).unwrap();
        let name = LoginState::cookie_name("_gh", &l.state).unwrap();
        let v = l.seal(&c, &name).unwrap();
        // Same 16-char prefix (same cookie) but a different full state.
        let mut other = l.state.clone();
        other.replace_range(40..41, if &other[40..41] == "A" { "B" } else { "A" });
        assert_eq!(
            LoginState::open(&c, &name, Some(&v), &other, 150, 600),
            Err(LoginStateError::Forged)
        );
        assert_eq!(
            LoginState::open(&c, &name, None, &l.state, 150, 600),
            Err(LoginStateError::Missing)
        );
        assert_eq!(
            LoginState::open(&c, &name, Some(&v), &l.state, 700, 600),
            Err(LoginStateError::Expired)
        );
        assert_eq!(
            LoginState::open(&c, &name, Some("v1.AAAA"), &l.state, 150, 600),
            Err(LoginStateError::Forged)
        );
    }

    #[test]
    fn hostile_states_get_no_cookie_name() {
        for s in [
            "",
            "short",
            "../../../../../../../../../../../../../../../.",
            &"a".repeat(44),
            "a;b=c aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        ] {
            assert_eq!(LoginState::cookie_name("_gh", s), None, "{s}");
        }
    }
}
