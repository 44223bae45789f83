//! The pysaml2 test IdP (`tests/peers/saml-idp/idp.py`, run with the venv's Python), its
//! test-only key pair (made by `openssl` for each run) and `xmlsec1` re-signing for the
//! hostile corpus.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{bail, Context, Result};

use crate::logs::LogDir;
use crate::paths::{repo_root, venv_python};
use crate::process::Process;

/// A user of the test IdP (its password is `password`).
#[derive(Debug, Clone, Copy)]
pub struct SamlUser {
    pub username: &'static str,
    pub email: &'static str,
    pub groups: &'static [&'static str],
}

pub const SAML_PASSWORD: &str = "password";

/// In `admins` and `developers` (two values of one multi-valued attribute).
pub const CAROL: SamlUser = SamlUser {
    username: "carol",
    email: "carol@corp.example",
    groups: &["admins", "developers"],
};

/// Outside `admins`.
pub const DAVE: SamlUser = SamlUser {
    username: "dave",
    email: "dave@corp.example",
    groups: &["contractors"],
};

/// An RSA key and self-signed certificate (PEM files).
#[derive(Debug, Clone)]
pub struct KeyPair {
    pub key: PathBuf,
    pub cert: PathBuf,
}

impl KeyPair {
    /// `openssl req -x509 -newkey rsa:2048`, valid two days, in `dir/{name}.key|.crt`.
    pub fn generate(dir: &Path, name: &str) -> Result<Self> {
        let key = dir.join(format!("{name}.key"));
        let cert = dir.join(format!("{name}.crt"));
        let out = Command::new("openssl")
            .args([
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
            ])
            .arg(format!("/CN={name}"))
            .arg("-keyout")
            .arg(&key)
            .arg("-out")
            .arg(&cert)
            .output()
            .context("running openssl (apt-get install openssl)")?;
        if !out.status.success() {
            bail!("openssl failed: {}", String::from_utf8_lossy(&out.stderr));
        }
        Ok(Self { key, cert })
    }

    /// The certificate as Dex's `caData`: base64 of the PEM file.
    pub fn ca_data(&self) -> Result<String> {
        use base64::Engine;
        let pem = std::fs::read(&self.cert)?;
        Ok(base64::engine::general_purpose::STANDARD.encode(pem))
    }
}

/// A running pysaml2 IdP on loopback.
#[derive(Debug)]
pub struct SamlIdp {
    _process: Process,
    port: u16,
}

impl SamlIdp {
    /// Starts the IdP on `port`, trusting the SP metadata in `sp_metadata`, with `users`.
    pub fn start(
        logs: &LogDir,
        dir: &Path,
        port: u16,
        keys: &KeyPair,
        sp_metadata: &Path,
        users: &[SamlUser],
    ) -> Result<Self> {
        let users_json: serde_json::Map<String, serde_json::Value> = users
            .iter()
            .map(|u| {
                (
                    u.username.to_string(),
                    serde_json::json!({"password": SAML_PASSWORD, "email": u.email, "groups": u.groups}),
                )
            })
            .collect();
        let users_path = dir.join("saml-users.json");
        std::fs::write(
            &users_path,
            serde_json::Value::Object(users_json).to_string(),
        )?;
        let python = venv_python()?;
        let mut cmd = Command::new(python);
        cmd.arg(repo_root().join("tests/peers/saml-idp/idp.py"))
            .arg("--port")
            .arg(port.to_string())
            .arg("--key")
            .arg(&keys.key)
            .arg("--cert")
            .arg(&keys.cert)
            .arg("--sp-metadata")
            .arg(sp_metadata)
            .arg("--users")
            .arg(&users_path)
            .current_dir(dir);
        let process = Process::spawn_ready(
            "saml-idp",
            cmd,
            logs,
            &format!("http://127.0.0.1:{port}/healthz"),
            Duration::from_secs(30),
        )?;
        Ok(Self {
            _process: process,
            port,
        })
    }

    /// `http://127.0.0.1:{port}/sso/redirect`.
    pub fn sso_url(port: u16) -> String {
        format!("http://127.0.0.1:{port}/sso/redirect")
    }

    /// The IdP's entity ID.
    pub fn entity_id(port: u16) -> String {
        format!("http://127.0.0.1:{port}/metadata")
    }

    pub fn port(&self) -> u16 {
        self.port
    }
}

/// Re-signs the element with `ID="{id}"` of `xml` with `key` through `xmlsec1 --sign`: its
/// existing `<ds:Signature>` (kept as the template) gets a fresh digest and signature value.
pub fn xmlsec1_resign(xml: &str, key: &Path, dir: &Path) -> Result<String> {
    let template = blank_signature_values(xml);
    let input = dir.join(format!("resign-{}.xml", std::process::id()));
    std::fs::write(&input, template)?;
    let out = Command::new("xmlsec1")
        .arg("--sign")
        .arg("--privkey-pem")
        .arg(key)
        .arg("--id-attr:ID")
        .arg("urn:oasis:names:tc:SAML:2.0:assertion:Assertion")
        .arg("--id-attr:ID")
        .arg("urn:oasis:names:tc:SAML:2.0:protocol:Response")
        .arg(&input)
        .output()
        .context("running xmlsec1 (apt-get install xmlsec1)")?;
    let _ = std::fs::remove_file(&input);
    if !out.status.success() {
        bail!(
            "xmlsec1 --sign failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    String::from_utf8(out.stdout).context("xmlsec1 output is not UTF-8")
}

/// Empties every `DigestValue` and `SignatureValue`, turning signatures into templates.
fn blank_signature_values(xml: &str) -> String {
    let mut out = xml.to_string();
    for tag in ["DigestValue", "SignatureValue"] {
        let mut from = 0;
        while let Some(open) = find_tag(&out[from..], tag).map(|i| i + from) {
            let Some(gt) = out[open..].find('>').map(|i| i + open + 1) else {
                break;
            };
            let Some(close) = out[gt..].find("</").map(|i| i + gt) else {
                break;
            };
            out.replace_range(gt..close, "");
            from = gt;
        }
    }
    out
}

/// Index of the next start tag `<prefix:tag` or `<tag` (followed by `>` or whitespace).
fn find_tag(s: &str, tag: &str) -> Option<usize> {
    let mut from = 0;
    while let Some(i) = s[from..].find('<').map(|i| i + from) {
        let rest = &s[i + 1..];
        let name_end = rest
            .find(|c: char| c == '>' || c.is_whitespace() || c == '/')
            .unwrap_or(rest.len());
        let name = &rest[..name_end];
        let local = name.rsplit(':').next().unwrap_or(name);
        if local == tag && !name.starts_with('/') {
            return Some(i);
        }
        from = i + 1;
    }
    None
}
