//! Device authorization requests, every backend: the part of the conformance suite for
//! [`DeviceRequests`].

use std::sync::Arc;

use super::{identity, race, NOW};
use crate::storage::*;

fn request(code: &str, user_code: &str) -> DeviceRequest {
    DeviceRequest {
        device_code_hash: format!("dev-{code}"),
        user_code_hash: format!("user-{user_code}"),
        client_id: "c".into(),
        scopes: vec!["openid".into(), "offline_access".into()],
        pkce: None,
        expires_at: NOW + 300,
        interval_secs: 5,
        last_poll_ms: NOW * 1000,
        decision: DeviceDecision::Pending,
    }
}

fn approved() -> DeviceDecision {
    DeviceDecision::Approved {
        connector_id: "local".into(),
        identity: identity(),
    }
}

pub async fn run_all(storage: Arc<dyn Storage>) {
    let s = &*storage;
    codes_are_unique_and_found_by_user_code(s).await;
    polling_slows_down_and_collects_once(s).await;
    denial_and_expiry(s).await;
    concurrent_decisions_and_polls(storage.clone()).await;
}

async fn codes_are_unique_and_found_by_user_code(s: &dyn Storage) {
    let r = request("a", "A");
    s.create_device_request(&r).await.unwrap();
    assert!(matches!(
        s.create_device_request(&request("a", "other")).await,
        Err(StorageError::AlreadyExists)
    ));
    assert!(matches!(
        s.create_device_request(&request("other", "A")).await,
        Err(StorageError::AlreadyExists)
    ));
    assert_eq!(
        s.pending_device_request("user-A", NOW).await.unwrap(),
        Some(r)
    );
    assert_eq!(s.pending_device_request("user-B", NOW).await.unwrap(), None);
    assert_eq!(
        s.pending_device_request("user-A", NOW + 300).await.unwrap(),
        None
    );
    // Decided requests are no longer offered to the user-code page.
    assert!(s
        .decide_device_request("dev-a", &approved(), NOW)
        .await
        .unwrap());
    assert_eq!(s.pending_device_request("user-A", NOW).await.unwrap(), None);
    assert!(!s
        .decide_device_request("dev-a", &DeviceDecision::Denied, NOW)
        .await
        .unwrap());
    assert!(!s
        .decide_device_request("dev-nope", &approved(), NOW)
        .await
        .unwrap());
}

async fn polling_slows_down_and_collects_once(s: &dyn Storage) {
    s.create_device_request(&request("p", "P")).await.unwrap();
    let ms = NOW * 1000;
    assert!(matches!(
        s.poll_device_request("dev-p", "c", ms + 1000)
            .await
            .unwrap(),
        DevicePoll::SlowDown
    ));
    // The interval grew to 10 s from that poll on.
    assert!(matches!(
        s.poll_device_request("dev-p", "c", ms + 7000)
            .await
            .unwrap(),
        DevicePoll::SlowDown
    ));
    assert!(matches!(
        s.poll_device_request("dev-p", "c", ms + 22_000)
            .await
            .unwrap(),
        DevicePoll::Pending
    ));
    assert!(matches!(
        s.poll_device_request("dev-p", "other-client", ms + 60_000)
            .await
            .unwrap(),
        DevicePoll::Unknown
    ));
    assert!(s
        .decide_device_request("dev-p", &approved(), NOW + 30)
        .await
        .unwrap());
    match s
        .poll_device_request("dev-p", "c", ms + 40_000)
        .await
        .unwrap()
    {
        DevicePoll::Approved(r) => {
            assert_eq!(r.decision, approved());
            assert_eq!(r.scopes, vec!["openid", "offline_access"]);
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        s.poll_device_request("dev-p", "c", ms + 60_000)
            .await
            .unwrap(),
        DevicePoll::Unknown
    ));
}

async fn denial_and_expiry(s: &dyn Storage) {
    s.create_device_request(&request("d", "D")).await.unwrap();
    assert!(s
        .decide_device_request("dev-d", &DeviceDecision::Denied, NOW)
        .await
        .unwrap());
    assert!(matches!(
        s.poll_device_request("dev-d", "c", NOW * 1000 + 10_000)
            .await
            .unwrap(),
        DevicePoll::Denied
    ));
    s.create_device_request(&request("e", "E")).await.unwrap();
    assert!(!s
        .decide_device_request("dev-e", &approved(), NOW + 300)
        .await
        .unwrap());
    assert!(matches!(
        s.poll_device_request("dev-e", "c", (NOW + 300) * 1000)
            .await
            .unwrap(),
        DevicePoll::Expired
    ));
    assert!(s.delete_expired_device_requests(NOW + 300).await.unwrap() >= 1);
    assert!(matches!(
        s.poll_device_request("dev-e", "c", (NOW + 300) * 1000)
            .await
            .unwrap(),
        DevicePoll::Unknown
    ));
}

async fn concurrent_decisions_and_polls(storage: Arc<dyn Storage>) {
    storage
        .create_device_request(&request("r", "R"))
        .await
        .unwrap();
    let decided = race(&storage, 6, |s, i| async move {
        let decision = if i % 2 == 0 {
            approved()
        } else {
            DeviceDecision::Denied
        };
        s.decide_device_request("dev-r", &decision, NOW)
            .await
            .unwrap()
    })
    .await;
    assert_eq!(decided.iter().filter(|d| **d).count(), 1, "{decided:?}");
    let polls = race(&storage, 6, |s, _| async move {
        let p = s
            .poll_device_request("dev-r", "c", NOW * 1000 + 10_000)
            .await
            .unwrap();
        matches!(p, DevicePoll::Approved(_) | DevicePoll::Denied)
    })
    .await;
    assert_eq!(polls.iter().filter(|p| **p).count(), 1, "{polls:?}");
}
