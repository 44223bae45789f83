//! The signed-in session carried in the encrypted session cookie. Field names are short on
//! purpose: every byte travels on every request.

pub mod cache;
pub mod cookies;

use serde::{Deserialize, Serialize};

use crate::cookie::codec::{CodecError, CookieCodec};

#[derive(Serialize, Deserialize, Clone, PartialEq, Eq)]
pub struct Session {
    /// Subject (`sub` of the ID token).
    #[serde(rename = "s")]
    pub sub: String,
    #[serde(rename = "e", default, skip_serializing_if = "String::is_empty")]
    pub email: String,
    #[serde(rename = "n", default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(rename = "u", default, skip_serializing_if = "String::is_empty")]
    pub preferred_username: String,
    #[serde(rename = "g", default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
    /// When the user signed in (unix seconds).
    #[serde(rename = "i")]
    pub issued_at: u64,
    /// When the ID token (and so the identity) expires.
    #[serde(rename = "x")]
    pub expires_at: u64,
    /// Hard end of the session, whatever refreshes happen (cookie lifetime).
    #[serde(rename = "z")]
    pub ends_at: u64,
    #[serde(rename = "r", default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    #[serde(rename = "a", default, skip_serializing_if = "Option::is_none")]
    pub access_token: Option<String>,
}

impl std::fmt::Debug for Session {
    // Tokens never reach a log line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("sub", &self.sub)
            .field("email", &self.email)
            .field("groups", &self.groups.len())
            .field("expires_at", &self.expires_at)
            .field(
                "refresh_token",
                &self.refresh_token.as_ref().map(|_| "<redacted>"),
            )
            .finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SessionError {
    #[error(transparent)]
    Codec(#[from] CodecError),
    #[error("session payload is malformed")]
    Payload,
    #[error("session ended")]
    Ended,
}

/// Whether a decoded session can be used as is.
#[derive(Debug, PartialEq, Eq)]
pub enum Freshness {
    Valid,
    /// The identity expired but a refresh token may renew it.
    NeedsRefresh,
    Expired,
}

impl Session {
    pub fn seal(&self, codec: &CookieCodec, cookie_name: &str) -> Result<String, SessionError> {
        let json = serde_json::to_vec(self).map_err(|_| SessionError::Payload)?;
        Ok(codec.seal(cookie_name, &json)?)
    }

    pub fn open(
        codec: &CookieCodec,
        cookie_name: &str,
        value: &str,
    ) -> Result<Session, SessionError> {
        let json = codec.open(cookie_name, value)?;
        serde_json::from_slice(&json).map_err(|_| SessionError::Payload)
    }

    pub fn freshness(&self, now: u64) -> Freshness {
        if now >= self.ends_at {
            Freshness::Expired
        } else if now < self.expires_at {
            Freshness::Valid
        } else if self.refresh_token.is_some() {
            Freshness::NeedsRefresh
        } else {
            Freshness::Expired
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub fn sample() -> Session {
        Session {
            sub: "CiQwOGE4".into(),
            email: "admin@example.com".into(),
            name: "admin".into(),
            preferred_username: "admin".into(),
            groups: vec!["admins".into()],
            issued_at: 1000,
            expires_at: 2000,
            ends_at: 5000,
            refresh_token: Some("rt-secret".into()),
            access_token: None,
        }
    }

    #[test]
    fn seal_open_round_trip() {
        let codec = CookieCodec::new(&[vec![7u8; 32]]).unwrap();
        let s = sample();
        let v = s.seal(&codec, "_gh").unwrap();
        assert_eq!(Session::open(&codec, "_gh", &v).unwrap(), s);
        assert!(Session::open(&codec, "_other", &v).is_err());
    }

    #[test]
    fn freshness_follows_clock() {
        let mut s = sample();
        assert_eq!(s.freshness(1500), Freshness::Valid);
        assert_eq!(s.freshness(2000), Freshness::NeedsRefresh);
        assert_eq!(s.freshness(5000), Freshness::Expired);
        s.refresh_token = None;
        assert_eq!(s.freshness(2000), Freshness::Expired);
    }

    #[test]
    fn debug_hides_tokens() {
        assert!(!format!("{:?}", sample()).contains("rt-secret"));
    }
}
