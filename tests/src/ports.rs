//! Loopback ports: handed out to tests from below the kernel's ephemeral range, checked for
//! the demo's fixed ones.
//!
//! A port from `bind(127.0.0.1:0)` lies in the ephemeral range, and once the probe closes it
//! the kernel may give it to an outgoing connection as its source port before the test's server
//! binds it: Envoy then exits with "Address already in use" (CI, 2026-12-02, in `scale.rs`,
//! where seconds pass between choosing Envoy's ports and starting it). The kernel never picks
//! a source port outside that range, so tests take theirs from below it. Each process claims
//! blocks of that space through a lock file per block, held while it lives, so two test
//! processes running at once never hand out the same port.

use std::fs::{File, OpenOptions};
use std::net::TcpListener;
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::sync::Mutex;

use anyhow::{bail, Context, Result};

/// The lowest port handed out: above the demo's and the usual services' fixed ports.
const FIRST: u16 = 10_000;
/// Ports per claimed block; a busy test binary uses a few hundred.
const BLOCK: u16 = 200;

/// Where the block locks live.
fn lock_dir() -> PathBuf {
    std::env::temp_dir().join("gatehouse-test-ports")
}

/// The ports this process hands out from, and the locks of every block it has claimed (kept
/// until exit: servers of an earlier block may still listen).
struct Claims {
    locks: Vec<File>,
    next: u16,
    end: u16,
}

static CLAIMS: Mutex<Option<Claims>> = Mutex::new(None);

/// A free loopback port no other test of any process has been handed.
pub fn free_port() -> Result<u16> {
    let mut guard = CLAIMS
        .lock()
        .map_err(|_| anyhow::anyhow!("port registry poisoned"))?;
    let claims = guard.get_or_insert_with(|| Claims {
        locks: Vec::new(),
        next: 0,
        end: 0,
    });
    loop {
        if claims.next >= claims.end {
            let (start, lock) = claim_block(claims.end)?;
            claims.locks.push(lock);
            claims.next = start;
            claims.end = start + BLOCK;
        }
        let port = claims.next;
        claims.next += 1;
        // Something outside the tests (or a server a crashed run left) may listen there.
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return Ok(port);
        }
    }
}

/// The ports tests may use: `[FIRST, start of the ephemeral range)`, in whole blocks.
fn pool() -> Result<(u16, u16)> {
    let path = "/proc/sys/net/ipv4/ip_local_port_range";
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {path}"))?;
    let low: u16 = text
        .split_whitespace()
        .next()
        .and_then(|low| low.parse().ok())
        .with_context(|| format!("{path} holds {text:?}, not two port numbers"))?;
    let blocks = low.saturating_sub(FIRST) / BLOCK;
    if blocks < 4 {
        bail!(
            "the ephemeral port range starts at {low} ({path}), leaving no room below it for \
             test ports from {FIRST}; widen it with `sysctl net.ipv4.ip_local_port_range`"
        );
    }
    Ok((FIRST, FIRST + blocks * BLOCK))
}

/// Locks the first free block after `after` (wrapping), returning its first port and its lock.
fn claim_block(after: u16) -> Result<(u16, File)> {
    let (first, end) = pool()?;
    let dir = lock_dir();
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let blocks = (end - first) / BLOCK;
    // Start where this process left off, or at a block chosen by its pid, so processes that
    // start together do not all try the same lock first.
    let offset = if after >= first {
        (after - first) / BLOCK
    } else {
        (std::process::id() % u32::from(blocks)) as u16
    };
    for step in 0..blocks {
        let start = first + ((offset + step) % blocks) * BLOCK;
        let path = dir.join(format!("{start}.lock"));
        let file = match OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
        {
            Ok(file) => file,
            // Another user's lock file: that block is theirs.
            Err(_) => continue,
        };
        // flock (not `File::try_lock`, newer than the workspace's MSRV): released when the
        // process ends, however it ends.
        // SAFETY: the descriptor is `file`'s own, open for this call.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
            return Ok((start, file));
        }
        let err = std::io::Error::last_os_error();
        if err.raw_os_error() != Some(libc::EWOULDBLOCK) {
            return Err(err).with_context(|| format!("locking {}", path.display()));
        }
    }
    bail!(
        "every block of test ports in {first}..{end} is claimed by another process (locks in {})",
        dir.display()
    )
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn ports_are_unique_and_below_the_ephemeral_range_across_blocks() {
        let (first, end) = pool().unwrap();
        let mut seen = HashSet::new();
        for _ in 0..(BLOCK as usize * 2 + 10) {
            let port = free_port().unwrap();
            assert!(
                (first..end).contains(&port),
                "{port} outside {first}..{end}"
            );
            assert!(seen.insert(port), "{port} handed out twice");
        }
    }

    #[test]
    fn a_block_another_process_holds_is_skipped() {
        // flock binds to the open file, so a second claim in one process stands in for another
        // process's claim.
        let (start, _held) = claim_block(0).unwrap();
        // `claim_block(start)` tries `start`'s block first.
        let (other, _lock) = claim_block(start).unwrap();
        assert_ne!(start, other, "a held block was claimed again");
    }
}
