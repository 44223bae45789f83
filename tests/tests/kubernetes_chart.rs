//! The broker's Helm chart (charts/gatehouse-broker), proven without a cluster: Helm's Go SDK
//! (helm-python-sdk) renders and lints it for the default values and each example,
//! `values.schema.json` refuses bad values, every rendered object validates against
//! Kubernetes' schemas (kubernetes-validate --strict) for the oldest and newest supported
//! versions, and the config the chart renders passes `gatehouse-broker check-config`.

use std::process::Command;

use gatehouse_e2e::k8s_check::{check, object, secret_value, validation_errors, Manifest, Release};
use gatehouse_e2e::paths::broker_binary;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// Several replicas on PostgreSQL with every optional object on.
fn replicated() -> Release {
    Release::new("replicated").values(json!({
        "replicaCount": 3,
        "config": {
            "issuer": "https://sso.example.com/dex",
            "storage": {"type": "postgres", "config": {
                "host": "postgres.db.svc.cluster.local", "database": "gatehouse",
                "user": "gatehouse", "password": "$PGPASSWORD",
                // The broker has no TLS to PostgreSQL yet (check-config refuses `require`).
                "ssl": {"mode": "disable"}}},
            "enablePasswordDB": true,
        },
        "envVars": [{"name": "PGPASSWORD", "valueFrom": {"secretKeyRef": {"name": "pg", "key": "password"}}}],
        "podDisruptionBudget": {"enabled": true, "minAvailable": 2},
        "autoscaling": {"enabled": true, "minReplicas": 3, "maxReplicas": 6},
        "networkPolicy": {"enabled": true, "egressRules": [{"ports": [{"port": 5432, "protocol": "TCP"}]}]},
        "serviceMonitor": {"enabled": true, "interval": "30s"},
        "ingress": {"enabled": true, "className": "nginx",
            "hosts": [{"host": "sso.example.com", "paths": [{"path": "/dex", "pathType": "Prefix"}]}],
            "tls": [{"hosts": ["sso.example.com"], "secretName": "sso-tls"}]},
        "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}},
    }))
}

fn good_releases() -> Vec<Release> {
    vec![
        Release::new("default"),
        Release::new("seed-000").file("deploy/examples/seed-000/broker-values.yaml"),
        Release::new("seed-002").file("deploy/examples/seed-002/broker-values.yaml"),
        replicated(),
        // Dex's gRPC switch: rendered only (the broker's `grpc:` keys are another branch's).
        Release::new("grpc").values(json!({"grpc": {"enabled": true}})),
        Release::new("existing-secret")
            .values(json!({"configSecret": {"create": false, "name": "my-broker-config"}})),
    ]
}

fn release<'a>(answer: &'a Value, name: &str) -> &'a Value {
    answer["releases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == name)
        .unwrap_or_else(|| panic!("no release {name}"))
}

#[test]
fn chart_renders_lints_clean_and_validates_for_every_example() {
    let answer = check(&good_releases(), &[]).expect("k8s_check");
    for r in answer["releases"].as_array().unwrap() {
        let name = &r["name"];
        assert!(
            r["schema_error"].is_null(),
            "{name}: schema refused: {}",
            r["schema_error"]
        );
        assert!(
            r["render_error"].is_null(),
            "{name}: render failed: {}",
            r["render_error"]
        );
        // Helm's only remark is informational: the chart has no icon (it has no home to
        // point one at); anything at warning level or above fails.
        for m in r["lint"].as_array().unwrap() {
            assert!(
                m["severity"] == 1 && m["error"] == "icon is recommended",
                "{name}: lint: {m}"
            );
        }
        let errors = validation_errors(r);
        assert!(errors.is_empty(), "{name}: {errors:#?}");
        let objects = r["objects"].as_array().unwrap();
        assert!(objects.len() >= 3, "{name}: {} objects", objects.len());
        // Secrets never in ConfigMaps: the chart renders none at all.
        assert!(
            objects.iter().all(|o| o["kind"] != "ConfigMap"),
            "{name} renders a ConfigMap"
        );
    }
}

#[test]
fn pods_are_hardened_probed_and_roll_on_config_changes() {
    let answer = check(&good_releases(), &[]).expect("k8s_check");
    let r = release(&answer, "replicated");
    let objects = &r["objects"];
    let deployment = object(objects, "Deployment", None);
    let pod = &deployment["spec"]["template"];
    let spec = &pod["spec"];
    let container = &spec["containers"][0];

    // The checksum is that of the config in the Secret: a config change rolls the pods.
    let config = secret_value(object(objects, "Secret", None), "config.yaml");
    let checksum = format!("{:x}", Sha256::digest(config.as_bytes()));
    assert_eq!(pod["metadata"]["annotations"]["checksum/config"], checksum);
    let default_config = secret_value(
        object(&release(&answer, "default")["objects"], "Secret", None),
        "config.yaml",
    );
    assert_ne!(config, default_config);

    // Several replicas: spread over nodes, drained gracefully, guarded by a budget.
    let anti =
        &spec["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"][0];
    assert_eq!(
        anti["podAffinityTerm"]["topologyKey"],
        "kubernetes.io/hostname"
    );
    assert_eq!(
        anti["podAffinityTerm"]["labelSelector"]["matchLabels"],
        deployment["spec"]["selector"]["matchLabels"]
    );
    let grace = spec["terminationGracePeriodSeconds"].as_i64().unwrap();
    let pause = container["lifecycle"]["preStop"]["sleep"]["seconds"]
        .as_i64()
        .unwrap();
    assert!(
        pause > 0 && grace > pause + 10,
        "grace {grace}s, preStop {pause}s"
    );
    assert_eq!(
        object(objects, "PodDisruptionBudget", None)["spec"]["minAvailable"],
        2
    );
    // With the autoscaler on, the Deployment leaves the replica count to it.
    assert!(deployment["spec"]["replicas"].is_null());
    assert_eq!(
        object(objects, "HorizontalPodAutoscaler", None)["spec"]["minReplicas"],
        3
    );

    // Non-root, read-only root, no privileges, no API token.
    assert_eq!(spec["securityContext"]["runAsNonRoot"], true);
    assert_eq!(spec["securityContext"]["runAsUser"], 65532);
    assert_eq!(spec["automountServiceAccountToken"], false);
    let sc = &container["securityContext"];
    assert_eq!(sc["readOnlyRootFilesystem"], true);
    assert_eq!(sc["allowPrivilegeEscalation"], false);
    assert_eq!(sc["capabilities"]["drop"], json!(["ALL"]));

    // Probes on the telemetry listener, which the rendered config opens on that port.
    assert_eq!(
        container["livenessProbe"]["httpGet"],
        json!({"path": "/healthz/live", "port": "telemetry"})
    );
    assert_eq!(
        container["readinessProbe"]["httpGet"],
        json!({"path": "/healthz/ready", "port": "telemetry"})
    );
    let ports: Vec<(String, i64)> = container["ports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["name"].as_str().unwrap().to_string(),
                p["containerPort"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        ports,
        vec![("http".into(), 5556), ("telemetry".into(), 5558)]
    );
    let parsed: Value = serde_yaml_ng::from_str(&config).unwrap();
    assert_eq!(parsed["web"]["http"], "0.0.0.0:5556");
    assert_eq!(parsed["telemetry"]["http"], "0.0.0.0:5558");
    assert_eq!(
        container["args"],
        json!(["serve", "/etc/gatehouse/config.yaml"])
    );

    // The database password is never in the config: `$PGPASSWORD`, from the Secret.
    assert_eq!(parsed["storage"]["config"]["password"], "$PGPASSWORD");
    assert_eq!(
        container["env"][0]["valueFrom"]["secretKeyRef"]["name"],
        "pg"
    );

    // Dex's gRPC switch opens the port and writes the address into the config.
    let grpc = &release(&answer, "grpc")["objects"];
    let service_ports: Vec<&str> = object(grpc, "Service", None)["spec"]["ports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(service_ports, ["http", "grpc", "telemetry"]);
    let grpc_config: Value =
        serde_yaml_ng::from_str(&secret_value(object(grpc, "Secret", None), "config.yaml"))
            .unwrap();
    assert_eq!(grpc_config["grpc"]["addr"], "0.0.0.0:5557");

    // An existing Secret: mounted by name, nothing rendered in its place.
    let existing = &release(&answer, "existing-secret")["objects"];
    assert!(existing
        .as_array()
        .unwrap()
        .iter()
        .all(|o| o["kind"] != "Secret"));
    let volumes = &object(existing, "Deployment", None)["spec"]["template"]["spec"]["volumes"];
    assert_eq!(volumes[0]["secret"]["secretName"], "my-broker-config");
}

#[test]
fn values_schema_and_chart_refuse_bad_values() {
    let refused = [
        (
            "https",
            json!({"https": {"enabled": true}}),
            "/https/enabled",
        ),
        (
            "replicas-text",
            json!({"replicaCount": "three"}),
            "/replicaCount",
        ),
        (
            "digest",
            json!({"image": {"digest": "latest"}}),
            "/image/digest",
        ),
        ("dex-rbac", json!({"rbac": {"create": true}}), "rbac"),
        (
            "kubernetes-storage",
            json!({"config": {"storage": {"type": "kubernetes"}}}),
            "/config/storage/type",
        ),
        (
            "service-type",
            json!({"service": {"type": "Ingress"}}),
            "/service/type",
        ),
        (
            "probe-typo",
            json!({"livenessProbe": {"enabled": true, "periodSecond": 5}}),
            "periodSecond",
        ),
        (
            "no-issuer",
            json!({"config": {"storage": {"type": "memory"}, "enablePasswordDB": true}}),
            "issuer",
        ),
    ];
    let mut releases: Vec<Release> = refused
        .iter()
        .map(|(name, values, _)| Release::new(name).values(values.clone()))
        .collect();
    // Valid by the schema, refused by the chart: several pods on one-pod storage, and an
    // existing config Secret without its name.
    releases.push(Release::new("sqlite-replicas").values(json!({"replicaCount": 2})));
    releases.push(Release::new("memory-autoscaled").values(json!({
            "config": {"issuer": "https://sso.example.com/dex", "storage": {"type": "memory"},
                       "enablePasswordDB": true},
            "autoscaling": {"enabled": true}})));
    releases
        .push(Release::new("secret-no-name").values(json!({"configSecret": {"create": false}})));
    let answer = check(&releases, &[]).expect("k8s_check");

    for (name, _, needle) in refused {
        let r = release(&answer, name);
        let error = r["schema_error"]
            .as_str()
            .unwrap_or_else(|| panic!("{name}: schema accepted it"));
        assert!(error.contains(needle), "{name}: {error}");
        assert!(r["render_error"].is_string(), "{name}: rendered anyway");
    }
    for (name, needle) in [
        (
            "sqlite-replicas",
            "several replicas share state only through PostgreSQL",
        ),
        ("memory-autoscaled", "config.storage.type is \"memory\""),
        ("secret-no-name", "configSecret.name"),
    ] {
        let r = release(&answer, name);
        assert!(r["schema_error"].is_null(), "{name}: {}", r["schema_error"]);
        let error = r["render_error"]
            .as_str()
            .unwrap_or_else(|| panic!("{name}: rendered"));
        assert!(error.contains(needle), "{name}: {error}");
    }
}

/// Writes the config.yaml a release renders and runs `gatehouse-broker check-config` on it,
/// with the environment its `envVars` name (any value: they come from Secrets).
fn check_config(r: &Value, with_env: bool) -> std::process::Output {
    let objects = &r["objects"];
    let config = secret_value(object(objects, "Secret", None), "config.yaml");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.yaml");
    std::fs::write(&path, config).unwrap();
    let mut cmd = Command::new(broker_binary().unwrap());
    cmd.arg("check-config").arg(&path).env_clear();
    let container =
        &object(objects, "Deployment", None)["spec"]["template"]["spec"]["containers"][0];
    if with_env {
        for var in container["env"].as_array().into_iter().flatten() {
            cmd.env(var["name"].as_str().unwrap(), "value-from-a-secret");
        }
    }
    cmd.output().unwrap()
}

#[test]
fn rendered_broker_configs_pass_check_config() {
    let releases: Vec<Release> = good_releases()
        .into_iter()
        .filter(|r| !matches!(r.name, "grpc" | "existing-secret"))
        .collect();
    let answer = check(&releases, &[]).expect("k8s_check");
    for r in answer["releases"].as_array().unwrap() {
        let out = check_config(r, true);
        assert!(
            out.status.success(),
            "{}: check-config refused the rendered config: {}",
            r["name"],
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // The second seed's database password really comes from the environment.
    let out = check_config(release(&answer, "seed-002"), false);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("PASSWORD_ENV_VAR"));
}

#[test]
fn validation_is_strict_and_not_vacuous() {
    let typo = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "x"},
        "spec": {"replica": 2, "selector": {"matchLabels": {"a": "b"}},
                 "template": {"metadata": {"labels": {"a": "b"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}}}});
    let plugin = json!({"apiVersion": "extensions.istio.io/v1alpha1", "kind": "WasmPlugin",
        "metadata": {"name": "x"}, "spec": {"url": "oci://r/i:1", "failStrategy": "FAIL_CLOSED"}});
    let unknown = json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "x"}, "spec": {}});
    let answer = check(
        &[],
        &[Manifest::objects(
            "bad",
            vec![typo, plugin, unknown],
            &["1.30.0", "1.37.0"],
        )],
    )
    .expect("k8s_check");
    let errors = validation_errors(&answer["manifests"][0]);
    assert_eq!(errors.len(), 6, "{errors:#?}");
    assert!(
        errors.iter().filter(|e| e.contains("replica")).count() == 2,
        "{errors:#?}"
    );
    assert!(
        errors.iter().any(|e| e.contains("FAIL_CLOSED")),
        "{errors:#?}"
    );
    assert!(
        errors.iter().any(|e| e.contains("no fixture schema")),
        "{errors:#?}"
    );
}
