//! The root context: loads the configuration once, keeps the broker's discovery document
//! and keys fresh from `on_tick` (or adopts another worker's from shared data), and makes
//! one HTTP context per request.

use std::rc::Rc;

use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::ContextType;

use super::feed::FeedPoll;
use super::http::Http;
use super::metrics::{Metric, Metrics};
use super::{call_status, dispatch, now_s, SharedPathSource, SharedProvider, TICK};
use crate::config::Settings;
use crate::engine::{Engine, KEY_REFETCH_S};
use crate::provider::fetch::{Answered, Due, ProviderFetch};
use crate::provider::share::{ProviderShare, SharedDocs};
use crate::provider::{parse_discovery, Provider};
use crate::revocation;
use crate::token::exchange::BrokerCall;

#[derive(Default)]
pub(super) struct Root {
    engine: Option<Rc<Engine>>,
    metrics: Option<Rc<Metrics>>,
    provider: SharedProvider,
    /// Advanced only from `on_tick`: calls are never sent from a call's answer.
    fetch: Option<ProviderFetch>,
    share: Option<ProviderShare>,
    /// Fetch time of the provider we hold (ours or adopted from shared data).
    fetched_at: u64,
    tick_set: bool,
    path_source: SharedPathSource,
    /// The revocation feed's poll (issue 17).
    feed: Option<FeedPoll>,
}

impl Root {
    fn use_provider(&mut self, p: Provider, fetched_at: u64) {
        if self.provider.borrow().is_none() {
            log::info!(
                "gatehouse: broker keys loaded ({} keys); serving",
                p.keys.borrow().len()
            );
        }
        *self.provider.borrow_mut() = Some(Rc::new(p));
        self.fetched_at = fetched_at;
        if let Some(f) = &mut self.fetch {
            f.loaded(fetched_at);
        }
    }

    /// Adopts a fresher provider another VM fetched, if its record is authentic; true when
    /// ours is now fresh.
    fn adopt_shared(&mut self, engine: &Engine, now: u64) -> bool {
        let Some(share) = &self.share else {
            return false;
        };
        let (Some(bytes), _) = self.get_shared_data(share.key()) else {
            return false;
        };
        let docs = match share.open(&bytes) {
            Ok(d) => d,
            Err(e) => {
                log::warn!("gatehouse: ignoring shared provider record: {e}");
                return false;
            }
        };
        if docs.fetched_at <= self.fetched_at
            || now
                >= docs
                    .fetched_at
                    .saturating_add(engine.settings.jwks_refresh_s)
        {
            return false;
        }
        match Provider::from_documents(
            docs.discovery.as_bytes(),
            docs.jwks.as_bytes(),
            &engine.settings.issuer,
            docs.fetched_at,
        ) {
            Ok(p) => {
                self.use_provider(p, docs.fetched_at);
                true
            }
            Err(_) => false,
        }
    }

    fn publish_shared(&self, discovery: &[u8], jwks: &[u8], now: u64) {
        let Some(share) = &self.share else {
            return;
        };
        let docs = SharedDocs {
            fetched_at: now,
            discovery: String::from_utf8_lossy(discovery).into_owned(),
            jwks: String::from_utf8_lossy(jwks).into_owned(),
        };
        let Some(bytes) = share.seal(&docs) else {
            return;
        };
        // Write with the CAS just read: Kong refuses a CAS-less overwrite of an existing key.
        let (_, cas) = self.get_shared_data(share.key());
        if let Err(e) = self.set_shared_data(share.key(), Some(&bytes), cas) {
            log::debug!("gatehouse: shared data unavailable ({e:?}); keys stay per worker");
        }
    }

    fn fetch_failed(&mut self, why: &str, now: u64) {
        log::warn!("gatehouse: broker discovery/JWKS fetch failed: {why}; retrying");
        if let Some(m) = &self.metrics {
            m.inc(Metric::BrokerCallFailures);
        }
        if let Some(f) = &mut self.fetch {
            f.failed(now);
        }
    }

    /// Sends the call a tick found due; the only place the root context dispatches.
    fn send(&mut self, engine: &Engine, path: String, now: u64) {
        let call = BrokerCall {
            method: "GET",
            path,
            headers: vec![("accept", "application/json".into())],
            body: vec![],
        };
        match dispatch(self, engine, &call) {
            Ok(token) => {
                if let Some(f) = &mut self.fetch {
                    f.sent(token, now);
                }
            }
            Err(e) => self.fetch_failed(&e, now),
        }
    }
}

impl Context for Root {
    /// Records the answer; never dispatches (the next call goes out from `on_tick`).
    fn on_http_call_response(&mut self, token_id: u32, _: usize, body_size: usize, _: usize) {
        let Some(engine) = self.engine.clone() else {
            return;
        };
        let now = now_s(self);
        let status = call_status(&self.get_http_call_response_headers());
        let body = self
            .get_http_call_response_body(0, body_size)
            .unwrap_or_default();
        if let Some(mut feed) = self.feed.take() {
            let provider = self.provider.borrow().clone();
            let ours = feed.answer(
                self,
                &engine,
                provider.as_deref(),
                (token_id, status, &body),
                now,
            );
            self.feed = Some(feed);
            if ours {
                return;
            }
        }
        let Some(fetch) = &mut self.fetch else {
            return;
        };
        let issuer = &engine.settings.issuer;
        let answered = fetch.answer(token_id, status, body, now, |d| {
            parse_discovery(d, issuer)
                .map(|e| e.jwks_path)
                .map_err(|e| e.to_string())
        });
        match answered {
            Answered::NotOurs | Answered::JwksNext => {}
            Answered::Failed(why) => self.fetch_failed(&why, now),
            Answered::Documents { discovery, jwks } => {
                match Provider::from_documents(&discovery, &jwks, issuer, now) {
                    Ok(p) => {
                        self.use_provider(p, now);
                        self.publish_shared(&discovery, &jwks, now);
                    }
                    Err(e) => self.fetch_failed(&e.to_string(), now),
                }
            }
        }
    }
}

impl RootContext for Root {
    fn on_configure(&mut self, _: usize) -> bool {
        let bytes = self.get_plugin_configuration().unwrap_or_default();
        let settings = match Settings::from_json(&bytes) {
            Ok(s) => s,
            Err(e) => {
                log::error!("gatehouse: refusing to start: {e}");
                return false;
            }
        };
        let engine = match Engine::new(settings) {
            Ok(e) => e,
            Err(e) => {
                log::error!("gatehouse: refusing to start: {e}");
                return false;
            }
        };
        log::info!(
            "gatehouse: configured for issuer {}",
            engine.settings.issuer
        );
        self.share =
            match ProviderShare::new(&engine.settings.cookie_secrets, &engine.settings.issuer) {
                Ok(s) => Some(s),
                Err(e) => {
                    log::warn!("gatehouse: shared data off: {e}; keys stay per worker");
                    None
                }
            };
        self.fetch = Some(ProviderFetch::new(
            engine.settings.jwks_refresh_s,
            engine.settings.broker_timeout_ms,
        ));
        self.fetched_at = 0;
        self.feed = Some(FeedPoll::new(&engine));
        self.engine = Some(Rc::new(engine));
        if self.metrics.is_none() {
            self.metrics = Some(Rc::new(Metrics::define()));
        }
        // Kong traps on a second set_tick_period call.
        if !self.tick_set {
            self.set_tick_period(TICK);
            self.tick_set = true;
        }
        true
    }

    fn on_tick(&mut self) {
        // Never panic here: Kong recreates the root context in a hot loop after a trap.
        let Some(engine) = self.engine.clone() else {
            return;
        };
        let now = now_s(self);
        engine.set_started(now);
        let provider = self.provider.borrow().clone();
        if let Some(p) = &provider {
            // A token named an unknown key where no call could go out: refetch (rate-limited).
            if p.wants_keys.replace(false) && now >= p.last_key_fetch.get() + KEY_REFETCH_S {
                p.last_key_fetch.set(now);
                if let Some(f) = &mut self.fetch {
                    f.refetch_now(now);
                }
            }
            if let Some(mut feed) = self.feed.take() {
                feed.tick(self, &engine, p, now);
                self.feed = Some(feed);
            }
            let held = engine.feed();
            if let (Some(m), Some(age)) = (&self.metrics, revocation::age(held.as_ref(), now)) {
                m.feed(age, held.as_ref().map_or(0, |h| h.len()));
            }
        }
        let due = match &mut self.fetch {
            Some(f) => f.due(now),
            None => return,
        };
        match due {
            Due::Nothing => {}
            Due::Discovery => {
                if !self.adopt_shared(&engine, now) {
                    self.send(&engine, engine.settings.discovery_path(), now);
                }
            }
            Due::Jwks(path) => self.send(&engine, path, now),
        }
    }

    fn create_http_context(&self, _: u32) -> Option<Box<dyn HttpContext>> {
        let engine = self.engine.clone()?;
        let metrics = self.metrics.clone()?;
        Some(Box::new(Http::new(
            engine,
            metrics,
            self.provider.clone(),
            self.path_source.clone(),
        )))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}
