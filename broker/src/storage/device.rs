//! Device authorization requests (RFC 8628): what a device's `/device/code` started, until the
//! user decides on it in a browser and the device collects the result by polling. The polling
//! rules live here, once, as a pure step both backends apply inside their own atomic section.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::{Identity, PkceChallenge, Result, UnixTime};

/// RFC 8628 §3.5: each `slow_down` adds five seconds to the interval the device must keep.
pub const SLOW_DOWN_STEP_SECS: i64 = 5;

/// One device authorization, keyed by the SHA-256 of its device code; the user code is also
/// stored only hashed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceRequest {
    pub device_code_hash: String,
    pub user_code_hash: String,
    pub client_id: String,
    pub scopes: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pkce: Option<PkceChallenge>,
    pub expires_at: UnixTime,
    /// Seconds the device must wait between polls (grows with each `slow_down`).
    pub interval_secs: i64,
    /// When the device last polled (or the request was made), in milliseconds.
    pub last_poll_ms: i64,
    pub decision: DeviceDecision,
}

/// What the user said in the browser.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum DeviceDecision {
    Pending,
    Approved {
        connector_id: String,
        identity: Identity,
    },
    Denied,
}

/// What a poll with a device code found.
#[derive(Debug)]
pub enum DevicePoll {
    /// Never issued, already collected, garbage-collected, or another client's.
    Unknown,
    Expired,
    /// Not decided yet, and the device waited long enough.
    Pending,
    /// Not decided yet, and the device polled too soon: its interval grew.
    SlowDown,
    /// The user refused; the request is gone now.
    Denied,
    /// The user approved; the request is gone now (a device code is collected once).
    Approved(Box<DeviceRequest>),
}

/// How a poll changes the stored request.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum PollChange {
    None,
    Delete,
    /// New `last_poll_ms` and `interval_secs`.
    Touch(i64, i64),
}

/// The polling rules on one stored request: decisions are handed out at once and end the
/// request; a pending one remembers the poll, and a too-early one also slows the device down.
pub(super) fn poll_step(
    request: &DeviceRequest,
    client_id: &str,
    now_ms: i64,
) -> (DevicePoll, PollChange) {
    if request.client_id != client_id {
        return (DevicePoll::Unknown, PollChange::None);
    }
    if request.expires_at.saturating_mul(1000) <= now_ms {
        return (DevicePoll::Expired, PollChange::None);
    }
    match &request.decision {
        DeviceDecision::Approved { .. } => (
            DevicePoll::Approved(Box::new(request.clone())),
            PollChange::Delete,
        ),
        DeviceDecision::Denied => (DevicePoll::Denied, PollChange::Delete),
        DeviceDecision::Pending => {
            let due = request
                .last_poll_ms
                .saturating_add(request.interval_secs.saturating_mul(1000));
            if now_ms < due {
                let interval = request.interval_secs.saturating_add(SLOW_DOWN_STEP_SECS);
                (DevicePoll::SlowDown, PollChange::Touch(now_ms, interval))
            } else {
                (
                    DevicePoll::Pending,
                    PollChange::Touch(now_ms, request.interval_secs),
                )
            }
        }
    }
}

#[async_trait]
pub trait DeviceRequests {
    /// Stores a new request; [`super::StorageError::AlreadyExists`] when either code is taken.
    async fn create_device_request(&self, request: &DeviceRequest) -> Result<()>;
    /// The live, still pending request a user code names.
    async fn pending_device_request(
        &self,
        user_code_hash: &str,
        now: UnixTime,
    ) -> Result<Option<DeviceRequest>>;
    /// Records the user's decision, once: false when the request is gone, expired or decided.
    async fn decide_device_request(
        &self,
        device_code_hash: &str,
        decision: &DeviceDecision,
        now: UnixTime,
    ) -> Result<bool>;
    /// One poll by `client_id`, atomically (see [`DevicePoll`]).
    async fn poll_device_request(
        &self,
        device_code_hash: &str,
        client_id: &str,
        now_ms: i64,
    ) -> Result<DevicePoll>;
    /// Deletes expired requests; returns how many.
    async fn delete_expired_device_requests(&self, now: UnixTime) -> Result<u64>;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pending() -> DeviceRequest {
        DeviceRequest {
            device_code_hash: "d".into(),
            user_code_hash: "u".into(),
            client_id: "c".into(),
            scopes: vec!["openid".into()],
            pkce: None,
            expires_at: 100,
            interval_secs: 5,
            last_poll_ms: 10_000,
            decision: DeviceDecision::Pending,
        }
    }

    #[test]
    fn polling_too_soon_slows_down_and_on_time_stays_pending() {
        let r = pending();
        let (poll, change) = poll_step(&r, "c", 14_999);
        assert!(matches!(poll, DevicePoll::SlowDown));
        assert_eq!(change, PollChange::Touch(14_999, 10));
        let (poll, change) = poll_step(&r, "c", 15_000);
        assert!(matches!(poll, DevicePoll::Pending));
        assert_eq!(change, PollChange::Touch(15_000, 5));
    }

    #[test]
    fn other_clients_expired_and_decided_requests() {
        let r = pending();
        assert!(matches!(
            poll_step(&r, "other", 20_000),
            (DevicePoll::Unknown, PollChange::None)
        ));
        assert!(matches!(
            poll_step(&r, "c", 100_000),
            (DevicePoll::Expired, PollChange::None)
        ));
        let denied = DeviceRequest {
            decision: DeviceDecision::Denied,
            ..pending()
        };
        // A decision is handed out even to an early poll: it ends the request anyway.
        assert!(matches!(
            poll_step(&denied, "c", 10_001),
            (DevicePoll::Denied, PollChange::Delete)
        ));
    }
}
