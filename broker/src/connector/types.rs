//! What a connector type gives the registry (`catalog.rs`): its `type:` name, the reader of
//! its `config:` block, and the settings that build the running connector. Connector types
//! depend on this file; only the catalog depends on the connector types.

use std::fmt::Debug;
use std::sync::Arc;

use super::{Connector, UpstreamClient};
use crate::config::{ConfigError, ConnectorEntry, ReadFile};

/// Reads and checks one connector's `config:` block.
pub type ParseSettings =
    fn(&ConnectorEntry, &ParseContext) -> Result<Box<dyn ConnectorSettings>, ConfigError>;

/// One connector type: its `type:` name and the reader of its `config:` block.
pub struct ConnectorType {
    pub name: &'static str,
    pub parse: ParseSettings,
}

/// What a type may need, besides its block, to check it.
pub struct ParseContext<'a> {
    /// `{issuer}/callback`, where upstreams send the browser back.
    pub callback_url: String,
    pub read_file: ReadFile<'a>,
    /// The environment, for the keys Dex expands `$VAR` in (e.g. LDAP's `bindPW`).
    pub env: Env<'a>,
}

/// Looks up an environment variable.
pub type Env<'a> = &'a dyn Fn(&str) -> Option<String>;

/// A connector's checked `config:` block, able to build the connector.
pub trait ConnectorSettings: Debug + Send + Sync {
    /// The running connector; `http` is shared by every connector that calls upstream.
    fn build(&self, id: &str, name: &str, http: &UpstreamClient) -> BuiltConnector;

    /// Valid but dangerous settings of this block, each naming its key and what to do; said
    /// loudly at start (`serve`) and by `check-config`.
    fn warnings(&self) -> Vec<String> {
        Vec::new()
    }
}

/// A running connector, or why it could not start.
pub type BuiltConnector = Result<Arc<dyn Connector>, String>;
