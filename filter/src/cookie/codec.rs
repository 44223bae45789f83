//! Encrypted, authenticated cookie values: `v1.` + base64url(nonce ‖ XChaCha20-Poly1305 ciphertext).
//! The key comes from the configured secret through HKDF-SHA256; the cookie name is the
//! associated data, so a value cannot be moved to another cookie. ChaCha20 rather than AES
//! because wasm has no AES instructions (see DESIGN.md).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};

use crate::key_derivation;
use crate::random;

const PREFIX: &str = "v1.";
const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;
const HKDF_INFO: &[u8] = b"gatehouse cookie v1";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CodecError {
    #[error("cookie has an unknown format")]
    Format,
    #[error("cookie does not decrypt with any configured secret")]
    Authentication,
    #[error("cannot encrypt: {0}")]
    Seal(&'static str),
}

/// Seals with the first secret, opens with any of them (secret rotation).
pub struct CookieCodec {
    ciphers: Vec<XChaCha20Poly1305>,
}

impl CookieCodec {
    pub fn new(secrets: &[Vec<u8>]) -> Result<CookieCodec, CodecError> {
        if secrets.is_empty() {
            return Err(CodecError::Seal("no secret configured"));
        }
        let ciphers = secrets
            .iter()
            .map(|s| {
                let key = key_derivation::derive(s, HKDF_INFO)
                    .ok_or(CodecError::Seal("key derivation failed"))?;
                Ok(XChaCha20Poly1305::new(&key.into()))
            })
            .collect::<Result<_, CodecError>>()?;
        Ok(CookieCodec { ciphers })
    }

    pub fn seal(&self, name: &str, plaintext: &[u8]) -> Result<String, CodecError> {
        let mut nonce = [0u8; NONCE_LEN];
        random::fill(&mut nonce).map_err(|_| CodecError::Seal("no randomness"))?;
        let cipher = self.ciphers.first().ok_or(CodecError::Seal("no secret"))?;
        let ct = cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad: name.as_bytes(),
                },
            )
            .map_err(|_| CodecError::Seal("encryption failed"))?;
        let mut raw = Vec::with_capacity(NONCE_LEN + ct.len());
        raw.extend_from_slice(&nonce);
        raw.extend_from_slice(&ct);
        let mut out = String::with_capacity(PREFIX.len() + (raw.len() * 4).div_ceil(3));
        out.push_str(PREFIX);
        URL_SAFE_NO_PAD.encode_string(raw, &mut out);
        Ok(out)
    }

    pub fn open(&self, name: &str, value: &str) -> Result<Vec<u8>, CodecError> {
        let body = value.strip_prefix(PREFIX).ok_or(CodecError::Format)?;
        let raw = URL_SAFE_NO_PAD
            .decode(body)
            .map_err(|_| CodecError::Format)?;
        if raw.len() < NONCE_LEN + TAG_LEN {
            return Err(CodecError::Format);
        }
        let (nonce, ct) = raw.split_at(NONCE_LEN);
        self.ciphers
            .iter()
            .find_map(|c| {
                c.decrypt(
                    XNonce::from_slice(nonce),
                    Payload {
                        msg: ct,
                        aad: name.as_bytes(),
                    },
                )
                .ok()
            })
            .ok_or(CodecError::Authentication)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codec(secrets: &[&[u8]]) -> CookieCodec {
        CookieCodec::new(&secrets.iter().map(|s| s.to_vec()).collect::<Vec<_>>()).unwrap()
    }

    const A: &[u8] = &[1u8; 32];
    const B: &[u8] = &[2u8; 32];

    #[test]
    fn round_trip_and_fresh_nonce_each_time() {
        let c = codec(&[A]);
        let v1 = c.seal("_gh", b"hello").unwrap();
        let v2 = c.seal("_gh", b"hello").unwrap();
        assert!(v1.starts_with("v1."));
        assert_ne!(v1, v2);
        assert_eq!(c.open("_gh", &v1).unwrap(), b"hello");
    }

    #[test]
    fn every_flipped_byte_is_refused() {
        let c = codec(&[A]);
        let v = c.seal("_gh", b"some session payload").unwrap();
        let bytes = v.as_bytes();
        for i in 0..bytes.len() {
            let mut t = bytes.to_vec();
            t[i] = if t[i] == b'A' { b'B' } else { b'A' };
            let t = String::from_utf8(t).unwrap();
            if t == v {
                continue;
            }
            assert!(c.open("_gh", &t).is_err(), "byte {i} flipped was accepted");
        }
    }

    #[test]
    fn name_is_bound() {
        let c = codec(&[A]);
        let v = c.seal("_gh", b"x").unwrap();
        assert_eq!(c.open("_gh_login", &v), Err(CodecError::Authentication));
    }

    #[test]
    fn rotation_first_seals_all_open() {
        let old = codec(&[B]);
        let sealed_old = old.seal("n", b"old").unwrap();
        let rotated = codec(&[A, B]);
        assert_eq!(rotated.open("n", &sealed_old).unwrap(), b"old");
        let sealed_new = rotated.seal("n", b"new").unwrap();
        assert!(old.open("n", &sealed_new).is_err());
        assert_eq!(codec(&[A]).open("n", &sealed_new).unwrap(), b"new");
    }

    #[test]
    fn garbage_is_refused_without_panic() {
        let c = codec(&[A]);
        for v in [
            "",
            "v1.",
            "v1.!!!",
            "v2.AAAA",
            "v1.AAAA",
            &"v1.".repeat(1000),
        ] {
            assert!(c.open("n", v).is_err(), "{v}");
        }
    }
}
