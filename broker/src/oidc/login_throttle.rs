//! Password-guessing limits, held in storage so every replica sees the same counts: per
//! account and per client address, failures earn a growing back-off, and at most one password
//! check per account runs at a time (a second one waits briefly for its turn, then is refused;
//! an address is not single-flight, as it may be many people behind one NAT). A refused attempt
//! costs no bcrypt, so a flood against one account neither blocks other accounts nor fills the
//! bcrypt queue everyone shares.

use std::net::IpAddr;

use axum::http::{header, HeaderValue};
use axum::response::Response;

use super::client_address::throttle_key;
use super::AppState;
use crate::random::hash_secret;
use crate::storage::{
    now, AttemptOutcome, Backoff, LoginGate, StorageError, ThrottleKey, UnixTime,
};
use crate::web::{storage_error_page, throttled_page};

/// An account: a few free mistakes, then 1 s, 2 s, 4 s, … up to 15 minutes.
const ACCOUNT: Backoff = Backoff {
    free_failures: 5,
    base_secs: 1,
    max_secs: 15 * 60,
    forget_secs: 60 * 60,
    reset_on_success: true,
    exclusive: true,
};

/// A client address (maybe a NAT with many people): more free mistakes, same growth. A success
/// does not clear it, or one valid account would reset an attacker between guesses.
const ADDRESS: Backoff = Backoff {
    free_failures: 20,
    base_secs: 1,
    max_secs: 15 * 60,
    forget_secs: 60 * 60,
    reset_on_success: false,
    exclusive: false,
};

/// How long an admitted check holds its account if its request or its replica dies: a bcrypt
/// check takes well under this, and a replica killed mid-check must not lock its accounts for
/// long (a check outliving its lease may run beside a second one; both still count).
const LEASE_SECS: i64 = 5;

/// How long a sign-in waits for another check of the same account to finish, and how often
/// it looks.
const BUSY_WAIT: std::time::Duration = std::time::Duration::from_secs(6);
const BUSY_POLL: std::time::Duration = std::time::Duration::from_millis(50);

/// Unauthenticated `/auth` requests (each stores a row) per client address and minute.
pub const AUTH_REQUESTS_PER_MINUTE: i64 = 600;

/// An admitted password check; end it with [`Attempt::end`].
pub struct Attempt {
    keys: Vec<ThrottleKey>,
}

/// Why a password check may not run now.
#[derive(Debug)]
pub enum Refusal {
    /// Backing off: try again in `retry_after` seconds.
    Throttled {
        retry_after: i64,
        until: UnixTime,
    },
    /// A check for this account or address is running.
    Busy,
    Storage(StorageError),
}

fn keys(connector_id: &str, login: &str, client: Option<IpAddr>) -> Vec<ThrottleKey> {
    // Hashed: the table holds no e-mail addresses or client addresses.
    let account = format!("{connector_id}\0{}", login.trim().to_lowercase());
    let mut keys = vec![ThrottleKey {
        id: format!("account:{}", hash_secret(&account)),
        backoff: ACCOUNT,
    }];
    if let Some(ip) = client {
        keys.push(ThrottleKey {
            id: format!("address:{}", hash_secret(&throttle_key(ip))),
            backoff: ADDRESS,
        });
    }
    keys
}

/// Asks storage whether a check of `login` at `connector_id` from `client` may run now.
pub async fn begin(
    app: &AppState,
    connector_id: &str,
    login: &str,
    client: Option<IpAddr>,
) -> Result<Attempt, Refusal> {
    let keys = keys(connector_id, login, client);
    // A second sign-in of one account while its check runs (a double submit, two tabs) waits
    // its turn for a moment rather than being refused; waiting holds no bcrypt slot.
    let waited = std::time::Instant::now();
    let (t, gate) = loop {
        let t = now();
        let gate = app
            .storage
            .begin_login_attempt(&keys, t, t + LEASE_SECS)
            .await
            .map_err(Refusal::Storage)?;
        if gate != LoginGate::Busy || waited.elapsed() >= BUSY_WAIT {
            break (t, gate);
        }
        tokio::time::sleep(BUSY_POLL).await;
    };
    match gate {
        LoginGate::Open => Ok(Attempt { keys }),
        LoginGate::Throttled { until } => {
            app.metrics.login_throttled(connector_id);
            tracing::info!(connector = %connector_id, retry_after = until - t, "sign-in refused: throttled after failed attempts");
            Err(Refusal::Throttled {
                retry_after: (until - t).max(1),
                until,
            })
        }
        LoginGate::Busy => {
            app.metrics.login_throttled(connector_id);
            tracing::info!(connector = %connector_id, "sign-in refused: a check for this account or address is in flight");
            Err(Refusal::Busy)
        }
    }
}

/// What a password check's answer means for throttling.
pub fn outcome<T, E>(checked: &Result<Option<T>, E>) -> AttemptOutcome {
    match checked {
        Ok(Some(_)) => AttemptOutcome::Succeeded,
        Ok(None) => AttemptOutcome::Failed,
        Err(_) => AttemptOutcome::Abandoned,
    }
}

impl Attempt {
    /// Releases the keys; a failure counts against the account and the address.
    pub async fn end(self, app: &AppState, outcome: AttemptOutcome) {
        if let Err(e) = app
            .storage
            .end_login_attempt(&self.keys, outcome, now())
            .await
        {
            // The lease frees the keys anyway; a lost failure is one free guess.
            tracing::warn!(error = %e, "recording a sign-in attempt failed");
        }
    }
}

impl Refusal {
    /// Seconds for `Retry-After`.
    pub fn retry_after(&self) -> i64 {
        match self {
            Refusal::Throttled { retry_after, .. } => *retry_after,
            Refusal::Busy | Refusal::Storage(_) => 1,
        }
    }
}

impl Refusal {
    /// The page for a browser: 429 with `Retry-After`, saying when to try again.
    pub fn page(self) -> Response {
        match self {
            Refusal::Storage(e) => storage_error_page(&e, "checking sign-in throttling"),
            Refusal::Throttled { retry_after, until } => {
                with_retry_after(throttled_page(retry_after, Some(until)), retry_after)
            }
            Refusal::Busy => with_retry_after(throttled_page(1, None), 1),
        }
    }
}

/// `Retry-After` on a response.
pub fn with_retry_after(mut response: Response, secs: i64) -> Response {
    if let Ok(v) = HeaderValue::from_str(&secs.max(1).to_string()) {
        response.headers_mut().insert(header::RETRY_AFTER, v);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_hide_who_and_where_and_fold_case() {
        let a = keys(
            "local",
            " Admin@Example.com",
            Some("192.0.2.1".parse().unwrap()),
        );
        let b = keys(
            "local",
            "admin@example.com",
            Some("192.0.2.1".parse().unwrap()),
        );
        assert_eq!(a, b);
        assert!(a
            .iter()
            .all(|k| !k.id.contains("example") && !k.id.contains("192.0")));
        assert_ne!(keys("other", "admin@example.com", None)[0], a[0]);
        assert_eq!(keys("local", "x", None).len(), 1);
    }
}
