//! A child process that cannot outlive its owner: logs to a file, stopped on drop.

use std::fs::File;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::logs::{error_lines, tail, LogDir};
use crate::ready::probe_http;

/// How long a stopped process gets to exit after SIGTERM before it is SIGKILLed.
const GRACE: Duration = Duration::from_secs(3);

pub struct Process {
    name: String,
    child: Child,
    log: PathBuf,
}

impl Process {
    /// Starts `cmd` with stdout and stderr appended to `logs/<name>.log`.
    ///
    /// The child gets its own process group, so a Ctrl-C at the terminal reaches only
    /// the owner, which then stops its children in order. On Linux the child also gets
    /// SIGTERM when the thread that spawned it exits (the kernel's parent-death signal),
    /// so a killed test run leaves no Envoy or broker behind. Keep a `Process` on the
    /// thread that created it.
    pub fn spawn(name: &str, mut cmd: Command, logs: &LogDir) -> Result<Self> {
        let log = logs.file(name);
        let out = File::create(&log).with_context(|| format!("creating {}", log.display()))?;
        let err = out
            .try_clone()
            .with_context(|| format!("cloning handle of {}", log.display()))?;
        cmd.stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .process_group(0);
        // SAFETY: prctl is async-signal-safe and touches no memory of the parent.
        unsafe {
            cmd.pre_exec(|| {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = cmd
            .spawn()
            .with_context(|| format!("starting {name}: {cmd:?}"))?;
        Ok(Self {
            name: name.to_string(),
            child,
            log,
        })
    }

    /// [`Process::spawn`], then [`Process::wait_http_ready`] on `ready_url`: how every
    /// server of the stack starts.
    pub fn spawn_ready(
        name: &str,
        cmd: Command,
        logs: &LogDir,
        ready_url: &str,
        timeout: Duration,
    ) -> Result<Self> {
        let mut process = Self::spawn(name, cmd, logs)?;
        process.wait_http_ready(ready_url, timeout)?;
        Ok(process)
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// The last lines of this process's log, for error messages.
    pub fn log_tail(&self, lines: usize) -> String {
        tail(&self.log, lines)
    }

    /// `Some(status)` once the process has exited.
    pub fn exited(&mut self) -> Result<Option<ExitStatus>> {
        self.child
            .try_wait()
            .with_context(|| format!("checking on {}", self.name))
    }

    /// Waits until `url` answers 2xx; fails early, with the log's tail, if the process dies.
    pub fn wait_http_ready(&mut self, url: &str, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.exited()? {
                bail!(
                    "{} exited ({status}) before {url} was ready; its errors:\n{}\nlog {}:\n{}",
                    self.name,
                    error_lines(&self.log_tail(400)),
                    self.log.display(),
                    self.log_tail(40)
                );
            }
            let last = match probe_http(url) {
                Ok(()) => return Ok(()),
                Err(err) => format!("{err:#}"),
            };
            if Instant::now() >= deadline {
                bail!(
                    "{} not ready at {url} after {timeout:?} (last: {last}); log {}:\n{}",
                    self.name,
                    self.log.display(),
                    self.log_tail(40)
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGKILL now (a crash), and reap.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Sends SIGTERM and returns at once (the process may still be finishing requests).
    pub fn terminate(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            if let Ok(pid) = libc::pid_t::try_from(self.child.id()) {
                // SAFETY: plain syscall on our own, still unreaped child.
                unsafe {
                    libc::kill(pid, libc::SIGTERM);
                }
            }
        }
    }

    /// Waits up to `timeout` for the process to exit.
    pub fn wait_exit(&mut self, timeout: Duration) -> Result<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.exited()? {
                return Ok(status);
            }
            if Instant::now() >= deadline {
                bail!("{} still running after {timeout:?}", self.name);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGTERM, a short grace period, then SIGKILL; always reaps the child.
    pub fn stop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            // The child is not reaped yet, so its PID cannot have been reused.
            if let Ok(pid) = libc::pid_t::try_from(self.child.id()) {
                // SAFETY: plain syscall on our own, still unreaped child.
                unsafe {
                    libc::kill(pid, libc::SIGTERM);
                }
            }
            let deadline = Instant::now() + GRACE;
            while Instant::now() < deadline {
                if !matches!(self.child.try_wait(), Ok(None)) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.stop();
    }
}

impl std::fmt::Debug for Process {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Process")
            .field("name", &self.name)
            .field("pid", &self.child.id())
            .field("log", &self.log)
            .finish()
    }
}
