//! Signing keys: stored once, rotated by compare-and-swap so one replica wins.

use std::sync::Arc;

use super::*;

pub(super) async fn signing_keys(s: &dyn Storage) {
    let a = signing_key("ka", NOW + 1000);
    s.insert_signing_key(&a).await.unwrap();
    assert!(matches!(
        s.insert_signing_key(&a).await,
        Err(StorageError::AlreadyExists)
    ));
    let b = signing_key("kb", NOW + 10);
    s.insert_signing_key(&b).await.unwrap();
    let mut keys = s.list_signing_keys().await.unwrap();
    keys.sort_by(|x, y| x.kid.cmp(&y.kid));
    assert_eq!(keys, vec![a, b]);
}

pub(super) async fn signing_key_rotation_is_compare_and_swap(s: &dyn Storage) {
    let g = s.signing_key_generation().await.unwrap();
    let k1 = signing_key("rot1", NOW + 1000);
    assert!(s.rotate_signing_key(g, &k1).await.unwrap());
    assert_eq!(s.signing_key_generation().await.unwrap(), g + 1);
    // A replica that read the old generation loses and adds nothing.
    let k2 = signing_key("rot2", NOW + 1000);
    assert!(!s.rotate_signing_key(g, &k2).await.unwrap());
    let kids = kids(s).await;
    assert!(kids.contains(&"rot1".to_string()) && !kids.contains(&"rot2".to_string()));
    assert!(s.rotate_signing_key(g + 1, &k2).await.unwrap());
}

pub(super) async fn concurrent_key_rotations(storage: Arc<dyn Storage>) {
    let seen = storage.signing_key_generation().await.unwrap();
    let before = storage.list_signing_keys().await.unwrap().len();
    let results = race(&storage, 6, move |s, i| async move {
        let key = signing_key(&format!("race-k{i}"), NOW + 5000);
        s.rotate_signing_key(seen, &key).await.unwrap()
    })
    .await;
    assert_eq!(results.iter().filter(|r| **r).count(), 1, "{results:?}");
    assert_eq!(storage.signing_key_generation().await.unwrap(), seen + 1);
    assert_eq!(storage.list_signing_keys().await.unwrap().len(), before + 1);
}
