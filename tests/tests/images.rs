//! The OCI images `make images` writes (target/images/): their configs, their contents, the
//! broker started from the image's own root file system with the config the chart renders,
//! and the filter image holding exactly the .wasm the end-to-end tests run.

use std::collections::BTreeSet;
use std::process::Command;

use gatehouse_e2e::k8s_check::{check, object, secret_value, Release};
use gatehouse_e2e::oci_archive::OciImage;
use gatehouse_e2e::paths::{broker_binary, filter_wasm, repo_root};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

const OCI_GZIP_LAYER: &str = "application/vnd.oci.image.layer.v1.tar+gzip";

fn workspace_version() -> String {
    let cargo = std::fs::read_to_string(repo_root().join("Cargo.toml")).unwrap();
    cargo
        .lines()
        .find_map(|l| {
            l.strip_prefix("version = \"")?
                .strip_suffix('"')
                .map(str::to_string)
        })
        .unwrap()
}

fn assert_labels(image: &OciImage, title: &str) {
    let labels = &image.config["config"]["Labels"];
    assert_eq!(labels["org.opencontainers.image.title"], title);
    assert_eq!(
        labels["org.opencontainers.image.version"],
        workspace_version().as_str()
    );
    assert_eq!(labels["org.opencontainers.image.licenses"], "Apache-2.0");
    let revision = labels["org.opencontainers.image.revision"]
        .as_str()
        .unwrap();
    assert!(
        revision.len() == 40 && revision.chars().all(|c| c.is_ascii_hexdigit()),
        "{revision}"
    );
    assert!(!labels["org.opencontainers.image.source"]
        .as_str()
        .unwrap()
        .is_empty());
    // The same facts as manifest annotations, where registries show them.
    let annotations = &image.manifest["annotations"];
    assert_eq!(
        annotations["org.opencontainers.image.version"],
        labels["org.opencontainers.image.version"]
    );
    assert_eq!(annotations["org.opencontainers.image.revision"], revision);
}

/// The shared libraries `ldd` lists for the built broker: the only ones the image may hold.
fn linked_libraries() -> BTreeSet<String> {
    let out = Command::new("ldd")
        .arg(broker_binary().unwrap())
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let words: Vec<&str> = l.split_whitespace().collect();
            match words.as_slice() {
                [_, "=>", path, ..] if path.starts_with('/') => {
                    Some(path.trim_start_matches('/').to_string())
                }
                [path, ..] if path.starts_with('/') => {
                    Some(path.trim_start_matches('/').to_string())
                }
                _ => None,
            }
        })
        .collect()
}

#[test]
fn broker_image_is_minimal_non_root_and_labelled() {
    let image = OciImage::open("gatehouse-broker").unwrap();
    let config = &image.config["config"];
    assert_eq!(config["User"], "65532:65532");
    assert_eq!(
        config["Entrypoint"],
        json!(["/usr/local/bin/gatehouse-broker"])
    );
    assert_eq!(
        config["Cmd"],
        json!(["serve", "/etc/gatehouse/config.yaml"])
    );
    assert_eq!(
        config["ExposedPorts"],
        json!({"5556/tcp": {}, "5558/tcp": {}})
    );
    assert_eq!(image.config["os"], "linux");
    assert_labels(&image, "gatehouse-broker");

    let mut files = BTreeSet::new();
    let mut state_owner = None;
    for layer in image.layers() {
        assert_eq!(layer["mediaType"], OCI_GZIP_LAYER);
        for entry in image.list_layer(&layer).unwrap() {
            let path = entry
                .path
                .trim_start_matches("./")
                .trim_end_matches('/')
                .to_string();
            if path == "var/lib/gatehouse" {
                state_owner = Some(entry.owner.clone());
            }
            if entry.kind != 'd' {
                assert_eq!(entry.owner, "0/0", "{path} is not root-owned");
                files.insert(path);
            }
        }
    }
    let mut expected: BTreeSet<String> = linked_libraries();
    for f in [
        "usr/local/bin/gatehouse-broker",
        "etc/ssl/certs/ca-certificates.crt",
        "etc/passwd",
        "etc/group",
    ] {
        expected.insert(f.to_string());
    }
    // The binary, the libraries it links, CA certificates, the user: no shell, nothing else.
    assert_eq!(files, expected);
    assert_eq!(
        state_owner.as_deref(),
        Some("65532/65532"),
        "/var/lib/gatehouse owner"
    );
}

#[test]
fn filter_image_is_one_layer_holding_the_tested_wasm() {
    let image = OciImage::open("gatehouse-filter").unwrap();
    assert_eq!(
        image.manifest["mediaType"],
        "application/vnd.oci.image.manifest.v1+json"
    );
    assert_labels(&image, "gatehouse-filter");
    // Istio and Envoy Gateway read the "compat" form: the last layer a tar+gzip holding a
    // file named plugin.wasm. One layer, one file.
    let layers = image.layers();
    assert_eq!(layers.len(), 1);
    assert_eq!(layers[0]["mediaType"], OCI_GZIP_LAYER);
    let entries = image.list_layer(&layers[0]).unwrap();
    let files: Vec<&str> = entries
        .iter()
        .filter(|e| e.kind != 'd')
        .map(|e| e.path.as_str())
        .collect();
    assert_eq!(files, ["plugin.wasm"]);

    let dir = tempfile::tempdir().unwrap();
    image.unpack(dir.path()).unwrap();
    let in_image = std::fs::read(dir.path().join("plugin.wasm")).unwrap();
    // The end-to-end tests load target/filter/gatehouse_filter.wasm.
    let tested = std::fs::read(filter_wasm().unwrap()).unwrap();
    assert_eq!(
        format!("{:x}", Sha256::digest(&in_image)),
        format!("{:x}", Sha256::digest(&tested)),
        "the image's plugin.wasm is not the .wasm the e2e tests ran: run `make images`"
    );
}

/// Starts the image's broker the way a pod does — its own root file system, read-only, as
/// user 65532, the config mounted at /etc/gatehouse, an empty writable /var/lib/gatehouse —
/// inside private network and mount namespaces (so the chart's fixed ports cannot clash),
/// waits for /healthz/ready, fetches discovery, then stops it with SIGTERM.
const POD_LIKE_RUN: &str = r#"
set -eu
ip link set lo up
mount --bind "$ROOTFS" "$ROOTFS"
mount -o remount,bind,ro "$ROOTFS"
mount -t tmpfs -o uid=65532,gid=65532,mode=0700 tmpfs "$ROOTFS/var/lib/gatehouse"
mount --bind -o ro "$CONFIG_DIR" "$ROOTFS/etc/gatehouse"
if touch "$ROOTFS/probe" 2>/dev/null; then echo "root file system is writable"; exit 1; fi
chroot --userspec=65532:65532 "$ROOTFS" /usr/local/bin/gatehouse-broker serve /etc/gatehouse/config.yaml \
  2>"$LOG" &
pid=$!
tries=0
until curl -fsS "http://127.0.0.1:$TELEMETRY/healthz/ready" >/dev/null 2>&1; do
  kill -0 "$pid" 2>/dev/null || { echo "broker exited before ready"; exit 1; }
  tries=$((tries + 1))
  [ "$tries" -lt 300 ] || { echo "not ready after 60 s"; exit 1; }
  sleep 0.2
done
echo "ready"
curl -fsS "http://127.0.0.1:$HTTP$ISSUER_PATH/.well-known/openid-configuration"
echo
kill -TERM "$pid"
status=0
wait "$pid" || status=$?
echo "exit $status"
"#;

#[test]
fn broker_from_the_image_serves_the_charts_config() {
    let answer = check(&[Release::new("default")], &[]).expect("k8s_check");
    let objects = &answer["releases"][0]["objects"];
    let config = secret_value(object(objects, "Secret", None), "config.yaml");
    let parsed: Value = serde_yaml_ng::from_str(&config).unwrap();
    let port = |key: &str| {
        parsed[key]["http"]
            .as_str()
            .unwrap()
            .rsplit(':')
            .next()
            .unwrap()
            .to_string()
    };
    let issuer = url::Url::parse(parsed["issuer"].as_str().unwrap()).unwrap();

    let image = OciImage::open("gatehouse-broker").unwrap();
    let work = tempfile::tempdir().unwrap();
    let rootfs = work.path().join("rootfs");
    let config_dir = work.path().join("config");
    std::fs::create_dir_all(&rootfs).unwrap();
    std::fs::create_dir_all(&config_dir).unwrap();
    image.unpack(&rootfs).unwrap();
    std::fs::write(config_dir.join("config.yaml"), &config).unwrap();
    let log = work.path().join("broker.log");

    let out = Command::new("unshare")
        .args(["--net", "--mount", "--fork", "--", "sh", "-c", POD_LIKE_RUN])
        .env("ROOTFS", &rootfs)
        .env("CONFIG_DIR", &config_dir)
        .env("LOG", &log)
        .env("HTTP", port("web"))
        .env("TELEMETRY", port("telemetry"))
        .env("ISSUER_PATH", issuer.path())
        .output()
        .expect("unshare (util-linux; needs root, as CI runs)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let broker_log = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        out.status.success() && stdout.contains("ready"),
        "{stdout}\n{}\nbroker log:\n{broker_log}",
        String::from_utf8_lossy(&out.stderr)
    );
    let discovery: Value = serde_json::from_str(stdout.lines().nth(1).unwrap()).unwrap();
    assert_eq!(discovery["issuer"], parsed["issuer"]);
    // SIGTERM: in-flight requests finished, clean exit (what terminationGracePeriodSeconds allows).
    assert!(
        stdout.contains("exit 0"),
        "{stdout}\nbroker log:\n{broker_log}"
    );
}
