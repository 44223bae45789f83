use std::sync::{Arc, RwLock};

use super::{generate_record, JwkSet, KeyError, SigningKey};
use crate::storage::{now, Storage, StorageError, UnixTime};

/// The keys in force at one moment.
#[derive(Debug)]
pub struct KeySet {
    /// The key new tokens are signed with.
    pub signing: SigningKey,
    /// Every key whose tokens may still be valid (including `signing`).
    pub verification: Vec<SigningKey>,
}

impl KeySet {
    pub fn jwks(&self) -> JwkSet {
        JwkSet {
            keys: self.verification.iter().map(|k| k.jwk.clone()).collect(),
        }
    }

    pub fn find(&self, kid: &str) -> Option<&SigningKey> {
        self.verification.iter().find(|k| k.jwk.kid == kid)
    }
}

/// Loads keys from storage, creating (and later rotating) them when none can sign.
pub struct KeyManager {
    storage: Arc<dyn Storage>,
    /// How long a key signs (`expiry.signingKeys`).
    sign_for_secs: i64,
    /// How long its public half stays published after that (the longest token lifetime).
    verify_extra_secs: i64,
    current: RwLock<Arc<KeySet>>,
}

impl KeyManager {
    pub async fn start(
        storage: Arc<dyn Storage>,
        sign_for_secs: i64,
        verify_extra_secs: i64,
    ) -> Result<KeyManager, KeyError> {
        let set = load_or_create(&*storage, sign_for_secs, verify_extra_secs).await?;
        Ok(KeyManager {
            storage,
            sign_for_secs,
            verify_extra_secs,
            current: RwLock::new(Arc::new(set)),
        })
    }

    pub fn current(&self) -> Arc<KeySet> {
        self.current
            .read()
            .map(|g| g.clone())
            .unwrap_or_else(|p| p.into_inner().clone())
    }

    /// Re-reads storage (other replicas may have added keys) and creates a key when the signing
    /// one has aged out. Called on a timer.
    pub async fn refresh(&self) -> Result<(), KeyError> {
        let set =
            load_or_create(&*self.storage, self.sign_for_secs, self.verify_extra_secs).await?;
        let mut guard = self.current.write().unwrap_or_else(|p| p.into_inner());
        if guard.signing.jwk.kid != set.signing.jwk.kid {
            tracing::info!(kid = %set.signing.jwk.kid, "signing key rotated");
        }
        *guard = Arc::new(set);
        Ok(())
    }
}

async fn load_or_create(
    storage: &dyn Storage,
    sign_for_secs: i64,
    verify_extra_secs: i64,
) -> Result<KeySet, KeyError> {
    let t = now();
    if let Some(set) = usable(storage, t).await? {
        return Ok(set);
    }
    let record =
        tokio::task::spawn_blocking(move || generate_record(t, sign_for_secs, verify_extra_secs))
            .await
            .map_err(|e| KeyError::Generate(e.to_string()))??;
    match storage.insert_signing_key(&record).await {
        Ok(()) => tracing::info!(kid = %record.kid, "generated signing key"),
        Err(StorageError::AlreadyExists) => {}
        Err(e) => return Err(e.into()),
    }
    // Re-read: when replicas race at first start, all converge on the same (oldest) key.
    usable(storage, t).await?.ok_or(KeyError::NoKey)
}

async fn usable(storage: &dyn Storage, t: UnixTime) -> Result<Option<KeySet>, KeyError> {
    let mut verification = Vec::new();
    for record in storage.list_signing_keys().await? {
        if record.verify_until > t {
            verification.push(SigningKey::from_record(&record)?);
        }
    }
    verification.sort_by_key(|k| (k.created_at, k.jwk.kid.clone()));
    let signing = verification.iter().find(|k| k.sign_until > t).cloned();
    Ok(signing.map(|signing| KeySet {
        signing,
        verification,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::MemoryStorage;

    #[tokio::test]
    async fn creates_once_then_reuses_the_stored_key() {
        let storage: Arc<dyn Storage> = Arc::new(MemoryStorage::new());
        let a = KeyManager::start(storage.clone(), 3600, 3600)
            .await
            .unwrap();
        let b = KeyManager::start(storage.clone(), 3600, 3600)
            .await
            .unwrap();
        assert_eq!(a.current().signing.jwk.kid, b.current().signing.jwk.kid);
        assert_eq!(storage.list_signing_keys().await.unwrap().len(), 1);
        let jwks = a.current().jwks();
        assert_eq!(jwks.keys.len(), 1);
        assert_eq!(jwks.keys[0].alg, "RS256");
        assert_eq!(jwks.keys[0].e, "AQAB");
    }

    #[tokio::test]
    async fn aged_out_key_is_replaced_but_still_published() {
        let storage: Arc<dyn Storage> = Arc::new(MemoryStorage::new());
        let old = tokio::task::spawn_blocking(|| generate_record(now() - 100, 50, 3600))
            .await
            .unwrap()
            .unwrap();
        storage.insert_signing_key(&old).await.unwrap();
        let m = KeyManager::start(storage, 3600, 3600).await.unwrap();
        let set = m.current();
        assert_ne!(set.signing.jwk.kid, old.kid);
        assert!(set.find(&old.kid).is_some(), "old key still verifies");
        assert_eq!(set.jwks().keys.len(), 2);
    }
}
