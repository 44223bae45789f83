//! `type: ldap`: Dex's LDAP / Active Directory password connector. A sign-in binds as the
//! service account (or anonymously), finds the one entry matching what the user typed, binds as
//! that entry with the password, binds back and reads the groups. A refresh finds the entry
//! again (same DN) and re-reads its attributes and groups, so a removed user or membership takes
//! effect at the next refresh. Login throttling and the login form are the provider's, as for
//! the local password database.

pub mod config;
mod directory;
pub mod filter;
mod groups;
mod raw;
mod tls;
mod user;

use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use self::config::LdapConfig;
use self::directory::{unavailable, Bind, Directory, Session};
use super::types::{BuiltConnector, ConnectorSettings, ConnectorType};
use super::{
    Connector, ConnectorData, ConnectorError, Identity, PasswordConnector, RefreshConnector,
    UpstreamClient,
};

/// `type: ldap`.
pub const TYPE: ConnectorType = ConnectorType {
    name: "ldap",
    parse: |entry, context| {
        Ok(Box::new(config::parse(
            &entry.config,
            &entry.key("config"),
            context,
        )?))
    },
};

/// A whole sign-in or refresh, however many round trips it takes: under the throttle's lease
/// (`oidc/login_throttle.rs`), so a slow directory never has two checks of one account running.
const DEADLINE: Duration = Duration::from_secs(4);

impl ConnectorSettings for LdapConfig {
    fn build(&self, id: &str, name: &str, _http: &UpstreamClient) -> BuiltConnector {
        let tls = if self.insecure_no_ssl {
            None
        } else {
            Some(tls::build(&self.tls, true)?)
        };
        Ok(std::sync::Arc::new(LdapConnector {
            id: id.to_string(),
            name: name.to_string(),
            directory: Directory {
                url: self.url.clone(),
                start_tls: self.start_tls,
                tls,
            },
            decoy_dn: format!("cn=gatehouse-no-such-user,{}", self.user_search.base_dn),
            config: self.clone(),
        }))
    }

    fn warnings(&self) -> Vec<String> {
        let mut w = Vec::new();
        if self.insecure_no_ssl {
            w.push("insecureNoSSL is on: passwords cross the network to the directory in clear text; use ldaps (the default) or startTLS".into());
        } else if self.tls.insecure_skip_verify {
            w.push("insecureSkipVerify is on: the directory's certificate is not checked, so anyone on the path can pose as it and read passwords; set rootCA instead".into());
        }
        if self.legacy_group_keys {
            w.push("groupSearch.userAttr/groupAttr are deprecated (as in Dex): use groupSearch.userMatchers".into());
        }
        w
    }
}

pub struct LdapConnector {
    id: String,
    name: String,
    config: LdapConfig,
    directory: Directory,
    /// Bound with the password when no entry matches, so an unknown user costs the same
    /// round trips as a wrong password.
    decoy_dn: String,
}

/// Kept with the session for refreshes: who typed what, and the entry it found.
#[derive(Serialize, Deserialize)]
struct RefreshData {
    username: String,
    dn: String,
}

impl LdapConnector {
    /// A connection bound as the service account (or anonymously).
    async fn session(&self) -> Result<Session, ConnectorError> {
        let mut session = self.directory.open().await?;
        self.service_bind(&mut session).await?;
        Ok(session)
    }

    async fn service_bind(&self, session: &mut Session) -> Result<(), ConnectorError> {
        match &self.config.bind {
            None => session.anonymous().await,
            Some((dn, password)) => match session.bind(dn, password.expose()).await? {
                Bind::Accepted => Ok(()),
                // Never the DN or the password in the log: the key names are enough to fix it.
                Bind::Refused => Err(unavailable(
                    "service bind",
                    "the directory refused bindDN/bindPW (invalid credentials)",
                )),
            },
        }
    }

    async fn sign_in(
        &self,
        username: &str,
        password: &str,
    ) -> Result<Option<Identity>, ConnectorError> {
        let mut session = self.session().await?;
        let Some(entry) = user::find(&mut session, &self.config, username).await? else {
            // The answer is ignored: only the time it takes matters.
            let _ = session.bind(&self.decoy_dn, password).await;
            session.close().await;
            return Ok(None);
        };
        if session.bind(&entry.dn, password).await? == Bind::Refused {
            session.close().await;
            return Ok(None);
        }
        // The groups are read with the service account's rights, not the user's.
        self.service_bind(&mut session).await?;
        let mut identity = self.identity(&mut session, &entry).await?;
        session.close().await;
        let data = RefreshData {
            username: username.to_string(),
            dn: entry.dn,
        };
        let data = serde_json::to_string(&data)
            .map_err(|e| ConnectorError::Internal(format!("encoding LDAP refresh data: {e}")))?;
        identity.connector_data = Some(ConnectorData::new(data));
        Ok(Some(identity))
    }

    async fn identity(
        &self,
        session: &mut Session,
        entry: &ldap3::SearchEntry,
    ) -> Result<Identity, ConnectorError> {
        let mut identity = user::identity(&self.config.user_search, entry)?;
        if let Some(search) = &self.config.group_search {
            identity.groups = groups::of_user(session, search, entry).await?;
        }
        Ok(identity)
    }

    async fn again(&self, old: &Identity) -> Result<Option<Identity>, ConnectorError> {
        let data: RefreshData = old
            .connector_data
            .as_ref()
            .and_then(|d| serde_json::from_str(d.expose()).ok())
            .ok_or_else(|| {
                ConnectorError::Internal("stored LDAP refresh data is corrupt".into())
            })?;
        let mut session = self.session().await?;
        let Some(entry) = user::find(&mut session, &self.config, &data.username).await? else {
            tracing::info!(connector = %self.id, "refresh refused: the user's entry is gone");
            return Ok(None);
        };
        if entry.dn != data.dn {
            tracing::info!(connector = %self.id, "refresh refused: the username now names another entry");
            return Ok(None);
        }
        let mut identity = self.identity(&mut session, &entry).await?;
        session.close().await;
        if identity.user_id != old.user_id {
            tracing::info!(connector = %self.id, "refresh refused: the entry's idAttr changed");
            return Ok(None);
        }
        identity.connector_data = old.connector_data.clone();
        Ok(Some(identity))
    }
}

/// `work`, or Unavailable once the deadline passes.
async fn within<T>(
    work: impl std::future::Future<Output = Result<T, ConnectorError>>,
) -> Result<T, ConnectorError> {
    tokio::time::timeout(DEADLINE, work)
        .await
        .unwrap_or_else(|_| {
            Err(unavailable(
                "directory",
                format!("no answer within {} s", DEADLINE.as_secs()),
            ))
        })
}

impl Connector for LdapConnector {
    fn id(&self) -> &str {
        &self.id
    }

    fn name(&self) -> &str {
        &self.name
    }

    fn password(&self) -> Option<&dyn PasswordConnector> {
        Some(self)
    }

    fn refresh(&self) -> Option<&dyn RefreshConnector> {
        Some(self)
    }
}

#[async_trait]
impl PasswordConnector for LdapConnector {
    fn prompt(&self) -> &str {
        &self.config.username_prompt
    }

    async fn login(
        &self,
        username: &str,
        password: &str,
    ) -> Result<Option<Identity>, ConnectorError> {
        // An empty password would be an unauthenticated bind, which many servers accept.
        if password.is_empty() || username.is_empty() {
            return Ok(None);
        }
        within(self.sign_in(username, password)).await
    }
}

#[async_trait]
impl RefreshConnector for LdapConnector {
    async fn refresh(&self, identity: &Identity) -> Result<Option<Identity>, ConnectorError> {
        within(self.again(identity)).await
    }
}
