//! The filter's own cost per request, without a gateway's noise (issue 15): a `.wasm` runs on
//! the host model's Wasmtime VM and serves the requests of `make bench`'s Envoy listeners (the
//! same headers, a real sealed session, a real RS256 token), each through the whole context
//! lifecycle a host drives (create, request headers, response headers, log, done, delete).
//! Reported per request: Wasm instructions executed (Wasmtime fuel: one unit per instruction,
//! deterministic, so two builds compare exactly on a loaded machine) and wall time; and the
//! linear memory once the keys are loaded and after the requests.
//!
//! `guest_cost GATEHOUSE.wasm EMPTY.wasm [REQUESTS]`. With `GUEST_COST_PERFMAP=1` Wasmtime
//! writes `/tmp/perf-PID.map`, so `perf record -g -- guest_cost …` names the guest's functions
//! (build the .wasm with its name section for that); `GUEST_COST_ONLY=TEXT` runs only the
//! cases whose name contains TEXT.
//!
//! It is the model of Kong's host, not Envoy: the path is read from the raw target (one
//! property call more than on Envoy) and header maps are nginx lists. Host-call prices differ
//! between hosts; the guest's instruction count does not depend on them.

use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context as _, Result};
use base64::Engine as _;
use gatehouse_filter::config::Settings;
use gatehouse_filter::cookie::codec::CookieCodec;
use gatehouse_filter::session::{self, Session};
use gatehouse_host_model::headers::HeaderList;
use gatehouse_host_model::logger::{Level, Logger};
use gatehouse_host_model::options::Options;
use gatehouse_host_model::shared_kv::SharedKv;
use gatehouse_host_model::state::{CallResponse, HostState, Step, Stream, ROOT_ID};
use gatehouse_host_model::vm::Vm;
use jsonwebtoken::{encode, EncodingKey, Header};
use serde_json::json;
use wasmtime::{Config, Engine, Linker, Module, ProfilingStrategy};

const PEM: &str = include_str!("../../filter/tests/fixtures/test_rsa.pem");
const JWKS: &str = include_str!("../../filter/tests/fixtures/test_jwks.json");
const ISSUER: &str = "http://127.0.0.1:5556/dex";
const COOKIE: &str = "_gatehouse";
const SUB: &str = "CiQwOGE4Njg0Yi1kYjg4LTRiNzMtOTBhOS0zY2QxNjYxZjU0NjYSBWxvY2Fs";

struct Case {
    name: &'static str,
    wasm: PathBuf,
    config: String,
    /// Request headers besides the pseudo-headers.
    headers: Vec<(String, String)>,
    /// Whether the filter must have the broker's keys (it is fed discovery and JWKS first).
    gatehouse: bool,
    /// An identity header the request must be forwarded with (admitted, not answered).
    expect_identity: bool,
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn filter_config(extra: serde_json::Value) -> serde_json::Value {
    let mut c = json!({
        "issuer": ISSUER,
        "broker_upstream": "127.0.0.1:5556",
        "client_id": "gatehouse",
        "client_secret": "gatehouse-secret",
        "cookie_secret": base64::engine::general_purpose::STANDARD.encode([9u8; 32]),
        "skip_jwt_bearer_tokens": true,
    });
    if let (Some(c), Some(e)) = (c.as_object_mut(), extra.as_object()) {
        c.extend(e.clone());
    }
    c
}

/// The `Cookie` header of a session with `groups` groups, as the filter writes it.
fn session_cookie(groups: Vec<String>) -> Result<String> {
    let settings = Settings::from_json(filter_config(json!({})).to_string().as_bytes())?;
    let codec = CookieCodec::new(&settings.cookie_secrets)?;
    let t = now();
    let s = Session {
        sub: SUB.into(),
        email: "admin@example.com".into(),
        name: "admin".into(),
        preferred_username: "admin".into(),
        groups,
        issued_at: t,
        expires_at: t + 3600,
        ends_at: t + 86_400,
        refresh_token: Some("r".repeat(43)),
        access_token: None,
        sid: "live-session-0001".into(),
    };
    let sealed = s.seal(&codec, COOKIE)?;
    Ok(
        session::cookies::write(&settings.cookie, COOKIE, &sealed, 3600, &[])
            .iter()
            .filter_map(|c| c.split(';').next().map(str::to_string))
            .collect::<Vec<_>>()
            .join("; "),
    )
}

fn bearer() -> Result<String> {
    let mut header = Header::new(jsonwebtoken::Algorithm::RS256);
    header.kid = Some("test-key-1".into());
    let t = now();
    let claims = json!({
        "iss": ISSUER, "sub": SUB, "aud": "gatehouse", "exp": t + 3600, "iat": t,
        "email": "admin@example.com", "email_verified": true, "name": "admin",
        "preferred_username": "admin", "groups": ["admins", "developers"],
    });
    let key = EncodingKey::from_rsa_pem(PEM.as_bytes())?;
    Ok(format!("Bearer {}", encode(&header, &claims, &key)?))
}

fn cases(gatehouse: &Path, empty: &Path) -> Result<Vec<Case>> {
    let small = session_cookie(vec!["admins".into(), "developers".into()])?;
    let many_groups: Vec<String> = (0..150).map(|i| format!("team-{i:03}-platform")).collect();
    let large = session_cookie(many_groups.clone())?;
    let host = ("host".to_string(), "127.0.0.1:8080".to_string());
    let cookie = |c: &str| vec![host.clone(), ("cookie".to_string(), c.to_string())];
    let g = |name, config: serde_json::Value, headers, expect_identity| Case {
        name,
        wasm: gatehouse.to_path_buf(),
        config: config.to_string(),
        headers,
        gatehouse: true,
        expect_identity,
    };
    let e = |name, config: &str| Case {
        name,
        wasm: empty.to_path_buf(),
        config: config.to_string(),
        headers: cookie(&small),
        gatehouse: false,
        // The host-call copy of Gatehouse sets the demo user's identity headers.
        expect_identity: config == "gatehouse-calls",
    };
    let large_calls = Case {
        name: "empty + Gatehouse's host calls, 150 groups",
        config: format!("gatehouse-calls:{}", many_groups.join(",")),
        headers: cookie(&large),
        expect_identity: true,
        ..e("", "")
    };
    Ok(vec![
        e("empty filter", ""),
        e("empty + get_http_request_headers", "read-headers"),
        e("empty + Gatehouse's host calls", "gatehouse-calls"),
        large_calls,
        g(
            "Gatehouse, public route",
            filter_config(json!({"routes": [{"path_prefix": "/", "public": true}]})),
            cookie(&small),
            false,
        ),
        g(
            "Gatehouse, session (2 groups)",
            filter_config(json!({})),
            cookie(&small),
            true,
        ),
        g(
            "Gatehouse, chunked session (150 groups)",
            filter_config(json!({})),
            cookie(&large),
            true,
        ),
        g(
            "Gatehouse, bearer JWT (cached)",
            filter_config(json!({})),
            vec![host.clone(), ("authorization".to_string(), bearer()?)],
            true,
        ),
    ])
}

fn engine() -> Result<Engine> {
    let mut config = Config::new();
    config.consume_fuel(true);
    if std::env::var("GUEST_COST_PERFMAP").is_ok_and(|v| v == "1") {
        config.profiler(ProfilingStrategy::PerfMap);
    }
    Engine::new(&config)
}

fn start(engine: &Engine, case: &Case) -> Result<Vm> {
    let module = Module::from_file(engine, &case.wasm)
        .with_context(|| format!("loading {}", case.wasm.display()))?;
    let mut linker = Linker::new(engine);
    gatehouse_host_model::abi::link(&mut linker)?;
    let options = Options {
        wasm: case.wasm.clone(),
        filter_config: case.config.clone().into_bytes(),
        filter_name: "gatehouse".into(),
        listen: "127.0.0.1:0".into(),
        status_listen: None,
        upstream: "127.0.0.1:1".into(),
        server_name: "kong".into(),
        workers: 1,
        shm_kv: vec!["gatehouse".into()],
        debug: false,
    };
    let log = Rc::new(Logger {
        worker: 0,
        min: Level::Warn,
    });
    let state = HostState::new(
        0,
        Arc::new(options),
        Arc::new(SharedKv::new(vec!["gatehouse".into()])),
        log,
    );
    Vm::start(engine, &module, &linker, state).map_err(|e| anyhow::anyhow!("{e}"))
}

/// Answers the root context's discovery and JWKS calls from its ticks until it has both.
fn load_keys(vm: &mut Vm) -> Result<()> {
    let discovery = json!({
        "issuer": ISSUER,
        "authorization_endpoint": format!("{ISSUER}/auth"),
        "token_endpoint": format!("{ISSUER}/token"),
        "jwks_uri": format!("{ISSUER}/keys"),
    })
    .to_string();
    for _ in 0..6 {
        vm.invoke::<(i32,), ()>("proxy_on_tick", ROOT_ID, Step::Tick, (ROOT_ID as i32,))
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let calls = std::mem::take(&mut vm.store.data_mut().new_calls);
        for call in calls {
            let text = String::from_utf8_lossy(&call.request);
            let body = if text.contains("openid-configuration") {
                discovery.clone()
            } else if text.contains("/keys") {
                JWKS.to_string()
            } else {
                bail!(
                    "unexpected broker call: {}",
                    text.lines().next().unwrap_or("")
                );
            };
            let headers = vec![("content-type".to_string(), "application/json".to_string())];
            let n = headers.len() + 2;
            let len = body.len();
            vm.store.data_mut().call_response = Some(CallResponse {
                status: Some(200),
                dispatch_status: "ok",
                headers,
                body: body.into_bytes(),
            });
            vm.invoke::<(i32, i32, i32, i32, i32), ()>(
                "proxy_on_http_call_response",
                ROOT_ID,
                Step::DispatchResponse { root: true },
                (ROOT_ID as i32, call.token as i32, n as i32, len as i32, 0),
            )
            .map_err(|e| anyhow::anyhow!("{e}"))?;
            vm.store.data_mut().call_response = None;
        }
    }
    Ok(())
}

fn stream(headers: &[(String, String)]) -> Stream {
    Stream {
        method: "GET".into(),
        path: "/bench".into(),
        target: "/bench".into(),
        scheme: "http".into(),
        authority: "kong:8080".into(),
        protocol: "HTTP/1.1",
        request: HeaderList::new(headers.iter().cloned()),
        response: HeaderList::default(),
        status: None,
        local: None,
        response_started: false,
        resume_requested: false,
        pending_calls: 0,
        peer: "127.0.0.1:40000".parse().expect("address"),
        local_addr: "127.0.0.1:8080".parse().expect("address"),
    }
}

/// One request through the whole lifecycle; whether it was forwarded with an identity.
fn request(vm: &mut Vm, id: u32, headers: &[(String, String)]) -> Result<(bool, bool)> {
    let fail = |e| anyhow::anyhow!("{e}");
    vm.store.data_mut().streams.insert(id, stream(headers));
    let i = id as i32;
    let step = Step::RequestHeaders;
    vm.invoke::<(i32, i32), ()>("proxy_on_context_create", id, step, (i, ROOT_ID as i32))
        .map_err(fail)?;
    let n = headers.len() as i32 + 4;
    let action = vm
        .invoke::<(i32, i32, i32), i32>("proxy_on_request_headers", id, step, (i, n, 0))
        .map_err(fail)?;
    let (forwarded, identity) = {
        let s = vm.store.data_mut().streams.get_mut(&id).context("stream")?;
        s.status = Some(200);
        (
            action == 0 && s.local.is_none(),
            s.request.get("x-auth-request-user").is_some(),
        )
    };
    let step = Step::ResponseHeaders;
    vm.invoke::<(i32, i32, i32), i32>("proxy_on_response_headers", id, step, (i, 1, 0))
        .map_err(fail)?;
    vm.store
        .data_mut()
        .streams
        .get_mut(&id)
        .context("stream")?
        .response_started = true;
    vm.invoke::<(i32,), ()>("proxy_on_log", id, Step::Log, (i,))
        .map_err(fail)?;
    vm.invoke::<(i32,), i32>("proxy_on_done", id, Step::Done, (i,))
        .map_err(fail)?;
    vm.invoke::<(i32,), ()>("proxy_on_delete", id, Step::Done, (i,))
        .map_err(fail)?;
    vm.store.data_mut().streams.remove(&id);
    Ok((forwarded, identity))
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(gatehouse), Some(empty)) = (args.first(), args.get(1)) else {
        bail!("usage: guest_cost GATEHOUSE.wasm EMPTY.wasm [REQUESTS]");
    };
    let requests: u32 = args.get(2).map_or(Ok(2000), |n| n.parse())?;
    let engine = engine()?;
    println!(
        "{:<42} {:>14} {:>10} {:>12} {:>12}",
        "case", "instr/request", "µs/request", "memory KiB", "after KiB"
    );
    let only = std::env::var("GUEST_COST_ONLY").ok();
    for case in cases(&PathBuf::from(gatehouse), &PathBuf::from(empty))? {
        if only.as_deref().is_some_and(|o| !case.name.contains(o)) {
            continue;
        }
        let mut vm = start(&engine, &case)?;
        if case.gatehouse {
            load_keys(&mut vm)?;
        }
        let memory_ready = vm.memory_bytes().unwrap_or(0) / 1024;
        // Warm-up: the first request fills the caches (session, bearer) and grows the heap.
        let mut id = ROOT_ID + 1;
        for _ in 0..20 {
            let (forwarded, identity) = request(&mut vm, id, &case.headers)?;
            if !forwarded || identity != case.expect_identity {
                bail!(
                    "{}: forwarded {forwarded}, identity {identity}: not what the listener does",
                    case.name
                );
            }
            id += 1;
        }
        let fuel = vm.store.get_fuel()?;
        let t = Instant::now();
        for _ in 0..requests {
            request(&mut vm, id, &case.headers)?;
            id += 1;
        }
        let elapsed: Duration = t.elapsed();
        let used = fuel - vm.store.get_fuel()?;
        println!(
            "{:<42} {:>14} {:>10.2} {:>12} {:>12}",
            case.name,
            used / u64::from(requests),
            elapsed.as_secs_f64() * 1e6 / f64::from(requests),
            memory_ready,
            vm.memory_bytes().unwrap_or(0) / 1024
        );
    }
    Ok(())
}
