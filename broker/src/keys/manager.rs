use std::sync::{Arc, RwLock};

use super::{generate_record, JwkSet, KeyError, SigningAlgorithm, SigningKey};
use crate::storage::{now, SigningKeyRecord, Storage, StorageError, UnixTime};

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
    /// The algorithm of keys generated from now on; the current key keeps its own until it
    /// rotates out (as Dex does: a changed algorithm applies at the next rotation).
    alg: SigningAlgorithm,
    /// How long a key signs (`expiry.signingKeys`).
    sign_for_secs: i64,
    /// How long its public half stays published after that (the longest token lifetime).
    verify_extra_secs: i64,
    current: RwLock<Arc<KeySet>>,
}

impl KeyManager {
    pub async fn start(
        storage: Arc<dyn Storage>,
        alg: SigningAlgorithm,
        sign_for_secs: i64,
        verify_extra_secs: i64,
    ) -> Result<KeyManager, KeyError> {
        let set = load_or_create(&*storage, alg, sign_for_secs, verify_extra_secs).await?;
        Ok(KeyManager {
            storage,
            alg,
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
        let set = load_or_create(
            &*self.storage,
            self.alg,
            self.sign_for_secs,
            self.verify_extra_secs,
        )
        .await?;
        let mut guard = self.current.write().unwrap_or_else(|p| p.into_inner());
        if guard.signing.jwk.kid != set.signing.jwk.kid {
            tracing::info!(kid = %set.signing.jwk.kid, "signing key rotated");
        }
        *guard = Arc::new(set);
        Ok(())
    }
}

/// Reads the keys in storage and, when the signing key is about to age out (or none exists),
/// rotates: generates the next key and adds it with a compare-and-swap on the rotation
/// generation, so replicas that decide together add one key. The next key is added `lead`
/// before the current one stops signing, so every replica publishes it before anyone signs
/// with it (signing picks the oldest key still in its signing window).
async fn load_or_create(
    storage: &dyn Storage,
    alg: SigningAlgorithm,
    sign_for_secs: i64,
    verify_extra_secs: i64,
) -> Result<KeySet, KeyError> {
    let lead = rotation_lead(sign_for_secs);
    for _ in 0..3 {
        let t = now();
        // Generation first: a rotation after this read makes our swap fail, never double-add.
        let generation = storage.signing_key_generation().await?;
        let records = storage.list_signing_keys().await?;
        let set = usable(&records, t)?;
        let newest_sign_until = records
            .iter()
            .filter(|r| r.verify_until > t)
            .map(|r| r.sign_until)
            .max();
        let due = match newest_sign_until {
            None => true,
            Some(until) => until.saturating_sub(t) <= lead,
        };
        if !due {
            if let Some(set) = set {
                return Ok(set);
            }
        }
        // The next key signs from when the newest one stops (or now, when none can sign).
        let sign_from = newest_sign_until.map_or(t, |u| u.max(t));
        let record = tokio::task::spawn_blocking(move || {
            generate_record(alg, t, sign_from, sign_for_secs, verify_extra_secs)
        })
        .await
        .map_err(|e| KeyError::Generate(e.to_string()))??;
        match storage.rotate_signing_key(generation, &record).await {
            Ok(true) => tracing::info!(kid = %record.kid, sign_from, "added the next signing key"),
            Ok(false) => tracing::debug!("another replica rotated the signing key first"),
            Err(StorageError::AlreadyExists) => {}
            Err(e) => return Err(e.into()),
        }
    }
    // Three lost races in a row: use what is there if anything can sign.
    let records = storage.list_signing_keys().await?;
    usable(&records, now())?.ok_or(KeyError::NoKey)
}

/// How long before the signing key ages out its successor is added: long enough for every
/// replica's refresh timer and relying parties' JWKS caches (the filter refetches every 5 min by
/// default) to pick it up; half a signing period, at most an hour.
pub fn rotation_lead(sign_for_secs: i64) -> i64 {
    (sign_for_secs / 2).min(3600)
}

fn usable(records: &[SigningKeyRecord], t: UnixTime) -> Result<Option<KeySet>, KeyError> {
    let mut verification = Vec::new();
    for record in records {
        if record.verify_until > t {
            verification.push(SigningKey::from_record(record)?);
        }
    }
    verification.sort_by_key(|k| (k.created_at, k.jwk.kid.clone()));
    let signing = verification
        .iter()
        .find(|k| k.sign_from <= t && k.sign_until > t)
        .cloned();
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
        let a = KeyManager::start(storage.clone(), SigningAlgorithm::Rs256, 3600, 3600)
            .await
            .unwrap();
        let b = KeyManager::start(storage.clone(), SigningAlgorithm::Rs256, 3600, 3600)
            .await
            .unwrap();
        assert_eq!(a.current().signing.jwk.kid, b.current().signing.jwk.kid);
        assert_eq!(storage.list_signing_keys().await.unwrap().len(), 1);
        let jwks = a.current().jwks();
        assert_eq!(jwks.keys.len(), 1);
        assert_eq!(jwks.keys[0].alg, "RS256");
        assert_eq!(jwks.keys[0].e.as_deref(), Some("AQAB"));
    }

    #[tokio::test]
    async fn aged_out_key_is_replaced_but_still_published() {
        let storage: Arc<dyn Storage> = Arc::new(MemoryStorage::new());
        let old = tokio::task::spawn_blocking(|| {
            generate_record(SigningAlgorithm::Rs256, now() - 100, now() - 100, 50, 3600)
        })
        .await
        .unwrap()
        .unwrap();
        storage.insert_signing_key(&old).await.unwrap();
        let m = KeyManager::start(storage, SigningAlgorithm::Rs256, 3600, 3600)
            .await
            .unwrap();
        let set = m.current();
        assert_ne!(set.signing.jwk.kid, old.kid);
        assert!(set.find(&old.kid).is_some(), "old key still verifies");
        assert_eq!(set.jwks().keys.len(), 2);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn replicas_rotating_together_add_one_key_published_before_it_signs() {
        let storage: Arc<dyn Storage> = Arc::new(MemoryStorage::new());
        // A key with 10 s of signing left: inside the rotation lead (30 min for a 1 h period).
        let t = now();
        let current = tokio::task::spawn_blocking(move || {
            generate_record(SigningAlgorithm::Rs256, t, t - 3590, 3600, 3600)
        })
        .await
        .unwrap()
        .unwrap();
        storage.insert_signing_key(&current).await.unwrap();
        let starts = (0..4).map(|_| {
            let storage = storage.clone();
            tokio::spawn(async move {
                KeyManager::start(storage, SigningAlgorithm::Rs256, 3600, 3600)
                    .await
                    .unwrap()
            })
        });
        let mut managers = Vec::new();
        for s in starts {
            managers.push(s.await.unwrap());
        }
        let stored = storage.list_signing_keys().await.unwrap();
        assert_eq!(stored.len(), 2, "one successor, not one per replica");
        assert_eq!(storage.signing_key_generation().await.unwrap(), 1);
        let next = stored.iter().find(|k| k.kid != current.kid).unwrap();
        assert_eq!(
            next.sign_from, current.sign_until,
            "signs when the old one stops"
        );
        for m in &managers {
            let set = m.current();
            assert_eq!(set.signing.jwk.kid, current.kid, "the old key still signs");
            let mut kids: Vec<_> = set.jwks().keys.into_iter().map(|k| k.kid).collect();
            kids.sort();
            let mut want = vec![current.kid.clone(), next.kid.clone()];
            want.sort();
            assert_eq!(kids, want, "every replica publishes both");
        }
    }

    #[tokio::test]
    async fn a_changed_algorithm_applies_at_the_next_rotation() {
        let storage: Arc<dyn Storage> = Arc::new(MemoryStorage::new());
        let t = now();
        let rsa = tokio::task::spawn_blocking(move || {
            generate_record(SigningAlgorithm::Rs256, t, t - 3590, 3600, 3600)
        })
        .await
        .unwrap()
        .unwrap();
        storage.insert_signing_key(&rsa).await.unwrap();
        let m = KeyManager::start(storage.clone(), SigningAlgorithm::EdDsa, 3600, 3600)
            .await
            .unwrap();
        let set = m.current();
        assert_eq!(
            set.signing.alg,
            SigningAlgorithm::Rs256,
            "the old key signs on"
        );
        let next = set
            .verification
            .iter()
            .find(|k| k.jwk.kid != rsa.kid)
            .unwrap();
        assert_eq!(next.alg, SigningAlgorithm::EdDsa);
        let kinds: Vec<_> = set
            .jwks()
            .keys
            .iter()
            .map(|k| (k.kty.clone(), k.alg.clone()))
            .collect();
        assert!(kinds.contains(&("RSA".into(), "RS256".into())), "{kinds:?}");
        assert!(kinds.contains(&("OKP".into(), "EdDSA".into())), "{kinds:?}");
    }
}
