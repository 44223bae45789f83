//! The record a worker publishes in proxy-wasm shared data so the other workers use the same
//! discovery document and keys without fetching them. Shared data is not the filter's alone:
//! on Kong every filter in the same nginx can write any key of a store, so a record is only
//! adopted when it carries a valid HMAC-SHA256 under a key derived (HKDF-SHA256, its own
//! label) from the cookie secret. The cookie key itself is never used for this.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::key_derivation;

type HmacSha256 = Hmac<Sha256>;

const HKDF_INFO: &[u8] = b"gatehouse shared-data mac v1";
/// Bound into every MAC, so a record cannot be moved to another key or format.
const CONTEXT: &[u8] = b"gatehouse provider record v2\0";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ShareError {
    #[error("shared record has an unknown format")]
    Format,
    #[error("shared record is not authenticated by any configured secret")]
    Authentication,
    #[error("key derivation failed")]
    Key,
}

/// The documents of one fetch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SharedDocs {
    pub fetched_at: u64,
    pub discovery: String,
    pub jwks: String,
}

/// Seals with the first cookie secret's key, opens with any (secret rotation).
pub struct ProviderShare {
    keys: Vec<[u8; 32]>,
    name: String,
}

impl ProviderShare {
    pub fn new(secrets: &[Vec<u8>], issuer: &str) -> Result<ProviderShare, ShareError> {
        Self::for_kind(secrets, issuer, "provider.v2")
    }

    /// A record of another kind (`revocations.v1`): its own key name, so records never mix.
    pub fn for_kind(
        secrets: &[Vec<u8>],
        issuer: &str,
        kind: &str,
    ) -> Result<ProviderShare, ShareError> {
        let keys = secrets
            .iter()
            .map(|s| key_derivation::derive(s, HKDF_INFO).ok_or(ShareError::Key))
            .collect::<Result<Vec<_>, ShareError>>()?;
        let first = keys.first().ok_or(ShareError::Key)?;
        // Filters configured with different secrets for the same issuer get different keys
        // rather than overwriting each other's records; the tag reveals nothing of the key.
        let tag = mac(first, b"key name", issuer.as_bytes()).ok_or(ShareError::Key)?;
        let tag: String = tag[..6].iter().map(|b| format!("{b:02x}")).collect();
        // `gatehouse/` is an ngx_wasm_module namespace: on Kong the key lives in the store
        // named `gatehouse` (see kong/README.md).
        let name = format!("gatehouse/{kind}:{issuer}#{tag}");
        Ok(ProviderShare { keys, name })
    }

    /// The shared-data key.
    pub fn key(&self) -> &str {
        &self.name
    }

    /// `base64url(mac) "." json`.
    pub fn seal(&self, docs: &SharedDocs) -> Option<Vec<u8>> {
        self.seal_bytes(&serde_json::to_vec(docs).ok()?)
    }

    pub fn open(&self, record: &[u8]) -> Result<SharedDocs, ShareError> {
        serde_json::from_slice(self.open_bytes(record)?).map_err(|_| ShareError::Format)
    }

    /// `base64url(mac) "." json`, for any JSON.
    pub fn seal_bytes(&self, json: &[u8]) -> Option<Vec<u8>> {
        let tag = mac(self.keys.first()?, self.name.as_bytes(), json)?;
        let mut out = URL_SAFE_NO_PAD.encode(tag).into_bytes();
        out.push(b'.');
        out.extend_from_slice(json);
        Some(out)
    }

    /// The JSON of an authentic record.
    pub fn open_bytes<'r>(&self, record: &'r [u8]) -> Result<&'r [u8], ShareError> {
        let dot = record
            .iter()
            .position(|b| *b == b'.')
            .ok_or(ShareError::Format)?;
        let (tag, json) = (&record[..dot], &record[dot + 1..]);
        let tag = URL_SAFE_NO_PAD
            .decode(tag)
            .map_err(|_| ShareError::Format)?;
        let genuine = self.keys.iter().any(|k| {
            HmacSha256::new_from_slice(k).is_ok_and(|mut m| {
                m.update(CONTEXT);
                m.update(self.name.as_bytes());
                m.update(b"\0");
                m.update(json);
                // Constant-time comparison.
                m.verify_slice(&tag).is_ok()
            })
        });
        if !genuine {
            return Err(ShareError::Authentication);
        }
        Ok(json)
    }
}

fn mac(key: &[u8; 32], label: &[u8], data: &[u8]) -> Option<[u8; 32]> {
    let mut m = HmacSha256::new_from_slice(key).ok()?;
    m.update(CONTEXT);
    m.update(label);
    m.update(b"\0");
    m.update(data);
    Some(m.finalize().into_bytes().into())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ISSUER: &str = "http://127.0.0.1:5556/dex";

    fn docs() -> SharedDocs {
        SharedDocs {
            fetched_at: 1000,
            discovery: r#"{"issuer":"x"}"#.into(),
            jwks: r#"{"keys":[]}"#.into(),
        }
    }

    #[test]
    fn a_sealed_record_opens_and_rotation_keeps_old_records() {
        let a = ProviderShare::new(&[vec![1; 32]], ISSUER).unwrap();
        let rec = a.seal(&docs()).unwrap();
        assert_eq!(a.open(&rec).unwrap(), docs());
        // Another VM of the same config, secrets rotated [b, a]: still opens a's record when
        // read under a's key name (the name follows the first secret).
        let ba = ProviderShare::new(&[vec![2; 32], vec![1; 32]], ISSUER).unwrap();
        assert_ne!(ba.key(), a.key());
        assert!(ba
            .key()
            .starts_with("gatehouse/provider.v2:http://127.0.0.1:5556/dex#"));
        let ba_under_a_name = ProviderShare {
            keys: ba.keys.clone(),
            name: a.key().to_string(),
        };
        assert_eq!(ba_under_a_name.open(&rec).unwrap(), docs());
    }

    #[test]
    fn planted_or_tampered_records_are_refused() {
        let ours = ProviderShare::new(&[vec![1; 32]], ISSUER).unwrap();
        // Another filter in the same nginx writes our key: plain JSON (the old format), or a
        // record sealed under a secret of its own, or ours with keys swapped in.
        let plain = serde_json::to_vec(&docs()).unwrap();
        assert_eq!(ours.open(&plain), Err(ShareError::Format));
        let theirs = ProviderShare {
            keys: vec![[9; 32]],
            name: ours.key().to_string(),
        };
        assert_eq!(
            ours.open(&theirs.seal(&docs()).unwrap()),
            Err(ShareError::Authentication)
        );
        let rec = ours.seal(&docs()).unwrap();
        let mut tampered = rec.clone();
        let at = tampered.len() - 3;
        tampered[at] ^= 1;
        assert_eq!(ours.open(&tampered), Err(ShareError::Authentication));
        let mut short_tag = rec.clone();
        short_tag.remove(0);
        assert!(ours.open(&short_tag).is_err());
        assert_eq!(ours.open(b""), Err(ShareError::Format));
        assert_eq!(ours.open(b"!!!.{}"), Err(ShareError::Format));
        // A record is bound to its key name: copied under another issuer's key it fails.
        let other = ProviderShare {
            keys: ours.keys.clone(),
            name: "gatehouse/provider.v2:http://evil/dex#000000000000".into(),
        };
        assert_eq!(other.open(&rec), Err(ShareError::Authentication));
    }

    #[test]
    fn the_mac_key_is_not_the_cookie_key() {
        // Same HKDF input, different label: the derived keys differ.
        let s = vec![5u8; 32];
        let share = ProviderShare::new(std::slice::from_ref(&s), ISSUER).unwrap();
        let cookie_key = key_derivation::derive(&s, b"gatehouse cookie v1").unwrap();
        assert_ne!(share.keys[0], cookie_key);
    }
}
