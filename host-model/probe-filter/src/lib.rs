//! One probe per host behaviour, picked by the config's `probe` key. Each answers with a local
//! response describing what it saw, or forwards, so the test can look at the upstream.

use std::time::Duration;

use proxy_wasm::hostcalls;
use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{Action, ContextType, LogLevel, Status};
use serde_json::{json, Value};

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Info);
    proxy_wasm::set_root_context(|_| -> Box<dyn RootContext> { Box::new(Root::default()) });
}}

#[derive(Default, Clone)]
struct Probe {
    mode: String,
    target: String,
}

#[derive(Default)]
struct Root {
    probe: Probe,
    in_flight: bool,
}

impl Context for Root {
    fn on_http_call_response(&mut self, _: u32, _: usize, _: usize, _: usize) {
        self.in_flight = false;
        let status = self.get_http_call_response_header(":status").unwrap_or_default();
        let _ = self.set_shared_data("probe/root_call", Some(status.as_bytes()), None);
        if self.probe.mode == "root_redispatch" {
            // What the real host cannot survive: dispatching from this callback.
            let _ = self.call(&self.probe.target.clone());
        }
    }
}

impl Root {
    fn call(&self, target: &str) -> Result<u32, Status> {
        self.dispatch_http_call(
            target,
            vec![(":method", "GET"), (":path", "/from-root"), (":authority", "probe")],
            None,
            vec![],
            Duration::from_secs(5),
        )
    }
}

impl RootContext for Root {
    fn on_configure(&mut self, _: usize) -> bool {
        let config: Value = self
            .get_plugin_configuration()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or(Value::Null);
        self.probe = Probe {
            mode: config["probe"].as_str().unwrap_or_default().to_string(),
            target: config["target"].as_str().unwrap_or_default().to_string(),
        };
        // Every instance counts itself in shared data (read, then write with that CAS).
        loop {
            let (value, cas) = self.get_shared_data("probe/instances");
            let n: u64 = value
                .and_then(|v| String::from_utf8(v).ok())
                .and_then(|s| s.parse().ok())
                .unwrap_or(0);
            let next = (n + 1).to_string();
            if self.set_shared_data("probe/instances", Some(next.as_bytes()), cas).is_ok() {
                break;
            }
        }
        match self.probe.mode.as_str() {
            "tick_twice" => {
                self.set_tick_period(Duration::from_millis(100));
                self.set_tick_period(Duration::from_millis(200));
            }
            "root_call" | "root_redispatch" => self.set_tick_period(Duration::from_millis(100)),
            _ => {}
        }
        true
    }

    fn on_tick(&mut self) {
        if !self.in_flight && self.call(&self.probe.target.clone()).is_ok() {
            self.in_flight = true;
        }
    }

    fn on_queue_ready(&mut self, _: u32) {
        log::error!("probe: on_queue_ready fired");
    }

    fn create_http_context(&self, _: u32) -> Option<Box<dyn HttpContext>> {
        Some(Box::new(Http {
            probe: self.probe.clone(),
        }))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}

struct Http {
    probe: Probe,
}

fn property(ctx: &dyn Context, path: &[&str]) -> Value {
    match ctx.get_property(path.to_vec()) {
        Some(bytes) => Value::String(String::from_utf8_lossy(&bytes).into_owned()),
        None => Value::Null,
    }
}

impl Http {
    fn reply(&self, body: Value) {
        self.send_http_response(
            200,
            vec![("content-type", "application/json")],
            Some(body.to_string().as_bytes()),
        );
    }

    fn kv(&self, path: &str) -> Value {
        // /kv/<key>            read
        // /kv/<key>/<v>/<cas>  write with that CAS ("none" for None)
        let parts: Vec<&str> = path.trim_start_matches("/kv/").split('/').collect();
        let key = format!("probe/{}", parts.first().copied().unwrap_or_default());
        if parts.len() == 3 {
            let cas = parts[2].parse::<u32>().ok();
            let result = self.set_shared_data(&key, Some(parts[1].as_bytes()), cas);
            json!({ "set": format!("{result:?}") })
        } else {
            let (value, cas) = self.get_shared_data(&key);
            json!({
                "value": value.map(|v| String::from_utf8_lossy(&v).into_owned()),
                "cas": cas,
            })
        }
    }
}

impl Context for Http {
    fn on_http_call_response(&mut self, _: u32, _: usize, body_size: usize, _: usize) {
        let headers = self.get_http_call_response_headers();
        let body = self.get_http_call_response_body(0, body_size).unwrap_or_default();
        match self.probe.mode.as_str() {
            // Neither resume nor respond: Kong goes on once the last call is answered.
            "call_no_resume" => {}
            _ => self.reply(json!({
                "headers": headers,
                "body": String::from_utf8_lossy(&body),
            })),
        }
    }
}

impl HttpContext for Http {
    fn on_http_request_headers(&mut self, _: usize, end_of_stream: bool) -> Action {
        let path = self.get_http_request_header(":path").unwrap_or_default();
        match self.probe.mode.as_str() {
            "echo" => {
                self.reply(json!({
                    "headers": self.get_http_request_headers(),
                    "end_of_stream": end_of_stream,
                    "request.path": property(self, &["request", "path"]),
                    "request.host": property(self, &["request", "host"]),
                    "request.method": property(self, &["request", "method"]),
                    "request.url_path": property(self, &["request", "url_path"]),
                    "ngx.request_uri": property(self, &["ngx", "request_uri"]),
                    "ngx.server_name": property(self, &["ngx", "server_name"]),
                    "no.such": property(self, &["no", "such"]),
                }));
                Action::Pause
            }
            "edit" => {
                self.set_http_request_header("x-remove-me", None);
                self.set_http_request_header("x-replace-me", Some("by-filter"));
                let seen = self.get_http_request_header("x-remove-me");
                self.add_http_request_header("x-seen-after-remove", &format!("{seen:?}"));
                Action::Continue
            }
            "set_map" => {
                self.set_http_request_headers(vec![("x-only", "1")]);
                Action::Continue
            }
            "two_cookies" => {
                self.send_http_response(
                    302,
                    vec![
                        ("location", "/next"),
                        ("set-cookie", "first=1"),
                        ("set-cookie", "second=2"),
                    ],
                    Some(b"moved"),
                );
                Action::Pause
            }
            "forward_cookies" => Action::Continue,
            "kv" => {
                let answer = self.kv(&path);
                self.reply(answer);
                Action::Pause
            }
            "call" | "call_no_resume" => {
                match self.dispatch_http_call(
                    &self.probe.target,
                    vec![(":method", "GET"), (":path", "/called"), (":authority", "probe")],
                    None,
                    vec![],
                    Duration::from_secs(5),
                ) {
                    Ok(_) => Action::Pause,
                    Err(e) => {
                        self.reply(json!({ "dispatch_error": format!("{e:?}") }));
                        Action::Pause
                    }
                }
            }
            "call_without_method" => {
                let _ = self.dispatch_http_call(
                    &self.probe.target,
                    vec![(":path", "/x")],
                    None,
                    vec![],
                    Duration::from_secs(5),
                );
                Action::Pause
            }
            "nyi" => {
                match path.as_str() {
                    "/get_log_level" => {
                        let _ = hostcalls::get_log_level();
                    }
                    "/close_stream" => self.reset_http_request(),
                    "/trailers" => {
                        let _ = self.get_http_request_trailers();
                    }
                    "/grpc" => {
                        let _ = self.dispatch_grpc_call(
                            &self.probe.target,
                            "svc",
                            "m",
                            vec![],
                            None,
                            Duration::from_secs(1),
                        );
                    }
                    "/queue" => {
                        let _ = self.register_shared_queue("q");
                    }
                    "/tick" => {
                        let _ = hostcalls::set_tick_period(Duration::from_secs(1));
                    }
                    _ => {}
                }
                self.reply(json!({ "survived": path }));
                Action::Pause
            }
            "root_call" | "root_redispatch" => {
                let (value, _) = self.get_shared_data("probe/root_call");
                let (instances, _) = self.get_shared_data("probe/instances");
                self.reply(json!({
                    "root_call": value.map(|v| String::from_utf8_lossy(&v).into_owned()),
                    "instances": instances.map(|v| String::from_utf8_lossy(&v).into_owned()),
                }));
                Action::Pause
            }
            "panic" => panic!("probe: asked to panic"),
            _ => Action::Continue,
        }
    }

    fn on_http_response_headers(&mut self, _: usize, _: bool) -> Action {
        if self.probe.mode == "forward_cookies" {
            self.add_http_response_header("set-cookie", "first=1");
            self.add_http_response_header("set-cookie", "second=2");
        }
        Action::Continue
    }
}
