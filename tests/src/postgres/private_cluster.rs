//! The fallback server: a private cluster made with Debian's `initdb` in a temporary folder and
//! run with `pg_ctl` on a free port (as an unprivileged user when we are root); optionally with
//! TLS (`ssl=on`, a certificate from the test CA) and leading `pg_hba.conf` lines.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use url::Url;

use crate::ports::free_port;

/// A PostgreSQL cluster of our own: `initdb` in a temporary folder, `pg_ctl` to start, stop and
/// restart it on a free loopback port. Stopped (immediately) on drop.
#[derive(Debug)]
pub struct PrivateCluster {
    bin: PathBuf,
    data: PathBuf,
    port: u16,
    log: PathBuf,
    /// The user the server runs as when we are root (PostgreSQL refuses to run as root).
    run_as: Option<(u32, u32)>,
    _dir: tempfile::TempDir,
}

/// TLS for a [`PrivateCluster`]: the server's certificate and key, and the CA its clients'
/// certificates must chain to (for `cert` lines in `pg_hba.conf`).
#[derive(Debug, Clone)]
pub struct ClusterTls {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub client_ca: PathBuf,
}

/// How a [`PrivateCluster`] differs from the plain trust-everyone one.
#[derive(Debug, Clone, Default)]
pub struct ClusterOptions {
    pub tls: Option<ClusterTls>,
    /// Lines put before initdb's own `pg_hba.conf` (the first matching line decides).
    pub hba_first: Vec<String>,
}

impl PrivateCluster {
    /// Creates and starts a cluster with trust authentication for user `postgres`.
    pub fn start() -> Result<Self> {
        Self::start_with(ClusterOptions::default())
    }

    /// [`PrivateCluster::start`] with TLS and/or extra `pg_hba.conf` lines.
    pub fn start_with(options: ClusterOptions) -> Result<Self> {
        let bin = debian_bin_dir()?;
        let dir = tempfile::Builder::new()
            .prefix("gatehouse-pg-")
            .tempdir()
            .context("creating a folder for PostgreSQL")?;
        let run_as = unprivileged_user()?;
        let data = dir.path().join("data");
        let log = dir.path().join("postgres.log");
        if let Some((uid, gid)) = run_as {
            chown(dir.path(), uid, gid)?;
        }
        let mut initdb = Command::new(bin.join("initdb"));
        initdb.arg("-D").arg(&data).args([
            "-U",
            "postgres",
            "--auth=trust",
            "--no-sync",
            "-E",
            "UTF8",
        ]);
        run(initdb, run_as, "initdb")?;
        if let Some(tls) = &options.tls {
            configure_tls(dir.path(), &data, tls, run_as)?;
        }
        if !options.hba_first.is_empty() {
            let hba = data.join("pg_hba.conf");
            let old = std::fs::read_to_string(&hba).context("reading pg_hba.conf")?;
            let mut new = options.hba_first.join("\n");
            new.push('\n');
            new.push_str(&old);
            std::fs::write(&hba, new).context("writing pg_hba.conf")?;
        }
        let cluster = Self {
            bin,
            data,
            port: free_port()?,
            log,
            run_as,
            _dir: dir,
        };
        cluster.pg_ctl_start()?;
        Ok(cluster)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn admin_url(&self) -> Url {
        // The URL is built from a fixed pattern and a number: it always parses.
        Url::parse(&format!(
            "postgres://postgres@127.0.0.1:{}/postgres?sslmode=disable",
            self.port
        ))
        .unwrap_or_else(|_| unreachable!())
    }

    fn pg_ctl_start(&self) -> Result<()> {
        let socket_dir = self.data.parent().unwrap_or(&self.data);
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port,
            socket_dir.display()
        );
        let mut cmd = Command::new(self.bin.join("pg_ctl"));
        cmd.arg("-D")
            .arg(&self.data)
            .arg("-l")
            .arg(&self.log)
            .args(["-o", &options, "-w", "-t", "30", "start"]);
        run(cmd, self.run_as, "pg_ctl start").with_context(|| crate::logs::tail(&self.log, 20))
    }

    /// Stops the server (fast: open connections are cut).
    pub fn stop(&self) -> Result<()> {
        let mut cmd = Command::new(self.bin.join("pg_ctl"));
        cmd.arg("-D")
            .arg(&self.data)
            .args(["-m", "fast", "-w", "-t", "30", "stop"]);
        run(cmd, self.run_as, "pg_ctl stop")
    }

    /// Starts it again on the same port, after [`PrivateCluster::stop`].
    pub fn start_again(&self) -> Result<()> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match self.pg_ctl_start() {
                Ok(()) => return Ok(()),
                // The port may linger a moment after stop.
                Err(e) if Instant::now() < deadline => {
                    let _ = e;
                    std::thread::sleep(Duration::from_millis(200));
                }
                Err(e) => return Err(e),
            }
        }
    }
}

impl Drop for PrivateCluster {
    fn drop(&mut self) {
        let mut cmd = Command::new(self.bin.join("pg_ctl"));
        cmd.arg("-D")
            .arg(&self.data)
            .args(["-m", "immediate", "-w", "stop"]);
        let _ = run(cmd, self.run_as, "pg_ctl stop");
    }
}

/// Copies the server's files next to the data folder, owned by the server's user and private
/// (PostgreSQL refuses a key others may read), and turns `ssl` on.
fn configure_tls(
    dir: &Path,
    data: &Path,
    tls: &ClusterTls,
    run_as: Option<(u32, u32)>,
) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mut lines = String::from("\nssl = on\n");
    for (from, name, setting) in [
        (&tls.cert, "server.crt", "ssl_cert_file"),
        (&tls.key, "server.key", "ssl_key_file"),
        (&tls.client_ca, "client-ca.crt", "ssl_ca_file"),
    ] {
        let to = dir.join(name);
        std::fs::copy(from, &to).with_context(|| format!("copying {}", from.display()))?;
        std::fs::set_permissions(&to, std::fs::Permissions::from_mode(0o600))?;
        if let Some((uid, gid)) = run_as {
            chown(&to, uid, gid)?;
        }
        lines.push_str(&format!("{setting} = '{}'\n", to.display()));
    }
    let conf = data.join("postgresql.conf");
    let mut text = std::fs::read_to_string(&conf).context("reading postgresql.conf")?;
    text.push_str(&lines);
    std::fs::write(&conf, text).context("writing postgresql.conf")
}

/// `/usr/lib/postgresql/<newest>/bin`, where Debian installs the server binaries.
fn debian_bin_dir() -> Result<PathBuf> {
    let root = Path::new("/usr/lib/postgresql");
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir(root)
        .with_context(|| {
            format!(
                "no PostgreSQL: {} is missing (install Debian's `postgresql` package, or set DATABASE_URL)",
                root.display()
            )
        })?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let version = e.file_name().to_string_lossy().parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").is_file().then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions
        .pop()
        .map(|(_, bin)| bin)
        .ok_or_else(|| anyhow!("no initdb under {}/*/bin", root.display()))
}

/// When running as root: the `postgres` user (Debian's package creates it), else `nobody`.
fn unprivileged_user() -> Result<Option<(u32, u32)>> {
    // SAFETY: plain syscall.
    if unsafe { libc::geteuid() } != 0 {
        return Ok(None);
    }
    for name in [c"postgres", c"nobody"] {
        // SAFETY: getpwnam returns a pointer into static storage or null; we copy the ids at once.
        let entry = unsafe { libc::getpwnam(name.as_ptr()) };
        if !entry.is_null() {
            // SAFETY: non-null pointer from getpwnam.
            let (uid, gid) = unsafe { ((*entry).pw_uid, (*entry).pw_gid) };
            return Ok(Some((uid, gid)));
        }
    }
    bail!("running as root and no `postgres` or `nobody` user to run PostgreSQL as")
}

fn chown(path: &Path, uid: u32, gid: u32) -> Result<()> {
    std::os::unix::fs::chown(path, Some(uid), Some(gid))
        .with_context(|| format!("chown {}", path.display()))
}

fn run(mut cmd: Command, run_as: Option<(u32, u32)>, what: &str) -> Result<()> {
    use std::os::unix::process::CommandExt;
    if let Some((uid, gid)) = run_as {
        cmd.uid(uid).gid(gid);
    }
    let output = cmd
        .stdin(std::process::Stdio::null())
        .output()
        .with_context(|| format!("running {what}"))?;
    if !output.status.success() {
        bail!(
            "{what} failed ({}): {}{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(())
}
