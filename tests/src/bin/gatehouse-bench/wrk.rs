//! Debian's `wrk`, pinned to its own core, and its `--latency` report parsed.

use std::process::Command;
use std::time::Duration;

use anyhow::{bail, Context, Result};

/// One wrk run's figures.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct WrkRun {
    pub requests_per_s: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub requests: u64,
}

/// How wrk is run: on which core, with how many connections.
#[derive(Debug, Clone)]
pub struct WrkSetup {
    pub core: String,
    pub connections: u32,
}

impl WrkSetup {
    /// `taskset -c CORE wrk -t1 -cN -dS --latency [-H ...] URL`. A run with any non-2xx
    /// answer or socket error is refused: a listener that fails fast is not a fast one.
    pub fn run(
        &self,
        url: &str,
        headers: &[(String, String)],
        duration: Duration,
    ) -> Result<WrkRun> {
        let mut cmd = Command::new("taskset");
        cmd.args(["-c", &self.core, "wrk", "-t1"])
            .arg(format!("-c{}", self.connections))
            .arg(format!("-d{}s", duration.as_secs().max(1)))
            .arg("--latency");
        for (name, value) in headers {
            cmd.arg("-H").arg(format!("{name}: {value}"));
        }
        cmd.arg(url);
        let out = cmd.output().context("running wrk (apt-get install wrk)")?;
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        if !out.status.success() {
            bail!(
                "wrk failed ({}): {}{}",
                out.status,
                text,
                String::from_utf8_lossy(&out.stderr)
            );
        }
        parse(&text).with_context(|| format!("wrk against {url} said:\n{text}"))
    }
}

/// Reads `Requests/sec`, the 50 % and 99 % latency lines and the request count.
pub fn parse(text: &str) -> Result<WrkRun> {
    if let Some(line) = text
        .lines()
        .find(|l| l.contains("Non-2xx or 3xx responses"))
    {
        bail!("some answers were not 2xx/3xx: {}", line.trim());
    }
    if let Some(line) = text.lines().find(|l| l.contains("Socket errors")) {
        bail!("socket errors: {}", line.trim());
    }
    let mut rps = None;
    let mut p50 = None;
    let mut p99 = None;
    let mut requests = None;
    for line in text.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["Requests/sec:", v] => rps = v.parse::<f64>().ok(),
            ["50%", v] => p50 = duration_ms(v),
            ["99%", v] => p99 = duration_ms(v),
            [n, "requests", "in", ..] => requests = n.parse::<u64>().ok(),
            _ => {}
        }
    }
    match (rps, p50, p99, requests) {
        (Some(requests_per_s), Some(p50_ms), Some(p99_ms), Some(requests)) => Ok(WrkRun {
            requests_per_s,
            p50_ms,
            p99_ms,
            requests,
        }),
        _ => bail!("could not find Requests/sec and the 50%/99% latency lines"),
    }
}

/// `123.45us`, `1.20ms`, `2.00s`, `3.00m` in milliseconds.
fn duration_ms(text: &str) -> Option<f64> {
    let split = text.find(|c: char| c.is_ascii_alphabetic())?;
    let (number, unit) = text.split_at(split);
    let value: f64 = number.parse().ok()?;
    let factor = match unit {
        "us" => 0.001,
        "ms" => 1.0,
        "s" => 1000.0,
        "m" => 60_000.0,
        _ => return None,
    };
    Some(value * factor)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "Running 5s test @ http://127.0.0.1:1/
  1 threads and 16 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   401.00us  100.00us   5.00ms   90.00%
    Req/Sec    40.00k     1.00k   42.00k    70.00%
  Latency Distribution
     50%  380.00us
     75%  420.00us
     90%  500.00us
     99%    1.20ms
  200000 requests in 5.00s, 20.00MB read
Requests/sec:  39990.10
Transfer/sec:      4.00MB
";

    #[test]
    fn parses_the_latency_report() {
        let r = parse(SAMPLE).unwrap();
        assert_eq!(r.requests_per_s, 39990.10);
        assert!((r.p50_ms - 0.38).abs() < 1e-9);
        assert!((r.p99_ms - 1.2).abs() < 1e-9);
        assert_eq!(r.requests, 200000);
    }

    #[test]
    fn refuses_runs_with_errors() {
        let bad = SAMPLE.replace(
            "Requests/sec",
            "  Non-2xx or 3xx responses: 7\nRequests/sec",
        );
        assert!(parse(&bad).is_err());
    }
}
