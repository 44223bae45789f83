//! Verified bearer tokens, kept by their SHA-256 until they expire: an RS256 verification
//! costs milliseconds in wasm, a hash lookup microseconds. Bounded, so a flood of distinct
//! valid tokens cannot grow memory without end.

use std::collections::HashMap;

use sha2::{Digest, Sha256};

use crate::session::Session;

pub type TokenHash = [u8; 32];

pub fn hash(token: &str) -> TokenHash {
    Sha256::digest(token.as_bytes()).into()
}

pub struct BearerCache {
    entries: HashMap<TokenHash, Session>,
    capacity: usize,
}

impl BearerCache {
    pub fn new(capacity: usize) -> BearerCache {
        BearerCache {
            entries: HashMap::new(),
            capacity,
        }
    }

    /// The identity of a cached token that has not expired yet.
    pub fn get(&self, key: &TokenHash, now: u64) -> Option<&Session> {
        self.entries.get(key).filter(|s| now < s.expires_at)
    }

    pub fn insert(&mut self, key: TokenHash, identity: Session, now: u64) {
        if self.capacity == 0 {
            return;
        }
        if self.entries.len() >= self.capacity && !self.entries.contains_key(&key) {
            self.entries.retain(|_, s| now < s.expires_at);
            if self.entries.len() >= self.capacity {
                // Still full of live tokens: drop the one closest to expiry.
                if let Some(k) = self
                    .entries
                    .iter()
                    .min_by_key(|(_, s)| s.expires_at)
                    .map(|(k, _)| *k)
                {
                    self.entries.remove(&k);
                }
            }
        }
        self.entries.insert(key, identity);
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

    fn ident(exp: u64) -> Session {
        Session {
            sub: "s".into(),
            email: String::new(),
            name: String::new(),
            preferred_username: String::new(),
            groups: vec![],
            issued_at: 0,
            expires_at: exp,
            ends_at: exp,
            refresh_token: None,
            access_token: None,
            sid: String::new(),
        }
    }

    #[test]
    fn entries_expire_and_capacity_holds() {
        let mut c = BearerCache::new(3);
        c.insert(hash("a"), ident(100), 0);
        assert!(c.get(&hash("a"), 99).is_some());
        assert!(c.get(&hash("a"), 100).is_none());
        c.insert(hash("b"), ident(50), 0);
        c.insert(hash("c"), ident(300), 0);
        c.insert(hash("d"), ident(400), 60); // "b" expired: evicted first
        assert_eq!(c.len(), 3);
        assert!(c.get(&hash("b"), 0).is_none());
        c.insert(hash("e"), ident(500), 60); // all live: the nearest expiry ("a") goes
        assert_eq!(c.len(), 3);
        assert!(c.get(&hash("a"), 60).is_none());
        assert!(c.get(&hash("e"), 60).is_some());
    }
}
