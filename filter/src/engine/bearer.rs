//! Bearer flow: a request carrying `Authorization: Bearer <JWT>` from the broker (with
//! `skip_jwt_bearer_tokens`) is admitted on the token's identity instead of a session; an
//! unknown `kid` refetches the JWKS once before the token is refused.

use std::rc::Rc;

use crate::pages::Problem;
use crate::provider::{KeySet, Provider};
use crate::session::cache::Opened;
use crate::token::exchange::BrokerCall;
use crate::token::id_token::{self, Expect, TokenError};

use super::revoked::Stale;
use super::tokens::identity_from_claims;
use super::{Engine, Event, Outcome, Pending, Reply, RuleRef};

/// The token of an `Authorization: Bearer` header when it has the shape of a JWT.
pub(super) fn bearer_jwt(header: &str) -> Option<&str> {
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
    pub(super) token: String,
    pub(super) api: bool,
    pub(super) rule: RuleRef,
    pub(super) cookie: Option<Option<String>>,
}

impl Engine {
    /// The identity of a bearer JWT from the broker (cached once verified).
    fn verify_bearer(
        &self,
        token: &str,
        provider: &Provider,
        now: u64,
    ) -> Result<Rc<Opened>, TokenError> {
        if let Some(identity) = self.bearer_cache.borrow().get(token, now) {
            return Ok(identity);
        }
        let expect = Expect {
            issuer: &self.settings.issuer,
            audiences: &self.settings.jwt_bearer_audiences,
            nonce: None,
            now,
        };
        let claims = id_token::validate(token, &provider.keys.borrow(), &expect)?;
        let identity = Rc::new(Opened::new(identity_from_claims(
            claims,
            now,
            None,
            None,
            self.settings.allow_unverified_email,
        )));
        self.bearer_cache
            .borrow_mut()
            .insert(token, identity.clone(), now);
        Ok(identity)
    }

    /// Admits a request carrying a bearer JWT from the broker, refuses it with 401, or (an
    /// unknown `kid`, at most every KEY_REFETCH_S) refetches the JWKS first. The token is
    /// verified (or found in the cache) once, and copied only when the request must wait.
    pub(super) fn bearer(
        &self,
        token: &str,
        (api, rule, cookie): (bool, RuleRef, Option<Option<String>>),
        provider: &Provider,
        now: u64,
    ) -> (Outcome, Event) {
        let verified = self.verify_bearer(token, provider, now);
        if matches!(verified, Err(TokenError::UnknownKey(_)))
            && now >= provider.last_key_fetch.get() + KEY_REFETCH_S
        {
            provider.last_key_fetch.set(now);
            let call = BrokerCall {
                method: "GET",
                path: provider.endpoints.jwks_path.clone(),
                headers: vec![("accept", "application/json".to_string())],
                body: Vec::new(),
            };
            let wait = KeysWait {
                token: token.to_string(),
                api,
                rule,
                cookie,
            };
            return (
                Outcome::Call {
                    call,
                    pending: Box::new(Pending::Keys(wait)),
                },
                Event::None,
            );
        }
        let (reply, event) = self.bearer_decided(verified, (api, rule, cookie), provider, now);
        (reply.into(), event)
    }

    /// The JWKS refetch answered: keep the fresh keys if it brought any, then decide.
    pub(super) fn keys_fetched(
        &self,
        wait: KeysWait,
        status: Option<u32>,
        body: &[u8],
        provider: Option<&Provider>,
        now: u64,
    ) -> (Reply, Event) {
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

    /// Admits or refuses a bearer JWT with the keys at hand (no further refetch).
    fn bearer_settled(&self, wait: KeysWait, provider: &Provider, now: u64) -> (Reply, Event) {
        let verified = self.verify_bearer(&wait.token, provider, now);
        self.bearer_decided(verified, (wait.api, wait.rule, wait.cookie), provider, now)
    }

    /// A verified token of a session the broker has ended (sign-out, revocation, an admin's
    /// end) is refused like one that does not verify, as a session cookie would be; a token
    /// without a session (`client_credentials`, token exchange: no `sid`) has nothing to end.
    fn bearer_decided(
        &self,
        verified: Result<Rc<Opened>, TokenError>,
        (api, rule, cookie): (bool, RuleRef, Option<Option<String>>),
        provider: &Provider,
        now: u64,
    ) -> (Reply, Event) {
        let identity = match verified {
            Ok(identity) if identity.sid.is_empty() => identity,
            Ok(identity) => match self.screen_revoked(Some(Ok(identity)), provider, now) {
                Ok(Some(Ok(identity))) => identity,
                Ok(_) => {
                    return (
                        Reply::Respond(Problem::InvalidToken.response(true, self.realm())),
                        Event::BearerRejected("its session has ended at the broker".into()),
                    )
                }
                Err(Stale) => {
                    return (
                        Reply::Respond(Problem::Unavailable.response(api, self.realm())),
                        Event::FeedStale,
                    )
                }
            },
            Err(e) => {
                return (
                    Reply::Respond(Problem::InvalidToken.response(true, self.realm())),
                    Event::BearerRejected(e.to_string()),
                )
            }
        };
        let rule = self.rule_by_ref(rule);
        self.admit(&identity, rule, api, cookie, Vec::new())
    }
}
