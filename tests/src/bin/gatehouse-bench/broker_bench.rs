//! Part 3: the broker's token endpoint under load (code exchange and refresh at 16 and
//! 64 clients), full logins with the bcrypt share, its memory; and the same refresh load
//! against npm `oidc-provider` in the same run.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use gatehouse_e2e::paths::repo_root;
use gatehouse_e2e::ports::free_port;
use gatehouse_e2e::{Browser, LogDir, Process};

use crate::oidc_client::{LoginSteps, OidcClient};
use crate::pinned;
use crate::stats::Latency;
use crate::token_load::{self, LoadResult};

/// Users of the benchmark's broker config, beyond the standard ones.
pub const LOAD_USER: &str = "load@example.com";
/// bcrypt cost 4 of `password`: logins that only mint codes should not be bcrypt-bound.
pub const LOAD_USER_HASH: &str = "$2b$04$2W6UO23OL/WI4LgE63oGseolNXUjSOMHSV.qcoR7BrscRvCt5Nswe";

#[derive(Debug, Clone, serde::Serialize)]
pub struct LoginResult {
    pub logins: usize,
    pub bcrypt_cost: u32,
    pub total: Latency,
    pub form_post: Latency,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct BrokerResult {
    pub login_cost10: LoginResult,
    pub login_cost4: LoginResult,
    /// Median form-POST time at cost 10 minus at cost 4: what bcrypt adds to a login.
    pub bcrypt_share_ms: f64,
    pub code_exchange: Vec<LoadResult>,
    pub refresh: Vec<LoadResult>,
    pub rss_idle_kib: u64,
    pub rss_after_kib: u64,
    pub peer: Result<PeerResult, String>,
    /// Each refresh load: unrecorded seconds, then measured ones (every server alike).
    pub refresh_warmup_seconds: u64,
    pub refresh_seconds: u64,
    /// The same loads against brokers signing with ES256 and EdDSA (`broker_variants.rs`).
    pub variants: Vec<crate::broker_variants::VariantResult>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct PeerResult {
    pub name: String,
    pub refresh: Vec<LoadResult>,
    pub rss_after_kib: u64,
}

pub struct Settings {
    pub levels: Vec<usize>,
    pub codes_per_level: usize,
    pub load_seconds: u64,
    /// Unrecorded seconds of the same refresh load before each measured one.
    pub warmup_seconds: u64,
    pub logins: usize,
}

impl Settings {
    fn warmup(&self) -> Duration {
        Duration::from_secs(self.warmup_seconds)
    }

    fn load(&self) -> Duration {
        Duration::from_secs(self.load_seconds)
    }
}

fn logins(client: &OidcClient, user: &str, count: usize, cost: u32) -> Result<LoginResult> {
    let mut browser = Browser::new()?;
    let mut steps: Vec<LoginSteps> = Vec::with_capacity(count);
    for _ in 0..count {
        let (_, s) = client.login(&mut browser, user, "password")?;
        steps.push(s);
    }
    let mut total: Vec<Duration> = steps.iter().map(LoginSteps::total).collect();
    let mut post: Vec<Duration> = steps.iter().map(|s| s.form_post).collect();
    Ok(LoginResult {
        logins: count,
        bcrypt_cost: cost,
        total: Latency::of(&mut total),
        form_post: Latency::of(&mut post),
    })
}

fn mint_codes(client: &OidcClient, count: usize) -> Result<Vec<String>> {
    let mut browser = Browser::new()?;
    (0..count)
        .map(|_| {
            client
                .browser_code(&mut browser, LOAD_USER, "password")
                .map(|(code, _)| code)
        })
        .collect()
}

/// The tokens of one login of the load user.
pub fn login_tokens(client: &OidcClient) -> Result<crate::oidc_client::Tokens> {
    let code = mint_codes(client, 1)?.pop().context("no code minted")?;
    client.exchange(&code)
}

fn refresh_tokens(client: &OidcClient, count: usize) -> Result<Vec<String>> {
    mint_codes(client, count)?
        .iter()
        .map(|code| {
            client
                .exchange(code)?
                .refresh_token
                .context("the code exchange gave no refresh token (offline_access)")
        })
        .collect()
}

fn checked(result: LoadResult, what: &str) -> LoadResult {
    if result.errors > 0 {
        eprintln!(
            "  WARNING {what}: {} errors, first: {}",
            result.errors,
            result.first_error.as_deref().unwrap_or("?")
        );
    }
    eprintln!(
        "  {what:<40} {:>3} clients {:>8.0}/s  p50 {:.2} ms  p99 {:.2} ms",
        result.clients, result.per_s, result.latency.p50_ms, result.latency.p99_ms
    );
    result
}

pub fn run(
    client: &OidcClient,
    broker: &mut Process,
    settings: &Settings,
    logs: &LogDir,
) -> Result<BrokerResult> {
    let rss_idle_kib = pinned::rss_kib(broker.pid())?;
    eprintln!("broker: full logins (cost 10, then cost 4)");
    let login_cost10 = logins(client, gatehouse_e2e::ADMIN.email, settings.logins, 10)?;
    let login_cost4 = logins(client, LOAD_USER, settings.logins, 4)?;
    let bcrypt_share_ms = login_cost10.form_post.p50_ms - login_cost4.form_post.p50_ms;

    let (code_exchange, refresh) = token_loads(client, settings, "RS256")?;
    let rss_after_kib = pinned::rss_kib(broker.pid())?;
    let peer = oidc_provider(settings, logs, "RS256").map_err(|e| {
        eprintln!("  oidc-provider comparison failed: {e:#}");
        format!("{e:#}")
    });
    Ok(BrokerResult {
        login_cost10,
        login_cost4,
        bcrypt_share_ms,
        code_exchange,
        refresh,
        rss_idle_kib,
        rss_after_kib,
        peer,
        refresh_warmup_seconds: settings.warmup_seconds,
        refresh_seconds: settings.load_seconds,
        variants: Vec::new(),
    })
}

/// Code exchanges, then rotating refresh chains, at every load level.
pub fn token_loads(
    client: &OidcClient,
    settings: &Settings,
    alg: &str,
) -> Result<(Vec<LoadResult>, Vec<LoadResult>)> {
    let mut code_exchange = Vec::new();
    for &n in &settings.levels {
        let codes = mint_codes(client, settings.codes_per_level)?;
        let r = token_load::code_exchange(client, codes, n);
        code_exchange.push(checked(r, &format!("broker {alg} code exchange")));
    }
    let mut refresh = Vec::new();
    for &n in &settings.levels {
        let tokens = refresh_tokens(client, n)?;
        let r = token_load::refresh_chains(client, tokens, settings.warmup(), settings.load())?;
        refresh.push(checked(r, &format!("broker {alg} refresh (rotating)")));
    }
    Ok((code_exchange, refresh))
}

/// npm `oidc-provider` (bench/peers/oidc-provider), pinned to the server core, signing its
/// ID tokens with `alg`, under the same rotating refresh load.
pub fn oidc_provider(settings: &Settings, logs: &LogDir, alg: &str) -> Result<PeerResult> {
    let dir = repo_root()
        .join("bench")
        .join("peers")
        .join("oidc-provider");
    let script = dir.join("server.mjs");
    let package = dir
        .join("node_modules")
        .join("oidc-provider")
        .join("package.json");
    if !package.is_file() {
        bail!(
            "{} is missing (make bench runs npm ci there)",
            package.display()
        );
    }
    let version = serde_json::from_str::<serde_json::Value>(&std::fs::read_to_string(&package)?)?
        ["version"]
        .as_str()
        .unwrap_or("?")
        .to_string();
    let mut refresh = Vec::new();
    let mut rss_after_kib = 0;
    for &n in &settings.levels {
        // A fresh provider per level, so both start from the same empty store.
        let port = free_port()?;
        let mut cmd = pinned::command(Path::new("node"));
        cmd.arg(&script)
            .arg(port.to_string())
            .arg(n.to_string())
            .arg(alg)
            .current_dir(&dir);
        let mut node = Process::spawn(&format!("oidc-provider-{alg}-{n}"), cmd, logs)?;
        let ready = wait_ready_line(&mut node, Duration::from_secs(30))?;
        let issuer = ready["issuer"]
            .as_str()
            .context("no issuer in the ready line")?;
        // It signs with what it was asked to (its JWKS says so), or the comparison is void.
        let jwks: serde_json::Value =
            serde_json::from_str(&crate::http_text(&format!("{issuer}/jwks"))?)
                .context("the peer's JWKS is not JSON")?;
        if jwks["keys"][0]["alg"] != alg || ready["alg"] != alg {
            bail!("oidc-provider asked for {alg} publishes {jwks}");
        }
        let tokens: Vec<String> = ready["refresh_tokens"]
            .as_array()
            .context("no refresh_tokens in the ready line")?
            .iter()
            .filter_map(|t| t.as_str().map(str::to_string))
            .collect();
        let client = OidcClient::new(
            issuer,
            &format!("{issuer}/token"),
            "bench",
            "bench-secret",
            "http://127.0.0.1/callback",
        )?;
        let r = token_load::refresh_chains(&client, tokens, settings.warmup(), settings.load())?;
        refresh.push(checked(
            r,
            &format!("oidc-provider {alg} refresh (rotating)"),
        ));
        rss_after_kib = pinned::rss_kib(node.pid())?;
        node.stop();
    }
    Ok(PeerResult {
        name: format!("oidc-provider {version} {alg} (node {})", node_version()),
        refresh,
        rss_after_kib,
    })
}

fn node_version() -> String {
    std::process::Command::new("node")
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|_| "?".into())
}

/// The `GATEHOUSE-BENCH-READY {json}` line the peer prints once it serves.
fn wait_ready_line(node: &mut Process, timeout: Duration) -> Result<serde_json::Value> {
    const MARK: &str = "GATEHOUSE-BENCH-READY ";
    let deadline = Instant::now() + timeout;
    loop {
        let text = std::fs::read_to_string(node.log_path()).unwrap_or_default();
        if let Some(line) = text.lines().find_map(|l| l.strip_prefix(MARK)) {
            return serde_json::from_str(line).context("the peer's ready line is not JSON");
        }
        if let Some(status) = node.exited()? {
            bail!("oidc-provider exited ({status}):\n{}", node.log_tail(30));
        }
        if Instant::now() >= deadline {
            bail!(
                "oidc-provider not ready after {timeout:?}:\n{}",
                node.log_tail(30)
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}
