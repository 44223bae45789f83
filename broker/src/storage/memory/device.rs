//! [`DeviceRequests`] in memory: each operation is one step under the storage lock.

use async_trait::async_trait;
use subtle::ConstantTimeEq;

use super::MemoryStorage;
use crate::storage::device::{
    poll_step, DeviceDecision, DevicePoll, DeviceRequest, DeviceRequests, PollChange,
};
use crate::storage::{Result, StorageError, UnixTime};

#[async_trait]
impl DeviceRequests for MemoryStorage {
    async fn create_device_request(&self, request: &DeviceRequest) -> Result<()> {
        let mut s = self.lock();
        let taken = s.device_requests.contains_key(&request.device_code_hash)
            || s.device_requests
                .values()
                .any(|r| r.user_code_hash == request.user_code_hash);
        if taken {
            return Err(StorageError::AlreadyExists);
        }
        s.device_requests
            .insert(request.device_code_hash.clone(), request.clone());
        Ok(())
    }

    async fn pending_device_request(
        &self,
        user_code_hash: &str,
        now: UnixTime,
    ) -> Result<Option<DeviceRequest>> {
        let s = self.lock();
        Ok(s.device_requests
            .values()
            .find(|r| bool::from(r.user_code_hash.as_bytes().ct_eq(user_code_hash.as_bytes())))
            .filter(|r| r.expires_at > now && r.decision == DeviceDecision::Pending)
            .cloned())
    }

    async fn decide_device_request(
        &self,
        device_code_hash: &str,
        decision: &DeviceDecision,
        now: UnixTime,
    ) -> Result<bool> {
        let mut s = self.lock();
        match s.device_requests.get_mut(device_code_hash) {
            Some(r) if r.expires_at > now && r.decision == DeviceDecision::Pending => {
                r.decision = decision.clone();
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn poll_device_request(
        &self,
        device_code_hash: &str,
        client_id: &str,
        now_ms: i64,
    ) -> Result<DevicePoll> {
        let mut s = self.lock();
        let Some(request) = s.device_requests.get_mut(device_code_hash) else {
            return Ok(DevicePoll::Unknown);
        };
        let (poll, change) = poll_step(request, client_id, now_ms);
        match change {
            PollChange::None => {}
            PollChange::Touch(at, interval) => {
                request.last_poll_ms = at;
                request.interval_secs = interval;
            }
            PollChange::Delete => {
                s.device_requests.remove(device_code_hash);
            }
        }
        Ok(poll)
    }

    async fn delete_expired_device_requests(&self, now: UnixTime) -> Result<u64> {
        let mut s = self.lock();
        let n = s.device_requests.len();
        s.device_requests.retain(|_, r| r.expires_at > now);
        Ok((n - s.device_requests.len()) as u64)
    }
}
