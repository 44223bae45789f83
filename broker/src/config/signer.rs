//! `signer:` as current Dex reads it: `type: local` with `config.keysRotationPeriod` and
//! `config.algorithm` (Dex: RS256 or ES256; we also offer EdDSA, Ed25519). Without the block,
//! keys are RS256 and rotate every `expiry.signingKeys`.

use std::time::Duration;

use serde::Deserialize;

use super::duration::parse_go_duration;
use super::error::ConfigError;
use crate::signing_algorithm::SigningAlgorithm;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSigner {
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub config: Option<RawSignerConfig>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSignerConfig {
    #[serde(rename = "keysRotationPeriod")]
    pub keys_rotation_period: Option<String>,
    pub algorithm: Option<String>,
}

/// What the `signer:` block decides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signer {
    pub algorithm: SigningAlgorithm,
    /// `signer.config.keysRotationPeriod`; when set it wins over `expiry.signingKeys`.
    pub rotation: Option<Duration>,
}

pub fn signer(raw: Option<RawSigner>) -> Result<Signer, ConfigError> {
    let Some(raw) = raw else {
        return Ok(Signer {
            algorithm: SigningAlgorithm::Rs256,
            rotation: None,
        });
    };
    match raw.kind.as_deref() {
        Some("local") => {}
        Some("vault") => {
            return Err(ConfigError::key(
                "signer.type",
                "\"vault\" is not supported yet: use type: local",
            ))
        }
        Some(other) => {
            return Err(ConfigError::key(
                "signer.type",
                format!("unknown signer type {other:?}: use local"),
            ))
        }
        None => return Err(ConfigError::key("signer.type", "missing: use type: local")),
    }
    let config = raw.config.unwrap_or(RawSignerConfig {
        keys_rotation_period: None,
        algorithm: None,
    });
    // As Dex: a local signer must say how often it rotates.
    let period = config.keys_rotation_period.ok_or_else(|| {
        ConfigError::key(
            "signer.config.keysRotationPeriod",
            "missing: how long a key signs before the next one takes over, e.g. 6h",
        )
    })?;
    let rotation = parse_go_duration(&period)
        .map_err(|e| ConfigError::key("signer.config.keysRotationPeriod", e))?;
    if rotation.is_zero() {
        return Err(ConfigError::key(
            "signer.config.keysRotationPeriod",
            "must be longer than zero",
        ));
    }
    let algorithm = match config.algorithm.as_deref() {
        None | Some("") => SigningAlgorithm::Rs256,
        Some(name) => SigningAlgorithm::from_name(name).ok_or_else(|| {
            ConfigError::key(
                "signer.config.algorithm",
                format!("{name:?} is not supported: use RS256 (default), ES256 or EdDSA"),
            )
        })?,
    };
    Ok(Signer {
        algorithm,
        rotation: Some(rotation),
    })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::super::Config;
    use crate::signing_algorithm::SigningAlgorithm;

    fn load(extra: &str) -> Result<Config, String> {
        Config::from_yaml(&format!(
            "issuer: http://127.0.0.1:5556/dex\nstorage: {{type: memory}}\nweb: {{http: \"127.0.0.1:5556\"}}\nenablePasswordDB: true\n{extra}"
        ))
        .map_err(|e| e.to_string())
    }

    #[test]
    fn default_is_rs256_rotating_every_six_hours() {
        let c = load("").unwrap();
        assert_eq!(c.signing_algorithm, SigningAlgorithm::Rs256);
        assert_eq!(c.expiry.signing_keys, Duration::from_secs(6 * 3600));
    }

    #[test]
    fn dex_local_signer_block_sets_algorithm_and_period() {
        for (name, alg) in [
            ("ES256", SigningAlgorithm::Es256),
            ("EdDSA", SigningAlgorithm::EdDsa),
            ("RS256", SigningAlgorithm::Rs256),
        ] {
            let c = load(&format!(
                "signer:\n  type: local\n  config:\n    keysRotationPeriod: 2h\n    algorithm: {name}\n"
            ))
            .unwrap();
            assert_eq!(c.signing_algorithm, alg);
            assert_eq!(c.expiry.signing_keys, Duration::from_secs(2 * 3600));
        }
        let c = load("signer: {type: local, config: {keysRotationPeriod: 1h}}\n").unwrap();
        assert_eq!(c.signing_algorithm, SigningAlgorithm::Rs256);
        // Both periods: the signer's wins, as in Dex, with a warning.
        let c = load(
            "expiry: {signingKeys: 3h}\nsigner: {type: local, config: {keysRotationPeriod: 1h}}\n",
        )
        .unwrap();
        assert_eq!(c.expiry.signing_keys, Duration::from_secs(3600));
        assert!(c.warnings.iter().any(|w| w.contains("keysRotationPeriod")));
    }

    #[test]
    fn signer_mistakes_name_their_key() {
        let e = load("signer: {type: local, config: {keysRotationPeriod: 1h, algorithm: HS256}}\n")
            .unwrap_err();
        assert!(
            e.contains("signer.config.algorithm") && e.contains("ES256"),
            "{e}"
        );
        let e = load("signer: {type: local, config: {keysRotationPeriod: 1h, algorithm: none}}\n")
            .unwrap_err();
        assert!(e.contains("signer.config.algorithm"), "{e}");
        let e = load("signer: {type: local, config: {algorithm: ES256}}\n").unwrap_err();
        assert!(e.contains("signer.config.keysRotationPeriod"), "{e}");
        let e = load("signer: {type: local, config: {keysRotationPeriod: 0s}}\n").unwrap_err();
        assert!(e.contains("signer.config.keysRotationPeriod"), "{e}");
        let e = load("signer: {type: vault, config: {}}\n").unwrap_err();
        assert!(e.contains("signer.type") && e.contains("vault"), "{e}");
        let e = load("signer: {type: vault, config: {addr: \"http://x\"}}\n").unwrap_err();
        assert!(e.contains("signer.config.addr"), "{e}");
        let e = load("signer: {config: {keysRotationPeriod: 1h}}\n").unwrap_err();
        assert!(e.contains("signer.type"), "{e}");
        let e =
            load("signer: {type: local, config: {algorithm: ES256, rotation: 1h}}\n").unwrap_err();
        assert!(e.contains("signer.config.rotation"), "{e}");
    }
}
