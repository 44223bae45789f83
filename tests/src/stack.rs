//! The whole system on loopback: broker + echo upstream + a gateway with the filter — Envoy by
//! default, or the model of Kong's Wasm host (`Stack::start_host_model`).

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde_json::{json, Map, Value};

use crate::broker::{Broker, BrokerConfig, CLIENT_ID, CLIENT_SECRET};
use crate::echo::Echo;
use crate::envoy::{Envoy, EnvoyPorts};
use crate::host_model::{HostModel, HostModelPorts};
use crate::logs::{current_test_name, LogDir};
use crate::paths::filter_wasm;
use crate::ports::free_port;
use crate::secrets::random_cookie_secret;

/// Fixed ports (the demo); tests leave them to the OS.
#[derive(Debug, Clone, Copy)]
pub struct StackPorts {
    pub envoy: u16,
    pub admin: u16,
    pub broker: u16,
    pub upstream: u16,
}

impl StackPorts {
    /// Four ports the OS picks.
    pub fn free() -> Result<Self> {
        Ok(Self {
            envoy: free_port()?,
            admin: free_port()?,
            broker: free_port()?,
            upstream: free_port()?,
        })
    }
}

#[derive(Debug, Default, Clone)]
pub struct StackOptions {
    /// Names the log folder `target/e2e-logs/<name>/`; default: the test's name.
    pub name: Option<String>,
    /// Where logs go instead of `target/e2e-logs/<name>/`.
    pub log_dir: Option<PathBuf>,
    /// Where the configs and the SQLite file go; default: a temporary folder.
    pub dir: Option<PathBuf>,
    pub ports: Option<StackPorts>,
    /// Default: a fresh random one.
    pub cookie_secret: Option<String>,
    /// Keys added to (or replacing) the standard filter config.
    pub filter_config: Map<String, Value>,
    /// Start without the broker (`Stack::start_broker` later): the filter has no keys.
    pub without_broker: bool,
    /// Changes the standard broker config before it is written.
    pub broker_yaml: Option<fn(&mut String)>,
    /// Appended to the broker config (e.g. a `connectors:` list pointing at a test peer).
    pub extra_broker_yaml: Option<String>,
    /// Replaces the broker's `storage:` block (e.g. PostgreSQL instead of SQLite).
    pub broker_storage: Option<String>,
    /// `(from, to)` text replacements in the broker config, applied last.
    pub broker_yaml_replace: Vec<(String, String)>,
    /// Environment variables for the broker process.
    pub broker_env: Vec<(String, String)>,
    /// Changes the Envoy template (`envoy/envoy.yaml`) before it is rendered.
    pub envoy_yaml: Option<fn(&mut String)>,
}

impl StackOptions {
    pub fn named(name: &str) -> Self {
        Self {
            name: Some(name.to_string()),
            ..Self::default()
        }
    }

    /// Adds one filter config key.
    pub fn filter(mut self, key: &str, value: Value) -> Self {
        self.filter_config.insert(key.to_string(), value);
        self
    }
}

/// The process in front of the upstream that runs the filter.
pub trait Gateway: Sized {
    /// The filter's `broker_upstream` on this gateway: an Envoy cluster name, or Kong's
    /// `host:port`.
    fn broker_upstream(broker_port: u16) -> String;
    /// Starts it on `ports.envoy` (its admin or status listener on `ports.admin`).
    fn start(
        logs: &LogDir,
        dir: &Path,
        ports: StackPorts,
        upstream: u16,
        wasm: &Path,
        filter_config: &Value,
        opts: &StackOptions,
    ) -> Result<Self>;
    /// Its base URL, e.g. `http://127.0.0.1:8080`.
    fn url(&self) -> String;
}

impl Gateway for Envoy {
    fn broker_upstream(_: u16) -> String {
        "broker".to_string()
    }

    fn start(
        logs: &LogDir,
        dir: &Path,
        ports: StackPorts,
        upstream: u16,
        wasm: &Path,
        filter_config: &Value,
        opts: &StackOptions,
    ) -> Result<Self> {
        let ports = EnvoyPorts {
            listen: ports.envoy,
            admin: ports.admin,
            broker: ports.broker,
            upstream,
        };
        Envoy::start_edited(logs, dir, ports, wasm, filter_config, opts.envoy_yaml)
    }

    fn url(&self) -> String {
        Envoy::url(self)
    }
}

impl Gateway for HostModel {
    fn broker_upstream(broker_port: u16) -> String {
        format!("127.0.0.1:{broker_port}")
    }

    fn start(
        logs: &LogDir,
        dir: &Path,
        ports: StackPorts,
        upstream: u16,
        wasm: &Path,
        filter_config: &Value,
        _: &StackOptions,
    ) -> Result<Self> {
        let ports = HostModelPorts {
            listen: ports.envoy,
            status: ports.admin,
            upstream,
        };
        HostModel::start(logs, dir, ports, wasm, filter_config)
    }

    fn url(&self) -> String {
        HostModel::url(self)
    }
}

/// Field order is drop order: the gateway stops first, then the broker, then the upstream,
/// then the temporary folder goes.
pub struct Stack<G: Gateway = Envoy> {
    /// The gateway (named for Envoy, the default, so Envoy tests read `stack.envoy`).
    pub envoy: G,
    broker: Option<Broker>,
    pub echo: Echo,
    pub logs: LogDir,
    pub filter_config: Value,
    broker_config: BrokerConfig,
    broker_env: Vec<(String, String)>,
    dir: PathBuf,
    _temp: Option<tempfile::TempDir>,
}

impl Stack<Envoy> {
    pub fn start(opts: StackOptions) -> Result<Self> {
        Self::start_gateway(opts)
    }
}

impl Stack<HostModel> {
    /// The same stack with the model of Kong's Wasm host in front instead of Envoy.
    pub fn start_host_model(opts: StackOptions) -> Result<Self> {
        Self::start_gateway(opts)
    }
}

impl<G: Gateway> Stack<G> {
    pub fn start_gateway(opts: StackOptions) -> Result<Self> {
        let name = opts.name.clone().unwrap_or_else(current_test_name);
        let logs = match &opts.log_dir {
            Some(dir) => LogDir::at(dir.clone())?,
            None => LogDir::for_test(&name)?,
        };
        let (temp, dir) = match &opts.dir {
            Some(dir) => {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("creating {}", dir.display()))?;
                (None, dir.clone())
            }
            None => {
                let temp = tempfile::Builder::new()
                    .prefix("gatehouse-e2e-")
                    .tempdir()
                    .context("creating a temporary folder")?;
                let path = temp.path().to_path_buf();
                (Some(temp), path)
            }
        };
        let ports = match opts.ports {
            Some(ports) => ports,
            None => StackPorts::free()?,
        };
        let wasm = filter_wasm()?;

        let mut broker_config = BrokerConfig::standard(ports.broker, ports.envoy, &dir);
        if let Some(edit) = opts.broker_yaml {
            edit(&mut broker_config.yaml);
        }
        if let Some(extra) = &opts.extra_broker_yaml {
            broker_config.yaml.push_str(extra);
        }
        if let Some(storage) = &opts.broker_storage {
            broker_config.set_storage(storage)?;
        }
        for (from, to) in &opts.broker_yaml_replace {
            broker_config.replace(from, to)?;
        }
        let broker_env = opts.broker_env.clone();
        let broker = if opts.without_broker {
            None
        } else {
            Some(Broker::start_named(
                &logs,
                &dir,
                &broker_config,
                "broker",
                &broker_env,
            )?)
        };
        let echo = Echo::start_on(ports.upstream)?;

        let cookie_secret = match opts.cookie_secret.clone() {
            Some(secret) => secret,
            None => random_cookie_secret()?,
        };
        let mut filter_config = json!({
            "issuer": broker_config.issuer,
            "broker_upstream": G::broker_upstream(ports.broker),
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "cookie_secret": cookie_secret,
        });
        if let Some(object) = filter_config.as_object_mut() {
            object.extend(opts.filter_config.clone());
        }
        let envoy = G::start(
            &logs,
            &dir,
            ports,
            echo.port(),
            &wasm,
            &filter_config,
            &opts,
        )?;

        Ok(Self {
            envoy,
            broker,
            echo,
            logs,
            filter_config,
            broker_config,
            broker_env,
            dir,
            _temp: temp,
        })
    }

    /// Starts the broker of a stack started `without_broker`.
    pub fn start_broker(&mut self) -> Result<&mut Broker> {
        if self.broker.is_some() {
            bail!("the broker is already running");
        }
        let broker = Broker::start_named(
            &self.logs,
            &self.dir,
            &self.broker_config,
            "broker",
            &self.broker_env,
        )?;
        Ok(self.broker.insert(broker))
    }

    /// Stops the broker (the gateway keeps running, as when the broker is unreachable).
    pub fn stop_broker(&mut self) {
        self.broker = None;
    }

    pub fn broker(&self) -> Result<&Broker> {
        self.broker
            .as_ref()
            .context("the broker is not running in this stack")
    }

    pub fn broker_mut(&mut self) -> Result<&mut Broker> {
        self.broker
            .as_mut()
            .context("the broker is not running in this stack")
    }

    /// The broker's issuer URL (valid even while the broker is stopped).
    pub fn issuer(&self) -> &str {
        &self.broker_config.issuer
    }

    /// A URL on the gateway, e.g. `stack.url("/hello")`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", Gateway::url(&self.envoy), path)
    }

    /// Where the configs and the SQLite file are.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}
