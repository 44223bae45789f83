//! Two broker replicas on one PostgreSQL database behind Envoy (`envoy/envoy-replicas.yaml`):
//! the gateway listener with the filter (its `broker` cluster has both replicas), and a second
//! listener that load-balances browsers over them; the issuer is that listener's address.

use std::path::PathBuf;
use std::sync::Mutex;

use anyhow::{bail, Context, Result};
use serde_json::json;

use crate::broker::{issuer_for, Broker, BrokerConfig, CLIENT_ID, CLIENT_SECRET};
use crate::echo::Echo;
use crate::envoy::{fill, json_string, Envoy, EnvoyPorts};
use crate::logs::{current_test_name, LogDir};
use crate::paths::{filter_wasm, repo_root};
use crate::ports::free_port;
use crate::postgres::TestDatabase;
use crate::secrets::random_cookie_secret;

/// The broker config's `storage:` block for `db`, in Dex's separate-keys form.
pub fn postgres_storage_yaml(db: &TestDatabase) -> String {
    format!(
        "storage:\n  type: postgres\n  config:\n    host: \"{}\"\n    port: {}\n    database: \"{}\"\n    user: \"{}\"\n    ssl:\n      mode: disable\n    connectionTimeout: 2\n",
        db.host(),
        db.port(),
        db.name(),
        db.user()
    )
}

/// Field order is drop order: Envoy, brokers, upstream, then the database and the folder.
pub struct ReplicaStack {
    pub envoy: Envoy,
    /// Behind a lock so a test can kill a replica while its workers log in.
    brokers: Mutex<Vec<Option<Broker>>>,
    pub echo: Echo,
    pub logs: LogDir,
    configs: Vec<BrokerConfig>,
    issuer: String,
    pub db: TestDatabase,
    dir: PathBuf,
    _temp: tempfile::TempDir,
}

impl ReplicaStack {
    /// Starts two replicas on a fresh database, the upstream, and Envoy.
    pub fn start() -> Result<Self> {
        Self::start_with(&[], serde_json::Map::new())
    }

    /// [`ReplicaStack::start`] with `(from, to)` replacements in both brokers' configs and
    /// keys added to the filter config.
    pub fn start_with(
        replace: &[(&str, &str)],
        filter_extra: serde_json::Map<String, serde_json::Value>,
    ) -> Result<Self> {
        let logs = LogDir::for_test(&current_test_name())?;
        let temp = tempfile::Builder::new()
            .prefix("gatehouse-replicas-")
            .tempdir()
            .context("creating a temporary folder")?;
        let dir = temp.path().to_path_buf();
        let db = TestDatabase::create()?;
        let (listen, admin, lb) = (free_port()?, free_port()?, free_port()?);
        let issuer = issuer_for(lb);
        let mut configs = Vec::new();
        let mut brokers = Vec::new();
        for name in ["broker-a", "broker-b"] {
            let port = free_port()?;
            let mut config = BrokerConfig::standard(port, listen, &dir);
            config.set_storage(&postgres_storage_yaml(&db))?;
            // Every replica has the load balancer's issuer; each listens on its own port.
            config.replace(&config.issuer.clone(), &issuer)?;
            config.issuer = issuer.clone();
            for (from, to) in replace {
                config.replace(from, to)?;
            }
            brokers.push(Some(start_replica(&logs, &dir, &config, name)?));
            configs.push(config);
        }
        let echo = Echo::start()?;
        let mut filter_config = json!({
            "issuer": issuer,
            "broker_upstream": "broker_via_lb",
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "cookie_secret": random_cookie_secret()?,
        });
        if let Some(object) = filter_config.as_object_mut() {
            object.extend(filter_extra);
        }
        let template_path = repo_root().join("envoy").join("envoy-replicas.yaml");
        let template = std::fs::read_to_string(&template_path)
            .with_context(|| format!("reading {}", template_path.display()))?;
        let wasm = filter_wasm()?;
        let config_text =
            serde_json::to_string(&filter_config).context("serialising the filter config")?;
        let rendered = fill(
            &template,
            &[
                ("@LISTEN_PORT@", listen.to_string()),
                ("@ADMIN_PORT@", admin.to_string()),
                ("@BROKER_LB_PORT@", lb.to_string()),
                ("@BROKER_PORT_A@", configs[0].port.to_string()),
                ("@BROKER_PORT_B@", configs[1].port.to_string()),
                ("@UPSTREAM_PORT@", echo.port().to_string()),
                ("@WASM_PATH@", json_string(&wasm.to_string_lossy())),
                ("@FILTER_CONFIG@", json_string(&config_text)),
            ],
        )?;
        let ports = EnvoyPorts {
            listen,
            admin,
            broker: lb,
            upstream: echo.port(),
        };
        let envoy = Envoy::start_config(&logs, &dir, ports, &rendered)?;
        Ok(Self {
            envoy,
            brokers: Mutex::new(brokers),
            echo,
            logs,
            configs,
            issuer,
            db,
            dir,
            _temp: temp,
        })
    }

    /// The issuer (the load balancer's address + `/dex`).
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// A URL on the gateway.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.envoy.url(), path)
    }

    /// Replica `i`'s own base URL (`http://127.0.0.1:<port>/dex`), bypassing the balancer.
    pub fn replica_issuer(&self, i: usize) -> String {
        issuer_for(self.configs[i].port)
    }

    /// SIGKILLs replica `i` (a crash). Call it on the thread that started the stack.
    pub fn kill(&self, i: usize) -> Result<()> {
        let mut brokers = self
            .brokers
            .lock()
            .map_err(|_| anyhow::anyhow!("replica list poisoned"))?;
        match brokers.get_mut(i).and_then(Option::take) {
            Some(mut broker) => {
                broker.process().kill();
                Ok(())
            }
            None => bail!("replica {i} is not running"),
        }
    }

    /// Starts replica `i` again.
    pub fn restart(&self, i: usize) -> Result<()> {
        let mut brokers = self
            .brokers
            .lock()
            .map_err(|_| anyhow::anyhow!("replica list poisoned"))?;
        if brokers.get(i).is_some_and(Option::is_some) {
            bail!("replica {i} is running");
        }
        let name = ["broker-a", "broker-b"][i.min(1)];
        let broker = start_replica(
            &self.logs,
            &self.dir,
            &self.configs[i],
            &format!("{name}-again"),
        )?;
        brokers[i] = Some(broker);
        Ok(())
    }
}

fn start_replica(
    logs: &LogDir,
    dir: &std::path::Path,
    config: &BrokerConfig,
    name: &str,
) -> Result<Broker> {
    // Readiness is checked on the replica's own port: the issuer is the balancer's.
    let mut own = config.clone();
    own.issuer = issuer_for(config.port);
    let broker = Broker::start_named(logs, dir, &own, name, &[]);
    broker.with_context(|| format!("starting {name}"))
}
