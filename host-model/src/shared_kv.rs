//! ngx_wasm_module's shared key/value store (`shm_kv` zones), shared by every worker.
//!
//! Facts (src/common/shm/ngx_wa_shm_kv.c): a key `ns/rest` lives in zone `ns` when such a zone
//! exists, else in the default zone `*`; with neither the call traps
//! (`ngx_proxy_wasm_hfuncs_get_shared_data`, "could not resolve namespace"). A write carries the
//! CAS the writer read: it is refused unless it equals the stored one (0 for a missing key), so
//! a CAS-less (`None`) overwrite of an existing key is a mismatch.

use std::collections::HashMap;
use std::sync::Mutex;

use thiserror::Error;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum KvError {
    #[error("failed getting value from shm (could not resolve namespace of {0:?})")]
    NoNamespace(String),
}

#[derive(Debug, PartialEq, Eq)]
pub enum SetResult {
    Written,
    CasMismatch,
}

#[derive(Default)]
pub struct SharedKv {
    zones: Vec<String>,
    data: Mutex<HashMap<String, (Vec<u8>, u32)>>,
}

impl SharedKv {
    pub fn new(zones: Vec<String>) -> Self {
        Self {
            zones,
            data: Mutex::default(),
        }
    }

    fn resolve(&self, key: &str) -> Result<(), KvError> {
        let in_zone = key
            .split_once('/')
            .is_some_and(|(ns, _)| !ns.is_empty() && self.zones.iter().any(|z| z == ns));
        if in_zone || self.zones.iter().any(|z| z == "*") {
            Ok(())
        } else {
            Err(KvError::NoNamespace(key.to_string()))
        }
    }

    /// The value and its CAS, `None` when the key is missing.
    pub fn get(&self, key: &str) -> Result<Option<(Vec<u8>, u32)>, KvError> {
        self.resolve(key)?;
        let data = self.data.lock().unwrap_or_else(|p| p.into_inner());
        Ok(data.get(key).cloned())
    }

    /// `value == None` deletes.
    pub fn set(&self, key: &str, value: Option<&[u8]>, cas: u32) -> Result<SetResult, KvError> {
        self.resolve(key)?;
        let mut data = self.data.lock().unwrap_or_else(|p| p.into_inner());
        let current = data.get(key).map(|(_, c)| *c).unwrap_or(0);
        if cas != current {
            return Ok(SetResult::CasMismatch);
        }
        match value {
            None => {
                if data.remove(key).is_none() {
                    return Ok(SetResult::CasMismatch);
                }
            }
            Some(v) => {
                data.insert(
                    key.to_string(),
                    (v.to_vec(), current.wrapping_add(1).max(1)),
                );
            }
        }
        Ok(SetResult::Written)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cas_rules() {
        let kv = SharedKv::new(vec!["gatehouse".into()]);
        assert_eq!(kv.set("gatehouse/k", Some(b"1"), 0), Ok(SetResult::Written));
        let (_, cas) = kv.get("gatehouse/k").unwrap().unwrap();
        assert_eq!(
            kv.set("gatehouse/k", Some(b"2"), 0),
            Ok(SetResult::CasMismatch)
        );
        assert_eq!(
            kv.set("gatehouse/k", Some(b"2"), cas + 7),
            Ok(SetResult::CasMismatch)
        );
        assert_eq!(
            kv.set("gatehouse/k", Some(b"2"), cas),
            Ok(SetResult::Written)
        );
        assert!(kv.get("other/k").is_err());
    }
}
