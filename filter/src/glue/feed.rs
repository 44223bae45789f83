//! The root context's part of the revocation feed (issue 17): on its tick, adopt a fresh feed
//! another worker published in shared data, or fetch the next one from the broker; on the
//! answer, verify and merge it, hand it to the engine and publish it. Calls go out from the
//! tick only (Kong crashes the worker on a dispatch from a call's answer).

use proxy_wasm::traits::Context;

use super::dispatch;
use crate::engine::Engine;
use crate::provider::share::ProviderShare;
use crate::provider::Provider;
use crate::revocation::feed::{call_path, verify, FeedError};
use crate::revocation::fetch::FeedFetch;
use crate::revocation::held::HeldFeed;
use crate::token::exchange::BrokerCall;
use crate::token::id_token::TokenError;

pub(super) struct FeedPoll {
    fetch: FeedFetch,
    /// `None` when shared data is off: each worker then polls on its own.
    share: Option<ProviderShare>,
}

/// `fetched_at "." feed-json`, inside the MAC.
fn shared_bytes(fetched_at: u64, feed: &HeldFeed) -> Option<Vec<u8>> {
    let mut out = format!("{fetched_at}.").into_bytes();
    out.extend(feed.to_json()?);
    Some(out)
}

fn from_shared(bytes: &[u8]) -> Option<(u64, HeldFeed)> {
    let dot = bytes.iter().position(|b| *b == b'.')?;
    let fetched_at = std::str::from_utf8(&bytes[..dot]).ok()?.parse().ok()?;
    Some((fetched_at, HeldFeed::from_json(&bytes[dot + 1..])?))
}

impl FeedPoll {
    pub(super) fn new(engine: &Engine) -> FeedPoll {
        let s = &engine.settings;
        let share = ProviderShare::for_kind(&s.cookie_secrets, &s.issuer, "revocations.v1").ok();
        FeedPoll {
            fetch: FeedFetch::new(s.revocation.poll_s, s.broker_timeout_ms),
            share,
        }
    }

    /// On every tick, once the provider is known.
    pub(super) fn tick(
        &mut self,
        ctx: &dyn Context,
        engine: &Engine,
        provider: &Provider,
        now: u64,
    ) {
        let Some(path) = &provider.endpoints.revocation_feed else {
            return;
        };
        if !self.fetch.due(now) || self.adopt_shared(ctx, engine, now) {
            return;
        }
        let held = engine.feed().map(|h| (h.epoch, h.seq));
        let call = BrokerCall {
            method: "GET",
            path: call_path(path, held),
            headers: vec![("accept", "application/jwt".into())],
            body: vec![],
        };
        match dispatch(ctx, engine, &call) {
            Ok(token) => self.fetch.sent(token, now),
            Err(e) => {
                log::warn!("gatehouse: revocation feed fetch failed: {e}");
                self.fetch.failed(now);
            }
        }
    }

    /// A feed another worker fetched within the period: adopted if newer than ours, and either
    /// way no fetch of our own now.
    fn adopt_shared(&mut self, ctx: &dyn Context, engine: &Engine, now: u64) -> bool {
        let Some(share) = &self.share else {
            return false;
        };
        let (Some(bytes), _) = ctx.get_shared_data(share.key()) else {
            return false;
        };
        let Some((fetched_at, theirs)) = share.open_bytes(&bytes).ok().and_then(from_shared) else {
            log::warn!("gatehouse: ignoring a shared revocation record that does not verify");
            return false;
        };
        if now >= fetched_at.saturating_add(engine.settings.revocation.poll_s) {
            return false;
        }
        let newer = engine.feed().is_none_or(|ours| {
            theirs.iat > ours.iat && (theirs.epoch != ours.epoch || theirs.seq >= ours.seq)
        });
        if newer {
            engine.set_feed(theirs);
        }
        self.fetch.adopted(fetched_at);
        true
    }

    /// Whether `token` was the feed call; if so its answer (`status`, `body`) is dealt with.
    pub(super) fn answer(
        &mut self,
        ctx: &dyn Context,
        engine: &Engine,
        provider: Option<&Provider>,
        (token, status, body): (u32, Option<u32>, &[u8]),
        now: u64,
    ) -> bool {
        if !self.fetch.waits_for(token) {
            return false;
        }
        let merged = match (status, provider) {
            (Some(200), Some(p)) => verify(body, &p.keys.borrow(), &engine.settings.issuer, now)
                .and_then(|doc| HeldFeed::apply(engine.feed().as_ref(), doc))
                .inspect_err(|e| {
                    // Signed by a key rotated in since the last JWKS fetch: refetch it.
                    if matches!(e, FeedError::Token(TokenError::UnknownKey(_))) {
                        p.wants_keys.set(true);
                    }
                })
                .map_err(|e| e.to_string()),
            (s, _) => Err(format!("the broker answered {s:?}")),
        };
        self.fetch.answered(token, merged.is_ok(), now);
        match merged {
            Ok(feed) => {
                self.publish(ctx, now, &feed);
                engine.set_feed(feed);
            }
            Err(e) => log::warn!("gatehouse: revocation feed not taken: {e}"),
        }
        true
    }

    fn publish(&self, ctx: &dyn Context, now: u64, feed: &HeldFeed) {
        let Some(share) = &self.share else {
            return;
        };
        let Some(sealed) = shared_bytes(now, feed).and_then(|b| share.seal_bytes(&b)) else {
            return;
        };
        // Write with the CAS just read: Kong refuses a CAS-less overwrite of an existing key.
        let (_, cas) = ctx.get_shared_data(share.key());
        if let Err(e) = ctx.set_shared_data(share.key(), Some(&sealed), cas) {
            log::debug!("gatehouse: shared data unavailable ({e:?}); the feed stays per worker");
        }
    }
}
