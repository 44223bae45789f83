//! Login throttling (back-off per key, one check in flight) and fixed-window counters.

use std::sync::Arc;

use super::*;

const THROTTLE_T: UnixTime = NOW + 100_000;

fn throttle_key(id: &str, reset_on_success: bool) -> ThrottleKey {
    ThrottleKey {
        id: id.into(),
        backoff: Backoff {
            free_failures: 1,
            base_secs: 10,
            max_secs: 40,
            forget_secs: 1000,
            reset_on_success,
            exclusive: true,
        },
    }
}

/// Back-off per key, one check in flight per key (refused, not queued), success clears only the
/// keys that ask for it, leases run out.
pub(super) async fn login_throttling(s: &dyn Storage) {
    let t = THROTTLE_T;
    let account = throttle_key("acct-1", true);
    let address = throttle_key("addr-1", false);
    let both = [account.clone(), address.clone()];
    let begin = |keys: Vec<ThrottleKey>, now: UnixTime| async move {
        s.begin_login_attempt(&keys, now, now + 30).await.unwrap()
    };
    assert_eq!(begin(both.to_vec(), t).await, LoginGate::Open);
    assert_eq!(begin(vec![account.clone()], t).await, LoginGate::Busy);
    assert_eq!(
        begin(vec![throttle_key("acct-2", true), address.clone()], t).await,
        LoginGate::Busy,
        "the address has a check in flight"
    );
    let elsewhere = vec![throttle_key("acct-3", true), throttle_key("addr-3", false)];
    assert_eq!(begin(elsewhere.clone(), t).await, LoginGate::Open);
    s.end_login_attempt(&elsewhere, AttemptOutcome::Succeeded, t)
        .await
        .unwrap();
    // Failure 1 is free; failure 2 waits 10 s, failure 3 waits 20 s.
    s.end_login_attempt(&both, AttemptOutcome::Failed, t)
        .await
        .unwrap();
    assert_eq!(begin(both.to_vec(), t).await, LoginGate::Open);
    s.end_login_attempt(&both, AttemptOutcome::Failed, t)
        .await
        .unwrap();
    assert_eq!(
        begin(both.to_vec(), t + 1).await,
        LoginGate::Throttled { until: t + 10 }
    );
    assert_eq!(
        begin(vec![address.clone()], t + 9).await,
        LoginGate::Throttled { until: t + 10 }
    );
    assert_eq!(begin(both.to_vec(), t + 10).await, LoginGate::Open);
    s.end_login_attempt(&both, AttemptOutcome::Failed, t + 10)
        .await
        .unwrap();
    assert_eq!(
        begin(vec![account.clone()], t + 11).await,
        LoginGate::Throttled { until: t + 30 }
    );
    // A success clears the account, not the address (which keeps its three failures).
    assert_eq!(begin(both.to_vec(), t + 30).await, LoginGate::Open);
    s.end_login_attempt(&both, AttemptOutcome::Succeeded, t + 30)
        .await
        .unwrap();
    assert_eq!(begin(vec![account.clone()], t + 30).await, LoginGate::Open);
    s.end_login_attempt(
        std::slice::from_ref(&account),
        AttemptOutcome::Failed,
        t + 30,
    )
    .await
    .unwrap();
    assert_eq!(begin(vec![account.clone()], t + 30).await, LoginGate::Open);
    s.end_login_attempt(
        std::slice::from_ref(&account),
        AttemptOutcome::Succeeded,
        t + 30,
    )
    .await
    .unwrap();
    assert_eq!(begin(vec![address.clone()], t + 30).await, LoginGate::Open);
    s.end_login_attempt(
        std::slice::from_ref(&address),
        AttemptOutcome::Failed,
        t + 30,
    )
    .await
    .unwrap();
    assert_eq!(
        begin(vec![address.clone()], t + 31).await,
        LoginGate::Throttled { until: t + 70 },
        "fourth failure: capped at 40 s"
    );
    // Forgotten after forget_secs without failures.
    assert_eq!(
        begin(vec![address.clone()], t + 70 + 1000).await,
        LoginGate::Open
    );
    // A crashed attempt holds its keys only until the lease runs out.
    let crashed = vec![throttle_key("acct-4", true)];
    assert_eq!(begin(crashed.clone(), t).await, LoginGate::Open);
    assert_eq!(begin(crashed.clone(), t + 29).await, LoginGate::Busy);
    assert_eq!(begin(crashed.clone(), t + 30).await, LoginGate::Open);
    let stats = s.delete_expired(t + 100_000).await.unwrap();
    assert!(stats.throttle_rows >= 4, "{stats:?}");
    assert_eq!(
        begin(vec![throttle_key("acct-4", true)], t + 100_000).await,
        LoginGate::Open
    );
}

pub(super) async fn window_counts(s: &dyn Storage) {
    let t = THROTTLE_T;
    for allowed in [true, true, false, false] {
        assert_eq!(
            s.count_in_window("w1", 2, 60, t + 1).await.unwrap(),
            allowed
        );
    }
    assert!(!s.count_in_window("w1", 2, 60, t + 60).await.unwrap());
    assert!(
        s.count_in_window("w2", 2, 60, t + 1).await.unwrap(),
        "per key"
    );
    assert!(
        s.count_in_window("w1", 2, 60, t + 61).await.unwrap(),
        "next window"
    );
}

/// Replicas racing on one account: exactly one check is admitted.
pub(super) async fn concurrent_login_attempts(storage: Arc<dyn Storage>) {
    let admitted = race(&storage, 8, |s, i| async move {
        let keys = [
            throttle_key("race-acct", true),
            throttle_key(&format!("race-addr-{i}"), false),
        ];
        s.begin_login_attempt(&keys, THROTTLE_T, THROTTLE_T + 30)
            .await
            .unwrap()
    })
    .await;
    let open = admitted.iter().filter(|g| **g == LoginGate::Open).count();
    assert_eq!(open, 1, "{admitted:?}");
}
