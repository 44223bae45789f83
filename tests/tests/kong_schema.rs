//! Kong validates the filter's configuration against `kong/gatehouse.meta.json` (a Draft-4
//! JSON Schema generated from the filter's config type) before the filter runs. These tests
//! hold that schema to the filter's own parser: for every sample configuration, a real
//! Draft-4 validator written by others (python-jsonschema, installed in `.venv` by
//! `make setup`) must accept or refuse exactly what `Settings::from_json` accepts or refuses.
//! Rules Draft 4 cannot state are kept in `documented_gaps_are_real`, which checks that each
//! listed gap still exists (and in which direction), so kong/README.md stays true.

use std::process::Command;

use base64::Engine;
use gatehouse_e2e::paths::{repo_root, venv_python};
use gatehouse_e2e::stdin_run::run_with_stdin;
use gatehouse_filter::config::{schema, Settings};
use serde::Deserialize;
use serde_json::{json, Value};

#[derive(Deserialize)]
struct Verdicts {
    schema_ok: bool,
    schema_error: Option<String>,
    verdicts: Vec<Verdict>,
}

#[derive(Deserialize)]
struct Verdict {
    valid: bool,
    /// The verdict with patterns read over UTF-8 bytes, as Kong's PCRE reads them.
    valid_bytes: bool,
    errors: Vec<String>,
}

/// Runs python-jsonschema's Draft4Validator over `instances`.
fn draft4(schema: &Value, instances: &[Value]) -> Vec<Verdict> {
    let tool = repo_root().join("tests/tools/draft4_verdicts.py");
    let input = json!({ "schema": schema, "instances": instances }).to_string();
    let out = run_with_stdin(
        Command::new(venv_python().unwrap()).arg(&tool),
        input.as_bytes(),
    )
    .expect("running python");
    assert!(
        out.status.success(),
        "draft4_verdicts.py failed (is jsonschema installed? run `make setup`): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let parsed: Verdicts = serde_json::from_slice(&out.stdout).expect("verdict JSON");
    assert!(
        parsed.schema_ok,
        "config_schema is not a valid Draft-4 schema: {:?}",
        parsed.schema_error
    );
    assert_eq!(parsed.verdicts.len(), instances.len());
    // Kong reads the patterns over bytes; the schema is written so that reading changes
    // nothing (non-ASCII characters only as whole literals).
    for (instance, v) in instances.iter().zip(&parsed.verdicts) {
        assert_eq!(
            v.valid, v.valid_bytes,
            "byte-wise (Kong) and character-wise pattern reading disagree on {instance}"
        );
    }
    parsed.verdicts
}

fn generated_schema() -> Value {
    schema::config_schema().expect("schema generation")
}

/// The filter's own verdict, exactly as at plugin start (Kong re-encodes the JSON first).
fn parser(config: &Value) -> Result<(), String> {
    Settings::from_json(config.to_string().as_bytes())
        .map(|_| ())
        .map_err(|e| e.to_string())
}

fn fixture() -> Value {
    let path = repo_root().join("tests/fixtures/kong/configs.json");
    let text = std::fs::read_to_string(&path).expect("read configs.json");
    serde_json::from_str(&text).expect("configs.json is JSON")
}

fn build_case(base: &Value, case: &Value) -> Value {
    if let Some(config) = case.get("config") {
        return config.clone();
    }
    let mut config = base.clone();
    let obj = config.as_object_mut().expect("base is an object");
    if let Some(set) = case.get("set").and_then(Value::as_object) {
        for (k, v) in set {
            obj.insert(k.clone(), v.clone());
        }
    }
    for key in case
        .get("unset")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        obj.remove(key.as_str().expect("unset holds key names"));
    }
    config
}

#[test]
fn meta_json_is_fresh() {
    let path = repo_root().join("kong/gatehouse.meta.json");
    let committed: Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("read gatehouse.meta.json"))
            .expect("gatehouse.meta.json is JSON");
    let fresh = schema::kong_meta().expect("schema generation");
    assert!(
        committed == fresh,
        "kong/gatehouse.meta.json is stale: run `make kong-meta` and commit it"
    );
    assert_eq!(fresh["config_schema"]["$schema"], schema::DRAFT4);
}

#[test]
fn schema_and_parser_agree_on_the_corpus() {
    let doc = fixture();
    let base = &doc["base"];
    let cases = doc["cases"].as_array().expect("cases");
    assert!(cases.len() >= 30, "the corpus needs at least 30 cases");
    let configs: Vec<Value> = cases.iter().map(|c| build_case(base, c)).collect();
    let verdicts = draft4(&generated_schema(), &configs);

    let mut problems = Vec::new();
    let (mut accepted, mut refused) = (0, 0);
    for ((case, config), verdict) in cases.iter().zip(&configs).zip(&verdicts) {
        let name = case["name"].as_str().unwrap_or("?");
        let expect_accept = match case["expect"].as_str() {
            Some("accept") => true,
            Some("refuse") => false,
            other => panic!("case {name}: expect must be accept or refuse, got {other:?}"),
        };
        let by_parser = parser(config);
        if by_parser.is_ok() != expect_accept {
            problems.push(format!("{name}: parser says {by_parser:?}"));
        }
        if verdict.valid != expect_accept {
            problems.push(format!(
                "{name}: schema says {} {:?}",
                if verdict.valid { "valid" } else { "invalid" },
                verdict.errors
            ));
        }
        if expect_accept {
            accepted += 1;
        } else {
            refused += 1;
        }
    }
    assert!(
        problems.is_empty(),
        "disagreements:\n{}",
        problems.join("\n")
    );
    assert!(accepted >= 10 && refused >= 20, "{accepted} / {refused}");
}

/// A small deterministic generator (xorshift64*): reproducible inputs, no extra dependency.
struct Gen(u64);

impl Gen {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
    fn join(&mut self, tokens: &[&str], max: usize) -> String {
        let n = 1 + self.below(max);
        (0..n).map(|_| self.pick(tokens)).collect()
    }
}

fn random_secret(g: &mut Gen) -> String {
    let len = 28 + g.below(10);
    let bytes: Vec<u8> = (0..len).map(|_| g.next() as u8).collect();
    let engines = [
        &base64::engine::general_purpose::STANDARD,
        &base64::engine::general_purpose::URL_SAFE,
        &base64::engine::general_purpose::STANDARD_NO_PAD,
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
    ];
    let mut s: Vec<char> = engines[g.below(4)].encode(&bytes).chars().collect();
    let alphabet: Vec<char> =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/-_= !"
            .chars()
            .collect();
    match g.below(7) {
        0 => {}
        1 => {
            s.pop();
        }
        2 => {
            let i = g.below(s.len());
            s[i] = alphabet[g.below(alphabet.len())];
        }
        3 => {
            let last = s.len() - 1 - usize::from(s.ends_with(&['=']));
            s[last] = alphabet[g.below(62)];
        }
        4 => s.push('='),
        5 => {
            s.insert(0, ['\t', ' ', '\u{a0}', '\u{feff}'][g.below(4)]);
            s.push(['\n', ' ', '\u{3000}', '\u{1c}'][g.below(4)]);
        }
        _ => {
            s.truncate(s.len().saturating_sub(1 + g.below(3)));
        }
    }
    s.into_iter().collect()
}

/// Inputs produced at random around the hardest-to-state rules (base64 secrets, normalised
/// route paths, safe return paths): the schema's verdict must equal the parser's for each.
#[test]
fn schema_and_parser_agree_on_generated_inputs() {
    let doc = fixture();
    let base = doc["base"].clone();
    let mut g = Gen(0x9E37_79B9_7F4A_7C15);
    let mut configs = Vec::new();
    let mut labels = Vec::new();

    for _ in 0..400 {
        let mut c = base.clone();
        let secret = random_secret(&mut g);
        c["cookie_secret"] = json!(secret);
        labels.push(format!("cookie_secret {secret:?}"));
        configs.push(c);
    }
    let path_tokens = [
        "/", "/", "a", "b", ".", "..", "%2F", "%2e", "%41", "%", "%4", "%zz", "?", "#", "\\", "//",
        " ", "é", "\n", "...",
    ];
    for _ in 0..400 {
        let mut c = base.clone();
        let start = if g.below(6) == 0 { "" } else { "/" };
        let path = format!("{start}{}", g.join(&path_tokens, 5));
        let key = if g.below(2) == 0 {
            "path_prefix"
        } else {
            "path_exact"
        };
        c["routes"] = json!([{ key: path }]);
        labels.push(format!("routes[0].{key} {path:?}"));
        configs.push(c);
    }
    let return_tokens = [
        "/",
        "/",
        "//",
        "\\",
        "%2F",
        "%2f",
        "%5C",
        "%5c",
        "%09",
        "%0a",
        "%7F",
        "%C2%85",
        "%c2%9F",
        "%C2",
        "%",
        "a",
        "evil.example",
        "@",
        "\t",
        " ",
        "\u{85}",
        "?x=1",
        "#f",
        "\u{2028}",
        "é",
        "%20",
    ];
    for _ in 0..400 {
        let mut c = base.clone();
        let start = if g.below(8) == 0 { "" } else { "/" };
        let rd = format!("{start}{}", g.join(&return_tokens, 4));
        c["sign_out_redirect"] = json!(rd);
        labels.push(format!("sign_out_redirect {rd:?}"));
        configs.push(c);
    }
    let domain_tokens = ["a", "example", ".", "-", "*", " ", "com", "_", "é"];
    for _ in 0..200 {
        let mut c = base.clone();
        let d = g.join(&domain_tokens, 4);
        c["email_domains"] = json!([d]);
        labels.push(format!("email_domains {d:?}"));
        configs.push(c);
    }

    let verdicts = draft4(&generated_schema(), &configs);
    let mut problems = Vec::new();
    let mut outcomes = std::collections::BTreeMap::<(String, bool), usize>::new();
    for ((label, config), verdict) in labels.iter().zip(&configs).zip(&verdicts) {
        let by_parser = parser(config);
        if by_parser.is_ok() != verdict.valid {
            problems.push(format!(
                "{label}: parser {by_parser:?}, schema {:?}",
                verdict.errors
            ));
        }
        let group = label.split(' ').next().unwrap_or("").to_string();
        *outcomes.entry((group, verdict.valid)).or_default() += 1;
    }
    assert!(
        problems.is_empty(),
        "{} disagreements:\n{}",
        problems.len(),
        problems.join("\n")
    );
    // Each group must have produced both verdicts, or it tested nothing.
    for group in [
        "cookie_secret",
        "routes[0].path_prefix",
        "sign_out_redirect",
        "email_domains",
    ] {
        for valid in [true, false] {
            let n = outcomes
                .get(&(group.to_string(), valid))
                .copied()
                .unwrap_or(0);
            assert!(n >= 10, "{group}: only {n} inputs judged valid={valid}");
        }
    }
}

/// Parser rules Draft 4 cannot state, or that the schema states more strictly. Kong lets
/// the first kind through its Admin API; the filter still refuses them at plugin start
/// (with a message naming the key). Each entry: (what, config change, schema verdict,
/// parser verdict). Keep kong/README.md's list in step with this one.
#[test]
fn documented_gaps_are_real() {
    let doc = fixture();
    let base = &doc["base"];
    let gaps: Vec<(&str, Value, bool, bool)> = vec![
        (
            "path_regex must compile (regex-lite): not expressible",
            json!({"routes": [{"path_regex": "(unclosed"}]}),
            true,
            false,
        ),
        (
            "redirect_url's path must equal redirect_path: crosses keys",
            json!({"redirect_url": "https://app.example.com/elsewhere"}),
            true,
            false,
        ),
        (
            "redirect_path, sign_out_path, userinfo_path must differ (defaults included)",
            json!({"redirect_path": "/oauth2/sign_out"}),
            true,
            false,
        ),
        (
            "issuer port above 65535: the URL parser refuses, the pattern counts digits",
            json!({"issuer": "https://sso.example.com:99999/dex"}),
            true,
            false,
        ),
        (
            "sign_out_redirect is limited to 2048 bytes; maxLength counts characters",
            json!({"sign_out_redirect": format!("/{}", "é".repeat(1500))}),
            true,
            false,
        ),
        (
            "an empty object as a list: Kong's cjson re-encodes [] as {}, so the filter reads {} as []",
            json!({"routes": {}, "allowed_groups": {}}),
            false,
            true,
        ),
    ];
    let configs: Vec<Value> = gaps
        .iter()
        .map(|(_, set, _, _)| build_case(base, &json!({ "set": set })))
        .collect();
    let verdicts = draft4(&generated_schema(), &configs);
    for ((what, _, schema_ok, parser_ok), (config, verdict)) in
        gaps.iter().zip(configs.iter().zip(&verdicts))
    {
        assert_eq!(
            verdict.valid, *schema_ok,
            "{what}: schema {:?}",
            verdict.errors
        );
        assert_eq!(parser(config).is_ok(), *parser_ok, "{what}: parser");
    }
}

/// The filter configurations shipped in kong/*.yml pass both the schema and the parser, and
/// name the filter after its files (`gatehouse.wasm`, `gatehouse.meta.json`).
#[test]
fn shipped_kong_configs_pass_schema_and_parser() {
    let mut configs = Vec::new();
    for (file, filters_at) in [
        ("kong/kong.yml", "filter_chains"),
        ("kong/kong-plugin.yml", "plugins"),
    ] {
        let text = std::fs::read_to_string(repo_root().join(file)).expect(file);
        let doc: Value = serde_yaml_ng::from_str(&text).expect(file);
        assert_eq!(doc["_format_version"], "3.0", "{file}");
        let mut found = 0;
        for service in doc["services"].as_array().expect("services") {
            let scopes = std::iter::once(service)
                .chain(service["routes"].as_array().into_iter().flatten())
                .collect::<Vec<_>>();
            for scope in scopes {
                let entries: Vec<&Value> = if filters_at == "filter_chains" {
                    scope["filter_chains"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .flat_map(|c| c["filters"].as_array().into_iter().flatten())
                        .collect()
                } else {
                    scope["plugins"].as_array().into_iter().flatten().collect()
                };
                for entry in entries {
                    assert_eq!(entry["name"], "gatehouse", "{file}: filter name");
                    assert!(entry["config"].is_object(), "{file}: config is JSON");
                    configs.push((file, entry["config"].clone()));
                    found += 1;
                }
            }
        }
        assert!(found > 0, "{file}: no gatehouse filter found");
    }
    let values: Vec<Value> = configs.iter().map(|(_, c)| c.clone()).collect();
    let verdicts = draft4(&generated_schema(), &values);
    for ((file, config), verdict) in configs.iter().zip(&verdicts) {
        assert!(
            verdict.valid,
            "{file}: schema refuses: {:?}",
            verdict.errors
        );
        let settings = Settings::from_json(config.to_string().as_bytes())
            .unwrap_or_else(|e| panic!("{file}: parser refuses: {e}"));
        // On Kong the filter calls the broker through `host:port`, not a cluster name.
        let upstream = &settings.broker_upstream;
        let port_ok = upstream
            .rsplit_once(':')
            .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok());
        assert!(
            port_ok,
            "{file}: broker_upstream {upstream:?} is not host:port"
        );
    }
}
