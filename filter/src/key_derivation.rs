//! Keys derived from a configured secret: HKDF-SHA256, one label per purpose, so no two uses
//! (cookie encryption, shared-data MAC) ever share a key.

use hkdf::Hkdf;
use sha2::Sha256;

/// The 32-byte key for `label` under `secret`; `None` only if HKDF refused the length.
pub fn derive(secret: &[u8], label: &[u8]) -> Option<[u8; 32]> {
    let mut key = [0u8; 32];
    Hkdf::<Sha256>::new(None, secret)
        .expand(label, &mut key)
        .ok()?;
    Some(key)
}

#[cfg(test)]
mod tests {
    #[test]
    fn labels_give_different_keys() {
        let s = [5u8; 32];
        assert_ne!(super::derive(&s, b"a"), super::derive(&s, b"b"));
        assert_eq!(super::derive(&s, b"a"), super::derive(&s, b"a"));
    }
}
