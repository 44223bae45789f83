//! The end-to-end harness: runs the REAL pieces (the built broker binary, Envoy from the
//! venv with the built filter .wasm, an in-process upstream) on loopback ports chosen at
//! run time, and drives them like a browser. Used by `tests/tests/*.rs` and by the demo.

pub mod broker;
pub mod broker_token;
pub mod broker_yaml;
pub mod browser;
pub mod chooser;
pub mod cookie_jar;
pub mod crowd_user;
pub mod echo;
pub mod envoy;
pub mod envoy_restart;
pub mod fake_entra;
pub mod filter_counters;
pub mod grant_client;
pub mod header_pairs;
pub mod host_model;
pub mod html_form;
pub mod k8s_check;
pub mod keys_loaded;
pub mod keys_ready;
pub mod login_form;
pub mod logs;
pub mod mariadb_server;
pub mod mysql;
pub mod oci_archive;
pub mod oidc_client;
pub mod oidc_peer;
pub mod paths;
pub mod ports;
pub mod postgres;
pub mod process;
pub mod raw_http;
pub mod ready;
pub mod replicas;
pub mod saml_idp;
pub mod secrets;
pub mod session_parts;
pub mod silent_listener;
pub mod slapd;
pub mod stack;
pub mod stdin_run;
pub mod test_ca;

pub use broker::{Broker, BrokerConfig, TestUser, ADMIN, BOB};
pub use browser::{Browser, Page, Wire};
pub use cookie_jar::CookieJar;
pub use echo::{Echo, RecordedRequest};
pub use envoy::{Envoy, EnvoyPorts};
pub use host_model::{HostModel, HostModelPorts};
pub use html_form::HtmlForm;
pub use login_form::LoginForm;
pub use logs::LogDir;
pub use process::Process;
pub use ready::wait_http_ready;
pub use saml_idp::{SamlIdp, SamlUser};
pub use stack::{Gateway, Stack, StackOptions, StackPorts};
