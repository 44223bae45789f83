//! Command line of the model: what Kong's configuration would say.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};

#[derive(Debug, Clone)]
pub struct Options {
    pub wasm: PathBuf,
    /// The filter's configuration, re-encoded as Kong does (see `kong_config_encoding`).
    pub filter_config: Vec<u8>,
    pub filter_name: String,
    pub listen: String,
    /// Where `/ready` answers 200 once every worker started (Kong's status listener).
    pub status_listen: Option<String>,
    /// The one upstream admitted requests go to, `host:port`.
    pub upstream: String,
    /// nginx's `server_name`; `:authority` is `server_name:port`.
    pub server_name: String,
    pub workers: usize,
    /// `shm_kv` zones (Kong: `nginx_wasm_shm_kv_<name>`).
    pub shm_kv: Vec<String>,
    pub debug: bool,
}

const USAGE: &str = "usage: gatehouse-host-model --wasm FILE --config FILE.json --listen ADDR:PORT \
--upstream HOST:PORT [--status-listen ADDR:PORT] [--server-name NAME] [--workers N] [--shm-kv ZONE]... [--filter-name NAME] [--debug]";

impl Options {
    pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Self> {
        let mut wasm = None;
        let mut config = None;
        let mut listen = None;
        let mut status_listen = None;
        let mut upstream = None;
        let mut server_name = "kong".to_string();
        let mut workers = 2;
        let mut shm_kv = Vec::new();
        let mut filter_name = "gatehouse".to_string();
        let mut debug = false;
        let mut args = args.into_iter();
        while let Some(flag) = args.next() {
            if flag == "--debug" {
                debug = true;
                continue;
            }
            let Some(value) = args.next() else {
                bail!("{flag} needs a value\n{USAGE}");
            };
            match flag.as_str() {
                "--wasm" => wasm = Some(PathBuf::from(value)),
                "--config" => config = Some(PathBuf::from(value)),
                "--listen" => listen = Some(value),
                "--status-listen" => status_listen = Some(value),
                "--upstream" => upstream = Some(value),
                "--server-name" => server_name = value,
                "--workers" => {
                    workers = value
                        .parse()
                        .ok()
                        .filter(|n| *n > 0)
                        .with_context(|| format!("--workers {value}: give a number ≥ 1"))?
                }
                "--shm-kv" => shm_kv.push(value),
                "--filter-name" => filter_name = value,
                other => bail!("unknown option {other}\n{USAGE}"),
            }
        }
        let (Some(wasm), Some(config), Some(listen), Some(upstream)) =
            (wasm, config, listen, upstream)
        else {
            bail!("--wasm, --config, --listen and --upstream are required\n{USAGE}");
        };
        let text = std::fs::read(&config)
            .with_context(|| format!("reading --config {}", config.display()))?;
        let filter_config = kong_config_encoding(&text)
            .with_context(|| format!("--config {}: not JSON", config.display()))?;
        Ok(Self {
            wasm,
            filter_config,
            filter_name,
            listen,
            status_listen,
            upstream,
            server_name,
            workers,
            shm_kv,
            debug,
        })
    }
}

/// Kong validates the filter config against its schema and hands the filter its own re-encoding
/// (lua-cjson): keys in another order, `/` escaped as `\/`. A filter that compares bytes breaks.
pub fn kong_config_encoding(text: &[u8]) -> Result<Vec<u8>> {
    // serde_json's map is ordered by key: a different order than the file's.
    let value: serde_json::Value = serde_json::from_slice(text)?;
    let encoded = serde_json::to_string(&value)?;
    Ok(encoded.replace('/', "\\/").into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_is_reencoded_like_cjson() {
        let out = kong_config_encoding(br#"{"z":"a/b","a":1}"#).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), r#"{"a":1,"z":"a\/b"}"#);
    }
}
