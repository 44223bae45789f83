//! Waiting for a server to answer.

use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

/// Polls `url` until it answers with a 2xx status, or fails after `timeout`.
pub fn wait_http_ready(url: &str, timeout: Duration) -> Result<()> {
    let deadline = Instant::now() + timeout;
    loop {
        let err = match probe_http(url) {
            Ok(()) => return Ok(()),
            Err(err) => err,
        };
        if Instant::now() >= deadline {
            return Err(err.context(format!("{url} not ready after {timeout:?}")));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// One GET of `url`; Ok when the status is 2xx.
pub(crate) fn probe_http(url: &str) -> Result<()> {
    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(2))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .context("building HTTP client")?;
    let status = client
        .get(url)
        .send()
        .with_context(|| format!("GET {url}"))?
        .status();
    if !status.is_success() {
        bail!("GET {url}: {status}");
    }
    Ok(())
}
