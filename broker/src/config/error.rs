use thiserror::Error;

/// Why a config file was refused. Every variant names the key (or file) at fault.
#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("config is not valid YAML: {0}")]
    Yaml(String),
    #[error("unknown key \"{path}\": {hint}")]
    UnknownKey { path: String, hint: String },
    #[error("{path}: {message}")]
    Key { path: String, message: String },
}

impl ConfigError {
    pub(crate) fn key(path: impl Into<String>, message: impl Into<String>) -> Self {
        ConfigError::Key {
            path: path.into(),
            message: message.into(),
        }
    }
}
