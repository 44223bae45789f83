//! Users and clients, every backend: the part of the conformance suite for [`Directory`].

use std::sync::Arc;

use super::{race, refresh, NOW, ROTATE};
use crate::storage::*;

fn user(email: &str, user_id: &str) -> PasswordRecord {
    PasswordRecord {
        email: email.into(),
        hash: "$2a$10$L2qpbN4c58GLwuaz8Zxhke/K1ups/ZurFxo5ObFp1AhH.ie4gT5vC".into(),
        username: "someone".into(),
        user_id: user_id.into(),
    }
}

fn client(id: &str) -> ClientRecord {
    ClientRecord {
        id: id.into(),
        secret: format!("secret-{id}"),
        redirect_uris: vec!["http://a/cb".into()],
        trusted_peers: vec![],
        public: false,
        name: format!("Client {id}"),
        logo_url: String::new(),
    }
}

pub async fn run_all(storage: Arc<dyn Storage>) {
    let s = &*storage;
    passwords_crud_and_case(s).await;
    clients_crud(s).await;
    user_refresh_tokens(s).await;
    concurrent_password_creates(storage.clone()).await;
    concurrent_client_creates(storage.clone()).await;
}

async fn passwords_crud_and_case(s: &dyn Storage) {
    let alice = user("alice@example.com", "id-alice");
    s.create_password(&alice).await.unwrap();
    // The same address in another case is the same user: refused, nothing changed.
    let shouting = PasswordRecord {
        user_id: "id-other".into(),
        ..user("ALICE@Example.COM", "id-other")
    };
    assert!(matches!(
        s.create_password(&shouting).await,
        Err(StorageError::AlreadyExists)
    ));
    let found = s.get_password("Alice@EXAMPLE.com").await.unwrap().unwrap();
    assert_eq!(found, alice);
    assert!(s.get_password("bob@example.com").await.unwrap().is_none());

    let changed = s
        .update_password("ALICE@example.com", &|p: &mut PasswordRecord| {
            p.username = "Alice A.".into();
            p.user_id = "hijacked".into();
            p.email = "evil@example.com".into();
        })
        .await
        .unwrap();
    assert!(changed);
    let found = s.get_password("alice@example.com").await.unwrap().unwrap();
    assert_eq!(found.username, "Alice A.");
    assert_eq!(found.user_id, "id-alice", "the user id is not editable");
    assert_eq!(
        found.email, "alice@example.com",
        "the e-mail is not editable"
    );
    assert!(!s
        .update_password("nobody@example.com", &|_: &mut PasswordRecord| {})
        .await
        .unwrap());

    s.create_password(&user("bob@example.com", "id-bob"))
        .await
        .unwrap();
    let emails: Vec<String> = s
        .list_passwords()
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.email)
        .filter(|e| e == "alice@example.com" || e == "bob@example.com")
        .collect();
    assert_eq!(emails, ["alice@example.com", "bob@example.com"]);

    assert!(s.delete_password("BOB@example.com").await.unwrap());
    assert!(!s.delete_password("bob@example.com").await.unwrap());
    assert!(s.get_password("bob@example.com").await.unwrap().is_none());
}

async fn clients_crud(s: &dyn Storage) {
    s.create_client(&client("app-1")).await.unwrap();
    assert!(matches!(
        s.create_client(&client("app-1")).await,
        Err(StorageError::AlreadyExists)
    ));
    // Client ids are case-sensitive, as in OAuth.
    s.create_client(&client("APP-1")).await.unwrap();
    assert_eq!(
        s.get_client("app-1").await.unwrap().unwrap(),
        client("app-1")
    );
    assert!(s.get_client("app-2").await.unwrap().is_none());
    let changed = s
        .update_client("app-1", &|c: &mut ClientRecord| {
            c.redirect_uris = vec!["http://b/cb".into()];
            c.id = "renamed".into();
        })
        .await
        .unwrap();
    assert!(changed);
    let c = s.get_client("app-1").await.unwrap().unwrap();
    assert_eq!(c.redirect_uris, ["http://b/cb"]);
    assert!(s.get_client("renamed").await.unwrap().is_none());
    assert!(!s
        .update_client("app-2", &|_: &mut ClientRecord| {})
        .await
        .unwrap());
    let ids: Vec<String> = s
        .list_clients()
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.id)
        .collect();
    assert!(ids.contains(&"app-1".to_string()) && ids.contains(&"APP-1".to_string()));
    assert!(s.delete_client("APP-1").await.unwrap());
    assert!(!s.delete_client("APP-1").await.unwrap());
    assert!(s.get_client("app-1").await.unwrap().is_some());
}

async fn user_refresh_tokens(s: &dyn Storage) {
    // refresh() tokens belong to user u1 at connector local, client c.
    let mut other_client = refresh("dir-t2", "dir-fam2", UnixTime::MAX);
    other_client.client_id = "d".into();
    let mut other_user = refresh("dir-t3", "dir-fam3", UnixTime::MAX);
    other_user.identity.user_id = "u2".into();
    for t in [
        refresh("dir-t1", "dir-fam1", UnixTime::MAX),
        other_client,
        other_user,
    ] {
        s.create_refresh_token(&t).await.unwrap();
    }
    // Rotate dir-t1 once: its successor is the usable one, the spent one is not listed.
    assert!(matches!(
        s.use_refresh_token("dir-t1", "hash-dir-t1", "c", &ROTATE, NOW)
            .await
            .unwrap(),
        RefreshUse::Valid(_)
    ));
    s.create_refresh_token(&refresh("dir-t1b", "dir-fam1", UnixTime::MAX))
        .await
        .unwrap();
    let u1 = UserRef {
        user_id: "u1",
        connector_id: "local",
    };
    let ids = |list: Vec<RefreshToken>| -> Vec<String> {
        let mut v: Vec<String> = list
            .into_iter()
            .map(|t| t.id)
            .filter(|id| id.starts_with("dir-"))
            .collect();
        v.sort();
        v
    };
    assert_eq!(
        ids(s.list_user_refresh_tokens(u1).await.unwrap()),
        ["dir-t1b", "dir-t2"]
    );
    assert_eq!(s.revoke_user_client_refresh(u1, "c").await.unwrap(), 1);
    // The whole family is gone, the spent token included: it cannot be replayed.
    assert!(matches!(
        s.use_refresh_token("dir-t1", "hash-dir-t1", "c", &ROTATE, NOW + 10)
            .await
            .unwrap(),
        RefreshUse::Invalid
    ));
    assert_eq!(
        ids(s.list_user_refresh_tokens(u1).await.unwrap()),
        ["dir-t2"]
    );
    assert_eq!(s.revoke_user_client_refresh(u1, "c").await.unwrap(), 0);
    let u2 = UserRef {
        user_id: "u2",
        connector_id: "local",
    };
    assert_eq!(
        ids(s.list_user_refresh_tokens(u2).await.unwrap()),
        ["dir-t3"]
    );
}

async fn concurrent_password_creates(storage: Arc<dyn Storage>) {
    // Eight replicas create the same address in different cases at once: exactly one wins.
    let results = race(&storage, 8, |s, i| async move {
        let email = if i % 2 == 0 {
            "race@example.com"
        } else {
            "RACE@Example.com"
        };
        s.create_password(&user(email, &format!("race-{i}"))).await
    })
    .await;
    let won = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(won, 1, "{results:?}");
    assert!(results
        .iter()
        .all(|r| matches!(r, Ok(()) | Err(StorageError::AlreadyExists))));
    let stored = storage
        .list_passwords()
        .await
        .unwrap()
        .into_iter()
        .filter(|p| PasswordRecord::key(&p.email) == "race@example.com")
        .count();
    assert_eq!(stored, 1);
}

async fn concurrent_client_creates(storage: Arc<dyn Storage>) {
    let results = race(&storage, 8, |s, i| async move {
        let mut c = client("race-client");
        c.name = format!("replica {i}");
        s.create_client(&c).await
    })
    .await;
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        1,
        "{results:?}"
    );
    assert!(results
        .iter()
        .all(|r| matches!(r, Ok(()) | Err(StorageError::AlreadyExists))));
}
