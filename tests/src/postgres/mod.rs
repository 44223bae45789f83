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

mod private_cluster;
pub mod tls;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use anyhow::{anyhow, Context, Result};
use sqlx::Connection;
use url::Url;

pub use private_cluster::{ClusterOptions, ClusterTls, PrivateCluster};

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
    stop_at_exit(cluster)?;
    Ok(Server {
        admin_url,
        source: Source::PrivateCluster,
    })
}

static EXIT_CLUSTERS: Mutex<Vec<PrivateCluster>> = Mutex::new(Vec::new());
static EXIT_DIRS: Mutex<Vec<tempfile::TempDir>> = Mutex::new(Vec::new());
static EXIT_HOOK: std::sync::Once = std::sync::Once::new();

/// Removes `dir` when the process exits (after the clusters are stopped).
pub(crate) fn remove_at_exit(dir: tempfile::TempDir) -> Result<()> {
    EXIT_DIRS.lock().map_err(|_| anyhow!("poisoned"))?.push(dir);
    Ok(())
}

/// Keeps `cluster` running until the process exits (statics are never dropped), then stops it.
pub(crate) fn stop_at_exit(cluster: PrivateCluster) -> Result<()> {
    let mut guard = EXIT_CLUSTERS.lock().map_err(|_| anyhow!("poisoned"))?;
    guard.push(cluster);
    drop(guard);
    EXIT_HOOK.call_once(|| {
        // SAFETY: registers a plain extern "C" function; it only runs pg_ctl.
        unsafe {
            libc::atexit(stop_clusters_at_exit);
        }
    });
    Ok(())
}

extern "C" fn stop_clusters_at_exit() {
    if let Ok(mut clusters) = EXIT_CLUSTERS.lock() {
        clusters.clear();
    }
    if let Ok(mut dirs) = EXIT_DIRS.lock() {
        dirs.clear();
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
