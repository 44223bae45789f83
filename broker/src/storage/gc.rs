//! Periodic deletion of expired rows.

use std::sync::Arc;
use std::time::Duration;

use super::{now, Storage};

/// Deletes expired rows every `every` until `shutdown` fires.
pub fn spawn_garbage_collector(
    storage: Arc<dyn Storage>,
    every: Duration,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(every);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = ticker.tick() => {}
                _ = shutdown.changed() => return,
            }
            match storage.delete_expired(now()).await {
                Ok(stats) => tracing::debug!(?stats, "garbage-collected expired rows"),
                Err(e) => tracing::warn!(error = %e, "garbage collection failed"),
            }
            match storage.delete_expired_sessions(now()).await {
                Ok(n) => tracing::debug!(sessions = n, "garbage-collected sessions"),
                Err(e) => tracing::warn!(error = %e, "session garbage collection failed"),
            }
            if let Err(e) = storage.delete_expired_device_requests(now()).await {
                tracing::warn!(error = %e, "garbage collection of device requests failed");
            }
        }
    })
}
