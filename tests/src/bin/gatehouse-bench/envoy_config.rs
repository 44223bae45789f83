//! The benchmark's Envoy config: one listener per case, each answering with Envoy's own
//! `direct_response`, so the only work that differs between listeners is the filter.
//! Built as JSON (Envoy reads JSON as YAML) so no value can break the syntax.

use std::path::Path;

use serde_json::{json, Value};

/// What one listener runs in front of its direct response.
#[derive(Debug, Clone)]
pub enum Filtering {
    None,
    /// A proxy-wasm module with its JSON configuration.
    Wasm {
        vm_id: &'static str,
        path: String,
        config: String,
    },
    /// Envoy's native `envoy.filters.http.oauth2` (its config from `oauth2_listener`).
    OAuth2 {
        filter: Value,
    },
    /// Envoy's native `jwt_authn` with an inline JWKS; `cache` turns on its JWT cache.
    JwtAuthn {
        issuer: String,
        audience: String,
        jwks: String,
        cache: bool,
    },
}

#[derive(Debug, Clone)]
pub struct Listener {
    pub name: String,
    pub port: u16,
    pub filtering: Filtering,
}

/// The whole config: admin on `admin_port`, the listeners, and the `broker` cluster the
/// Gatehouse filter calls (discovery, JWKS), and the oauth2 filter's secrets.
pub fn render(admin_port: u16, broker_port: u16, listeners: &[Listener]) -> Value {
    json!({
        "admin": {"address": socket(admin_port)},
        "static_resources": {
            "listeners": listeners.iter().map(listener).collect::<Vec<_>>(),
            "clusters": [{
                "name": "broker",
                "type": "STATIC",
                "connect_timeout": "1s",
                "load_assignment": {
                    "cluster_name": "broker",
                    "endpoints": [{"lb_endpoints": [{"endpoint": {"address": socket(broker_port)}}]}]
                }
            }],
            "secrets": crate::oauth2_listener::secrets()
        }
    })
}

fn socket(port: u16) -> Value {
    json!({"socket_address": {"address": "127.0.0.1", "port_value": port}})
}

fn listener(l: &Listener) -> Value {
    let mut http_filters = match &l.filtering {
        Filtering::None => Vec::new(),
        Filtering::Wasm {
            vm_id,
            path,
            config,
        } => vec![wasm_filter(vm_id, path, config)],
        Filtering::JwtAuthn {
            issuer,
            audience,
            jwks,
            cache,
        } => vec![jwt_authn_filter(issuer, audience, jwks, *cache)],
        Filtering::OAuth2 { filter } => vec![filter.clone()],
    };
    http_filters.push(json!({
        "name": "envoy.filters.http.router",
        "typed_config": {"@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"}
    }));
    json!({
        "name": l.name,
        "address": socket(l.port),
        "filter_chains": [{"filters": [{
            "name": "envoy.filters.network.http_connection_manager",
            "typed_config": {
                "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
                "stat_prefix": l.name,
                // No access log: the benchmark measures the filter, not log writing.
                "route_config": {
                    "name": l.name,
                    "virtual_hosts": [{
                        "name": "direct",
                        "domains": ["*"],
                        "routes": [{
                            "match": {"prefix": "/"},
                            "direct_response": {"status": 200, "body": {"inline_string": "ok\n"}}
                        }]
                    }]
                },
                "http_filters": http_filters
            }
        }]}]
    })
}

fn wasm_filter(vm_id: &str, path: &str, config: &str) -> Value {
    json!({
        "name": "envoy.filters.http.wasm",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm",
            "config": {
                "name": vm_id,
                "root_id": vm_id,
                "fail_open": false,
                "configuration": {
                    "@type": "type.googleapis.com/google.protobuf.StringValue",
                    "value": config
                },
                "vm_config": {
                    "vm_id": vm_id,
                    "runtime": "envoy.wasm.runtime.v8",
                    "code": {"local": {"filename": path}}
                }
            }
        }
    })
}

fn jwt_authn_filter(issuer: &str, audience: &str, jwks: &str, cache: bool) -> Value {
    let mut provider = json!({
        "issuer": issuer,
        "audiences": [audience],
        "local_jwks": {"inline_string": jwks},
        "forward": true
    });
    if cache {
        provider["jwt_cache_config"] = json!({"jwt_cache_size": 1000});
    }
    json!({
        "name": "envoy.filters.http.jwt_authn",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication",
            "providers": {"broker": provider},
            "rules": [{"match": {"prefix": "/"}, "requires": {"provider_name": "broker"}}]
        }
    })
}

/// The `.wasm` path as a string for the config.
pub fn path_text(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}
