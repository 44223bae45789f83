//! The broker with ES256 and EdDSA signing keys (`signer.config.algorithm`): a fresh broker
//! per algorithm under the same code-exchange and refresh loads as the RS256 one, and
//! oidc-provider signing its ID tokens with the same algorithm. Before any load, the broker's
//! JWKS and an issued token must show the algorithm asked for, so a config the broker
//! ignored cannot pass for a fast one. Also: another broker binary (a baseline build) under
//! the RS256 load, for before/after figures from one run.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use gatehouse_e2e::broker::{CLIENT_ID, CLIENT_SECRET};
use gatehouse_e2e::ports::free_port;
use gatehouse_e2e::LogDir;

use crate::broker_bench::{self, PeerResult, Settings};
use crate::oidc_client::OidcClient;
use crate::token_load::LoadResult;

/// One more broker to measure.
pub struct Variant {
    pub label: String,
    pub alg: &'static str,
    /// None: the built broker, configured with a `signer:` block for `alg`. Some: that
    /// binary with the standard (RS256) config, no oidc-provider run.
    pub binary: Option<PathBuf>,
    /// `storage: {type: memory}` instead of SQLite: the same kind of store as oidc-provider's
    /// in-memory adapter, to show what durable storage costs per grant.
    pub memory: bool,
}

impl Variant {
    pub fn signing(alg: &'static str) -> Variant {
        Variant {
            label: alg.to_string(),
            alg,
            binary: None,
            memory: false,
        }
    }

    pub fn in_memory(alg: &'static str) -> Variant {
        Variant {
            label: format!("{alg}, memory storage"),
            memory: true,
            ..Variant::signing(alg)
        }
    }

    /// Another build of the broker, signing with `alg`.
    pub fn baseline(binary: PathBuf, alg: &'static str) -> Variant {
        Variant {
            label: format!("{alg} baseline build"),
            alg,
            binary: Some(binary),
            memory: false,
        }
    }
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct VariantResult {
    pub label: String,
    pub alg: String,
    pub code_exchange: Vec<LoadResult>,
    pub refresh: Vec<LoadResult>,
    /// oidc-provider signing with the same algorithm.
    pub peer: Result<PeerResult, String>,
}

/// Dex's `signer:` block for a local signer with `alg`.
pub fn signer_yaml(alg: &str) -> String {
    format!("signer:\n  type: local\n  config:\n    keysRotationPeriod: 6h\n    algorithm: {alg}\n")
}

fn get_json(url: &str) -> Result<serde_json::Value> {
    let text = crate::http_text(url)?;
    serde_json::from_str(&text).with_context(|| format!("{url} is not JSON"))
}

/// Every published key is of `alg`'s type, and a token the broker issues says `alg`.
fn check_algorithm(issuer: &str, client: &OidcClient, alg: &str) -> Result<()> {
    let (kty, crv) = match alg {
        "ES256" => ("EC", Some("P-256")),
        "EdDSA" => ("OKP", Some("Ed25519")),
        _ => ("RSA", None),
    };
    let jwks = get_json(&format!("{issuer}/keys"))?;
    let keys = jwks["keys"].as_array().context("no keys in the JWKS")?;
    for k in keys {
        if k["alg"] != alg || k["kty"] != kty || k["crv"].as_str() != crv {
            bail!("the broker configured for {alg} publishes {k}");
        }
    }
    let discovery = get_json(&format!("{issuer}/.well-known/openid-configuration"))?;
    if discovery["id_token_signing_alg_values_supported"][0] != alg {
        bail!(
            "discovery of the {alg} broker names {}",
            discovery["id_token_signing_alg_values_supported"]
        );
    }
    let tokens = broker_bench::login_tokens(client)?;
    let header = tokens
        .access_token
        .split('.')
        .next()
        .and_then(|h| URL_SAFE_NO_PAD.decode(h).ok())
        .and_then(|h| serde_json::from_slice::<serde_json::Value>(&h).ok())
        .context("the access token has no JSON header")?;
    if header["alg"] != alg {
        bail!("the {alg} broker signed a token with {}", header["alg"]);
    }
    Ok(())
}

pub fn run(
    variant: &Variant,
    settings: &Settings,
    logs: &LogDir,
    run_dir: &Path,
    envoy_port: u16,
) -> Result<VariantResult> {
    let alg = variant.alg;
    let name: String = format!("broker-{}", variant.label)
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    let dir = run_dir.join(&name);
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let port = free_port()?;
    let mut config = crate::broker_yaml(port, envoy_port, None, &dir)?;
    // A baseline build signing with RS256 keeps its defaults (older builds had no `signer:`).
    if variant.binary.is_none() || alg != "RS256" {
        config.yaml.push_str(&signer_yaml(alg));
    }
    if variant.memory {
        config.set_storage("storage:\n  type: memory\n")?;
    }
    let mut broker = crate::start_broker(variant.binary.as_deref(), logs, &dir, &config, &name)?;
    let issuer = config.issuer.clone();
    let client = OidcClient::new(
        &issuer,
        &format!("{issuer}/token"),
        CLIENT_ID,
        CLIENT_SECRET,
        &format!("http://127.0.0.1:{envoy_port}/oauth2/callback"),
    )?;
    check_algorithm(&issuer, &client, alg)?;
    let (code_exchange, refresh) = broker_bench::token_loads(&client, settings, &variant.label)?;
    broker.stop();
    let peer = if variant.binary.is_some() || variant.memory {
        Err("measured once per algorithm".to_string())
    } else {
        broker_bench::oidc_provider(settings, logs, alg).map_err(|e| {
            eprintln!("  oidc-provider {alg} comparison failed: {e:#}");
            format!("{e:#}")
        })
    };
    Ok(VariantResult {
        label: variant.label.clone(),
        alg: alg.to_string(),
        code_exchange,
        refresh,
        peer,
    })
}
