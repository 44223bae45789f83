//! The registry: which `type:` names which connector. The config module checks an entry's
//! common keys; the type named by `type:` reads its `config:` block and later builds the
//! connector. A new connector type is its own folder, its `mod` line in `connector/mod.rs`
//! and one line in [`TYPES`].

use super::types::{ConnectorSettings, ConnectorType, Env, ParseContext};
use crate::config::{Config, ConfigError, ConnectorEntry, ReadFile};

/// Every supported `type:`, in the order the error for an unknown type lists them.
const TYPES: &[ConnectorType] = &[
    super::ldap::TYPE,
    super::microsoft::TYPE,
    super::oidc::TYPE,
    super::saml::TYPE,
];

/// A `connectors:` entry with its block read by its type.
#[derive(Debug)]
pub struct ConfiguredConnector {
    pub entry: ConnectorEntry,
    pub settings: Box<dyn ConnectorSettings>,
}

/// Reads every entry's `config:` block (files named there from the file system, `$VAR` from
/// the environment).
pub fn configure(config: &Config) -> Result<Vec<ConfiguredConnector>, ConfigError> {
    configure_with(config, &|path| std::fs::read_to_string(path), &|name| {
        std::env::var(name).ok()
    })
}

/// [`configure`] with the files and the environment given.
pub fn configure_with(
    config: &Config,
    read_file: ReadFile,
    env: Env,
) -> Result<Vec<ConfiguredConnector>, ConfigError> {
    let context = ParseContext {
        callback_url: config.issuer.endpoint("/callback"),
        read_file,
        env,
    };
    config
        .connectors
        .iter()
        .map(|entry| {
            let Some(kind) = TYPES
                .iter()
                .find(|t| t.name.eq_ignore_ascii_case(&entry.kind))
            else {
                let supported: Vec<&str> = TYPES.iter().map(|t| t.name).collect();
                return Err(ConfigError::key(
                    entry.key("type"),
                    format!(
                        "connector type {:?} is not supported (supported: {})",
                        entry.kind,
                        supported.join(", ")
                    ),
                ));
            };
            Ok(ConfiguredConnector {
                entry: entry.clone(),
                settings: (kind.parse)(entry, &context)?,
            })
        })
        .collect()
}

/// Every connector's dangerous settings, one line each, naming the entry.
pub fn warnings(connectors: &[ConfiguredConnector]) -> Vec<String> {
    connectors
        .iter()
        .flat_map(|c| {
            c.settings
                .warnings()
                .into_iter()
                .map(move |w| format!("{} ({}): {w}", c.entry.at, c.entry.id))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn microsoft(tenant: &str, groups: &str) -> Vec<String> {
        let yaml = format!(
            "{}connectors:\n- type: microsoft\n  id: ms\n  name: Microsoft\n  config:\n    clientID: x\n    clientSecret: y\n    redirectURI: https://gate.example.com/dex/callback\n    tenant: {tenant}\n{groups}",
            base()
        );
        warnings(&configure(&Config::from_yaml(&yaml).unwrap()).unwrap())
    }

    #[test]
    fn multi_tenant_microsoft_without_groups_is_warned_about() {
        for tenant in ["common", "organizations", "Consumers"] {
            let w = microsoft(tenant, "");
            assert_eq!(w.len(), 1, "{tenant}: {w:?}");
            assert!(w[0].contains("ANY Microsoft account"), "{}", w[0]);
            assert!(w[0].starts_with("connectors[0] (ms): "), "{}", w[0]);
        }
        assert!(microsoft("contoso.onmicrosoft.com", "").is_empty());
        assert!(microsoft(
            "11111111-2222-3333-4444-555555555555",
            "    groups: [admins]\n"
        )
        .is_empty());
    }

    fn base() -> String {
        "issuer: https://gate.example.com/dex\nstorage:\n  type: memory\nweb:\n  http: 127.0.0.1:5556\n"
            .to_string()
    }

    fn err(yaml: &str) -> String {
        configure(&Config::from_yaml(yaml).unwrap())
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn unknown_types_are_refused_with_the_supported_ones() {
        let yaml = format!(
            "{}connectors:\n- type: github\n  id: gh\n  name: GitHub\n  config: {{}}\n",
            base()
        );
        assert_eq!(
            err(&yaml),
            "connectors[0].type: connector type \"github\" is not supported (supported: ldap, microsoft, oidc, saml)"
        );
    }

    #[test]
    fn each_type_reads_its_own_block_with_the_full_key_path() {
        let yaml = format!(
            "{}enablePasswordDB: true\nconnectors:\n- type: SAML\n  id: saml\n  name: SAML\n  config: {{}}\n",
            base()
        );
        assert!(
            err(&yaml).starts_with("connectors[0].config.ssoURL: missing"),
            "{}",
            err(&yaml)
        );
        let yaml = format!(
            "{}connectors:\n- type: oidc\n  id: o\n  config: {{clientID: c}}\n",
            base()
        );
        assert_eq!(err(&yaml), "connectors[0].config.issuer: missing");
    }
}
