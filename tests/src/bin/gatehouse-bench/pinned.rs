//! Processes pinned to a core: the servers under test on one core, load on the other.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use gatehouse_e2e::paths::envoy_binary;
use gatehouse_e2e::{LogDir, Process};

/// The core the servers under test run on, and the one the load generators use.
pub const SERVER_CORE: &str = "0";
pub const LOAD_CORE: &str = "1";

/// `taskset -c SERVER_CORE program args…` (taskset execs, so the PID is the program's).
pub fn command(program: &Path) -> Command {
    let mut cmd = Command::new("taskset");
    cmd.args(["-c", SERVER_CORE]).arg(program);
    cmd
}

/// Pins this process (and every thread it starts later) to the load core.
pub fn pin_self_to_load_core() -> Result<()> {
    let core: usize = LOAD_CORE.parse().context("load core")?;
    // SAFETY: a zeroed cpu_set_t is a valid empty set; the calls only read it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(core, &mut set);
        if libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) != 0 {
            return Err(std::io::Error::last_os_error()).context("sched_setaffinity");
        }
    }
    Ok(())
}

/// Starts Envoy (`--concurrency 1`) on the server core with the JSON config `config`.
pub fn envoy(
    name: &str,
    logs: &LogDir,
    dir: &Path,
    admin_port: u16,
    config: &serde_json::Value,
) -> Result<Process> {
    let config_path = dir.join(format!("{name}.json"));
    let text = serde_json::to_string_pretty(config).context("serialising the Envoy config")?;
    std::fs::write(&config_path, text)
        .with_context(|| format!("writing {}", config_path.display()))?;
    let mut cmd = command(&envoy_binary()?);
    cmd.arg("-c")
        .arg(&config_path)
        .args(["--concurrency", "1", "--disable-hot-restart"])
        .args(["--log-level", "warn"])
        .args(["--base-id", &admin_port.to_string()]);
    let mut process = Process::spawn(name, cmd, logs)?;
    process.wait_http_ready(
        &format!("http://127.0.0.1:{admin_port}/ready"),
        Duration::from_secs(60),
    )?;
    Ok(process)
}

/// `VmRSS` of a process, in KiB.
pub fn rss_kib(pid: u32) -> Result<u64> {
    let path = format!("/proc/{pid}/status");
    let status = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    for line in status.lines() {
        if let Some(rest) = line.strip_prefix("VmRSS:") {
            let kib = rest.trim().trim_end_matches("kB").trim();
            return kib
                .parse()
                .with_context(|| format!("VmRSS of {pid}: {rest}"));
        }
    }
    bail!("{path} has no VmRSS line")
}
