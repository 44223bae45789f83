//! `make bench`: the filter in Envoy next to no filter, an empty Wasm filter and Envoy's
//! native `jwt_authn`; Envoy's memory; the broker's token endpoint next to npm
//! `oidc-provider`; criterion's hot-path figures. Loopback only, bounded in time.
//! Writes bench/results/latest.md and latest.json. See BENCHMARKS.md.
//!
//! Environment: GATEHOUSE_BENCH_ROUNDS (default 5), GATEHOUSE_BENCH_SECONDS (per wrk run,
//! default 5), GATEHOUSE_BENCH_LOAD_SECONDS (per broker load level, default 5),
//! GATEHOUSE_BENCH_WARMUP_SECONDS (unrecorded refresh load before each measured one, for the
//! broker and oidc-provider alike, default 3),
//! GATEHOUSE_BENCH_SKIP_BROKER=1 (Envoy only), GATEHOUSE_BENCH_ONLY_BROKER=1 (the broker
//! part alone, written to bench/results/broker-latest.*), GATEHOUSE_BENCH_BASELINE_BROKER=PATH
//! (another broker binary under the same load, for before/after; signing with each of
//! GATEHOUSE_BENCH_BASELINE_ALGS=RS256,ES256,EdDSA, default RS256), GATEHOUSE_BENCH_PERF=1
//! (perf record of Envoy per listener into target/bench-run/perf-*.data),
//! GATEHOUSE_BENCH_BASELINE_FILTER=PATH (another build of the filter's .wasm, e.g. main's, on
//! four more listeners: public route, session, chunked session, bearer — before/after figures
//! from one run), GATEHOUSE_BENCH_CASES=KEY,KEY… (only these listeners, plus no filter and the
//! empty filter; keys as in bench/results/latest.json).
//!
//! Long on purpose: `run` is the bench's script, its steps in the order they run (each step's
//! work is in the modules below); the report's parts are built there from its locals.

mod broker_bench;
mod broker_variants;
mod envoy_config;
mod gateway;
mod micro;
mod oauth2_listener;
mod oidc_client;
mod pinned;
mod report;
mod stats;
mod token_load;
mod wrk;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use gatehouse_e2e::broker::{issuer_for, BrokerConfig, CLIENT_ID, CLIENT_SECRET, PASSWORD_HASH};
use gatehouse_e2e::paths::{broker_binary, envoy_binary, filter_wasm, repo_root, target_dir};
use gatehouse_e2e::ports::free_port;
use gatehouse_e2e::secrets::random_cookie_secret;
use gatehouse_e2e::{Browser, LogDir, Process, ADMIN};
use serde_json::json;

use envoy_config::{Filtering, Listener};
use gateway::{Case, Memory, MemoryCase};

/// Groups of the user whose session needs chunked cookies (about 4 KB of session in two
/// cookies): the goal's "user with 150 groups". The small session is ADMIN's.
const MANY_GROUPS: usize = 150;
const MANY_USER: &str = "many@example.com";
const SESSION_COOKIE: &str = "_gatehouse";

/// The names of the first `n` groups of [`MANY_USER`].
fn many_groups(n: usize) -> impl Iterator<Item = String> {
    (0..n).map(|i| format!("team-{i:03}-platform"))
}

/// The `x-auth-request-groups` value Gatehouse sends for [`MANY_USER`].
fn many_groups_header() -> String {
    many_groups(MANY_GROUPS).collect::<Vec<_>>().join(",")
}

/// The listeners of GATEHOUSE_BENCH_BASELINE_FILTER's build, after the thirteen standard ones.
const BASELINE_KEYS: [(&str, &str); 4] = [
    ("baseline_public", "baseline filter build, public route"),
    (
        "baseline_cookie_small",
        "baseline filter build, session cookie",
    ),
    (
        "baseline_cookie_large",
        "baseline filter build, chunked session",
    ),
    (
        "baseline_bearer",
        "baseline filter build, bearer JWT (cached)",
    ),
];

struct Options {
    rounds: usize,
    seconds: u64,
    load_seconds: u64,
    warmup_seconds: u64,
    skip_broker: bool,
    only_broker: bool,
}

fn env_num(name: &str, default: u64) -> Result<u64> {
    match std::env::var(name) {
        Ok(v) => v
            .parse()
            .with_context(|| format!("{name}={v} is not a number")),
        Err(_) => Ok(default),
    }
}

impl Options {
    fn from_env() -> Result<Self> {
        Ok(Self {
            rounds: env_num("GATEHOUSE_BENCH_ROUNDS", 5)?.max(1) as usize,
            seconds: env_num("GATEHOUSE_BENCH_SECONDS", 5)?.max(1),
            load_seconds: env_num("GATEHOUSE_BENCH_LOAD_SECONDS", 5)?.max(1),
            warmup_seconds: env_num("GATEHOUSE_BENCH_WARMUP_SECONDS", 3)?,
            skip_broker: std::env::var("GATEHOUSE_BENCH_SKIP_BROKER").is_ok_and(|v| v == "1"),
            only_broker: std::env::var("GATEHOUSE_BENCH_ONLY_BROKER").is_ok_and(|v| v == "1"),
        })
    }
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("gatehouse-bench: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn empty_filter_wasm() -> Result<PathBuf> {
    let path = target_dir()
        .join("wasm32-wasip1")
        .join("release")
        .join("gatehouse_bench_empty_filter.wasm");
    if !path.is_file() {
        bail!("{} is missing (make bench builds it)", path.display());
    }
    Ok(path)
}

/// The standard broker config plus a user with many groups, a cheap-bcrypt load user and
/// the Envoy oauth2 listener's client (when `oauth2_port` is given).
fn broker_yaml(
    broker_port: u16,
    envoy_port: u16,
    oauth2_port: Option<u16>,
    dir: &Path,
) -> Result<BrokerConfig> {
    let mut config = BrokerConfig::standard(broker_port, envoy_port, dir);
    if let Some(port) = oauth2_port {
        oauth2_listener::add_client(&mut config.yaml, port)?;
    }
    let last_key = config
        .yaml
        .lines()
        .rfind(|l| !l.starts_with(' ') && !l.starts_with('-'))
        .unwrap_or_default();
    if last_key != "staticPasswords:" {
        bail!("the standard broker config no longer ends with staticPasswords (ends with {last_key:?})");
    }
    let groups = |n: usize| -> String {
        many_groups(n)
            .map(|g| json!(g).to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let users = [
        (
            MANY_USER,
            PASSWORD_HASH,
            "many",
            "3f0c2a56-0c55-4a8e-9d0e-6d1f0f6a0001",
            groups(MANY_GROUPS),
        ),
        (
            broker_bench::LOAD_USER,
            broker_bench::LOAD_USER_HASH,
            "load",
            "3f0c2a56-0c55-4a8e-9d0e-6d1f0f6a0002",
            "\"load\"".to_string(),
        ),
    ];
    for (email, hash, username, id, groups) in users {
        config.yaml.push_str(&format!(
            "- email: {}\n  hash: {}\n  username: {}\n  userID: {}\n  groups: [{}]\n",
            json!(email),
            json!(hash),
            json!(username),
            json!(id),
            groups
        ));
    }
    Ok(config)
}

/// Starts `binary` (the built broker when None) with `config`, pinned to the server core.
fn start_broker(
    binary: Option<&Path>,
    logs: &LogDir,
    dir: &Path,
    config: &BrokerConfig,
    name: &str,
) -> Result<Process> {
    let path = dir.join("broker.yaml");
    std::fs::write(&path, &config.yaml).with_context(|| format!("writing {}", path.display()))?;
    let binary = match binary {
        Some(b) => b.to_path_buf(),
        None => broker_binary()?,
    };
    let mut cmd = pinned::command(&binary);
    cmd.arg("serve").arg(&path).current_dir(dir);
    let mut broker = Process::spawn(name, cmd, logs)?;
    broker.wait_http_ready(
        &format!("{}/healthz", config.issuer),
        Duration::from_secs(30),
    )?;
    Ok(broker)
}

fn http_text(url: &str) -> Result<String> {
    let r = reqwest::blocking::get(url).with_context(|| format!("GET {url}"))?;
    if !r.status().is_success() {
        bail!("GET {url}: {}", r.status());
    }
    r.text().with_context(|| format!("reading {url}"))
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines().find_map(|l| {
                l.strip_prefix("model name")
                    .map(|r| r.trim_start_matches([' ', '\t', ':']).to_string())
            })
        })
        .unwrap_or_else(|| "unknown CPU".into())
}

fn command_line(program: &Path, arg: &str) -> String {
    std::process::Command::new(program)
        .arg(arg)
        .output()
        .map(|o| {
            let text = String::from_utf8_lossy(&o.stdout).into_owned()
                + &String::from_utf8_lossy(&o.stderr);
            text.lines()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("?")
                .trim()
                .to_string()
        })
        .unwrap_or_else(|_| "?".into())
}

/// `Envoy 1.40.0` from `envoy --version` (`… version: HASH/1.40.0/Clean/RELEASE/BoringSSL`).
fn envoy_version(binary: &Path) -> String {
    let line = command_line(binary, "--version");
    line.split("version:")
        .nth(1)
        .and_then(|v| v.trim().split('/').nth(1))
        .map(|v| format!("Envoy {v}"))
        .unwrap_or_else(|| "Envoy".into())
}

fn run() -> Result<()> {
    let opts = Options::from_env()?;
    let nproc = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    if nproc >= 2 {
        pinned::pin_self_to_load_core()?;
    } else {
        eprintln!("WARNING: one core only: server and load share it, figures are pessimistic");
    }
    let run_dir = target_dir().join("bench-run");
    let _ = std::fs::remove_dir_all(&run_dir);
    std::fs::create_dir_all(&run_dir).with_context(|| format!("creating {}", run_dir.display()))?;
    let logs = LogDir::at(run_dir.join("logs"))?;
    let wrk = wrk::WrkSetup {
        core: if nproc >= 2 { pinned::LOAD_CORE } else { "0" }.to_string(),
        connections: 16,
    };

    // Ports first: the broker's client config names the login listener's callback.
    let broker_port = free_port()?;
    let admin_port = free_port()?;
    let mut keys = vec![
        ("no_filter", "no filter"),
        ("empty_filter", "empty proxy-wasm filter"),
        // The empty filter plus one host call: the whole request header map.
        (
            "empty_read_headers",
            "empty filter + get_http_request_headers",
        ),
        (
            "empty_read_eight",
            "empty filter + 8 × get_http_request_header",
        ),
        // Same glue and host calls, no session work: separates the host's share.
        (
            "gatehouse_public",
            "Gatehouse, public route (no session work)",
        ),
        ("gatehouse_cookie_small", "Gatehouse, session cookie"),
        (
            "gatehouse_cookie_large",
            "Gatehouse, chunked session cookie",
        ),
        ("gatehouse_bearer", "Gatehouse, bearer JWT (cached)"),
        ("jwt_authn", "Envoy jwt_authn, bearer JWT"),
        (
            "jwt_authn_cached",
            "Envoy jwt_authn + jwt_cache, bearer JWT",
        ),
        // The empty filter making exactly Gatehouse's host calls for an admitted request.
        (
            "empty_gatehouse_calls",
            "empty filter + Gatehouse's host calls (7)",
        ),
        (
            "envoy_oauth2",
            "Envoy oauth2 filter (HMAC cookies), session",
        ),
        // The same host calls with the 150-group user's cookies and groups header: the floor
        // of the chunked session's listener.
        (
            "empty_gatehouse_calls_large",
            "empty filter + Gatehouse's host calls (7), 150 groups",
        ),
    ];
    let baseline_filter = std::env::var_os("GATEHOUSE_BENCH_BASELINE_FILTER").map(PathBuf::from);
    if baseline_filter.is_some() {
        keys.extend(BASELINE_KEYS);
    }
    let mut ports = Vec::new();
    for _ in &keys {
        ports.push(free_port()?);
    }
    let login_port = ports[5];
    let oauth2_port = ports[11];

    let broker_config = broker_yaml(broker_port, login_port, Some(oauth2_port), &run_dir)?;
    let issuer = issuer_for(broker_port);
    eprintln!("starting the broker (core {}) ...", pinned::SERVER_CORE);
    let mut broker = start_broker(None, &logs, &run_dir, &broker_config, "broker")?;
    if opts.only_broker {
        let client = oidc_client::OidcClient::new(
            &issuer,
            &format!("{issuer}/token"),
            CLIENT_ID,
            CLIENT_SECRET,
            &format!("http://127.0.0.1:{login_port}/oauth2/callback"),
        )?;
        let result = broker_part(&client, &mut broker, &opts, &logs, &run_dir, login_port)?;
        broker.stop();
        let report = report::Report {
            machine: machine(&opts, nproc, "not run (broker only)".into())?,
            gateway: Vec::new(),
            memory: None,
            broker: Some(result),
            micro: Vec::new(),
            credentials: Vec::new(),
        };
        return write_report(&report, "broker-latest", &logs);
    }
    let jwks = http_text(&format!("{issuer}/keys"))?;

    let gatehouse_wasm = filter_wasm()?;
    let empty_wasm = empty_filter_wasm()?;
    let filter_config = json!({
        "issuer": issuer,
        "broker_upstream": "broker",
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "cookie_secret": random_cookie_secret()?,
        "skip_jwt_bearer_tokens": true,
    });
    let gatehouse = Filtering::Wasm {
        vm_id: "gatehouse",
        path: envoy_config::path_text(&gatehouse_wasm),
        config: filter_config.to_string(),
    };
    let mut public_config = filter_config.clone();
    public_config["routes"] = json!([{"path_prefix": "/", "public": true}]);
    let gatehouse_public = Filtering::Wasm {
        vm_id: "gatehouse_public",
        path: envoy_config::path_text(&gatehouse_wasm),
        config: public_config.to_string(),
    };
    let empty = Filtering::Wasm {
        vm_id: "empty",
        path: envoy_config::path_text(&empty_wasm),
        config: String::new(),
    };
    let empty_read_headers = Filtering::Wasm {
        vm_id: "empty_read_headers",
        path: envoy_config::path_text(&empty_wasm),
        config: "read-headers".to_string(),
    };
    let empty_read_eight = Filtering::Wasm {
        vm_id: "empty_read_eight",
        path: envoy_config::path_text(&empty_wasm),
        config: "read-eight".to_string(),
    };
    let empty_gatehouse_calls = Filtering::Wasm {
        vm_id: "empty_gatehouse_calls",
        path: envoy_config::path_text(&empty_wasm),
        config: "gatehouse-calls".to_string(),
    };
    let empty_gatehouse_calls_large = Filtering::Wasm {
        vm_id: "empty_gatehouse_calls_large",
        path: envoy_config::path_text(&empty_wasm),
        config: format!("gatehouse-calls:{}", many_groups_header()),
    };
    let jwt_authn = |cache| Filtering::JwtAuthn {
        issuer: issuer.clone(),
        audience: CLIENT_ID.to_string(),
        jwks: jwks.clone(),
        cache,
    };
    // The baseline build gets its own VM, with the same configuration (same cookie secret).
    let baseline = |vm_id, config: &serde_json::Value| {
        baseline_filter.as_ref().map(|path| Filtering::Wasm {
            vm_id,
            path: envoy_config::path_text(path),
            config: config.to_string(),
        })
    };
    let baseline_public = baseline("baseline_public", &public_config);
    let baseline_gatehouse = baseline("baseline", &filter_config);
    let mut filterings = vec![
        Filtering::None,
        empty.clone(),
        empty_read_headers,
        empty_read_eight,
        gatehouse_public,
        gatehouse.clone(),
        gatehouse.clone(),
        gatehouse.clone(),
        jwt_authn(false),
        jwt_authn(true),
        empty_gatehouse_calls,
        Filtering::OAuth2 {
            filter: oauth2_listener::filter(&issuer, oauth2_port),
        },
        empty_gatehouse_calls_large,
    ];
    if let (Some(public), Some(g)) = (baseline_public, baseline_gatehouse) {
        filterings.extend([public, g.clone(), g.clone(), g]);
    }
    let listeners: Vec<Listener> = keys
        .iter()
        .zip(&ports)
        .zip(filterings)
        .map(|(((key, _), port), filtering)| Listener {
            name: key.to_string(),
            port: *port,
            filtering,
        })
        .collect();
    let config = envoy_config::render(admin_port, broker_port, &listeners);
    eprintln!(
        "starting Envoy (core {}, --concurrency 1) with {} listeners ...",
        pinned::SERVER_CORE,
        listeners.len()
    );
    let mut envoy = pinned::envoy("envoy-bench", &logs, &run_dir, admin_port, &config)?;
    gateway::wait_filter_ready(login_port)?;

    // Real credentials: browser logins through the filter, and a code flow for a token.
    let login_url = format!("http://127.0.0.1:{login_port}/bench");
    let mut browser = Browser::new()?;
    let page = browser.login(&login_url, ADMIN.email, ADMIN.password)?;
    if page.status != 200 {
        bail!(
            "the login through Envoy ended with {}: {}",
            page.status,
            browser.history_text()
        );
    }
    let small_cookie = gateway::session_cookie_header(&browser, SESSION_COOKIE)?;
    let mut browser = Browser::new()?;
    let page = browser.login(&login_url, MANY_USER, "password")?;
    if page.status != 200 {
        bail!(
            "the login of {MANY_USER} ended with {}: {}",
            page.status,
            browser.history_text()
        );
    }
    let large_cookie = gateway::session_cookie_header(&browser, SESSION_COOKIE)?;
    // A session of Envoy's own oauth2 filter: the same user through the same broker.
    let mut browser = Browser::new()?;
    let page = browser.login(
        &format!("http://127.0.0.1:{oauth2_port}/bench"),
        ADMIN.email,
        ADMIN.password,
    )?;
    if page.status != 200 {
        bail!(
            "the login through Envoy's oauth2 filter ended with {}: {}",
            page.status,
            browser.history_text()
        );
    }
    let oauth2_cookie = oauth2_listener::cookie_header(&browser)?;
    let discovery: serde_json::Value = serde_json::from_str(&http_text(&format!(
        "{issuer}/.well-known/openid-configuration"
    ))?)?;
    let token_endpoint = discovery["token_endpoint"]
        .as_str()
        .context("no token_endpoint in discovery")?
        .to_string();
    let client = oidc_client::OidcClient::new(
        &issuer,
        &token_endpoint,
        CLIENT_ID,
        CLIENT_SECRET,
        &format!("http://127.0.0.1:{login_port}/oauth2/callback"),
    )?;
    let (tokens, _) = client.login(&mut Browser::new()?, ADMIN.email, ADMIN.password)?;
    let bearer = format!("Bearer {}", tokens.access_token);

    let cookie = |v: &str| vec![("cookie".to_string(), v.to_string())];
    let auth = vec![("authorization".to_string(), bearer.clone())];
    let small_label = format!("{} ({} B)", keys[5].1, small_cookie.len());
    let large_label = format!(
        "{} ({} B, {} cookies)",
        keys[6].1,
        large_cookie.len(),
        large_cookie.split("; ").count()
    );
    let mut cases = vec![
        (0, keys[0].1.to_string(), cookie(&small_cookie), false),
        (1, keys[1].1.to_string(), cookie(&small_cookie), false),
        (2, keys[2].1.to_string(), cookie(&small_cookie), false),
        (3, keys[3].1.to_string(), cookie(&small_cookie), false),
        (4, keys[4].1.to_string(), cookie(&small_cookie), false),
        (5, small_label, cookie(&small_cookie), true),
        (6, large_label, cookie(&large_cookie), true),
        (7, keys[7].1.to_string(), auth.clone(), true),
        (8, keys[8].1.to_string(), auth.clone(), true),
        (9, keys[9].1.to_string(), auth.clone(), true),
        (10, keys[10].1.to_string(), cookie(&small_cookie), false),
        (
            11,
            format!("{} ({} B)", keys[11].1, oauth2_cookie.len()),
            cookie(&oauth2_cookie),
            true,
        ),
        (12, keys[12].1.to_string(), cookie(&large_cookie), false),
    ];
    if keys.len() > 13 {
        cases.extend([
            (13, keys[13].1.to_string(), cookie(&small_cookie), false),
            (14, keys[14].1.to_string(), cookie(&small_cookie), true),
            (15, keys[15].1.to_string(), cookie(&large_cookie), true),
            (16, keys[16].1.to_string(), auth.clone(), true),
        ]);
    }
    let only = std::env::var("GATEHOUSE_BENCH_CASES").ok();
    let wanted = |key: &str| {
        only.as_deref().is_none_or(|list| {
            ["no_filter", "empty_filter"].contains(&key) || list.split(',').any(|k| k.trim() == key)
        })
    };
    let cases: Vec<Case> = cases
        .into_iter()
        .filter(|(i, ..)| wanted(keys[*i].0))
        .map(|(i, label, headers, protected)| Case {
            key: keys[i].0,
            label,
            port: ports[i],
            headers,
            protected,
        })
        .collect();
    gateway::verify(&cases)?;
    eprintln!(
        "Envoy: {} rounds x {} listeners x {} s (wrk -t1 -c{} on core {}) ...",
        opts.rounds,
        cases.len(),
        opts.seconds,
        wrk.connections,
        wrk.core
    );
    if std::env::var("GATEHOUSE_BENCH_PERF").is_ok_and(|v| v == "1") {
        gateway::perf_profiles(&cases, &wrk, envoy.pid(), &run_dir)?;
    }
    let gateway_results = gateway::run_rounds(&cases, &wrk, opts.rounds, opts.seconds)?;
    // Still 200 after the load: nothing degraded into errors during the runs.
    gateway::verify(&cases)?;
    envoy.stop();

    eprintln!("Envoy memory ...");
    let memory = Memory {
        no_filter_kib: gateway::envoy_rss(
            &logs,
            &run_dir,
            broker_port,
            &wrk,
            MemoryCase {
                name: "envoy-mem-none",
                filtering: Filtering::None,
                headers: &[],
                gatehouse: false,
            },
        )?,
        empty_filter_kib: gateway::envoy_rss(
            &logs,
            &run_dir,
            broker_port,
            &wrk,
            MemoryCase {
                name: "envoy-mem-empty",
                filtering: empty,
                headers: &[],
                gatehouse: false,
            },
        )?,
        gatehouse_kib: gateway::envoy_rss(
            &logs,
            &run_dir,
            broker_port,
            &wrk,
            MemoryCase {
                name: "envoy-mem-gatehouse",
                filtering: gatehouse,
                headers: &cookie(&small_cookie),
                gatehouse: true,
            },
        )?,
        gatehouse_wasm_bytes: std::fs::metadata(&gatehouse_wasm)?.len(),
        empty_wasm_bytes: std::fs::metadata(&empty_wasm)?.len(),
    };

    let broker_result = if opts.skip_broker {
        None
    } else {
        Some(broker_part(
            &client,
            &mut broker,
            &opts,
            &logs,
            &run_dir,
            login_port,
        )?)
    };
    broker.stop();

    let report = report::Report {
        machine: machine(&opts, nproc, format!("-t1 -c{} --latency", wrk.connections))?,
        gateway: gateway_results,
        memory: Some(memory),
        broker: broker_result,
        micro: micro::read(&target_dir()),
        credentials: vec![
            ("session cookie".into(), small_cookie.len()),
            ("chunked session cookies".into(), large_cookie.len()),
            ("bearer JWT".into(), tokens.access_token.len()),
            ("Envoy oauth2 cookies".into(), oauth2_cookie.len()),
        ],
    };
    write_report(&report, "latest", &logs)
}

/// Part 3: the RS256 broker (already started) next to oidc-provider, then a fresh broker per
/// other signing algorithm.
fn broker_part(
    client: &oidc_client::OidcClient,
    broker: &mut Process,
    opts: &Options,
    logs: &LogDir,
    run_dir: &Path,
    envoy_port: u16,
) -> Result<broker_bench::BrokerResult> {
    eprintln!("broker ...");
    // Every code is an /auth request, and the broker admits 600 per client address and
    // minute (AUTH_REQUESTS_PER_MINUTE): logins and codes of one broker stay below that.
    let settings = broker_bench::Settings {
        levels: vec![16, 64],
        codes_per_level: 150,
        load_seconds: opts.load_seconds,
        warmup_seconds: opts.warmup_seconds,
        logins: 20,
    };
    let mut result = broker_bench::run(client, broker, &settings, logs)?;
    // One broker at a time on the server core.
    broker.stop();
    let mut variants = vec![
        broker_variants::Variant::signing("ES256"),
        broker_variants::Variant::signing("EdDSA"),
        broker_variants::Variant::in_memory("RS256"),
        broker_variants::Variant::in_memory("EdDSA"),
    ];
    // Another build of the broker (e.g. main's) under the same load: before/after figures from
    // one run, with each signing algorithm of GATEHOUSE_BENCH_BASELINE_ALGS (default RS256).
    if let Some(path) = std::env::var_os("GATEHOUSE_BENCH_BASELINE_BROKER") {
        let algs =
            std::env::var("GATEHOUSE_BENCH_BASELINE_ALGS").unwrap_or_else(|_| "RS256".into());
        for alg in algs.split(',').map(str::trim).filter(|a| !a.is_empty()) {
            let alg = match alg {
                "RS256" => "RS256",
                "ES256" => "ES256",
                "EdDSA" => "EdDSA",
                other => {
                    anyhow::bail!(
                        "GATEHOUSE_BENCH_BASELINE_ALGS: {other:?} is not RS256, ES256 or EdDSA"
                    )
                }
            };
            variants.push(broker_variants::Variant::baseline(
                PathBuf::from(&path),
                alg,
            ));
        }
    }
    for v in &variants {
        eprintln!("broker: {} ...", v.label);
        result.variants.push(broker_variants::run(
            v, &settings, logs, run_dir, envoy_port,
        )?);
    }
    Ok(result)
}

fn machine(opts: &Options, nproc: usize, wrk: String) -> Result<report::Machine> {
    Ok(report::Machine {
        date_utc: command_line(Path::new("date"), "-u"),
        nproc,
        cpu_model: cpu_model(),
        envoy: envoy_version(&envoy_binary()?),
        rounds: opts.rounds,
        seconds_per_run: opts.seconds,
        wrk,
    })
}

/// bench/results/{name}.md and .json.
fn write_report(report: &report::Report, name: &str, logs: &LogDir) -> Result<()> {
    let md = report::markdown(report);
    let results = repo_root().join("bench").join("results");
    std::fs::create_dir_all(&results)?;
    std::fs::write(results.join(format!("{name}.md")), &md)?;
    std::fs::write(
        results.join(format!("{name}.json")),
        serde_json::to_string_pretty(report)?,
    )?;
    println!("{md}");
    eprintln!(
        "written: bench/results/{name}.md, bench/results/{name}.json; logs in {}",
        logs.dir().display()
    );
    Ok(())
}
