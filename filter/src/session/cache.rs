//! Sessions already verified, by the SHA-256 of the credential they came from: a sealed
//! session cookie (its open — base64, XChaCha20-Poly1305, JSON — is most of a request's
//! own cost) or a bearer JWT (an RS256 verification costs milliseconds in wasm, a hash
//! lookup microseconds). Per worker VM: each engine holds its own.
//!
//! An entry is served only while its session is valid as it stands (before the identity's
//! expiry and the session's end), so a hit gives what opening the credential again would:
//! rules are still applied per request by the caller. Any change to the credential changes
//! its hash, so a tampered value never finds an entry. Bounded: when full, expired entries
//! go first, then the one nearest its expiry.

use std::collections::HashMap;
use std::rc::Rc;

use sha2::{Digest, Sha256};

use crate::session::Session;

pub type CredentialHash = [u8; 32];

pub fn hash(credential: &str) -> CredentialHash {
    Sha256::digest(credential.as_bytes()).into()
}

/// Until when a session may be served from the cache (exclusive).
fn valid_until(s: &Session) -> u64 {
    s.expires_at.min(s.ends_at)
}

pub struct SessionCache {
    entries: HashMap<CredentialHash, Rc<Session>>,
    capacity: usize,
}

impl SessionCache {
    pub fn new(capacity: usize) -> SessionCache {
        SessionCache {
            entries: HashMap::new(),
            capacity,
        }
    }

    /// The session of a cached credential that is still valid at `now`.
    pub fn get(&self, key: &CredentialHash, now: u64) -> Option<Rc<Session>> {
        self.entries
            .get(key)
            .filter(|s| now < valid_until(s))
            .cloned()
    }

    /// Keeps `session` for `key`; a session not valid at `now` is not kept.
    pub fn insert(&mut self, key: CredentialHash, session: Rc<Session>, now: u64) {
        if self.capacity == 0 || now >= valid_until(&session) {
            return;
        }
        if self.entries.len() >= self.capacity && !self.entries.contains_key(&key) {
            self.entries.retain(|_, s| now < valid_until(s));
            if self.entries.len() >= self.capacity {
                // Still full of live sessions: drop the one closest to expiry.
                if let Some(k) = self
                    .entries
                    .iter()
                    .min_by_key(|(_, s)| valid_until(s))
                    .map(|(k, _)| *k)
                {
                    self.entries.remove(&k);
                }
            }
        }
        self.entries.insert(key, session);
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ident(exp: u64, end: u64) -> Rc<Session> {
        Rc::new(Session {
            sub: "s".into(),
            email: String::new(),
            name: String::new(),
            preferred_username: String::new(),
            groups: vec![],
            issued_at: 0,
            expires_at: exp,
            ends_at: end,
            refresh_token: None,
            access_token: None,
        })
    }

    #[test]
    fn entries_expire_and_capacity_holds() {
        let mut c = SessionCache::new(3);
        c.insert(hash("a"), ident(100, 100), 0);
        assert!(c.get(&hash("a"), 99).is_some());
        assert!(c.get(&hash("a"), 100).is_none());
        c.insert(hash("b"), ident(50, 50), 0);
        c.insert(hash("c"), ident(300, 300), 0);
        c.insert(hash("d"), ident(400, 400), 60); // "b" expired: evicted first
        assert_eq!(c.len(), 3);
        assert!(c.get(&hash("b"), 0).is_none());
        c.insert(hash("e"), ident(500, 500), 60); // all live: the nearest expiry ("a") goes
        assert_eq!(c.len(), 3);
        assert!(c.get(&hash("a"), 60).is_none());
        assert!(c.get(&hash("e"), 60).is_some());
    }

    #[test]
    fn never_served_past_the_identity_expiry_or_the_session_end() {
        let mut c = SessionCache::new(8);
        // The identity expires before the session ends (a refresh is due then), and the reverse.
        c.insert(hash("refresh due"), ident(100, 5000), 0);
        c.insert(hash("session ends"), ident(5000, 200), 0);
        assert!(c.get(&hash("refresh due"), 99).is_some());
        assert!(c.get(&hash("refresh due"), 100).is_none());
        assert!(c.get(&hash("session ends"), 199).is_some());
        assert!(c.get(&hash("session ends"), 200).is_none());
        // Already past: never kept.
        c.insert(hash("stale"), ident(10, 10), 10);
        assert!(c.get(&hash("stale"), 0).is_none());
        assert_eq!(c.len(), 2);
        assert!(SessionCache::new(0).is_empty());
    }

    #[test]
    fn a_changed_credential_is_another_key() {
        let mut c = SessionCache::new(8);
        c.insert(hash("v1.abcdef"), ident(100, 100), 0);
        for other in ["v1.abcdeg", "v1.abcde", "v1.abcdef ", "V1.abcdef", ""] {
            assert!(c.get(&hash(other), 0).is_none(), "{other:?}");
        }
    }
}
