//! The gateway side on Kubernetes (deploy/): Envoy as a Deployment, Istio's WasmPlugin,
//! Envoy Gateway's EnvoyExtensionPolicy and Kong's Helm chart values. Each manifest validates
//! against Kubernetes' schemas or the custom resources' (tests/fixtures/k8s-crds/), the filter
//! config inside each passes the filter's own parser (and, for Kong, Kong's schema), Envoy
//! itself accepts the Envoy config, and each points at the broker the examples install.

use std::process::Command;

use gatehouse_e2e::k8s_check::{
    check, object, secret_value, validation_errors, Manifest, Release, IMAGE_VOLUME_KUBE_VERSIONS,
    KUBE_VERSIONS,
};
use gatehouse_e2e::paths::{envoy_binary, filter_wasm, repo_root, venv_python};
use gatehouse_e2e::stdin_run::run_with_stdin;
use gatehouse_filter::config::Settings;
use serde_json::{json, Value};

fn yaml_file(relative: &str) -> Value {
    let text = std::fs::read_to_string(repo_root().join(relative)).unwrap();
    serde_yaml_ng::from_str(&text).unwrap_or_else(|e| panic!("{relative}: {e}"))
}

fn yaml_documents(relative: &str) -> Vec<Value> {
    let text = std::fs::read_to_string(repo_root().join(relative)).unwrap();
    serde_yaml_ng::Deserializer::from_str(&text)
        .map(|d| serde::Deserialize::deserialize(d).unwrap())
        .filter(|v: &Value| !v.is_null())
        .collect()
}

fn kind<'a>(docs: &'a [Value], kind: &str) -> &'a Value {
    let found: Vec<&Value> = docs.iter().filter(|d| d["kind"] == kind).collect();
    assert_eq!(found.len(), 1, "one {kind}");
    found[0]
}

/// The filter's own parser: what Envoy's and Kong's filter does at start.
fn parse_filter_config(what: &str, config: &Value) -> Settings {
    Settings::from_json(config.to_string().as_bytes())
        .unwrap_or_else(|e| panic!("{what}: the filter refuses its config: {e}"))
}

/// The broker's Service name the chart gives release `gatehouse-broker` in namespace `auth`,
/// and its HTTP port: what every gateway's broker_upstream points at.
fn broker_service() -> (String, String, i64) {
    let answer = check(&[Release::new("default")], &[]).expect("k8s_check");
    let service = object(&answer["releases"][0]["objects"], "Service", None);
    let port = service["spec"]["ports"][0]["port"].as_i64().unwrap();
    (
        service["metadata"]["name"].as_str().unwrap().to_string(),
        service["metadata"]["namespace"]
            .as_str()
            .unwrap()
            .to_string(),
        port,
    )
}

/// The broker config an example's values render (issuer, clients).
fn example_broker_config(values: &str) -> Value {
    let answer = check(&[Release::new("example").file(values)], &[]).expect("k8s_check");
    let secret = object(&answer["releases"][0]["objects"], "Secret", None);
    serde_yaml_ng::from_str(&secret_value(secret, "config.yaml")).unwrap()
}

/// The filter config agrees with the broker it talks to: same issuer, a client of that
/// broker, a callback URL the client lists.
fn assert_matches_broker(what: &str, settings: &Settings, broker: &Value) {
    assert_eq!(
        settings.issuer,
        broker["issuer"].as_str().unwrap(),
        "{what}: issuer"
    );
    let client = broker["staticClients"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == settings.client_id.as_str())
        .unwrap_or_else(|| {
            panic!(
                "{what}: client {} is not in staticClients",
                settings.client_id
            )
        });
    if let Some(url) = &settings.redirect_url {
        assert!(
            client["redirectURIs"]
                .as_array()
                .unwrap()
                .iter()
                .any(|u| u == url.as_str()),
            "{what}: {url} is not among the client's redirectURIs"
        );
    }
}

fn envoy_config() -> Value {
    let docs = yaml_documents("deploy/envoy/gateway.yaml");
    let secret = kind(&docs, "Secret");
    serde_yaml_ng::from_str(&secret_value(secret, "envoy.yaml")).unwrap()
}

fn envoy_wasm_filter(config: &Value) -> Value {
    let hcm = &config["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0];
    hcm["typed_config"]["http_filters"][0].clone()
}

#[test]
fn gateway_manifests_validate() {
    let kong = yaml_file("deploy/kong/values.yaml");
    // Kong's chart puts these into its proxy container and pod unchanged: check them as such.
    let kong_pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "kong"},
        "spec": {"containers": [{"name": "proxy", "image": "kong:3.9",
                 "volumeMounts": kong["deployment"]["userDefinedVolumeMounts"]}],
                 "volumes": kong["deployment"]["userDefinedVolumes"]}});
    let answer = check(
        &[],
        &[
            Manifest::file(
                "envoy",
                "deploy/envoy/gateway.yaml",
                &IMAGE_VOLUME_KUBE_VERSIONS,
            ),
            Manifest::file("istio", "deploy/istio/wasmplugin.yaml", &KUBE_VERSIONS),
            Manifest::file(
                "envoy-gateway",
                "deploy/envoy-gateway/extension-policy.yaml",
                &KUBE_VERSIONS,
            ),
            Manifest::objects("kong-volumes", vec![kong_pod], &IMAGE_VOLUME_KUBE_VERSIONS),
        ],
    )
    .expect("k8s_check");
    for m in answer["manifests"].as_array().unwrap() {
        let errors = validation_errors(m);
        assert!(errors.is_empty(), "{}: {errors:#?}", m["name"]);
        assert!(!m["objects"].as_array().unwrap().is_empty());
    }
    // The image volume is what keeps these manifests off older clusters: 1.30 has no such field.
    let old = check(
        &[],
        &[Manifest::file(
            "envoy",
            "deploy/envoy/gateway.yaml",
            &["1.30.0"],
        )],
    )
    .unwrap();
    let errors = validation_errors(&old["manifests"][0]);
    assert!(errors.iter().any(|e| e.contains("image")), "{errors:#?}");
}

#[test]
fn envoy_deployment_runs_the_filter_from_its_image_fail_closed() {
    let docs = yaml_documents("deploy/envoy/gateway.yaml");
    let config = envoy_config();
    let filter = envoy_wasm_filter(&config);
    let wasm = &filter["typed_config"]["config"];
    assert_eq!(wasm["fail_open"], false);
    let json_text = wasm["configuration"]["value"].as_str().unwrap();
    let filter_json: Value = serde_json::from_str(json_text).unwrap();
    let settings = parse_filter_config("envoy", &filter_json);
    assert_matches_broker(
        "envoy",
        &settings,
        &example_broker_config("deploy/examples/seed-000/broker-values.yaml"),
    );
    // The first seed's authorization, also enforced at the gateway.
    assert_eq!(filter_json["allowed_groups"], json!(["admin", "developer"]));

    // broker_upstream is a cluster of this Envoy, pointing at the chart's Service.
    let (service, namespace, port) = broker_service();
    let clusters = config["static_resources"]["clusters"].as_array().unwrap();
    let broker = clusters
        .iter()
        .find(|c| c["name"] == settings.broker_upstream.as_str())
        .unwrap();
    let address = &broker["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"]
        ["address"]["socket_address"];
    assert_eq!(
        address["address"],
        format!("{service}.{namespace}.svc.cluster.local")
    );
    assert_eq!(address["port_value"], port);

    // The .wasm Envoy loads is the file the filter image's volume holds.
    let filename = wasm["vm_config"]["code"]["local"]["filename"]
        .as_str()
        .unwrap();
    let spec = &kind(&docs, "Deployment")["spec"]["template"]["spec"];
    let mount = spec["containers"][0]["volumeMounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| filename.starts_with(m["mountPath"].as_str().unwrap()))
        .expect("a mount holding the .wasm");
    assert_eq!(
        filename,
        format!("{}/plugin.wasm", mount["mountPath"].as_str().unwrap())
    );
    let volume = spec["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == mount["name"])
        .unwrap();
    assert!(volume["image"]["reference"]
        .as_str()
        .unwrap()
        .contains("gatehouse-filter"));
}

#[test]
fn envoy_accepts_the_gateway_config() {
    // The real Envoy's own validation of the config in the Secret, with the built .wasm
    // where the image volume would put it.
    let mut config = envoy_config();
    let wasm = filter_wasm().unwrap();
    let hcm = &mut config["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0];
    hcm["typed_config"]["http_filters"][0]["typed_config"]["config"]["vm_config"]["code"]
        ["local"]["filename"] = json!(wasm);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("envoy.json");
    std::fs::write(&path, config.to_string()).unwrap();
    let out = Command::new(envoy_binary().unwrap())
        .args(["--mode", "validate", "--log-level", "warn", "-c"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "envoy --mode validate: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn istio_wasmplugin_is_authn_fail_close_and_names_the_brokers_outbound_cluster() {
    let plugin = yaml_file("deploy/istio/wasmplugin.yaml");
    let spec = &plugin["spec"];
    assert_eq!(spec["phase"], "AUTHN");
    assert_eq!(spec["failStrategy"], "FAIL_CLOSE");
    assert!(spec["url"].as_str().unwrap().starts_with("oci://"));
    let settings = parse_filter_config("istio", &spec["pluginConfig"]);
    let (service, namespace, port) = broker_service();
    assert_eq!(
        settings.broker_upstream,
        format!("outbound|{port}||{service}.{namespace}.svc.cluster.local")
    );
}

#[test]
fn envoy_gateway_policy_names_the_brokers_route_cluster() {
    let docs = yaml_documents("deploy/envoy-gateway/extension-policy.yaml");
    let policy = kind(&docs, "EnvoyExtensionPolicy");
    let wasm = &policy["spec"]["wasm"][0];
    assert_eq!(wasm["code"]["type"], "Image");
    assert_eq!(wasm["failOpen"], false);
    let settings = parse_filter_config("envoy-gateway", &wasm["config"]);
    // broker_upstream is the cluster Envoy Gateway makes for rule 0 of the broker's route,
    // whose backend is the chart's Service.
    let (service, namespace, port) = broker_service();
    let route = docs
        .iter()
        .find(|d| {
            d["kind"] == "HTTPRoute"
                && d["spec"]["rules"][0]["backendRefs"][0]["name"] == service.as_str()
        })
        .expect("an HTTPRoute to the broker");
    assert_eq!(route["metadata"]["namespace"], namespace.as_str());
    assert_eq!(route["spec"]["rules"][0]["backendRefs"][0]["port"], port);
    assert_eq!(
        settings.broker_upstream,
        format!(
            "httproute/{namespace}/{}/rule/0",
            route["metadata"]["name"].as_str().unwrap()
        )
    );
    // The policy targets the application's route, not the broker's.
    let target = &policy["spec"]["targetRefs"][0];
    assert_eq!(target["kind"], "HTTPRoute");
    assert_ne!(target["name"], route["metadata"]["name"]);
}

/// python-jsonschema's Draft 4 validator over Kong's schema for the filter (as
/// tests/tests/kong_schema.rs runs it): the errors, empty when Kong would accept `config`.
fn kong_schema_errors(config: &Value) -> Vec<String> {
    let meta: Value = serde_json::from_str(
        &std::fs::read_to_string(repo_root().join("kong/gatehouse.meta.json")).unwrap(),
    )
    .unwrap();
    let input = json!({"schema": meta["config_schema"], "instances": [config]});
    let run = run_with_stdin(
        Command::new(venv_python().unwrap())
            .arg(repo_root().join("tests/tools/draft4_verdicts.py")),
        input.to_string().as_bytes(),
    )
    .expect("python (make setup)");
    let out: Value = serde_json::from_slice(&run.stdout).unwrap();
    assert_eq!(out["schema_ok"], true);
    let verdict = &out["verdicts"][0];
    assert_eq!(verdict["valid"], verdict["valid_bytes"]);
    verdict["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.to_string())
        .collect()
}

#[test]
fn kong_values_and_declarative_config_load_the_filter() {
    let values = yaml_file("deploy/kong/values.yaml");
    let env = &values["env"];
    // The settings kong/kong.conf documents, with the same values.
    let conf = std::fs::read_to_string(repo_root().join("kong/kong.conf")).unwrap();
    for key in [
        "wasm",
        "wasm_filters_path",
        "wasm_filters",
        "nginx_wasm_shm_kv_gatehouse",
        "database",
    ] {
        let line = conf
            .lines()
            .find(|l| l.split('=').next().map(str::trim) == Some(key))
            .unwrap_or_else(|| panic!("kong.conf has no {key}"));
        let expected = line.split_once('=').unwrap().1.trim();
        assert_eq!(env[key].as_str(), Some(expected), "env.{key}");
    }
    let tag = values["image"]["tag"].as_str().unwrap();
    let minor: u32 = tag
        .strip_prefix("3.")
        .and_then(|m| m.split('.').next()?.parse().ok())
        .unwrap();
    assert!(
        (4..=10).contains(&minor),
        "Kong {tag}: Wasm needs 3.4 - 3.10"
    );
    assert_eq!(values["ingressController"]["enabled"], false);

    // gatehouse.wasm (from the image's plugin.wasm) and its schema in wasm_filters_path.
    let path = env["wasm_filters_path"].as_str().unwrap();
    let mounts = values["deployment"]["userDefinedVolumeMounts"]
        .as_array()
        .unwrap();
    let mount = |file: &str| {
        mounts
            .iter()
            .find(|m| m["mountPath"] == format!("{path}/{file}").as_str())
            .unwrap_or_else(|| panic!("nothing mounted at {path}/{file}"))
    };
    assert_eq!(mount("gatehouse.wasm")["subPath"], "plugin.wasm");
    assert_eq!(
        mount("gatehouse.meta.json")["subPath"],
        "gatehouse.meta.json"
    );

    // The declarative config (loaded from a Secret) runs filter `gatehouse` on the app's route.
    assert!(values["dblessConfig"]["secret"]
        .as_str()
        .is_some_and(|s| !s.is_empty()));
    let kong = yaml_file("deploy/kong/kong.yml");
    let app = &kong["services"][0]["routes"][0];
    let filter = &app["filter_chains"][0]["filters"][0];
    assert_eq!(filter["name"], "gatehouse");
    let config = &filter["config"];
    let errors = kong_schema_errors(config);
    assert!(
        errors.is_empty(),
        "Kong's schema refuses the config: {errors:?}"
    );
    let settings = parse_filter_config("kong", config);
    assert_matches_broker(
        "kong",
        &settings,
        &example_broker_config("deploy/examples/seed-002/broker-values.yaml"),
    );
    let (service, namespace, port) = broker_service();
    assert_eq!(
        settings.broker_upstream,
        format!("{service}.{namespace}.svc.cluster.local:{port}")
    );
}
