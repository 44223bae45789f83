//! Session metrics (issue 17): sessions ended, by cause, and the size of the revocation feed.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CauseLabels {
    /// One of `EndCause::as_str`: a fixed set.
    cause: String,
}

pub struct SessionMetrics {
    ended: Family<CauseLabels, Counter>,
    feed_entries: Gauge,
    feed_bytes: Gauge,
}

impl SessionMetrics {
    pub fn register(registry: &mut Registry) -> SessionMetrics {
        let ended = Family::<CauseLabels, Counter>::default();
        registry.register(
            "sessions_ended",
            "Sign-in sessions ended, by cause (sign_out, revoked, admin, user_deleted)",
            ended.clone(),
        );
        let feed_entries = Gauge::default();
        registry.register(
            "revocation_feed_entries",
            "Ended sessions listed in the revocation feed (at its last full fetch)",
            feed_entries.clone(),
        );
        let feed_bytes = Gauge::default();
        registry.register(
            "revocation_feed_bytes",
            "Size of the last full revocation feed served, in bytes",
            feed_bytes.clone(),
        );
        SessionMetrics {
            ended,
            feed_entries,
            feed_bytes,
        }
    }

    pub fn ended(&self, cause: &'static str, n: u64) {
        self.ended
            .get_or_create(&CauseLabels {
                cause: cause.to_string(),
            })
            .inc_by(n);
    }

    /// A feed with every listed entry was served.
    pub fn full_feed(&self, entries: usize, bytes: usize) {
        self.feed_entries.set(entries as i64);
        self.feed_bytes.set(bytes as i64);
    }
}
