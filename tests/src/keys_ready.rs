//! Waiting until the filter has loaded the broker's keys: before that, every protected
//! request gets 503 (fail closed), after it a browser without a session gets a redirect.

use std::time::{Duration, Instant};

use anyhow::{bail, Result};

use crate::browser::Browser;
use crate::stack::{Gateway, Stack};

impl<G: Gateway> Stack<G> {
    /// Polls `GET /` with a cookie-less browser until it is no longer 503.
    pub fn wait_for_keys(&self, timeout: Duration) -> Result<()> {
        let mut probe = Browser::new()?;
        let deadline = Instant::now() + timeout;
        loop {
            let page = probe.get(&self.url("/"))?;
            if page.status != 503 {
                return Ok(());
            }
            if Instant::now() >= deadline {
                bail!(
                    "the filter still answers 503 after {timeout:?}: {}",
                    page.body
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}
