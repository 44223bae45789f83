//! Reads the OCI archives `make images` writes (target/images/*.oci.tar): the index, the one
//! manifest, the image config and the layers, unpacked with the system's `tar`.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};
use serde_json::Value;

use crate::paths::target_dir;

pub struct OciImage {
    /// The unpacked archive (an OCI image layout); removed on drop.
    dir: tempfile::TempDir,
    pub manifest: Value,
    pub config: Value,
}

/// One entry of a layer's tar listing.
#[derive(Debug)]
pub struct LayerEntry {
    pub kind: char,
    pub owner: String,
    pub path: String,
}

impl OciImage {
    /// Opens `target/images/<name>.oci.tar`.
    pub fn open(name: &str) -> Result<OciImage> {
        let archive = target_dir().join("images").join(format!("{name}.oci.tar"));
        if !archive.is_file() {
            bail!("{} is missing: run `make images`", archive.display());
        }
        let dir = tempfile::tempdir()?;
        run(Command::new("tar")
            .arg("-xf")
            .arg(&archive)
            .arg("-C")
            .arg(dir.path()))?;
        let index = read_json(&dir.path().join("index.json"))?;
        let manifests = index["manifests"]
            .as_array()
            .context("index.json manifests")?;
        if manifests.len() != 1 {
            bail!(
                "{name}: {} manifests in index.json, expected 1",
                manifests.len()
            );
        }
        let manifest = read_json(&blob_path(dir.path(), &manifests[0]["digest"])?)?;
        let config = read_json(&blob_path(dir.path(), &manifest["config"]["digest"])?)?;
        Ok(OciImage {
            dir,
            manifest,
            config,
        })
    }

    pub fn layers(&self) -> Vec<Value> {
        self.manifest["layers"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    pub fn layer_path(&self, layer: &Value) -> Result<PathBuf> {
        blob_path(self.dir.path(), &layer["digest"])
    }

    /// The entries of a gzip layer: type, numeric owner, path.
    pub fn list_layer(&self, layer: &Value) -> Result<Vec<LayerEntry>> {
        let out = run(Command::new("tar")
            .arg("--numeric-owner")
            .arg("-tvzf")
            .arg(self.layer_path(layer)?))?;
        Ok(out
            .lines()
            .filter_map(|line| {
                let fields: Vec<&str> = line.split_whitespace().collect();
                if fields.len() < 6 {
                    return None;
                }
                let path = fields[5..].join(" ");
                let path = path.split(" -> ").next().unwrap_or_default().to_string();
                Some(LayerEntry {
                    kind: fields[0].chars().next().unwrap_or('?'),
                    owner: fields[1].to_string(),
                    path,
                })
            })
            .collect())
    }

    /// Unpacks every layer, in order, into `dest` (ownership kept when run as root).
    pub fn unpack(&self, dest: &Path) -> Result<()> {
        for layer in self.layers() {
            run(Command::new("tar")
                .arg("--numeric-owner")
                .arg("-xzf")
                .arg(self.layer_path(&layer)?)
                .arg("-C")
                .arg(dest))?;
        }
        Ok(())
    }
}

fn blob_path(layout: &Path, digest: &Value) -> Result<PathBuf> {
    let digest = digest.as_str().context("digest")?;
    let hex = digest
        .strip_prefix("sha256:")
        .with_context(|| format!("{digest} is not sha256"))?;
    Ok(layout.join("blobs").join("sha256").join(hex))
}

fn read_json(path: &Path) -> Result<Value> {
    let text = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_slice(&text).with_context(|| format!("parsing {}", path.display()))
}

fn run(cmd: &mut Command) -> Result<String> {
    let out = cmd.output().with_context(|| format!("running {cmd:?}"))?;
    if !out.status.success() {
        bail!("{cmd:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}
