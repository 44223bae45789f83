//! Prometheus metrics of the broker, served on the telemetry listener (`telemetry.http`).
//!
//! Label values come only from bounded sets (route templates, configured connector ids, known
//! grant types), never from raw request input, so a client cannot blow up the series count.

mod in_flight;
mod sessions;

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

pub use in_flight::InFlight;
pub use sessions::SessionMetrics;

/// OpenMetrics text, what `render` produces.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HttpLabels {
    /// The matched route template (`/dex/auth/{connector}`), or `unmatched`.
    route: String,
    method: String,
    status: u16,
}

#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, EncodeLabelValue)]
#[allow(non_camel_case_types)]
enum LoginResult {
    succeeded,
    failed,
    /// Refused by login throttling before any password check.
    throttled,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LoginLabels {
    connector: String,
    result: LoginResult,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct GrantLabels {
    grant_type: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SignOutLabels {
    redirected: bool,
}

pub struct Metrics {
    registry: Registry,
    http_requests: Family<HttpLabels, Counter>,
    logins: Family<LoginLabels, Counter>,
    tokens_issued: Family<GrantLabels, Counter>,
    refresh_token_reuse: Counter,
    sign_outs: Family<SignOutLabels, Counter>,
    bcrypt_in_flight: Gauge,
    /// Sessions ended and the revocation feed (issue 17).
    pub sessions: SessionMetrics,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("gatehouse");
        let http_requests = Family::<HttpLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests on the provider listener, by route template, method and status",
            http_requests.clone(),
        );
        let logins = Family::<LoginLabels, Counter>::default();
        registry.register(
            "logins",
            "Sign-in attempts by connector and result (succeeded, failed, throttled)",
            logins.clone(),
        );
        let tokens_issued = Family::<GrantLabels, Counter>::default();
        registry.register(
            "tokens_issued",
            "Token responses issued by the token endpoint, by grant type",
            tokens_issued.clone(),
        );
        let refresh_token_reuse = Counter::default();
        registry.register(
            "refresh_token_reuse",
            "Rotated refresh tokens presented again (their family is revoked)",
            refresh_token_reuse.clone(),
        );
        let sign_outs = Family::<SignOutLabels, Counter>::default();
        registry.register(
            "sign_outs",
            "Completed sign-outs at the end-session endpoint, by whether the browser was sent back",
            sign_outs.clone(),
        );
        let bcrypt_in_flight = Gauge::default();
        registry.register(
            "bcrypt_checks_in_flight",
            "Password hash checks running now",
            bcrypt_in_flight.clone(),
        );
        let sessions = SessionMetrics::register(&mut registry);
        Metrics {
            sessions,
            registry,
            http_requests,
            logins,
            tokens_issued,
            refresh_token_reuse,
            sign_outs,
            bcrypt_in_flight,
        }
    }

    pub fn http_request(&self, route: &str, method: &str, status: u16) {
        self.http_requests
            .get_or_create(&HttpLabels {
                route: route.to_string(),
                method: method.to_string(),
                status,
            })
            .inc();
    }

    /// `connector` must be a configured connector's id.
    pub fn login(&self, connector: &str, succeeded: bool) {
        let result = if succeeded {
            LoginResult::succeeded
        } else {
            LoginResult::failed
        };
        self.logins
            .get_or_create(&LoginLabels {
                connector: connector.to_string(),
                result,
            })
            .inc();
    }

    /// `grant_type` must be one the token endpoint supports.
    /// A sign-in refused by throttling (no password was checked).
    pub fn login_throttled(&self, connector: &str) {
        self.logins
            .get_or_create(&LoginLabels {
                connector: connector.to_string(),
                result: LoginResult::throttled,
            })
            .inc();
    }

    pub fn token_issued(&self, grant_type: &str) {
        self.tokens_issued
            .get_or_create(&GrantLabels {
                grant_type: grant_type.to_string(),
            })
            .inc();
    }

    pub fn refresh_token_reused(&self) {
        self.refresh_token_reuse.inc();
    }

    pub fn sign_out(&self, redirected: bool) {
        self.sign_outs
            .get_or_create(&SignOutLabels { redirected })
            .inc();
    }

    /// The gauge password connectors raise while a bcrypt check runs.
    pub fn bcrypt_in_flight(&self) -> Gauge {
        self.bcrypt_in_flight.clone()
    }

    /// Every metric in the OpenMetrics text format.
    pub fn render(&self) -> Result<String, std::fmt::Error> {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_with_labels() {
        let m = Metrics::new();
        m.http_request("/dex/token", "POST", 200);
        m.login("local", true);
        m.login("local", false);
        m.login("local", false);
        m.token_issued("authorization_code");
        m.refresh_token_reused();
        {
            let _busy = InFlight::enter(&m.bcrypt_in_flight());
            let text = m.render().unwrap();
            assert!(
                text.contains("gatehouse_bcrypt_checks_in_flight 1"),
                "{text}"
            );
        }
        let text = m.render().unwrap();
        for line in [
            r#"gatehouse_http_requests_total{route="/dex/token",method="POST",status="200"} 1"#,
            r#"gatehouse_logins_total{connector="local",result="succeeded"} 1"#,
            r#"gatehouse_logins_total{connector="local",result="failed"} 2"#,
            r#"gatehouse_tokens_issued_total{grant_type="authorization_code"} 1"#,
            "gatehouse_refresh_token_reuse_total 1",
            "gatehouse_bcrypt_checks_in_flight 0",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} not in:\n{text}");
        }
        assert!(text.ends_with("# EOF\n"));
    }
}
