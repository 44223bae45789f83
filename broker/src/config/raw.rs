//! The config file as written (after key normalisation), before validation.
//! Field names are the canonical spellings from `schema.rs`.

use serde::Deserialize;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    pub issuer: Option<String>,
    pub storage: Option<RawStorage>,
    pub web: Option<super::web::RawWeb>,
    pub expiry: Option<RawExpiry>,
    pub logger: Option<RawLogger>,
    pub oauth2: Option<RawOAuth2>,
    #[serde(rename = "staticClients")]
    pub static_clients: Option<Vec<RawStaticClient>>,
    #[serde(rename = "enablePasswordDB")]
    pub enable_password_db: Option<bool>,
    #[serde(rename = "staticPasswords")]
    pub static_passwords: Option<Vec<RawStaticPassword>>,
    pub connectors: Option<Vec<RawConnector>>,
    pub telemetry: Option<RawTelemetry>,
    pub grpc: Option<super::grpc::RawGrpc>,
    pub signer: Option<super::signer::RawSigner>,
    pub frontend: Option<super::frontend::RawFrontend>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTelemetry {
    pub http: Option<String>,
    #[serde(rename = "enableProfiling")]
    pub enable_profiling: Option<BoolOrString>,
}

/// A Dex boolean, also given as a string (what `$VAR` expansion or quoting produces).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum BoolOrString {
    Bool(bool),
    Text(String),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStorage {
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub config: Option<RawStorageConfig>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStorageConfig {
    pub file: Option<String>,
    pub host: Option<String>,
    pub port: Option<IntOrString>,
    pub database: Option<String>,
    pub user: Option<String>,
    pub password: Option<String>,
    pub ssl: Option<RawPostgresSsl>,
    #[serde(rename = "connectionTimeout")]
    pub connection_timeout: Option<IntOrString>,
    #[serde(rename = "maxOpenConns")]
    pub max_open_conns: Option<IntOrString>,
    #[serde(rename = "maxIdleConns")]
    pub max_idle_conns: Option<IntOrString>,
    #[serde(rename = "connMaxLifetime")]
    pub conn_max_lifetime: Option<IntOrString>,
    /// Beyond Dex: one `postgres://` connection URL instead of the separate keys.
    pub url: Option<String>,
}

impl std::fmt::Debug for RawStorageConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawStorageConfig")
            .field("file", &self.file)
            .field("host", &self.host)
            .field("database", &self.database)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("url", &self.url.as_ref().map(|_| "<redacted>"))
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPostgresSsl {
    pub mode: Option<String>,
    #[serde(rename = "caFile")]
    pub ca_file: Option<String>,
    #[serde(rename = "keyFile")]
    pub key_file: Option<String>,
    #[serde(rename = "certFile")]
    pub cert_file: Option<String>,
    #[serde(rename = "serverName")]
    pub server_name: Option<String>,
}

/// Dex's integer keys, also given as strings (what `$VAR` expansion produces).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum IntOrString {
    Int(i64),
    Text(String),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawExpiry {
    #[serde(rename = "idTokens")]
    pub id_tokens: Option<String>,
    #[serde(rename = "authRequests")]
    pub auth_requests: Option<String>,
    #[serde(rename = "signingKeys")]
    pub signing_keys: Option<String>,
    #[serde(rename = "deviceRequests")]
    pub device_requests: Option<String>,
    #[serde(rename = "refreshTokens")]
    pub refresh_tokens: Option<RawRefreshTokens>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRefreshTokens {
    #[serde(rename = "validIfNotUsedFor")]
    pub valid_if_not_used_for: Option<String>,
    #[serde(rename = "absoluteLifetime")]
    pub absolute_lifetime: Option<String>,
    #[serde(rename = "reuseInterval")]
    pub reuse_interval: Option<String>,
    #[serde(rename = "disableRotation")]
    pub disable_rotation: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLogger {
    pub level: Option<String>,
    pub format: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOAuth2 {
    #[serde(rename = "skipApprovalScreen")]
    pub skip_approval_screen: Option<bool>,
    #[serde(rename = "responseTypes")]
    pub response_types: Option<Vec<String>>,
    #[serde(rename = "alwaysShowLoginScreen")]
    pub always_show_login_screen: Option<bool>,
    #[serde(rename = "passwordConnector")]
    pub password_connector: Option<String>,
    pub pkce: Option<RawPkce>,
    #[serde(rename = "grantTypes")]
    pub grant_types: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPkce {
    pub enforce: Option<bool>,
    #[serde(rename = "codeChallengeMethodsSupported")]
    pub code_challenge_methods_supported: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStaticClient {
    pub id: Option<String>,
    #[serde(rename = "idEnv")]
    pub id_env: Option<String>,
    pub secret: Option<String>,
    #[serde(rename = "secretEnv")]
    pub secret_env: Option<String>,
    pub name: Option<String>,
    #[serde(rename = "redirectURIs")]
    pub redirect_uris: Option<Vec<String>>,
    #[serde(rename = "postLogoutRedirectURIs")]
    pub post_logout_redirect_uris: Option<Vec<String>>,
    pub public: Option<bool>,
    #[serde(rename = "trustedPeers")]
    pub trusted_peers: Option<Vec<String>>,
    #[serde(rename = "logoURL")]
    pub logo_url: Option<String>,
    #[serde(rename = "backchannelLogoutURI")]
    pub backchannel_logout_uri: Option<String>,
    #[serde(rename = "clientCredentialsClaims")]
    pub client_credentials_claims: Option<RawClientCredentialsClaims>,
}

/// Dex's `clientCredentialsClaims`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawClientCredentialsClaims {
    pub groups: Option<Vec<String>>,
}

impl std::fmt::Debug for RawStaticClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawStaticClient")
            .field("id", &self.id)
            .field("secret", &self.secret.as_ref().map(|_| "<redacted>"))
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStaticPassword {
    pub email: Option<String>,
    pub hash: Option<String>,
    #[serde(rename = "hashFromEnv")]
    pub hash_from_env: Option<String>,
    pub username: Option<String>,
    #[serde(rename = "userID")]
    pub user_id: Option<String>,
    pub groups: Option<Vec<String>>,
}

impl std::fmt::Debug for RawStaticPassword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawStaticPassword")
            .field("email", &self.email)
            .field("hash", &"<redacted>")
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConnector {
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub id: Option<String>,
    pub name: Option<String>,
    pub config: Option<serde_json::Value>,
    #[serde(rename = "grantTypes")]
    pub grant_types: Option<Vec<String>>,
}
