//! PostgreSQL for tests, found the same way on every machine:
//!
//! 1. `DATABASE_URL` when set (any database on that server; we create our own next to it);
//! 2. else a server on `127.0.0.1:5432` that lets user `postgres` in;
//! 3. else a private cluster made with Debian's `initdb` and run with `pg_ctl` in a temporary
//!    folder on a free port, stopped when the test process exits.
//!
//! `GATEHOUSE_PG=private` skips 1 and 2 (to test the fallback). Every test gets its own
//! database ([`TestDatabase`]: `CREATE DATABASE` with a unique name, dropped afterwards), so
//! tests never see each other's rows. Admin statements run on a thread with its own runtime,
//! so these helpers work from plain and from `#[tokio::test]` tests alike.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use sqlx::Connection;
use url::Url;

use crate::ports::free_port;

/// Which PostgreSQL the shared server came from (for test output).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    DatabaseUrl,
    LocalServer,
    PrivateCluster,
}

/// A server tests may create databases on.
#[derive(Debug)]
pub struct Server {
    /// A URL of the maintenance database (`postgres`), with credentials.
    admin_url: Url,
    pub source: Source,
}

static SHARED: OnceLock<std::result::Result<Server, String>> = OnceLock::new();

/// The server all tests of this process share (found once).
pub fn shared_server() -> Result<&'static Server> {
    SHARED
        .get_or_init(|| find_server().map_err(|e| format!("{e:#}")))
        .as_ref()
        .map_err(|e| anyhow!("no PostgreSQL for tests: {e}"))
}

fn find_server() -> Result<Server> {
    let forced_private = std::env::var("GATEHOUSE_PG").is_ok_and(|v| v == "private");
    if !forced_private {
        if let Ok(url) = std::env::var("DATABASE_URL") {
            let mut admin_url = Url::parse(&url).context("DATABASE_URL is not a URL")?;
            admin_url.set_path("/postgres");
            return Ok(Server {
                admin_url,
                source: Source::DatabaseUrl,
            });
        }
        let local = Url::parse("postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable")?;
        if can_connect(&local) {
            return Ok(Server {
                admin_url: local,
                source: Source::LocalServer,
            });
        }
    }
    let cluster = PrivateCluster::start()?;
    let admin_url = cluster.admin_url();
    // Statics are never dropped: stop the cluster when the process exits.
    let mut guard = EXIT_CLUSTERS.lock().map_err(|_| anyhow!("poisoned"))?;
    guard.push(cluster);
    drop(guard);
    // SAFETY: registers a plain extern "C" function; it only runs pg_ctl.
    unsafe {
        libc::atexit(stop_clusters_at_exit);
    }
    Ok(Server {
        admin_url,
        source: Source::PrivateCluster,
    })
}

static EXIT_CLUSTERS: Mutex<Vec<PrivateCluster>> = Mutex::new(Vec::new());

extern "C" fn stop_clusters_at_exit() {
    if let Ok(mut clusters) = EXIT_CLUSTERS.lock() {
        clusters.clear();
    }
}

fn can_connect(url: &Url) -> bool {
    let url = url.to_string();
    run_async(move || async move {
        let connect = sqlx::PgConnection::connect(&url);
        match tokio::time::timeout(Duration::from_secs(3), connect).await {
            Ok(Ok(c)) => {
                let _ = c.close().await;
                Ok(())
            }
            Ok(Err(e)) => Err(anyhow!(e)),
            Err(_) => Err(anyhow!("timed out")),
        }
    })
    .is_ok()
}

/// Runs `fut` to completion on a fresh thread with its own runtime.
fn run_async<T, F, Fut>(make: F) -> Result<T>
where
    T: Send + 'static,
    F: FnOnce() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Result<T>>,
{
    // The future is made on the new thread, so it need not be Send.
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("building a runtime")?;
        rt.block_on(make())
    })
    .join()
    .map_err(|_| anyhow!("the PostgreSQL admin thread panicked"))?
}

/// Runs statements on `admin_url`'s database, one after another.
fn admin(admin_url: &Url, statements: Vec<String>) -> Result<()> {
    let url = admin_url.to_string();
    run_async(move || async move {
        let mut conn = sqlx::PgConnection::connect(&url)
            .await
            .context("connecting to PostgreSQL")?;
        for statement in &statements {
            sqlx::raw_sql(statement)
                .execute(&mut conn)
                .await
                .with_context(|| format!("running {statement}"))?;
        }
        let _ = conn.close().await;
        Ok(())
    })
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A database of its own for one test, dropped (with its connections) afterwards.
#[derive(Debug)]
pub struct TestDatabase {
    name: String,
    admin_url: Url,
    url: Url,
}

impl TestDatabase {
    /// A fresh database on the shared server.
    pub fn create() -> Result<Self> {
        Self::create_on(&shared_server()?.admin_url)
    }

    /// A fresh database on the server behind `admin_url`.
    pub fn create_on(admin_url: &Url) -> Result<Self> {
        let mut random = [0u8; 4];
        getrandom::getrandom(&mut random).map_err(|e| anyhow!("random: {e}"))?;
        let name = format!(
            "gatehouse_test_{}_{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed),
            u32::from_le_bytes(random)
        );
        admin(admin_url, vec![format!("CREATE DATABASE {name}")])?;
        let mut url = admin_url.clone();
        url.set_path(&format!("/{name}"));
        Ok(Self {
            name,
            admin_url: admin_url.clone(),
            url,
        })
    }

    /// `postgres://…/<name>`, with credentials.
    pub fn url(&self) -> &Url {
        &self.url
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Host, port, user and password of the server, for Dex's separate config keys.
    pub fn host(&self) -> String {
        self.url.host_str().unwrap_or("127.0.0.1").to_string()
    }

    pub fn port(&self) -> u16 {
        self.url.port().unwrap_or(5432)
    }

    pub fn user(&self) -> String {
        match self.url.username() {
            "" => "postgres".to_string(),
            u => u.to_string(),
        }
    }

    /// Runs one query and returns the first column of every row, as text.
    pub fn query_strings(&self, sql: &str) -> Result<Vec<String>> {
        let url = self.url.to_string();
        let sql = sql.to_string();
        run_async(move || async move {
            use sqlx::Row;
            let mut conn = sqlx::PgConnection::connect(&url).await?;
            let rows = sqlx::query(&sql).fetch_all(&mut conn).await?;
            let mut out = Vec::new();
            for row in rows {
                out.push(row.try_get::<String, _>(0)?);
            }
            let _ = conn.close().await;
            Ok(out)
        })
    }

    /// Runs statements in this database (e.g. to create a role for a test).
    pub fn execute(&self, statements: &[&str]) -> Result<()> {
        admin(
            &self.url,
            statements.iter().map(|s| s.to_string()).collect(),
        )
    }

    /// Runs statements on the server's maintenance database.
    pub fn execute_admin(&self, statements: &[&str]) -> Result<()> {
        admin(
            &self.admin_url,
            statements.iter().map(|s| s.to_string()).collect(),
        )
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        // FORCE (PostgreSQL 13+) disconnects brokers that are still running.
        let _ = admin(
            &self.admin_url,
            vec![format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            )],
        );
    }
}

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

impl PrivateCluster {
    /// Creates and starts a cluster with trust authentication for user `postgres`.
    pub fn start() -> Result<Self> {
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
