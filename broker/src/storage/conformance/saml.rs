//! SAML requests answered once, and the assertion-ID replay cache.

use std::sync::Arc;

use super::*;

fn saml_request(id: &str, expires_at: UnixTime) -> SamlRequest {
    SamlRequest {
        id: id.into(),
        auth_request_id: "ar".into(),
        connector_id: "saml".into(),
        expires_at,
        answered: false,
    }
}

pub(super) async fn saml_requests_are_answered_once(s: &dyn Storage) {
    let r = saml_request("_s1", NOW + 60);
    s.create_saml_request(&r).await.unwrap();
    assert!(matches!(
        s.create_saml_request(&r).await,
        Err(StorageError::AlreadyExists)
    ));
    assert_eq!(
        s.get_saml_request("_s1", NOW).await.unwrap(),
        Some(r.clone())
    );
    assert_eq!(
        s.get_saml_request("_s1", NOW + 60).await.unwrap(),
        None,
        "expired"
    );
    assert_eq!(s.get_saml_request("_nope", NOW).await.unwrap(), None);
    assert!(s.answer_saml_request("_s1", NOW).await.unwrap());
    assert!(
        !s.answer_saml_request("_s1", NOW).await.unwrap(),
        "answered once"
    );
    let answered = s.get_saml_request("_s1", NOW).await.unwrap().unwrap();
    assert!(answered.answered, "kept, marked answered");
    assert!(!s.answer_saml_request("_nope", NOW).await.unwrap());
    s.create_saml_request(&saml_request("_s2", NOW + 1))
        .await
        .unwrap();
    assert!(
        !s.answer_saml_request("_s2", NOW + 5).await.unwrap(),
        "expired"
    );
}

pub(super) async fn saml_assertion_replay_cache(s: &dyn Storage) {
    assert!(s.remember_saml_assertion("_a1", NOW + 60).await.unwrap());
    assert!(
        !s.remember_saml_assertion("_a1", NOW + 60).await.unwrap(),
        "replay"
    );
    assert!(s.remember_saml_assertion("_a2", NOW + 5).await.unwrap());
    s.create_saml_request(&saml_request("_gc", NOW + 5))
        .await
        .unwrap();
    let stats = s.delete_expired(NOW + 10).await.unwrap();
    assert!(stats.saml_assertions >= 1, "{stats:?}");
    assert!(stats.saml_requests >= 1, "{stats:?}");
    assert!(
        !s.remember_saml_assertion("_a1", NOW + 60).await.unwrap(),
        "kept until it expires"
    );
    assert!(
        s.remember_saml_assertion("_a2", NOW + 60).await.unwrap(),
        "forgotten after it expired"
    );
}

/// Two replicas receiving the same SAML response at once: one answers the request, one
/// records the assertion ID; the other copy is refused at both steps.
pub(super) async fn concurrent_saml_answers(storage: Arc<dyn Storage>) {
    storage
        .create_saml_request(&saml_request("_race-s", NOW + 300))
        .await
        .unwrap();
    let answers = race(&storage, 8, |s, _| async move {
        s.answer_saml_request("_race-s", NOW).await.unwrap()
    })
    .await;
    assert_eq!(answers.iter().filter(|a| **a).count(), 1, "{answers:?}");
    let remembered = race(&storage, 8, |s, _| async move {
        s.remember_saml_assertion("_race-a", NOW + 300)
            .await
            .unwrap()
    })
    .await;
    assert_eq!(
        remembered.iter().filter(|r| **r).count(),
        1,
        "{remembered:?}"
    );
}
