//! Who signed in: the one currency between connectors, storage and tokens (a leaf: imports
//! nothing of the crate).

use serde::{Deserialize, Serialize};

/// The one currency between connectors and the provider: who signed in, as the upstream says.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    /// Stable id at the connector; becomes part of `sub`.
    pub user_id: String,
    pub username: String,
    pub preferred_username: String,
    pub email: String,
    pub email_verified: bool,
    pub groups: Vec<String>,
    /// What the connector needs to refresh this user later (e.g. the upstream refresh token).
    /// Opaque to the provider; stored with the auth code and the broker's refresh token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connector_data: Option<ConnectorData>,
}

/// Connector-private data that may hold upstream secrets: never printed.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ConnectorData(String);

impl ConnectorData {
    pub fn new(value: impl Into<String>) -> Self {
        ConnectorData(value.into())
    }

    /// The data itself; callers must not log it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for ConnectorData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ConnectorData(<redacted>)")
    }
}
