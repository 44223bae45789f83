//! The local password database (`enablePasswordDB`), connector id `local`: the config's
//! `staticPasswords` (read-only) and, as in Dex, the users stored through the gRPC API. Stored
//! users are read from storage on every sign-in and refresh (no cache), so a user deleted on
//! one replica stops working on every replica at once.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use prometheus_client::metrics::gauge::Gauge;
use tokio::sync::Semaphore;

use super::{Connector, ConnectorError, Identity, PasswordConnector, RefreshConnector};
use crate::config::StaticPassword;
use crate::metrics::InFlight;
use crate::storage::{PasswordRecord, Storage};

pub use crate::config::LOCAL_CONNECTOR_ID;

/// Salt and digest of a real bcrypt hash: verifying against it with the configured cost takes
/// as long as a real check, so an unknown e-mail is not told apart by timing. Its result is ignored.
const DUMMY_BODY: &str = "L2qpbN4c58GLwuaz8Zxhke/K1ups/ZurFxo5ObFp1AhH.ie4gT5vC";

/// How long a sign-in may wait for a bcrypt slot before the user is told to retry.
const QUEUE_TIMEOUT: Duration = Duration::from_secs(10);

pub struct LocalConnector {
    /// Keyed by lower-cased e-mail (Dex matches e-mails case-insensitively).
    by_email: HashMap<String, StaticPassword>,
    by_user_id: HashMap<String, StaticPassword>,
    dummy_hash: String,
    /// bcrypt is CPU-bound: bound concurrent checks so logins cannot starve the machine.
    limiter: Arc<Semaphore>,
    /// Raised while a bcrypt check runs (the metric `gatehouse_bcrypt_checks_in_flight`).
    in_flight: Gauge,
    /// Users created at run time; None in tests of the static part alone.
    storage: Option<Arc<dyn Storage>>,
}

impl LocalConnector {
    pub fn new(users: &[StaticPassword], max_concurrent_checks: usize) -> Self {
        let cost = users.iter().map(|u| u.hash.cost()).max().unwrap_or(10);
        LocalConnector {
            by_email: users
                .iter()
                .map(|u| (u.email.to_lowercase(), u.clone()))
                .collect(),
            by_user_id: users
                .iter()
                .map(|u| (u.user_id.clone(), u.clone()))
                .collect(),
            dummy_hash: format!("$2b${cost:02}${DUMMY_BODY}"),
            limiter: Arc::new(Semaphore::new(max_concurrent_checks.max(1))),
            in_flight: Gauge::default(),
            storage: None,
        }
    }

    /// Also signs in the users kept in `storage` (after the static ones, which win).
    pub fn with_storage(mut self, storage: Arc<dyn Storage>) -> Self {
        self.storage = Some(storage);
        self
    }

    /// The stored user with this e-mail, unless a static user has it.
    async fn stored_user(&self, email: &str) -> Result<Option<PasswordRecord>, ConnectorError> {
        let Some(storage) = &self.storage else {
            return Ok(None);
        };
        storage
            .get_password(email)
            .await
            .map_err(|e| ConnectorError::Internal(format!("reading the password database: {e}")))
    }

    /// Reports running bcrypt checks on `gauge` (a metric) instead of a private one.
    pub fn with_in_flight_gauge(mut self, gauge: Gauge) -> Self {
        self.in_flight = gauge;
        self
    }
}

fn identity_of_stored(user: &PasswordRecord) -> Identity {
    account_identity(&user.user_id, &user.username, &user.email, &[])
}

fn identity_of(user: &StaticPassword) -> Identity {
    account_identity(&user.user_id, &user.username, &user.email, &user.groups)
}

fn account_identity(user_id: &str, username: &str, email: &str, groups: &[String]) -> Identity {
    Identity {
        user_id: user_id.to_string(),
        username: username.to_string(),
        preferred_username: username.to_string(),
        email: email.to_string(),
        email_verified: true,
        groups: groups.to_vec(),
        connector_data: None,
    }
}

impl Connector for LocalConnector {
    fn id(&self) -> &str {
        LOCAL_CONNECTOR_ID
    }

    fn name(&self) -> &str {
        "Email"
    }

    fn password(&self) -> Option<&dyn PasswordConnector> {
        Some(self)
    }

    fn refresh(&self) -> Option<&dyn RefreshConnector> {
        Some(self)
    }
}

#[async_trait]
impl PasswordConnector for LocalConnector {
    fn prompt(&self) -> &str {
        "Email Address"
    }

    async fn login(&self, email: &str, password: &str) -> Result<Option<Identity>, ConnectorError> {
        let user = match self.by_email.get(&email.trim().to_lowercase()) {
            Some(u) => Some((u.hash.as_str().to_string(), identity_of(u))),
            None => self
                .stored_user(email)
                .await?
                .map(|u| (u.hash.clone(), identity_of_stored(&u))),
        };
        let hash = user
            .as_ref()
            .map(|(hash, _)| hash.clone())
            .unwrap_or_else(|| self.dummy_hash.clone());
        let password = password.to_string();
        let _permit = tokio::time::timeout(QUEUE_TIMEOUT, self.limiter.clone().acquire_owned())
            .await
            .map_err(|_| ConnectorError::Busy)?
            .map_err(|_| ConnectorError::Internal("login limiter closed".into()))?;
        let _running = InFlight::enter(&self.in_flight);
        // bcrypt takes tens to hundreds of milliseconds: keep it off the async worker threads.
        let matched =
            tokio::task::spawn_blocking(move || bcrypt::verify(password, &hash).unwrap_or(false))
                .await
                .map_err(|e| {
                    ConnectorError::Internal(format!("password check task failed: {e}"))
                })?;
        Ok(match (user, matched) {
            (Some((_, identity)), true) => Some(identity),
            _ => None,
        })
    }
}

#[async_trait]
impl RefreshConnector for LocalConnector {
    async fn refresh(&self, identity: &Identity) -> Result<Option<Identity>, ConnectorError> {
        if let Some(user) = self.by_user_id.get(&identity.user_id) {
            return Ok(Some(identity_of(user)));
        }
        // As Dex: the stored user is found by e-mail, and must still be the same user.
        Ok(self
            .stored_user(&identity.email)
            .await?
            .filter(|u| u.user_id == identity.user_id)
            .map(|u| identity_of_stored(&u)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::decode_bcrypt_hash;

    fn user(email: &str, password: &str) -> StaticPassword {
        StaticPassword {
            email: email.into(),
            hash: decode_bcrypt_hash(&bcrypt::hash(password, 4).unwrap()).unwrap(),
            username: "admin".into(),
            user_id: "id-1".into(),
            groups: vec!["admins".into()],
        }
    }

    #[tokio::test]
    async fn login_checks_password_and_matches_email_case_insensitively() {
        let c = LocalConnector::new(&[user("Admin@Example.com", "pw")], 2);
        let id = c.login("admin@example.COM", "pw").await.unwrap().unwrap();
        assert_eq!(id.user_id, "id-1");
        assert_eq!(id.groups, vec!["admins"]);
        assert!(id.email_verified);
        assert!(c
            .login("admin@example.com", "wrong")
            .await
            .unwrap()
            .is_none());
        assert!(c.login("nobody@example.com", "pw").await.unwrap().is_none());
    }

    #[test]
    fn dummy_hash_is_a_valid_hash_of_the_configured_cost() {
        // A malformed dummy would make verify fail fast and reveal unknown e-mails by timing.
        let c = LocalConnector::new(&[user("a@b.c", "pw")], 1);
        assert!(c.dummy_hash.starts_with("$2b$04$"));
        assert!(bcrypt::verify("anything", &c.dummy_hash).is_ok());
        assert!(decode_bcrypt_hash(&c.dummy_hash).is_ok());
    }

    #[tokio::test]
    async fn refresh_follows_the_config() {
        let c = LocalConnector::new(&[user("a@b.c", "pw")], 1);
        let id = c.login("a@b.c", "pw").await.unwrap().unwrap();
        assert!(RefreshConnector::refresh(&c, &id).await.unwrap().is_some());
        let gone = Identity {
            user_id: "other".into(),
            ..id
        };
        assert!(RefreshConnector::refresh(&c, &gone)
            .await
            .unwrap()
            .is_none());
    }
}
