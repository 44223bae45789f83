//! In-process storage for tests and throwaway demos; everything is lost on exit.

mod device;
mod directory;
mod sessions;

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;
use subtle::ConstantTimeEq;

use super::throttle::{self, ThrottleRow};
use super::*;

/// How long a spent authorization code or refresh token is remembered, to detect replays.
pub(super) const SPENT_MEMORY_SECS: i64 = 24 * 3600;

#[derive(Default)]
pub(super) struct State {
    auth_requests: HashMap<String, AuthRequest>,
    auth_codes: HashMap<String, AuthCode>,
    /// code hash → when to forget it was redeemed.
    redeemed_codes: HashMap<String, UnixTime>,
    /// token id → (token, when it was spent by rotation).
    pub(super) refresh_tokens: HashMap<String, (RefreshToken, Option<UnixTime>)>,
    signing_keys: Vec<SigningKeyRecord>,
    signing_key_generation: i64,
    saml_requests: HashMap<String, SamlRequest>,
    /// assertion ID → when to forget it.
    saml_assertions: HashMap<String, UnixTime>,
    login_throttle: HashMap<String, throttle::ThrottleRow>,
    /// key → (end of the current window, events counted in it).
    rate_windows: HashMap<String, (UnixTime, i64)>,
    /// Users and clients created at run time (see `directory.rs`).
    directory: directory::DirectoryState,
    /// Sign-in sessions and the revocation feed (see `sessions.rs`).
    pub(super) sessions: sessions::SessionState,
    /// Device authorizations by device-code hash (see `device.rs`).
    pub(super) device_requests: HashMap<String, DeviceRequest>,
}

#[derive(Default)]
pub struct MemoryStorage {
    state: Mutex<State>,
}

impl MemoryStorage {
    pub fn new() -> Self {
        Self::default()
    }

    pub(super) fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave a half-written map (each operation is one
        // insert/remove), so recovering the guard is safe.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl State {
    /// One use of a refresh token (see [`Storage::use_refresh_token`]), under the lock.
    fn spend_refresh_token(
        &mut self,
        id: &str,
        secret_hash: &str,
        client_id: &str,
        policy: &RefreshPolicy,
        now: UnixTime,
    ) -> RefreshUse {
        let Some((token, spent)) = self.refresh_tokens.get_mut(id) else {
            return RefreshUse::Invalid;
        };
        let secret_ok: bool = token
            .secret_hash
            .as_bytes()
            .ct_eq(secret_hash.as_bytes())
            .into();
        if !secret_ok || token.client_id != client_id {
            return RefreshUse::Invalid;
        }
        if let Some(spent_at) = *spent {
            if now < spent_at.saturating_add(policy.reuse_interval_secs) {
                return RefreshUse::RecentlyRotated(Box::new(token.clone()));
            }
            let family = token.family.clone();
            self.refresh_tokens.retain(|_, (t, _)| t.family != family);
            return RefreshUse::Reused;
        }
        if token.expires_at <= now {
            self.refresh_tokens.remove(id);
            return RefreshUse::Expired;
        }
        let found = token.clone();
        if policy.rotate {
            *spent = Some(now);
            token.expires_at = token.expires_at.min(now + SPENT_MEMORY_SECS);
        } else {
            token.last_used = now;
            token.expires_at = policy.expires_at(token.created_at, now);
        }
        RefreshUse::Valid(Box::new(found))
    }
}

#[async_trait]
impl Storage for MemoryStorage {
    async fn ping(&self) -> Result<()> {
        drop(self.lock());
        Ok(())
    }

    async fn create_auth_request(&self, request: &AuthRequest) -> Result<()> {
        let mut s = self.lock();
        if s.auth_requests.contains_key(&request.id) {
            return Err(StorageError::AlreadyExists);
        }
        s.auth_requests.insert(request.id.clone(), request.clone());
        Ok(())
    }

    async fn get_auth_request(&self, id: &str, now: UnixTime) -> Result<Option<AuthRequest>> {
        Ok(self
            .lock()
            .auth_requests
            .get(id)
            .filter(|r| r.expires_at > now)
            .cloned())
    }

    async fn set_auth_request_identity(
        &self,
        id: &str,
        connector_id: &str,
        identity: &Identity,
        browser_binding: &str,
    ) -> Result<bool> {
        let mut s = self.lock();
        match s.auth_requests.get_mut(id) {
            Some(r) if r.identity.is_none() => {
                r.connector_id = Some(connector_id.to_string());
                r.identity = Some(identity.clone());
                r.browser_binding = Some(browser_binding.to_string());
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn set_auth_request_upstream(&self, id: &str, upstream: &UpstreamLogin) -> Result<bool> {
        let mut s = self.lock();
        match s.auth_requests.get_mut(id) {
            Some(r) if r.identity.is_none() => {
                r.upstream = Some(upstream.clone());
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn take_auth_request(&self, id: &str, now: UnixTime) -> Result<Option<AuthRequest>> {
        Ok(self
            .lock()
            .auth_requests
            .remove(id)
            .filter(|r| r.expires_at > now))
    }

    async fn create_auth_code(&self, code: &AuthCode) -> Result<()> {
        let mut s = self.lock();
        if s.auth_codes.contains_key(&code.code_hash) {
            return Err(StorageError::AlreadyExists);
        }
        s.auth_codes.insert(code.code_hash.clone(), code.clone());
        Ok(())
    }

    async fn redeem_auth_code(&self, code_hash: &str, now: UnixTime) -> Result<CodeRedemption> {
        let mut s = self.lock();
        if let Some(code) = s.auth_codes.remove(code_hash) {
            if code.expires_at <= now {
                return Ok(CodeRedemption::Expired);
            }
            s.redeemed_codes
                .insert(code_hash.to_string(), now + SPENT_MEMORY_SECS);
            return Ok(CodeRedemption::Redeemed(Box::new(code)));
        }
        if s.redeemed_codes.contains_key(code_hash) {
            return Ok(CodeRedemption::Replayed);
        }
        Ok(CodeRedemption::Unknown)
    }

    async fn create_refresh_token(&self, token: &RefreshToken) -> Result<()> {
        let mut s = self.lock();
        if s.refresh_tokens.contains_key(&token.id) {
            return Err(StorageError::AlreadyExists);
        }
        s.refresh_tokens
            .insert(token.id.clone(), (token.clone(), None));
        Ok(())
    }

    async fn use_refresh_token(
        &self,
        id: &str,
        secret_hash: &str,
        client_id: &str,
        policy: &RefreshPolicy,
        now: UnixTime,
    ) -> Result<RefreshUse> {
        Ok(self
            .lock()
            .spend_refresh_token(id, secret_hash, client_id, policy, now))
    }

    async fn rotate_refresh_token(
        &self,
        id: &str,
        secret_hash: &str,
        client_id: &str,
        policy: &RefreshPolicy,
        now: UnixTime,
        successor: &RefreshToken,
    ) -> Result<RefreshUse> {
        let mut s = self.lock();
        if let Some(sid) = &successor.sid {
            if !s.sessions.is_live(sid) {
                return Ok(RefreshUse::Invalid);
            }
        }
        if s.refresh_tokens.contains_key(&successor.id) {
            return Err(StorageError::AlreadyExists);
        }
        let rotating = RefreshPolicy {
            rotate: true,
            ..*policy
        };
        let used = s.spend_refresh_token(id, secret_hash, client_id, &rotating, now);
        if matches!(used, RefreshUse::Valid(_) | RefreshUse::RecentlyRotated(_)) {
            s.refresh_tokens
                .insert(successor.id.clone(), (successor.clone(), None));
            if let Some(sid) = &successor.sid {
                s.sessions.extend(sid, successor.expires_at);
            }
        }
        Ok(used)
    }

    async fn live_refresh_token(
        &self,
        id: &str,
        secret_hash: &str,
        client_id: &str,
        now: UnixTime,
    ) -> Result<Option<RefreshToken>> {
        let s = self.lock();
        let Some((token, spent)) = s.refresh_tokens.get(id) else {
            return Ok(None);
        };
        let secret_ok: bool = token
            .secret_hash
            .as_bytes()
            .ct_eq(secret_hash.as_bytes())
            .into();
        let live =
            secret_ok && token.client_id == client_id && spent.is_none() && token.expires_at > now;
        Ok(live.then(|| token.clone()))
    }

    async fn revoke_refresh_family(&self, family: &str) -> Result<u64> {
        let mut s = self.lock();
        let before = s.refresh_tokens.len();
        s.refresh_tokens.retain(|_, (t, _)| t.family != family);
        Ok((before - s.refresh_tokens.len()) as u64)
    }

    async fn list_signing_keys(&self) -> Result<Vec<SigningKeyRecord>> {
        Ok(self.lock().signing_keys.clone())
    }

    async fn insert_signing_key(&self, key: &SigningKeyRecord) -> Result<()> {
        let mut s = self.lock();
        if s.signing_keys.iter().any(|k| k.kid == key.kid) {
            return Err(StorageError::AlreadyExists);
        }
        s.signing_keys.push(key.clone());
        Ok(())
    }

    async fn signing_key_generation(&self) -> Result<i64> {
        Ok(self.lock().signing_key_generation)
    }

    async fn rotate_signing_key(&self, seen: i64, key: &SigningKeyRecord) -> Result<bool> {
        let mut s = self.lock();
        if s.signing_key_generation != seen {
            return Ok(false);
        }
        if s.signing_keys.iter().any(|k| k.kid == key.kid) {
            return Err(StorageError::AlreadyExists);
        }
        s.signing_keys.push(key.clone());
        s.signing_key_generation += 1;
        Ok(true)
    }

    async fn create_saml_request(&self, request: &SamlRequest) -> Result<()> {
        let mut s = self.lock();
        if s.saml_requests.contains_key(&request.id) {
            return Err(StorageError::AlreadyExists);
        }
        s.saml_requests.insert(request.id.clone(), request.clone());
        Ok(())
    }

    async fn get_saml_request(&self, id: &str, now: UnixTime) -> Result<Option<SamlRequest>> {
        Ok(self
            .lock()
            .saml_requests
            .get(id)
            .filter(|r| r.expires_at > now)
            .cloned())
    }

    async fn answer_saml_request(&self, id: &str, now: UnixTime) -> Result<bool> {
        let mut s = self.lock();
        match s.saml_requests.get_mut(id) {
            Some(r) if r.expires_at > now && !r.answered => {
                r.answered = true;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn remember_saml_assertion(&self, id: &str, expires_at: UnixTime) -> Result<bool> {
        let mut s = self.lock();
        if s.saml_assertions.contains_key(id) {
            return Ok(false);
        }
        s.saml_assertions.insert(id.to_string(), expires_at);
        Ok(true)
    }

    async fn begin_login_attempt(
        &self,
        keys: &[ThrottleKey],
        now: UnixTime,
        lease_until: UnixTime,
    ) -> Result<LoginGate> {
        let mut s = self.lock();
        let rows: Vec<ThrottleRow> = keys
            .iter()
            .map(|k| s.login_throttle.get(&k.id).copied().unwrap_or_default())
            .collect();
        let (gate, writes) = throttle::begin(keys, rows, now, lease_until);
        for (key, row) in writes {
            s.login_throttle.insert(key.id.clone(), row);
        }
        Ok(gate)
    }

    async fn end_login_attempt(
        &self,
        keys: &[ThrottleKey],
        outcome: AttemptOutcome,
        now: UnixTime,
    ) -> Result<()> {
        let mut s = self.lock();
        for key in keys {
            let row = s.login_throttle.get(&key.id).copied().unwrap_or_default();
            s.login_throttle
                .insert(key.id.clone(), row.ended(&key.backoff, outcome, now));
        }
        Ok(())
    }

    async fn count_in_window(
        &self,
        key: &str,
        limit: i64,
        window_secs: i64,
        now: UnixTime,
    ) -> Result<bool> {
        let mut s = self.lock();
        let stored = s.rate_windows.get(key).copied().unwrap_or((0, 0));
        let Some(next) = throttle::count_step(stored, limit, window_secs, now) else {
            return Ok(false);
        };
        s.rate_windows.insert(key.to_string(), next);
        Ok(true)
    }

    async fn delete_expired(&self, now: UnixTime) -> Result<GcStats> {
        let mut s = self.lock();
        let mut stats = GcStats::default();
        let n = s.auth_requests.len();
        s.auth_requests.retain(|_, r| r.expires_at > now);
        stats.auth_requests = (n - s.auth_requests.len()) as u64;
        let n = s.auth_codes.len();
        s.auth_codes.retain(|_, c| c.expires_at > now);
        stats.auth_codes = (n - s.auth_codes.len()) as u64;
        s.redeemed_codes.retain(|_, until| *until > now);
        let n = s.refresh_tokens.len();
        s.refresh_tokens.retain(|_, (t, _)| t.expires_at > now);
        stats.refresh_tokens = (n - s.refresh_tokens.len()) as u64;
        let n = s.signing_keys.len();
        s.signing_keys.retain(|k| k.verify_until > now);
        stats.signing_keys = (n - s.signing_keys.len()) as u64;
        let n = s.saml_requests.len();
        s.saml_requests.retain(|_, r| r.expires_at > now);
        stats.saml_requests = (n - s.saml_requests.len()) as u64;
        let n = s.saml_assertions.len();
        s.saml_assertions.retain(|_, until| *until > now);
        stats.saml_assertions = (n - s.saml_assertions.len()) as u64;
        let n = s.login_throttle.len() + s.rate_windows.len();
        s.login_throttle.retain(|_, r| r.expires_at > now);
        s.rate_windows.retain(|_, (end, _)| *end > now);
        stats.throttle_rows = (n - s.login_throttle.len() - s.rate_windows.len()) as u64;
        Ok(stats)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn conformance() {
        conformance::run_all(std::sync::Arc::new(MemoryStorage::new())).await;
    }
}
