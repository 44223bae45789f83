//! Helm and Kubernetes schema checks through `tests/tools/k8s_check.py` (helm-python-sdk,
//! kubernetes-validate, the custom-resource schemas in `tests/fixtures/k8s-crds/`), for the
//! chart and manifests tests. The tool only reports; the tests decide.

use std::path::PathBuf;
use std::process::Command;

use anyhow::{bail, Context, Result};
use base64::Engine;
use serde_json::{json, Value};

use crate::paths::{repo_root, venv_python};
use crate::stdin_run::run_with_stdin;

/// The oldest and newest Kubernetes versions the chart and the manifests support.
pub const KUBE_VERSIONS: [&str; 2] = ["1.30.0", "1.37.0"];
/// Manifests that mount the filter image as an `image` volume: on by default from 1.35.
pub const IMAGE_VOLUME_KUBE_VERSIONS: [&str; 2] = ["1.35.0", "1.37.0"];

/// One `helm install`-like render of the broker chart.
pub struct Release {
    pub name: &'static str,
    pub values_files: Vec<PathBuf>,
    pub values: Value,
}

impl Release {
    pub fn new(name: &'static str) -> Release {
        Release {
            name,
            values_files: Vec::new(),
            values: json!({}),
        }
    }

    pub fn file(mut self, relative: &str) -> Release {
        self.values_files.push(repo_root().join(relative));
        self
    }

    pub fn values(mut self, values: Value) -> Release {
        self.values = values;
        self
    }
}

/// A plain manifest file (or inline objects) to validate.
pub struct Manifest {
    pub name: &'static str,
    pub source: Value,
    pub kube_versions: Vec<&'static str>,
}

impl Manifest {
    pub fn file(name: &'static str, relative: &str, kube_versions: &[&'static str]) -> Manifest {
        Manifest {
            name,
            source: json!({ "path": repo_root().join(relative) }),
            kube_versions: kube_versions.to_vec(),
        }
    }

    pub fn objects(
        name: &'static str,
        objects: Vec<Value>,
        kube_versions: &[&'static str],
    ) -> Manifest {
        Manifest {
            name,
            source: json!({ "objects": objects }),
            kube_versions: kube_versions.to_vec(),
        }
    }
}

pub const RELEASE_NAME: &str = "gatehouse-broker";
pub const NAMESPACE: &str = "auth";

/// Runs the tool over `releases` and `manifests`; the answer's `releases` and `manifests`
/// arrays are in the same order.
pub fn check(releases: &[Release], manifests: &[Manifest]) -> Result<Value> {
    let root = repo_root();
    let python = venv_python()?;
    let request = json!({
        "chart": root.join("charts/gatehouse-broker"),
        "crd_schemas": root.join("tests/fixtures/k8s-crds"),
        "kube_versions": KUBE_VERSIONS,
        "releases": releases.iter().map(|r| json!({
            "name": r.name, "release": RELEASE_NAME, "namespace": NAMESPACE,
            "values_files": r.values_files, "values": r.values,
        })).collect::<Vec<_>>(),
        "manifests": manifests.iter().map(|m| {
            let mut case = m.source.clone();
            case["name"] = json!(m.name);
            case["kube_versions"] = json!(m.kube_versions);
            case
        }).collect::<Vec<_>>(),
    });
    let out = run_with_stdin(
        Command::new(&python).arg(root.join("tests/tools/k8s_check.py")),
        request.to_string().as_bytes(),
    )?;
    if !out.status.success() {
        bail!(
            "k8s_check.py failed (run `make setup`): {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    serde_json::from_slice(&out.stdout).context("k8s_check.py answer")
}

/// Every schema failure in an answer entry, as "Kind/name @version: error".
pub fn validation_errors(entry: &Value) -> Vec<String> {
    entry["validation"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|v| !v["error"].is_null())
        .map(|v| format!("{} @{}: {}", v["object"], v["version"], v["error"]))
        .collect()
}

/// The one object of `kind` (and `name`, when given) in a list of rendered objects.
pub fn object<'a>(objects: &'a Value, kind: &str, name: Option<&str>) -> &'a Value {
    let found: Vec<&Value> = objects
        .as_array()
        .into_iter()
        .flatten()
        .filter(|o| o["kind"] == kind && name.is_none_or(|n| o["metadata"]["name"] == n))
        .collect();
    assert_eq!(
        found.len(),
        1,
        "expected one {kind} {name:?}, found {}",
        found.len()
    );
    found[0]
}

/// A Secret's value under `key`, from `data` (base64) or `stringData`.
pub fn secret_value(secret: &Value, key: &str) -> String {
    if let Some(text) = secret["stringData"][key].as_str() {
        return text.to_string();
    }
    let encoded = secret["data"][key]
        .as_str()
        .unwrap_or_else(|| panic!("Secret has no {key}: {secret}"));
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .expect("Secret data is base64");
    String::from_utf8(bytes).expect("Secret value is UTF-8")
}
