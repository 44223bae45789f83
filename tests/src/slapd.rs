//! A real OpenLDAP `slapd` (Debian's package) on loopback, for the `ldap` connector's tests: a
//! private `slapd.conf` with the mdb backend and the core, cosine, inetorgperson and nis schemas
//! plus a tiny Active-Directory-like one (`tests/fixtures/ldap/ad.schema`), a tree loaded with
//! `slapadd` before start, `ldap://` (StartTLS offered) and `ldaps://` listeners on free ports,
//! and a test CA with a server certificate made with `openssl` at run time. The process runs in
//! the foreground (`-d`) as a child of the test, so nothing outlives it.

use std::io::Write;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::logs::LogDir;
use crate::paths::repo_root;
use crate::ports::free_port;
use crate::process::Process;
use crate::test_ca::TestCa;

/// The tree's suffix and its administrator (the root DN, only for changing the tree).
pub const SUFFIX: &str = "dc=example,dc=org";
pub const ROOT_DN: &str = "cn=admin,dc=example,dc=org";
pub const ROOT_PW: &str = "root-secret";

/// Which CA signs the server's certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerCert {
    /// The test CA the broker is told to trust (`Slapd::ca_file`).
    Trusted,
    /// Another CA, which nobody trusts.
    Untrusted,
}

pub struct Slapd {
    process: Process,
    pub ldap_port: u16,
    pub ldaps_port: u16,
    dir: PathBuf,
}

fn run(what: &str, cmd: &mut Command) -> Result<()> {
    let out = cmd.output().with_context(|| format!("running {what}"))?;
    if !out.status.success() {
        bail!(
            "{what} failed ({}): {}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

fn slapd_conf(dir: &Path, schema: &Path) -> String {
    let d = dir.display();
    format!(
        "include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
include /etc/ldap/schema/nis.schema
include {schema}
pidfile {d}/slapd.pid
argsfile {d}/slapd.args
modulepath /usr/lib/ldap
moduleload back_mdb
TLSCACertificateFile {d}/ca.pem
TLSCertificateFile {d}/server.pem
TLSCertificateKeyFile {d}/server.key
database mdb
maxsize 16777216
suffix \"{SUFFIX}\"
rootdn \"{ROOT_DN}\"
rootpw {ROOT_PW}
directory {d}/db
access to attrs=userPassword by anonymous auth by self write by * none
access to * by * read
",
        schema = schema.display()
    )
}

impl Slapd {
    /// Loads `ldif` into a fresh database in `dir/slapd`, then starts slapd and waits until it
    /// answers on both ports.
    pub fn start(logs: &LogDir, dir: &Path, ldif: &str, cert: ServerCert) -> Result<Self> {
        let dir = dir.join("slapd");
        std::fs::create_dir_all(dir.join("db"))?;
        let trusted = TestCa::create(&dir, "ca")?;
        let untrusted = TestCa::create(&dir, "other-ca")?;
        match cert {
            ServerCert::Trusted => trusted.server("server")?,
            ServerCert::Untrusted => untrusted.server("server")?,
        };
        let schema = repo_root().join("tests/fixtures/ldap/ad.schema");
        std::fs::write(dir.join("slapd.conf"), slapd_conf(&dir, &schema))?;
        std::fs::write(dir.join("tree.ldif"), ldif)?;
        run(
            "slapadd",
            Command::new("slapadd")
                .arg("-f")
                .arg(dir.join("slapd.conf"))
                .arg("-l")
                .arg(dir.join("tree.ldif")),
        )?;
        let ldap_port = free_port()?;
        let ldaps_port = free_port()?;
        let mut cmd = Command::new("slapd");
        // -d: stay in the foreground, logging connections and operations (stats) to stderr.
        cmd.arg("-d")
            .arg("256")
            .arg("-h")
            .arg(format!(
                "ldap://127.0.0.1:{ldap_port}/ ldaps://127.0.0.1:{ldaps_port}/"
            ))
            .arg("-f")
            .arg(dir.join("slapd.conf"));
        let mut process = Process::spawn("slapd", cmd, logs)?;
        let deadline = Instant::now() + Duration::from_secs(15);
        for port in [ldap_port, ldaps_port] {
            while TcpStream::connect(("127.0.0.1", port)).is_err() {
                if let Some(status) = process.exited()? {
                    bail!("slapd exited ({status}):\n{}", process.log_tail(30));
                }
                if Instant::now() > deadline {
                    bail!("slapd not listening on {port}:\n{}", process.log_tail(30));
                }
                std::thread::sleep(Duration::from_millis(30));
            }
        }
        Ok(Self {
            process,
            ldap_port,
            ldaps_port,
            dir,
        })
    }

    /// The CA the broker should trust (it signed the server certificate unless `Untrusted`).
    pub fn ca_file(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }

    /// `host:port` of the plain (StartTLS) listener.
    pub fn ldap_host(&self) -> String {
        format!("127.0.0.1:{}", self.ldap_port)
    }

    /// `host:port` of the ldaps listener.
    pub fn ldaps_host(&self) -> String {
        format!("127.0.0.1:{}", self.ldaps_port)
    }

    /// Applies an LDIF change (`changetype: modify`/`delete`) as the root DN, over ldap://.
    pub fn modify(&self, ldif: &str) -> Result<()> {
        let mut child = Command::new("ldapmodify")
            .args(["-x", "-H"])
            .arg(format!("ldap://127.0.0.1:{}/", self.ldap_port))
            .args(["-D", ROOT_DN, "-w", ROOT_PW])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .context("starting ldapmodify")?;
        child
            .stdin
            .take()
            .context("ldapmodify stdin")?
            .write_all(ldif.as_bytes())?;
        let out = child.wait_with_output()?;
        if !out.status.success() {
            bail!(
                "ldapmodify failed: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(())
    }

    /// slapd's log so far (connections, binds, searches, results).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.process.log_path()).unwrap_or_default()
    }

    /// Stops slapd (the directory goes down; its port stops answering).
    pub fn stop(&mut self) {
        self.process.stop();
    }
}
