//! A token response becomes a session, and a session its cookie: shared by the callback and
//! refresh flows; the identity of verified claims is shared with the bearer flow too.

use crate::headers::identity;
use crate::provider::Provider;
use crate::session;
use crate::session::Session;
use crate::token::exchange::{self, ExchangeError};
use crate::token::id_token::{self, Expect, IdClaims, TokenError};

use super::Engine;

/// The identity a verified token names; `ends_at` defaults to the token's expiry. An
/// unverified address is not part of it unless `allow_unverified_email`.
pub(super) fn identity_from_claims(
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
        sid: claims.sid.unwrap_or_default(),
    }
}

impl Engine {
    /// Validates a token response into a session. `previous` is the session being refreshed.
    pub(super) fn session_from_tokens(
        &self,
        status: Option<u32>,
        body: &[u8],
        provider: Option<&Provider>,
        nonce: Option<&str>,
        now: u64,
        previous: Option<&Session>,
    ) -> Result<Session, String> {
        let tokens = exchange::parse_response(status, body).map_err(|e| match e {
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
        let validated = id_token::validate(&tokens.id_token, &provider.keys.borrow(), &expect);
        let claims: IdClaims = validated.map_err(|e: TokenError| {
            // A key rotated in since the last JWKS fetch: ask the root context for it.
            if matches!(e, TokenError::UnknownKey(_)) {
                provider.wants_keys.set(true);
            }
            format!("ID token refused: {e}")
        })?;
        if let Some(prev) = previous {
            // A refresh must not switch users, nor sessions.
            if prev.sub != claims.sub {
                return Err("refreshed ID token names another subject".into());
            }
            if !prev.sid.is_empty() && claims.sid.as_deref().is_some_and(|s| s != prev.sid) {
                return Err("refreshed ID token names another session".into());
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

    pub(super) fn session_cookie(
        &self,
        session: &Session,
        now: u64,
        present: &[String],
    ) -> Result<Vec<String>, String> {
        let name = &self.settings.cookie.name;
        let value = session.seal(&self.codec, name).map_err(|e| e.to_string())?;
        if value.len() > session::cookies::CHUNK * session::cookies::MAX_CHUNKS {
            return Err(format!(
                "session is {} bytes, above the {}-byte limit",
                value.len(),
                session::cookies::CHUNK * session::cookies::MAX_CHUNKS
            ));
        }
        let max_age = session.ends_at.saturating_sub(now);
        Ok(session::cookies::write(
            &self.settings.cookie,
            name,
            &value,
            max_age,
            present,
        ))
    }
}
