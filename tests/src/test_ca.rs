//! Test certificates made with `openssl` at run time: a self-signed CA and the certificates it
//! signs (a server's for 127.0.0.1 and localhost, or a client's), EC P-256, valid two days.
//! Files are named after what they are: `{name}.pem` / `{name}.key` in the CA's folder.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

/// A CA whose certificate and key are `{name}.pem` and `{name}.key` in `dir`.
#[derive(Debug, Clone)]
pub struct TestCa {
    dir: PathBuf,
    name: String,
}

/// A certificate signed by a [`TestCa`], with its key.
#[derive(Debug, Clone)]
pub struct Issued {
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl TestCa {
    /// Makes a self-signed CA in `dir`.
    pub fn create(dir: &Path, name: &str) -> Result<TestCa> {
        openssl(
            dir,
            &[
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
                "-nodes",
                "-days",
                "2",
                "-subj",
                &format!("/CN=Gatehouse test {name}"),
                "-keyout",
                &format!("{name}.key"),
                "-out",
                &format!("{name}.pem"),
            ],
        )?;
        Ok(TestCa {
            dir: dir.to_path_buf(),
            name: name.to_string(),
        })
    }

    /// The CA certificate (what a client is told to trust).
    pub fn pem(&self) -> PathBuf {
        self.dir.join(format!("{}.pem", self.name))
    }

    /// A server certificate `{name}.pem` for IP 127.0.0.1 and DNS localhost.
    pub fn server(&self, name: &str) -> Result<Issued> {
        self.issue(
            name,
            "localhost",
            "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n",
        )
    }

    /// A server certificate `{name}.pem` for exactly `names` (`DNS:db.example`, `IP:127.0.0.1`):
    /// a certificate that does not name the address a client dials.
    pub fn server_for(&self, name: &str, names: &[&str]) -> Result<Issued> {
        let cn = names
            .first()
            .and_then(|n| n.split_once(':'))
            .map_or("server", |(_, v)| v);
        self.issue(
            name,
            cn,
            &format!(
                "subjectAltName={}\nextendedKeyUsage=serverAuth\n",
                names.join(",")
            ),
        )
    }

    /// A client certificate `{name}.pem` whose subject is `CN={cn}`.
    pub fn client(&self, name: &str, cn: &str) -> Result<Issued> {
        self.issue(name, cn, "extendedKeyUsage=clientAuth\n")
    }

    fn issue(&self, name: &str, cn: &str, extensions: &str) -> Result<Issued> {
        let dir = &self.dir;
        let ext = format!("{name}.ext");
        std::fs::write(
            dir.join(&ext),
            format!("basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\n{extensions}"),
        )
        .with_context(|| format!("writing {ext}"))?;
        openssl(
            dir,
            &[
                "req",
                "-new",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
                "-nodes",
                "-subj",
                &format!("/CN={cn}"),
                "-keyout",
                &format!("{name}.key"),
                "-out",
                &format!("{name}.csr"),
            ],
        )?;
        openssl(
            dir,
            &[
                "x509",
                "-req",
                "-in",
                &format!("{name}.csr"),
                "-CA",
                &format!("{}.pem", self.name),
                "-CAkey",
                &format!("{}.key", self.name),
                "-CAcreateserial",
                "-days",
                "2",
                "-extfile",
                &ext,
                "-out",
                &format!("{name}.pem"),
            ],
        )?;
        Ok(Issued {
            cert: dir.join(format!("{name}.pem")),
            key: dir.join(format!("{name}.key")),
        })
    }
}

fn openssl(dir: &Path, args: &[&str]) -> Result<()> {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .context("running openssl (installed by make setup)")?;
    if !out.status.success() {
        bail!(
            "openssl {} failed ({}): {}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}
