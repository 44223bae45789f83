//! Each host behaviour a filter can observe, pinned with a probe filter
//! (`host-model/probe-filter`). Test names say the behaviour; comments name the ngx_wasm_module
//! source (Kong/ngx_wasm_module at Kong 3.9's pin 9136e463) or the real-host finding behind it.
//! Long on purpose: one small test per behaviour, each readable alone (set-up is in support/).

mod support;

use serde_json::json;
use support::{h2c_get, Model, Upstream};

fn header_names(echo: &serde_json::Value) -> Vec<String> {
    echo["headers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p[0].as_str().unwrap().to_string())
        .collect()
}

fn header<'a>(echo: &'a serde_json::Value, name: &str) -> Option<&'a str> {
    echo["headers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p[0] == name)
        .and_then(|p| p[1].as_str())
}

/// nginx keeps HTTP/1.x names as the client sent them; HTTP/2 names are lower case and the
/// cookies arrive as one header (src/common/proxy_wasm/ngx_proxy_wasm_maps.c reads
/// r->headers_in as nginx stored it; seen on the real host).
#[test]
fn http1_header_names_keep_the_client_case_http2_names_are_lower_case() {
    let up = Upstream::start();
    let model = Model::start(json!({"probe": "echo"}), up.port, 1);
    let echo = model
        .get(
            "/x",
            &[
                ("Accept", "text/html"),
                ("Cookie", "a=1"),
                ("X-Mixed-Case", "1"),
            ],
        )
        .json();
    let names = header_names(&echo);
    for name in ["Host", "Accept", "Cookie", "X-Mixed-Case"] {
        assert!(
            names.contains(&name.to_string()),
            "{name} missing in {names:?}"
        );
    }
    assert!(!names.contains(&"accept".to_string()));

    let (status, _, body) = h2c_get(
        model.port,
        "/x",
        &[
            ("Accept", "text/html"),
            ("cookie", "a=1"),
            ("cookie", "b=2"),
        ],
    );
    assert_eq!(status, 200, "{body}");
    let echo: serde_json::Value = serde_json::from_str(body.trim()).unwrap();
    let names = header_names(&echo);
    assert!(names.contains(&"accept".to_string()), "{names:?}");
    assert_eq!(header(&echo, "cookie"), Some("a=1; b=2"));
}

/// `:authority` is nginx's `server_name:port` (ngx_proxy_wasm_maps_get_authority), whatever
/// the client's Host says; the request map starts with the pseudo-headers.
#[test]
fn authority_is_server_name_and_port_not_the_host_header() {
    let up = Upstream::start();
    let model = Model::start(json!({"probe": "echo"}), up.port, 1);
    let echo = model.get("/a?b=c", &[]).json();
    assert_eq!(
        header(&echo, ":authority"),
        Some(format!("kong:{}", model.port).as_str())
    );
    assert_eq!(header(&echo, "Host"), Some("example.test"));
    assert_eq!(header(&echo, ":path"), Some("/a?b=c"));
    assert_eq!(header(&echo, ":scheme"), Some("http"));
    assert_eq!(
        &header_names(&echo)[..4],
        [":path", ":method", ":scheme", ":authority"]
    );
}

/// Kong runs `on_request_headers` in the access phase with `end_of_stream` false, even for a
/// request without a body (src/http/proxy_wasm/ngx_http_proxy_wasm.c).
#[test]
fn end_of_stream_is_always_false_in_request_headers() {
    let up = Upstream::start();
    let model = Model::start(json!({"probe": "echo"}), up.port, 1);
    assert_eq!(model.get("/", &[]).json()["end_of_stream"], false);
}

/// Properties are nginx variables, returned as strings; `request.host` is `ngx.hostname`, the
/// machine's name (src/common/proxy_wasm/ngx_proxy_wasm_properties.c); unknown ones are absent.
#[test]
fn properties_are_strings_and_request_host_is_the_machine_name() {
    let up = Upstream::start();
    let model = Model::start(json!({"probe": "echo"}), up.port, 1);
    let echo = model.get("/p?q=1", &[]).json();
    assert_eq!(echo["request.path"], "/p?q=1");
    assert_eq!(echo["request.method"], "GET");
    let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    assert_eq!(echo["request.host"], hostname.trim());
    assert_ne!(echo["request.host"], "example.test");
    assert!(echo["no.such"].is_null());
}

/// `:path` is nginx's percent-decoded, slash-merged, dot-resolved `r->uri` plus the raw query,
/// while `request.path` / `ngx.request_uri` keep the raw target and the upstream gets the raw
/// target (ngx_proxy_wasm_maps_get_path builds `:path` from `r->uri` and `r->args`; seen on
/// the real host, kong-real FINDINGS (e): `/x/../dump?q=%2F..` -> `/dump?q=%2F..`, `//dump`
/// -> `/dump`, `/%64ump` -> `/dump`, `/x/%2e%2e/dump` -> `/dump`). `ngx.<variable>`
/// properties exist, e.g. `ngx.server_name`.
#[test]
fn path_is_the_normalised_uri_while_the_upstream_gets_the_raw_target() {
    let up = Upstream::start();
    let model = Model::start(json!({"probe": "echo"}), up.port, 1);
    for (raw, normalised) in [
        ("/x/../dump?q=%2F..", "/dump?q=%2F.."),
        ("//dump", "/dump"),
        ("/%64ump", "/dump"),
        ("/x/%2e%2e/dump", "/dump"),
        ("/admin/x%2F..%2F..%2Fpublic", "/public"),
    ] {
        let echo = model.get(raw, &[]).json();
        assert_eq!(header(&echo, ":path"), Some(normalised), "{raw}");
        assert_eq!(echo["request.path"], raw);
        assert_eq!(echo["ngx.request_uri"], raw);
        assert_eq!(
            echo["request.url_path"],
            normalised.split('?').next().unwrap()
        );
        assert_eq!(echo["ngx.server_name"], "kong");
    }
    // nginx refuses `..` above the root before any filter runs.
    assert_eq!(model.get("/..%2F..%2Fetc", &[]).status, 400);

    let forwarding = Model::start(json!({"probe": "forward_cookies"}), up.port, 1);
    assert_eq!(
        forwarding
            .get("/admin/x%2F..%2F..%2Fpublic?q=1", &[])
            .status,
        200
    );
    let heads = up.heads();
    assert!(
        heads
            .last()
            .unwrap()
            .starts_with("GET /admin/x%2F..%2F..%2Fpublic?q=1 HTTP/1.1\r\n"),
        "{heads:?}"
    );
}

/// A removed header is only marked removed (hash 0) and nginx's proxy module still forwards it;
/// a replaced header takes the filter's value on its first copy, matched case-insensitively,
/// and later copies are removed — hence still forwarded (src/http/ngx_http_wasm_headers.c,
/// ngx_http_wasm_set_header_helper; seen on the real host). A single-value read still finds
/// the removed header (ngx_wasm_get_list_elem does not look at the mark).
#[test]
fn a_removed_request_header_still_reaches_the_upstream_a_replaced_one_does_not() {
    let up = Upstream::start();
    let model = Model::start(json!({"probe": "edit"}), up.port, 1);
    let r = model.get(
        "/",
        &[
            ("X-Remove-Me", "client"),
            ("X-Replace-Me", "client-1"),
            ("x-replace-me", "client-2"),
        ],
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let got = up.last_headers();
    let values = |name: &str| -> Vec<String> {
        got.iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
            .collect()
    };
    assert_eq!(values("x-remove-me"), ["client"], "{got:?}");
    assert_eq!(values("x-replace-me"), ["by-filter", "client-2"], "{got:?}");
    assert_eq!(values("x-seen-after-remove"), ["Some(\"client\")"]);
}

/// `set_http_request_headers` first removes every header, then appends the pairs
/// (ngx_proxy_wasm_hfuncs_set_header_map_pairs): the upstream still gets the old ones.
#[test]
fn replacing_the_whole_request_map_removes_nothing_upstream() {
    let up = Upstream::start();
    let model = Model::start(json!({"probe": "set_map"}), up.port, 1);
    let r = model.get("/", &[("X-Old", "1")]);
    assert_eq!(r.status, 200);
    let got = up.last_headers();
    assert!(got.iter().any(|(k, v)| k == "X-Old" && v == "1"), "{got:?}");
    assert!(
        got.iter().any(|(k, v)| k == "x-only" && v == "1"),
        "{got:?}"
    );
}

/// A local response's headers are applied in "set" mode: of two `Set-Cookie` only the last
/// survives; the body gets a line feed (src/http/ngx_http_wasm_local_response.c; seen on the
/// real host).
#[test]
fn a_local_response_keeps_one_set_cookie() {
    let up = Upstream::start();
    let model = Model::start(json!({"probe": "two_cookies"}), up.port, 1);
    let r = model.get("/", &[]);
    assert_eq!(r.status, 302);
    assert_eq!(r.all("set-cookie"), ["second=2"]);
    assert_eq!(r.body, "moved\n");
    let (status, headers, _) = h2c_get(model.port, "/", &[]);
    assert_eq!(status, 302);
    let cookies: Vec<_> = headers.iter().filter(|(k, _)| k == "set-cookie").collect();
    assert_eq!(cookies.len(), 1, "{headers:?}");
}

/// Response headers added in `on_response_headers` are appended: every cookie reaches the client.
#[test]
fn set_cookies_added_to_an_upstream_response_all_arrive() {
    let up = Upstream::start();
    let model = Model::start(json!({"probe": "forward_cookies"}), up.port, 1);
    let r = model.get("/", &[]);
    assert_eq!(r.status, 200);
    assert_eq!(r.body, "ok");
    assert_eq!(r.all("set-cookie"), ["first=1", "second=2"]);
}

/// The real worker crashes (SIGSEGV) when the root context dispatches from inside its own
/// `on_http_call_response` (seen on the real host; the request is built on a freed connection,
/// src/http/proxy_wasm/ngx_http_proxy_wasm_dispatch.c). The model aborts that worker loudly and
/// restarts it, so the filter loops through restarts as on the real host.
#[test]
fn dispatching_from_the_root_call_response_crashes_the_worker() {
    let up = Upstream::start();
    let model = Model::start(
        json!({"probe": "root_redispatch", "target": format!("127.0.0.1:{}", up.port)}),
        up.port,
        1,
    );
    assert!(
        model.wait_log("MODELLED WORKER CRASH", 2),
        "{}",
        model.log()
    );
    // The restart after the second crash is logged just after it: wait for it, do not race it.
    assert!(
        model.wait_log("filter instance started", 3),
        "{}",
        model.log()
    );
}

/// Ticks (`set_tick_period`) and root dispatches from `on_tick` to a `host:port` work, and the
/// answer has `:status`.
#[test]
fn a_root_context_dispatches_from_its_ticks() {
    let up = Upstream::start();
    let model = Model::start(
        json!({"probe": "root_call", "target": format!("127.0.0.1:{}", up.port)}),
        up.port,
        1,
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let r = model.get("/", &[]).json();
        if r["root_call"] == "200" {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{r}\n{}", model.log());
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(up.heads().iter().any(|h| h.starts_with(
        "GET /from-root HTTP/1.1\r\nHost: probe\r\nConnection: close\r\nContent-Length: 0\r\n"
    )));
}

/// Shared data: a write carries the CAS read; a CAS-less write over an existing key and a
/// stale CAS are refused (src/common/shm/ngx_wa_shm_kv.c, ngx_wa_shm_kv_set_locked).
#[test]
fn shared_data_has_cas_semantics() {
    let up = Upstream::start();
    let model = Model::start(json!({"probe": "kv"}), up.port, 1);
    assert_eq!(model.get("/kv/k/one/none", &[]).json()["set"], "Ok(())");
    assert_eq!(
        model.get("/kv/k/two/none", &[]).json()["set"],
        "Err(CasMismatch)"
    );
    let read = model.get("/kv/k", &[]).json();
    assert_eq!(read["value"], "one");
    let cas = read["cas"].as_u64().unwrap();
    assert_eq!(
        model.get(&format!("/kv/k/two/{}", cas + 5), &[]).json()["set"],
        "Err(CasMismatch)"
    );
    assert_eq!(
        model.get(&format!("/kv/k/two/{cas}"), &[]).json()["set"],
        "Ok(())"
    );
    assert_eq!(model.get("/kv/k", &[]).json()["value"], "two");
}

/// Two workers are two instances with one store: each instance counts itself at
/// `on_configure`, and both counts land in the same key.
#[test]
fn shared_data_is_shared_by_the_workers() {
    let up = Upstream::start();
    let model = Model::start(json!({"probe": "kv"}), up.port, 2);
    assert!(
        model.wait_log("filter instance started", 2),
        "{}",
        model.log()
    );
    assert_eq!(model.get("/kv/instances", &[]).json()["value"], "2");
}

/// A second non-zero `set_tick_period` traps ("tick_period already set",
/// ngx_proxy_wasm_hfuncs_set_tick_period): the root context never configures, requests get 500.
#[test]
fn a_second_set_tick_period_traps() {
    let up = Upstream::start();
    let model = Model::start(json!({"probe": "tick_twice"}), up.port, 1);
    assert_eq!(model.get("/", &[]).status, 500);
    assert!(
        model.wait_log("tick_period already set", 1),
        "{}",
        model.log()
    );
}

/// A failed call arrives with `:dispatch_status` naming the failure and no `:status`; a
/// successful one has both (src/common/proxy_wasm/ngx_proxy_wasm_maps.c,
/// ngx_proxy_wasm_maps_get_dispatch_status; src/common/ngx_wasm_socket_tcp.c).
#[test]
fn failed_calls_carry_dispatch_status_and_no_status() {
    let up = Upstream::start();
    let closed = support::free_port();
    for (target, expected) in [
        (format!("127.0.0.1:{closed}"), "broken connection"),
        ("no-such-host.invalid:80".to_string(), "resolver failure"),
    ] {
        let model = Model::start(json!({"probe": "call", "target": target}), up.port, 1);
        let r = model.get("/", &[]).json();
        assert_eq!(header(&r, ":dispatch_status"), Some(expected), "{r}");
        assert_eq!(header(&r, ":status"), None, "{r}");
    }
    let model = Model::start(
        json!({"probe": "call", "target": format!("127.0.0.1:{}", up.port)}),
        up.port,
        1,
    );
    let r = model.get("/", &[]).json();
    assert_eq!(header(&r, ":status"), Some("200"), "{r}");
    assert_eq!(header(&r, ":dispatch_status"), Some("ok"));
    assert_eq!(header(&r, "X-Upstream"), Some("yes"));
    assert_eq!(r["body"], "ok");
}

/// When a request's last call is answered the request goes on, even if the filter neither
/// resumed it nor responded (ngx_http_proxy_wasm_dispatch_resume_handler).
#[test]
fn a_request_goes_on_after_its_last_call_without_resume() {
    let up = Upstream::start();
    let model = Model::start(
        json!({"probe": "call_no_resume", "target": format!("127.0.0.1:{}", up.port)}),
        up.port,
        1,
    );
    let r = model.get("/upstream-please", &[]);
    assert_eq!(r.status, 200);
    assert_eq!(r.body, "ok");
    assert!(up
        .heads()
        .iter()
        .any(|h| h.starts_with("GET /upstream-please ")));
}

/// A call without `:method` traps at the call (ngx_http_proxy_wasm_dispatch: "no :method").
#[test]
fn a_call_without_method_traps() {
    let up = Upstream::start();
    let model = Model::start(
        json!({"probe": "call_without_method", "target": format!("127.0.0.1:{}", up.port)}),
        up.port,
        1,
    );
    assert_eq!(model.get("/", &[]).status, 500);
    assert!(
        model.wait_log("dispatch failed: no :method", 1),
        "{}",
        model.log()
    );
}

/// What ngx_wasm_module does not implement traps ("function not yet implemented",
/// src/common/proxy_wasm/ngx_proxy_wasm_host.c's table and src/wasm/vm/ngx_wavm_host.c):
/// `get_log_level`, `close_stream`, gRPC calls; trailer maps do not exist (the SDK panics on
/// BAD_ARGUMENT); there are no shared queues ("could not find queue"); ticks are for the root
/// context only. After each trap the instance is replaced and the next request is served.
#[test]
fn unsupported_calls_trap_and_the_next_request_is_served() {
    let up = Upstream::start();
    let model = Model::start(json!({"probe": "nyi", "target": "127.0.0.1:1"}), up.port, 1);
    for (path, logged) in [
        (
            "/get_log_level",
            "function not yet implemented): proxy_get_log_level",
        ),
        (
            "/close_stream",
            "function not yet implemented): proxy_close_stream",
        ),
        ("/grpc", "function not yet implemented): proxy_grpc_call"),
        ("/trailers", "unexpected status: 2"),
        ("/queue", "could not find queue"),
        ("/tick", "can only set tick_period in root context"),
    ] {
        let r = model.get(path, &[]);
        assert_eq!(r.status, 500, "{path}: {}", r.body);
        assert!(
            model.wait_log(logged, 1),
            "{path}: {logged} not in\n{}",
            model.log()
        );
        assert_eq!(model.get("/fine", &[]).json()["survived"], "/fine");
    }
    assert!(!model.log().contains("on_queue_ready fired"));
}
