use serde::{Deserialize, Serialize};

/// The one currency between connectors and the provider: who signed in, as the upstream says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    /// Stable id at the connector; becomes part of `sub`.
    pub user_id: String,
    pub username: String,
    pub preferred_username: String,
    pub email: String,
    pub email_verified: bool,
    pub groups: Vec<String>,
}
