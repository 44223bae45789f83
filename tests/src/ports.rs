//! Loopback ports: chosen by the OS for tests, checked for the demo's fixed ones.

use std::collections::HashSet;
use std::net::TcpListener;
use std::sync::Mutex;

use anyhow::{bail, Context, Result};

/// Ports already handed out by this process, so two parallel tests never get the same
/// one between the probe below and the moment their server binds it.
static HANDED_OUT: Mutex<Option<HashSet<u16>>> = Mutex::new(None);

/// A loopback port that was free a moment ago (the OS picks it).
pub fn free_port() -> Result<u16> {
    for _ in 0..50 {
        let listener = TcpListener::bind("127.0.0.1:0").context("binding 127.0.0.1:0")?;
        let port = listener
            .local_addr()
            .context("reading local address")?
            .port();
        let mut guard = HANDED_OUT
            .lock()
            .map_err(|_| anyhow::anyhow!("port registry poisoned"))?;
        if guard.get_or_insert_with(HashSet::new).insert(port) {
            return Ok(port);
        }
    }
    bail!("the OS kept returning ports already handed out")
}

/// Fails with a clear message when something already listens on `127.0.0.1:port`.
pub fn ensure_port_free(port: u16, what: &str) -> Result<()> {
    match TcpListener::bind(("127.0.0.1", port)) {
        Ok(_) => Ok(()),
        Err(err) => bail!(
            "port {port} (for {what}) is taken: {err}. Stop whatever listens there \
             (`ss -ltnp 'sport = :{port}'` shows it) and try again."
        ),
    }
}
