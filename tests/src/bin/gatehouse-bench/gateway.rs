//! Part 1 and 2: Envoy's throughput per listener (rounds alternating the listeners, ratios
//! within a round) and Envoy's resident memory without and with the filter.

use std::path::Path;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use gatehouse_e2e::ports::free_port;
use gatehouse_e2e::{Browser, LogDir, Process};
use serde_json::Value;

use crate::envoy_config::{self, Filtering, Listener};
use crate::pinned;
use crate::stats::median;
use crate::wrk::{WrkRun, WrkSetup};

/// A benchmark case: a listener and the credentials every request carries.
#[derive(Debug, Clone)]
pub struct Case {
    pub key: &'static str,
    pub label: String,
    pub port: u16,
    pub headers: Vec<(String, String)>,
    /// Whether a request without credentials must be refused (an auth listener).
    pub protected: bool,
}

impl Case {
    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/bench", self.port)
    }
}

/// Medians over rounds for one case.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CaseResult {
    pub key: String,
    pub label: String,
    pub requests_per_s: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    /// Median over rounds of (this case / no filter) in the same round.
    pub vs_no_filter: f64,
    /// Median over rounds of (this case / empty filter) in the same round.
    pub vs_empty_filter: f64,
    /// Median over rounds of the extra time per request over the empty filter (one
    /// saturated worker: 1/rate), in microseconds.
    pub extra_us_vs_empty: f64,
    pub rounds: Vec<WrkRun>,
}

/// Checks each case answers 200 with its credentials and (auth listeners) refuses a
/// request without them, so a misconfigured listener cannot produce a fast number.
pub fn verify(cases: &[Case]) -> Result<()> {
    let http = reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .build()?;
    for case in cases {
        let mut with = http.get(case.url());
        for (k, v) in &case.headers {
            with = with.header(k, v);
        }
        let status = with.send().with_context(|| case.url())?.status().as_u16();
        if status != 200 {
            bail!("{}: {} with credentials, expected 200", case.label, status);
        }
        if case.protected {
            let bare = http
                .get(case.url())
                .header("accept", "text/html")
                .send()?
                .status()
                .as_u16();
            if !(bare == 302 || bare == 401) {
                bail!(
                    "{}: {} without credentials, expected 302 or 401",
                    case.label,
                    bare
                );
            }
        }
    }
    Ok(())
}

/// `rounds` rounds; each runs every case once, starting one case later than the round
/// before, so no case always runs first (warm-up) or last (thermal/neighbour drift).
pub fn run_rounds(
    cases: &[Case],
    wrk: &WrkSetup,
    rounds: usize,
    seconds: u64,
) -> Result<Vec<CaseResult>> {
    for case in cases {
        // Warm-up: V8 tiers up the filter, Envoy fills its pools.
        wrk.run(&case.url(), &case.headers, Duration::from_secs(1))
            .with_context(|| format!("warm-up of {}", case.label))?;
    }
    let mut runs: Vec<Vec<WrkRun>> = vec![Vec::new(); cases.len()];
    for round in 0..rounds {
        for k in 0..cases.len() {
            let i = (k + round) % cases.len();
            let case = &cases[i];
            let run = wrk
                .run(&case.url(), &case.headers, Duration::from_secs(seconds))
                .with_context(|| format!("round {} of {}", round + 1, case.label))?;
            eprintln!(
                "  round {} {:<38} {:>9.0} req/s  p50 {:.3} ms  p99 {:.3} ms",
                round + 1,
                case.label,
                run.requests_per_s,
                run.p50_ms,
                run.p99_ms
            );
            runs[i].push(run);
        }
    }
    let base = |key: &str| cases.iter().position(|c| c.key == key);
    let (Some(none), Some(empty)) = (base("no_filter"), base("empty_filter")) else {
        bail!("the cases must include no_filter and empty_filter");
    };
    Ok(cases
        .iter()
        .enumerate()
        .map(|(i, case)| {
            let rps: Vec<f64> = runs[i].iter().map(|r| r.requests_per_s).collect();
            let ratio = |b: usize| -> f64 {
                let per_round: Vec<f64> = runs[i]
                    .iter()
                    .zip(&runs[b])
                    .map(|(r, base)| r.requests_per_s / base.requests_per_s)
                    .collect();
                median(&per_round)
            };
            CaseResult {
                key: case.key.to_string(),
                label: case.label.clone(),
                requests_per_s: median(&rps),
                p50_ms: median(&runs[i].iter().map(|r| r.p50_ms).collect::<Vec<_>>()),
                p99_ms: median(&runs[i].iter().map(|r| r.p99_ms).collect::<Vec<_>>()),
                vs_no_filter: ratio(none),
                vs_empty_filter: ratio(empty),
                extra_us_vs_empty: median(
                    &runs[i]
                        .iter()
                        .zip(&runs[empty])
                        .map(|(r, e)| 1e6 / r.requests_per_s - 1e6 / e.requests_per_s)
                        .collect::<Vec<_>>(),
                ),
                rounds: runs[i].clone(),
            }
        })
        .collect())
}

/// Waits until the Gatehouse listener at `port` has its broker keys: a navigation
/// without a session is sent to the login (302) instead of 503.
pub fn wait_filter_ready(port: u16) -> Result<()> {
    let http = reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(5))
        .build()?;
    let url = format!("http://127.0.0.1:{port}/");
    let mut last = 0;
    for _ in 0..200 {
        if let Ok(r) = http.get(&url).header("accept", "text/html").send() {
            last = r.status().as_u16();
            if last == 302 {
                return Ok(());
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    bail!("the Gatehouse listener on {port} never redirected to the login (last status {last})")
}

/// The filter's session cookies in a browser's jar (`_gatehouse` or its chunks), as one
/// `Cookie` header value.
pub fn session_cookie_header(browser: &Browser, name: &str) -> Result<String> {
    let parts: Vec<String> = browser
        .jar
        .cookies()
        .iter()
        .filter(|c| {
            c.name == name
                || c.name
                    .strip_prefix(name)
                    .and_then(|r| r.strip_prefix('_'))
                    .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        })
        .map(|c| format!("{}={}", c.name, c.value))
        .collect();
    if parts.is_empty() {
        bail!(
            "no {name} session cookie after the login: {:?}",
            browser.jar.names()
        );
    }
    Ok(parts.join("; "))
}

/// Resident memory of Envoy with one listener each: no filter, the empty filter, and
/// the Gatehouse filter (keys loaded, after a second of traffic with a session).
#[derive(Debug, Clone, serde::Serialize)]
pub struct Memory {
    pub no_filter_kib: u64,
    pub empty_filter_kib: u64,
    pub gatehouse_kib: u64,
    pub gatehouse_wasm_bytes: u64,
    pub empty_wasm_bytes: u64,
}

pub struct MemoryCase<'a> {
    pub name: &'static str,
    pub filtering: Filtering,
    pub headers: &'a [(String, String)],
    pub gatehouse: bool,
}

/// Starts one single-listener Envoy, loads it for a second, and reads its VmRSS.
pub fn envoy_rss(
    logs: &LogDir,
    dir: &Path,
    broker_port: u16,
    wrk: &WrkSetup,
    case: MemoryCase<'_>,
) -> Result<u64> {
    let admin = free_port()?;
    let port = free_port()?;
    let listener = Listener {
        name: case.name.to_string(),
        port,
        filtering: case.filtering,
    };
    let config: Value = envoy_config::render(admin, broker_port, &[listener]);
    let mut envoy: Process = pinned::envoy(case.name, logs, dir, admin, &config)?;
    if case.gatehouse {
        wait_filter_ready(port)?;
    }
    wrk.run(
        &format!("http://127.0.0.1:{port}/bench"),
        case.headers,
        Duration::from_secs(1),
    )
    .with_context(|| format!("traffic through {}", case.name))?;
    std::thread::sleep(Duration::from_millis(500));
    let rss = pinned::rss_kib(envoy.pid())?;
    envoy.stop();
    Ok(rss)
}

/// With `GATEHOUSE_BENCH_PERF=1`: `perf record` of Envoy while wrk loads each case, into
/// `<dir>/perf-<case>.data` (read with `perf report -i … --sort dso,sym`). Wasm code that
/// V8 compiled shows up as anonymous memory, Envoy's own code (host calls included) by name.
pub fn perf_profiles(cases: &[Case], wrk: &WrkSetup, envoy_pid: u32, dir: &Path) -> Result<()> {
    for case in cases {
        let out = dir.join(format!("perf-{}.data", case.key));
        let mut perf = std::process::Command::new("perf")
            .args(["record", "-F", "2999", "-g", "-o"])
            .arg(&out)
            .args(["-p", &envoy_pid.to_string(), "--", "sleep", "4"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .context("starting perf")?;
        std::thread::sleep(Duration::from_millis(300));
        wrk.run(&case.url(), &case.headers, Duration::from_secs(3))?;
        perf.wait().context("waiting for perf")?;
        eprintln!("  perf profile of {}: {}", case.label, out.display());
    }
    Ok(())
}
