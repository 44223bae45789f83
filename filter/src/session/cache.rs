//! Sessions already verified, by the credential they came from: a sealed session cookie (its
//! open — base64, XChaCha20-Poly1305, JSON — is most of a request's own cost) or a bearer JWT
//! (an RS256 verification costs milliseconds in wasm, a lookup microseconds). Per worker VM:
//! each engine holds its own.
//!
//! An entry is served only while its session is valid as it stands (before the identity's
//! expiry and the session's end), so a hit gives what opening the credential again would:
//! rules are still applied per request by the caller. Bounded: when full, expired entries go
//! first, then the one nearest its expiry.
//!
//! Why a hit is sound without a cryptographic hash: an entry keeps the whole credential it was
//! opened from, and a hit needs the presented credential to be equal to it, byte for byte
//! (compared in constant time). Opening is deterministic, so equal bytes open to the very
//! session kept; a credential that differs in any bit is simply not found and takes the
//! uncached way (where a tampered one fails its AEAD tag or signature). The map's key — the
//! length and the last bytes, which are the end of the Poly1305 tag or of the JWT signature —
//! only picks the entry to compare with; keys come from credentials that verified, which no
//! client can mint, so nobody can choose them to crowd the map. The price of a hit is one
//! pass over the credential (the compare), where SHA-256 took ~55 instructions per byte.

use std::cell::OnceCell;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hash, Hasher};
use std::ops::Deref;
use std::rc::Rc;

use subtle::ConstantTimeEq;

use crate::session::Session;

/// How many trailing bytes of a credential go into its map key.
const TAIL: usize = 32;

/// A credential's map key: its length and its last [`TAIL`] bytes (zero-padded when shorter).
#[derive(Clone, Copy, PartialEq, Eq)]
struct Key {
    len: usize,
    tail: [u8; TAIL],
}

/// The key's last 16 bytes and its length, mixed into one word. No keyed hash is needed: the
/// tail is the end of a Poly1305 tag or a JWT signature, and the map only ever holds
/// credentials that verified, which a client cannot choose, so nobody can pile entries into
/// one slot; a lookup costs a few instructions instead of SipHash over 40 bytes.
impl Hash for Key {
    fn hash<H: Hasher>(&self, state: &mut H) {
        let word = |at: usize| {
            let mut w = [0; 8];
            w.copy_from_slice(&self.tail[at..at + 8]);
            u64::from_le_bytes(w)
        };
        let x = (word(TAIL - 8) ^ word(TAIL - 16).rotate_left(32) ^ self.len as u64)
            .wrapping_mul(0x9e37_79b9_7f4a_7c15);
        state.write_u64(x ^ (x >> 29));
    }
}

/// Hands on the word [`Key`] hashes to (see there).
#[derive(Default)]
struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write_u64(&mut self, x: u64) {
        self.0 = x;
    }

    /// Only `write_u64` is used by [`Key`]; anything else is folded in all the same.
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        }
    }
}

impl Key {
    fn of(credential: &str) -> Key {
        let b = credential.as_bytes();
        let end = &b[b.len().saturating_sub(TAIL)..];
        let mut tail = [0; TAIL];
        tail[..end.len()].copy_from_slice(end);
        Key { len: b.len(), tail }
    }
}

/// A verified session as the cache holds it, with a slot for the request headers the engine
/// derives from it: built on the first request, reused by every later one (the groups header
/// of a 150-group session is 2.7 KB, rebuilt per request it was the largest cost left).
pub struct Opened {
    pub session: Session,
    pub headers: OnceCell<Rc<[(&'static str, String)]>>,
}

impl Opened {
    pub fn new(session: Session) -> Opened {
        Opened {
            session,
            headers: OnceCell::new(),
        }
    }
}

impl std::fmt::Debug for Opened {
    // The headers may carry the access token (`pass_access_token`): never printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Opened")
            .field("session", &self.session)
            .finish_non_exhaustive()
    }
}

impl Deref for Opened {
    type Target = Session;
    fn deref(&self) -> &Session {
        &self.session
    }
}

struct Entry {
    credential: Box<str>,
    session: Rc<Opened>,
}

/// Constant-time equality (the length is not secret: it is part of the key): the differences
/// of every 16-byte block and of the last bytes are OR-ed together without a branch, and
/// `subtle` compares that (folded to 64 bits) with zero once. Per byte, its optimisation barrier is a call in the
/// size-optimised .wasm, and comparing a 4.4 KB chunked session that way cost more than the
/// rest of the request.
fn equal(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let (a_blocks, a_rest) = a.as_chunks::<16>();
    let (b_blocks, b_rest) = b.as_chunks::<16>();
    let blocks = a_blocks.iter().zip(b_blocks).fold(0u128, |d, (x, y)| {
        d | (u128::from_le_bytes(*x) ^ u128::from_le_bytes(*y))
    });
    let rest = a_rest.iter().zip(b_rest).fold(0u8, |d, (x, y)| d | (x ^ y));
    let diff = blocks | u128::from(rest);
    ((diff as u64) | (diff >> 64) as u64).ct_eq(&0).into()
}

/// Until when a session may be served from the cache (exclusive).
fn valid_until(s: &Session) -> u64 {
    s.expires_at.min(s.ends_at)
}

pub struct SessionCache {
    entries: HashMap<Key, Entry, BuildHasherDefault<KeyHasher>>,
    capacity: usize,
}

impl SessionCache {
    pub fn new(capacity: usize) -> SessionCache {
        SessionCache {
            entries: HashMap::default(),
            capacity,
        }
    }

    /// The session `credential` opened to, if it is cached and still valid at `now`.
    pub fn get(&self, credential: &str, now: u64) -> Option<Rc<Opened>> {
        self.entries
            .get(&Key::of(credential))
            .filter(|e| equal(e.credential.as_bytes(), credential.as_bytes()))
            .filter(|e| now < valid_until(&e.session))
            .map(|e| e.session.clone())
    }

    /// Keeps `session` for `credential`; a session not valid at `now` is not kept. Another
    /// credential with the same key is replaced.
    pub fn insert(&mut self, credential: &str, session: Rc<Opened>, now: u64) {
        if self.capacity == 0 || now >= valid_until(&session) {
            return;
        }
        let key = Key::of(credential);
        if self.entries.len() >= self.capacity && !self.entries.contains_key(&key) {
            self.entries.retain(|_, e| now < valid_until(&e.session));
            if self.entries.len() >= self.capacity {
                // Still full of live sessions: drop the one closest to expiry.
                if let Some(k) = self
                    .entries
                    .iter()
                    .min_by_key(|(_, e)| valid_until(&e.session))
                    .map(|(k, _)| *k)
                {
                    self.entries.remove(&k);
                }
            }
        }
        let credential = credential.into();
        self.entries.insert(
            key,
            Entry {
                credential,
                session,
            },
        );
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

    fn ident(exp: u64, end: u64) -> Rc<Opened> {
        Rc::new(Opened::new(Session {
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
            sid: String::new(),
        }))
    }

    #[test]
    fn entries_expire_and_capacity_holds() {
        let mut c = SessionCache::new(3);
        c.insert("a", ident(100, 100), 0);
        assert!(c.get("a", 99).is_some());
        assert!(c.get("a", 100).is_none());
        c.insert("b", ident(50, 50), 0);
        c.insert("c", ident(300, 300), 0);
        c.insert("d", ident(400, 400), 60); // "b" expired: evicted first
        assert_eq!(c.len(), 3);
        assert!(c.get("b", 0).is_none());
        c.insert("e", ident(500, 500), 60); // all live: the nearest expiry ("a") goes
        assert_eq!(c.len(), 3);
        assert!(c.get("a", 60).is_none());
        assert!(c.get("e", 60).is_some());
    }

    #[test]
    fn never_served_past_the_identity_expiry_or_the_session_end() {
        let mut c = SessionCache::new(8);
        // The identity expires before the session ends (a refresh is due then), and the reverse.
        c.insert("refresh due", ident(100, 5000), 0);
        c.insert("session ends", ident(5000, 200), 0);
        assert!(c.get("refresh due", 99).is_some());
        assert!(c.get("refresh due", 100).is_none());
        assert!(c.get("session ends", 199).is_some());
        assert!(c.get("session ends", 200).is_none());
        // Already past: never kept.
        c.insert("stale", ident(10, 10), 10);
        assert!(c.get("stale", 0).is_none());
        assert_eq!(c.len(), 2);
        assert!(SessionCache::new(0).is_empty());
    }

    #[test]
    fn a_full_map_finds_every_credential_as_itself() {
        // Distinct keys (length and tail) that differ in a few bits only: every one keeps
        // its own entry, whatever slot the hash gives it.
        let mut c = SessionCache::new(512);
        let cred = |i: usize| format!("v1.{}{i:04}", "t".repeat(i % 40));
        for i in 0..512 {
            c.insert(&cred(i), ident(100 + i as u64, 1000), 0);
        }
        assert_eq!(c.len(), 512);
        for i in 0..512 {
            assert_eq!(
                c.get(&cred(i), 0).map(|s| s.expires_at),
                Some(100 + i as u64)
            );
        }
    }

    #[test]
    fn a_changed_credential_is_another_key() {
        let mut c = SessionCache::new(8);
        c.insert("v1.abcdef", ident(100, 100), 0);
        for other in ["v1.abcdeg", "v1.abcde", "v1.abcdef ", "V1.abcdef", ""] {
            assert!(c.get(other, 0).is_none(), "{other:?}");
        }
    }

    #[test]
    fn equality_word_by_word_and_in_the_tail() {
        let a: Vec<u8> = (0..=200u8).collect();
        for n in 0..a.len() {
            assert!(equal(&a[..n], &a[..n]));
            let mut b = a[..n].to_vec();
            for i in 0..n {
                b[i] ^= 0x80;
                assert!(!equal(&a[..n], &b), "len {n}, byte {i}");
                b[i] ^= 0x80;
            }
            assert!(!equal(&a[..n], &a[..n + 1]));
        }
    }

    #[test]
    fn same_key_different_credential_is_never_served() {
        // Equal length and equal last 32 bytes: the same map key, yet another credential.
        let tail = "T".repeat(TAIL);
        let (a, b) = (format!("v1.a{tail}"), format!("v1.b{tail}"));
        assert!(Key::of(&a) == Key::of(&b));
        let mut c = SessionCache::new(8);
        c.insert(&a, ident(100, 100), 0);
        assert!(c.get(&a, 0).is_some());
        assert!(c.get(&b, 0).is_none());
        // Every single-bit flip of a cached credential misses, wherever the bit is.
        for i in 0..a.len() {
            for bit in 0..7 {
                let mut bytes = a.clone().into_bytes();
                bytes[i] ^= 1 << bit;
                if let Ok(flipped) = String::from_utf8(bytes) {
                    assert!(c.get(&flipped, 0).is_none(), "byte {i} bit {bit}");
                }
            }
        }
        // The second credential replaces the first in its slot; each is found only as itself.
        c.insert(&b, ident(200, 200), 0);
        assert!(c.get(&a, 0).is_none());
        assert_eq!(c.get(&b, 0).map(|s| s.expires_at), Some(200));
        assert_eq!(c.len(), 1);
    }
}
