//! Waiting until the filter has loaded the broker's keys: before that, every protected
//! request gets 503 (fail closed), which would make tests flaky right after start.

use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::stack::{Gateway, Stack, StackOptions};

/// Polls the filter's userinfo endpoint as an API client until it answers 401 (keys
/// loaded, no session) instead of 503. Starts no login, so login counters stay at 0.
pub fn wait_for_keys<G: Gateway>(stack: &Stack<G>, timeout: Duration) -> Result<()> {
    let client = reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(5))
        .build()
        .context("building an HTTP client")?;
    let url = stack.url("/oauth2/userinfo");
    let deadline = Instant::now() + timeout;
    loop {
        let status = client
            .get(&url)
            .header("accept", "application/json")
            .send()
            .with_context(|| format!("GET {url}"))?
            .status()
            .as_u16();
        match status {
            401 => return Ok(()),
            503 if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(100)),
            other => bail!("the filter did not get ready: {url} answered {other}"),
        }
    }
}

/// Starts the Envoy stack and waits up to 20 s for its filter to hold the broker's keys: how
/// most end-to-end tests begin.
pub fn start_with_keys(opts: StackOptions) -> Result<Stack> {
    let stack = Stack::start(opts)?;
    wait_for_keys(&stack, Duration::from_secs(20))?;
    Ok(stack)
}
