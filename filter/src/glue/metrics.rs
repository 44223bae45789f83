//! Counters exported through the host (Envoy shows them in `/stats` as
//! `wasmcustom.gatehouse_*`). Defining a metric can fail on a host without metrics; the
//! filter then simply does not count.

use proxy_wasm::hostcalls::{define_metric, increment_metric, record_metric};
use proxy_wasm::types::MetricType;

use crate::engine::Event;

#[derive(Clone, Copy)]
pub enum Metric {
    LoginsStarted,
    LoginsCompleted,
    LoginsFailed,
    InvalidCookies,
    Denied,
    Refreshes,
    RefreshFailures,
    SignOuts,
    Unavailable,
    BrokerCallFailures,
    BearerRejected,
    KeysRefetched,
    Refused,
}

const NAMES: [&str; 13] = [
    "gatehouse_logins_started",
    "gatehouse_logins_completed",
    "gatehouse_logins_failed",
    "gatehouse_invalid_cookies",
    "gatehouse_denied",
    "gatehouse_refreshes",
    "gatehouse_refresh_failures",
    "gatehouse_sign_outs",
    "gatehouse_unavailable",
    "gatehouse_broker_call_failures",
    "gatehouse_bearer_rejected",
    "gatehouse_keys_refetched",
    "gatehouse_refused_requests",
];

pub struct Metrics {
    ids: [Option<u32>; NAMES.len()],
    /// Gauges of the revocation feed held (issue 17): its age in seconds, its entries.
    feed_age: Option<u32>,
    feed_entries: Option<u32>,
}

impl Metrics {
    pub fn define() -> Metrics {
        let mut ids = [None; NAMES.len()];
        for (id, name) in ids.iter_mut().zip(NAMES) {
            *id = define_metric(MetricType::Counter, name).ok();
        }
        let gauge = |name| define_metric(MetricType::Gauge, name).ok();
        Metrics {
            ids,
            feed_age: gauge("gatehouse_revocation_feed_age_s"),
            feed_entries: gauge("gatehouse_revocation_feed_entries"),
        }
    }

    /// The feed this worker holds: seconds since the broker issued it, and its entries.
    pub fn feed(&self, age_s: u64, entries: usize) {
        if let Some(id) = self.feed_age {
            let _ = record_metric(id, age_s);
        }
        if let Some(id) = self.feed_entries {
            let _ = record_metric(id, entries as u64);
        }
    }

    pub fn inc(&self, m: Metric) {
        if let Some(id) = self.ids[m as usize] {
            let _ = increment_metric(id, 1);
        }
    }

    /// Counts what an engine event says happened.
    pub fn record(&self, ev: &Event) {
        let m = match ev {
            Event::None => return,
            Event::LoginStarted => Metric::LoginsStarted,
            Event::LoginCompleted => Metric::LoginsCompleted,
            Event::LoginFailed(_) => Metric::LoginsFailed,
            Event::InvalidCookie(_) => Metric::InvalidCookies,
            Event::Denied => Metric::Denied,
            Event::Refreshed => Metric::Refreshes,
            Event::RefreshFailed(_) => Metric::RefreshFailures,
            Event::SignOutIncomplete(_) => Metric::BrokerCallFailures,
            Event::SignedOut => Metric::SignOuts,
            Event::NoProvider | Event::FeedStale => Metric::Unavailable,
            Event::BearerRejected(_) => Metric::BearerRejected,
            Event::KeysRefetched => Metric::KeysRefetched,
            Event::Refused(_) => Metric::Refused,
        };
        self.inc(m);
    }
}
