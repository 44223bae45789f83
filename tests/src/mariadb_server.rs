//! A MariaDB server of our own: `mariadb-install-db` into a temporary folder, then `mariadbd`
//! on a free loopback port with its own socket, with or without TLS (a certificate from the
//! test CA, and a CA for client certificates), so TLS tests do not depend on how the machine's
//! server is set up. The server is a [`Process`]: stopped by its PID on drop, and by the kernel
//! when the thread that started it ends.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use url::Url;

use crate::logs::LogDir;
use crate::ports::free_port;
use crate::process::Process;

/// The server's TLS files (copied into its folder, readable by the server's user only).
#[derive(Debug, Clone)]
pub struct MariadbTls {
    pub cert: PathBuf,
    pub key: PathBuf,
    /// Client certificates (`REQUIRE X509` users) must chain to this CA.
    pub client_ca: PathBuf,
}

/// A running private `mariadbd`; `root` may connect without a password over TCP and the socket.
#[derive(Debug)]
pub struct PrivateMariadb {
    process: Process,
    port: u16,
    socket: PathBuf,
    _dir: tempfile::TempDir,
}

impl PrivateMariadb {
    /// Creates a data folder and starts the server; TLS off (`--skip-ssl`) when `tls` is None.
    pub fn start(logs: &LogDir, tls: Option<&MariadbTls>) -> Result<Self> {
        let dir = tempfile::Builder::new()
            .prefix("gatehouse-mariadb-")
            .tempdir()
            .context("creating a folder for MariaDB")?;
        // mariadbd refuses to run as root; Debian's package made the `mysql` user.
        let run_as = mysql_user()?;
        if let Some((uid, gid)) = run_as {
            std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid))
                .context("chown the MariaDB folder")?;
        }
        let data = dir.path().join("data");
        let mut install = Command::new("mariadb-install-db");
        install
            .arg("--no-defaults")
            .arg(format!("--datadir={}", data.display()))
            .args([
                "--auth-root-authentication-method=normal",
                "--skip-test-db",
                "--skip-name-resolve",
            ]);
        if run_as.is_some() {
            install.arg("--user=mysql");
        }
        let out = install
            .output()
            .context("running mariadb-install-db (Debian's mariadb-server package)")?;
        if !out.status.success() {
            bail!(
                "mariadb-install-db failed ({}): {}{}",
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let port = free_port()?;
        let socket = dir.path().join("mariadb.sock");
        let mut cmd = Command::new("mariadbd");
        cmd.arg("--no-defaults")
            .arg(format!("--datadir={}", data.display()))
            .arg(format!("--port={port}"))
            .arg("--bind-address=127.0.0.1")
            .arg(format!("--socket={}", socket.display()))
            .arg(format!(
                "--pid-file={}",
                dir.path().join("mariadb.pid").display()
            ))
            .args([
                "--skip-name-resolve",
                "--skip-log-bin",
                "--innodb-buffer-pool-size=16M",
            ]);
        if run_as.is_some() {
            cmd.arg("--user=mysql");
        }
        match tls {
            Some(tls) => {
                for (from, name, flag) in [
                    (&tls.cert, "server.crt", "--ssl-cert"),
                    (&tls.key, "server.key", "--ssl-key"),
                    (&tls.client_ca, "client-ca.crt", "--ssl-ca"),
                ] {
                    let to = private_copy(from, dir.path(), name, run_as)?;
                    cmd.arg(format!("{flag}={}", to.display()));
                }
            }
            None => {
                cmd.arg("--skip-ssl");
            }
        }
        let mut process = Process::spawn("mariadbd", cmd, logs)?;
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = process.exited()? {
                bail!("mariadbd exited ({status}):\n{}", process.log_tail(30));
            }
            if socket_sql(&socket, "SELECT 1").is_ok() {
                break;
            }
            if Instant::now() > deadline {
                bail!("mariadbd not ready after 30 s:\n{}", process.log_tail(30));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(Self {
            process,
            port,
            socket,
            _dir: dir,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The server's PID (it is stopped by this PID on drop).
    pub fn pid(&self) -> u32 {
        self.process.pid()
    }

    /// Runs statements as root over the server's socket.
    pub fn admin(&self, sql: &str) -> Result<()> {
        socket_sql(&self.socket, sql)
    }

    /// `mysql://root@127.0.0.1:<port>/test`: what [`crate::mysql::TestDatabase::create_on`] takes.
    pub fn root_url(&self) -> Url {
        // A fixed pattern and a number: always parses.
        Url::parse(&format!("mysql://root@127.0.0.1:{}/test", self.port))
            .unwrap_or_else(|_| unreachable!())
    }
}

fn socket_sql(socket: &Path, sql: &str) -> Result<()> {
    let out = Command::new("mariadb")
        .arg(format!("--socket={}", socket.display()))
        .args(["--user=root", "--batch", "-e", sql])
        .output()
        .context("running the mariadb client")?;
    if !out.status.success() {
        bail!(
            "mariadb {sql:?}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

fn private_copy(
    from: &Path,
    dir: &Path,
    name: &str,
    run_as: Option<(u32, u32)>,
) -> Result<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let to = dir.join(name);
    std::fs::copy(from, &to).with_context(|| format!("copying {}", from.display()))?;
    std::fs::set_permissions(&to, std::fs::Permissions::from_mode(0o600))?;
    if let Some((uid, gid)) = run_as {
        std::os::unix::fs::chown(&to, Some(uid), Some(gid))?;
    }
    Ok(to)
}

/// The `mysql` user's ids when we are root (mariadbd will not run as root), else None.
fn mysql_user() -> Result<Option<(u32, u32)>> {
    // SAFETY: plain syscall.
    if unsafe { libc::geteuid() } != 0 {
        return Ok(None);
    }
    // SAFETY: getpwnam returns a pointer into static storage or null; the ids are copied at once.
    let entry = unsafe { libc::getpwnam(c"mysql".as_ptr()) };
    if entry.is_null() {
        bail!("running as root and no `mysql` user to run mariadbd as");
    }
    // SAFETY: non-null pointer from getpwnam.
    Ok(Some(unsafe { ((*entry).pw_uid, (*entry).pw_gid) }))
}
