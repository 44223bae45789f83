//! Dex-style YAML configuration: load, normalise key case, refuse unknown keys, validate.

mod block;
mod client_remote_ip;
mod clients;
mod connectors;
mod db_keys;
mod db_tls;
mod duration;
mod env_expand;
mod error;
mod frontend;
mod grant_types;
mod grpc;
mod listen_addr;
mod mysql;
mod password_hash;
mod raw;
pub(crate) mod schema;
mod signer;
mod static_passwords;
mod storage;
mod tls_files;
mod validate;
mod web;
mod web_url;

use std::time::Duration;

pub use block::{check_url, parse_block, required, ReadFile};
pub use client_remote_ip::ClientRemoteIp;
pub use connectors::{ConnectorEntry, LOCAL_CONNECTOR_ID};
pub use db_tls::{ClientPair, DbTls, Verify as DbVerify};
pub use duration::parse_go_duration;
pub use env_expand::expand_value as expand_env_value;
pub use error::ConfigError;
pub use frontend::{Frontend, Logo, WebDir, BUILTIN_THEMES};
pub use grant_types::{GrantType, GrantTypes, DEVICE_CODE, TOKEN_EXCHANGE};
pub use grpc::{GrpcConfig, GrpcTls};
pub use password_hash::{decode_bcrypt_hash, BcryptHash};
pub use schema::Shape;
pub use signer::Signer;
pub use storage::{PostgresConfig, StorageConfig};
pub use tls_files::{load_certified_key, TlsFileError, TlsVersions};
pub use web::{canonical_header, Cors, HttpsConfig, Web, ALWAYS_ALLOWED_HEADERS};
pub use web_url::web_url;

use crate::secret::Secret;

/// Authorization codes live this long: long enough for a slow redirect, short enough to limit replay.
pub const AUTH_CODE_LIFETIME: Duration = Duration::from_secs(5 * 60);

/// A validated configuration. Built only through [`Config::from_yaml`] / [`Config::load`].
#[derive(Debug, Clone)]
pub struct Config {
    pub issuer: Issuer,
    pub storage: StorageConfig,
    /// The listeners (`web.http`, `web.https`; Go form `:5556` becomes `0.0.0.0:5556`),
    /// CORS and extra response headers.
    pub web: Web,
    /// `web.clientRemoteIP`: whose word to take for the client's address.
    pub client_remote_ip: ClientRemoteIp,
    pub expiry: Expiry,
    /// `signer:`: the algorithm new signing keys get (their rotation period is in `expiry`).
    pub signing_algorithm: crate::signing_algorithm::SigningAlgorithm,
    pub logger: Logger,
    pub oauth2: OAuth2,
    pub clients: Vec<Client>,
    pub enable_password_db: bool,
    pub static_passwords: Vec<StaticPassword>,
    /// `telemetry.http`: a second `host:port` serving `/metrics` and `/healthz` (as Dex does).
    pub telemetry_addr: Option<String>,
    /// Upstream connectors (`connectors:`), in config order; each type reads its own
    /// `config:` block (`crate::connector::types`).
    pub connectors: Vec<ConnectorEntry>,
    /// Dex's gRPC administration API (`grpc:`), when configured.
    pub grpc: Option<GrpcConfig>,
    /// `frontend:`: the pages' name, logo and theme, and the user's static/theme files.
    pub frontend: Frontend,
    /// Settings accepted but not served as written, logged at start (e.g. `responseTypes: [token]`).
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct Issuer {
    /// Exactly as configured: this is the `iss` claim.
    pub url: String,
    /// The path every endpoint lives under, without a trailing slash (`/dex`, or empty).
    pub path: String,
}

impl Issuer {
    /// The absolute URL of an endpoint under the issuer, e.g. `endpoint("/token")`.
    pub fn endpoint(&self, suffix: &str) -> String {
        format!("{}{}", self.url.trim_end_matches('/'), suffix)
    }
}

#[derive(Debug, Clone)]
pub struct Expiry {
    pub id_tokens: Duration,
    pub auth_requests: Duration,
    pub signing_keys: Duration,
    /// `deviceRequests`: how long a device code and its user code stay valid (Dex: 5m).
    pub device_requests: Duration,
    pub refresh_tokens: RefreshExpiry,
}

#[derive(Debug, Clone)]
pub struct RefreshExpiry {
    /// A refresh token not used for this long is refused (None: no idle limit).
    pub valid_if_not_used_for: Option<Duration>,
    /// A refresh-token chain older than this is refused (None: no absolute limit).
    pub absolute_lifetime: Option<Duration>,
    /// When true the same refresh token is returned on each use instead of a new one.
    pub disable_rotation: bool,
    /// A rotated token presented again within this interval is refused without revoking its
    /// family (a client's concurrent refreshes); later, reuse revokes the family.
    pub reuse_interval: Duration,
}

impl Default for RefreshExpiry {
    fn default() -> Self {
        RefreshExpiry {
            valid_if_not_used_for: None,
            absolute_lifetime: None,
            disable_rotation: false,
            reuse_interval: DEFAULT_REUSE_INTERVAL,
        }
    }
}

/// Dex's default `expiry.refreshTokens.reuseInterval`.
pub const DEFAULT_REUSE_INTERVAL: Duration = Duration::from_secs(3);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone)]
pub struct Logger {
    /// A `tracing` level name: error, warn, info, debug.
    pub level: tracing::Level,
    pub format: LogFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PkceMethod {
    S256,
    Plain,
}

impl PkceMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            PkceMethod::S256 => "S256",
            PkceMethod::Plain => "plain",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "S256" => Some(PkceMethod::S256),
            "plain" => Some(PkceMethod::Plain),
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct OAuth2 {
    pub skip_approval_screen: bool,
    pub always_show_login_screen: bool,
    /// Connector used for the resource-owner password grant (Dex `passwordConnector`).
    pub password_connector: Option<String>,
    /// Require PKCE from every client (public clients always need it).
    pub pkce_enforce: bool,
    pub pkce_methods: Vec<PkceMethod>,
    /// `grantTypes`: the grants served and advertised.
    pub grant_types: GrantTypes,
}

#[derive(Debug, Clone)]
pub struct Client {
    pub id: String,
    /// None for public clients.
    pub secret: Option<Secret>,
    pub name: String,
    pub redirect_uris: Vec<String>,
    /// `postLogoutRedirectURIs` (Gatehouse extension): exact targets for RP-initiated logout.
    pub post_logout_redirect_uris: Vec<String>,
    pub public: bool,
    /// Clients that may mint tokens with this client in `aud` (Dex's `trustedPeers`).
    pub trusted_peers: Vec<String>,
    /// `logoURL`: shown on the approval page; only http(s) URLs are kept.
    pub logo_url: Option<String>,
    /// `backchannelLogoutURI` (Gatehouse extension): where a logout token is POSTed when one
    /// of this client's sessions ends (OpenID Connect Back-Channel Logout 1.0).
    pub backchannel_logout_uri: Option<String>,
    /// `clientCredentialsClaims.groups` (Dex's): the groups of the client's own tokens from
    /// the client_credentials grant.
    pub client_credentials_groups: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct StaticPassword {
    pub email: String,
    pub hash: BcryptHash,
    pub username: String,
    pub user_id: String,
    pub groups: Vec<String>,
}

impl Config {
    /// Whether connector `connector_id` serves `grant` (its `grantTypes`; the password
    /// database, which has no entry, serves every grant).
    pub fn connector_serves(&self, connector_id: &str, grant: GrantType) -> bool {
        self.connectors
            .iter()
            .find(|c| c.id == connector_id)
            .is_none_or(|c| c.serves(grant))
    }

    /// Parses and validates a config file's text.
    pub fn from_yaml(text: &str) -> Result<Config, ConfigError> {
        Config::from_yaml_with_env(text, &|name| std::env::var(name).ok())
    }

    /// [`Config::from_yaml`] with the environment given (`$VAR` in `storage.config`, `secretEnv`).
    pub fn from_yaml_with_env(
        text: &str,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        let value: serde_json::Value =
            serde_yaml_ng::from_str(text).map_err(|e| ConfigError::Yaml(e.to_string()))?;
        let value = match value {
            serde_json::Value::Null => serde_json::Value::Object(Default::default()),
            v => v,
        };
        let mut normalized = schema::normalize(&value, &schema::ROOT, "")?;
        // Dex expands $VAR in the storage config (database passwords come from the environment).
        if let Some(storage_config) = normalized
            .get_mut("storage")
            .and_then(|s| s.get_mut("config"))
        {
            env_expand::expand_value(storage_config, "storage.config", env)
                .map_err(|(path, message)| ConfigError::key(path, message))?;
        }
        let raw: raw::RawConfig = serde_path_to_error::deserialize(normalized)
            .map_err(|e| ConfigError::key(e.path().to_string(), e.inner().to_string()))?;
        validate::validate(raw, env)
    }

    /// Reads, parses and validates a config file.
    pub fn load(path: &std::path::Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Config::from_yaml(&text)
    }

    /// Static clients only, for tests of the config; endpoints look clients up through
    /// `crate::clients::lookup_client`.
    #[cfg(test)]
    pub fn client(&self, id: &str) -> Option<&Client> {
        self.clients.iter().find(|c| c.id == id)
    }
}

#[cfg(test)]
mod tests;
