//! Turns the raw file into a [`Config`], refusing anything inconsistent with a message naming the key.

use std::time::Duration;

use super::error::ConfigError;
use super::raw::*;
use super::*;

type Env<'a> = &'a dyn Fn(&str) -> Option<String>;

pub fn validate(raw: RawConfig, env: Env) -> Result<Config, ConfigError> {
    let issuer = issuer(raw.issuer)?;
    let storage = super::storage::storage(raw.storage)?;
    let client_remote_ip = super::client_remote_ip::client_remote_ip(
        raw.web.as_ref().and_then(|w| w.client_remote_ip.clone()),
    )?;
    let web = super::web::web(raw.web)?;
    let telemetry_addr = telemetry_addr(raw.telemetry, &web)?;
    let signing_keys_given = raw
        .expiry
        .as_ref()
        .is_some_and(|e| e.signing_keys.is_some());
    let mut expiry = expiry(raw.expiry)?;
    let signer = super::signer::signer(raw.signer)?;
    let mut warnings = Vec::new();
    if let Some(rotation) = signer.rotation {
        if signing_keys_given {
            warnings.push(
                "both expiry.signingKeys and signer.config.keysRotationPeriod are set: using signer.config.keysRotationPeriod".to_string(),
            );
        }
        expiry.signing_keys = rotation;
    }
    let logger = logger(raw.logger)?;
    let enable_password_db = raw.enable_password_db.unwrap_or(false);
    let connectors =
        super::connectors::connectors(raw.connectors.unwrap_or_default(), enable_password_db)?;
    let oauth2 = oauth2(raw.oauth2, enable_password_db, &mut warnings)?;
    // The API's certificate files are read here, so `check-config` names a missing one.
    let grpc = super::grpc::grpc(raw.grpc, &|path| std::fs::read_to_string(path))?;
    let clients = super::clients::clients(raw.static_clients.unwrap_or_default(), env)?;
    let static_passwords = super::static_passwords::static_passwords(
        raw.static_passwords.unwrap_or_default(),
        env,
        &mut warnings,
    )?;
    let frontend = super::frontend::frontend(raw.frontend, &mut warnings)?;
    if !static_passwords.is_empty() && !enable_password_db {
        return Err(ConfigError::key(
            "staticPasswords",
            "given, but enablePasswordDB is not true: set enablePasswordDB: true to let these users sign in",
        ));
    }
    Ok(Config {
        issuer,
        storage,
        web,
        client_remote_ip,
        expiry,
        signing_algorithm: signer.algorithm,
        logger,
        oauth2,
        clients,
        enable_password_db,
        static_passwords,
        telemetry_addr,
        connectors,
        grpc,
        frontend,
        warnings,
    })
}

fn issuer(raw: Option<String>) -> Result<Issuer, ConfigError> {
    let text = raw.filter(|s| !s.trim().is_empty()).ok_or_else(|| {
        ConfigError::key(
            "issuer",
            "missing: set it to this broker's public URL, e.g. http://127.0.0.1:5556/dex",
        )
    })?;
    let url = url::Url::parse(&text).map_err(|e| {
        ConfigError::key("issuer", format!("{text:?} is not an absolute URL ({e})"))
    })?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(ConfigError::key(
            "issuer",
            format!("{text:?} must be an http(s) URL with a host"),
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(ConfigError::key(
            "issuer",
            "must not contain a query or fragment",
        ));
    }
    let path = url.path().trim_end_matches('/').to_string();
    Ok(Issuer { url: text, path })
}

/// `telemetry.http`: optional; when given, a second listener for `/metrics` and `/healthz`.
fn telemetry_addr(raw: Option<RawTelemetry>, web: &Web) -> Result<Option<String>, ConfigError> {
    profiling(raw.as_ref().and_then(|t| t.enable_profiling.as_ref()))?;
    let Some(text) = raw.and_then(|t| t.http).filter(|s| !s.trim().is_empty()) else {
        return Ok(None);
    };
    let addr = super::listen_addr::listen_addr("telemetry.http", text)?;
    if Some(&addr) == web.http.as_ref() || Some(&addr) == web.https.as_ref().map(|h| &h.addr) {
        return Err(ConfigError::key(
            "telemetry.http",
            "must differ from web.http and web.https (metrics get their own listener)",
        ));
    }
    Ok(Some(addr))
}

/// `telemetry.enableProfiling`: `false` (Dex's default) asks for nothing and is accepted.
/// `true` is refused: Dex serves Go's pprof (`/debug/pprof/…`: CPU and heap profiles of a Go
/// runtime, read by `go tool pprof`), which has no counterpart in a Rust binary; a sampling
/// profiler inside the broker would be new attack surface on the metrics listener, and `perf`
/// on the host profiles it without one.
fn profiling(raw: Option<&BoolOrString>) -> Result<(), ConfigError> {
    let on = match raw {
        None | Some(BoolOrString::Bool(false)) => false,
        Some(BoolOrString::Bool(true)) => true,
        Some(BoolOrString::Text(t)) => match t.trim().to_ascii_lowercase().as_str() {
            "false" | "" => false,
            "true" => true,
            other => {
                return Err(ConfigError::key(
                    "telemetry.enableProfiling",
                    format!("{other:?} is not true or false"),
                ))
            }
        },
    };
    if on {
        return Err(ConfigError::key(
            "telemetry.enableProfiling",
            "true is not supported: Dex's Go pprof endpoints (/debug/pprof) have no counterpart              in this broker; remove it or set false, and profile the process with perf instead",
        ));
    }
    Ok(())
}

fn duration(path: &str, raw: Option<String>, default: Duration) -> Result<Duration, ConfigError> {
    match raw {
        None => Ok(default),
        Some(text) => {
            let d = parse_go_duration(&text).map_err(|e| ConfigError::key(path, e))?;
            if d.is_zero() {
                return Err(ConfigError::key(path, "must be longer than zero"));
            }
            Ok(d)
        }
    }
}

fn optional_duration(path: &str, raw: Option<String>) -> Result<Option<Duration>, ConfigError> {
    raw.map(|t| duration(path, Some(t), Duration::ZERO))
        .transpose()
}

fn expiry(raw: Option<RawExpiry>) -> Result<Expiry, ConfigError> {
    let raw = raw.unwrap_or(RawExpiry {
        id_tokens: None,
        auth_requests: None,
        signing_keys: None,
        device_requests: None,
        refresh_tokens: None,
    });
    let refresh = match raw.refresh_tokens {
        None => RefreshExpiry::default(),
        Some(r) => {
            let reuse_interval = match r.reuse_interval {
                None => DEFAULT_REUSE_INTERVAL,
                Some(text) => parse_go_duration(&text)
                    .map_err(|e| ConfigError::key("expiry.refreshTokens.reuseInterval", e))?,
            };
            RefreshExpiry {
                reuse_interval,
                valid_if_not_used_for: optional_duration(
                    "expiry.refreshTokens.validIfNotUsedFor",
                    r.valid_if_not_used_for,
                )?,
                absolute_lifetime: optional_duration(
                    "expiry.refreshTokens.absoluteLifetime",
                    r.absolute_lifetime,
                )?,
                disable_rotation: r.disable_rotation.unwrap_or(false),
            }
        }
    };
    Ok(Expiry {
        id_tokens: duration(
            "expiry.idTokens",
            raw.id_tokens,
            Duration::from_secs(24 * 3600),
        )?,
        auth_requests: duration(
            "expiry.authRequests",
            raw.auth_requests,
            Duration::from_secs(24 * 3600),
        )?,
        signing_keys: duration(
            "expiry.signingKeys",
            raw.signing_keys,
            Duration::from_secs(6 * 3600),
        )?,
        device_requests: duration(
            "expiry.deviceRequests",
            raw.device_requests,
            Duration::from_secs(5 * 60),
        )?,
        refresh_tokens: refresh,
    })
}

fn logger(raw: Option<RawLogger>) -> Result<Logger, ConfigError> {
    let (level, format) = raw.map(|l| (l.level, l.format)).unwrap_or((None, None));
    let level = match level.as_deref().map(str::to_ascii_lowercase).as_deref() {
        None | Some("info") => tracing::Level::INFO,
        Some("debug") => tracing::Level::DEBUG,
        Some("warn") | Some("warning") => tracing::Level::WARN,
        Some("error") => tracing::Level::ERROR,
        Some(other) => {
            return Err(ConfigError::key(
                "logger.level",
                format!("{other:?} is not one of debug, info, warn, error"),
            ))
        }
    };
    let format = match format.as_deref() {
        None | Some("text") => LogFormat::Text,
        Some("json") => LogFormat::Json,
        Some(other) => {
            return Err(ConfigError::key(
                "logger.format",
                format!("{other:?} is not text or json"),
            ))
        }
    };
    Ok(Logger { level, format })
}

fn oauth2(
    raw: Option<RawOAuth2>,
    enable_password_db: bool,
    warnings: &mut Vec<String>,
) -> Result<OAuth2, ConfigError> {
    let Some(raw) = raw else {
        return Ok(OAuth2 {
            skip_approval_screen: false,
            always_show_login_screen: false,
            password_connector: None,
            pkce_enforce: false,
            pkce_methods: vec![PkceMethod::S256],
            grant_types: super::grant_types::grant_types(None, false, warnings)?,
        });
    };
    for (i, t) in raw.response_types.iter().flatten().enumerate() {
        match t.as_str() {
            "code" => {}
            // Dex's Helm chart and many Dex configs list these: accepted so the file loads,
            // but only the authorization-code flow is served.
            "token" | "id_token" => warnings.push(format!(
                "oauth2.responseTypes[{i}]: {t:?} is not served; only the code flow \
                 (response_type=code) is"
            )),
            _ => {
                return Err(ConfigError::key(
                    format!("oauth2.responseTypes[{i}]"),
                    format!("{t:?} is not supported; only \"code\" (\"token\" and \"id_token\" are accepted and ignored)"),
                ))
            }
        }
    }
    if let Some(pc) = &raw.password_connector {
        if pc != LOCAL_CONNECTOR_ID || !enable_password_db {
            return Err(ConfigError::key(
                "oauth2.passwordConnector",
                format!("{pc:?} is not a password connector here; only \"local\" (with enablePasswordDB: true)"),
            ));
        }
    }
    let (enforce, methods) = match raw.pkce {
        None => (false, None),
        Some(p) => (
            p.enforce.unwrap_or(false),
            p.code_challenge_methods_supported,
        ),
    };
    let pkce_methods = match methods {
        None => vec![PkceMethod::S256],
        Some(list) => {
            let mut out = Vec::new();
            for (i, m) in list.iter().enumerate() {
                let method = PkceMethod::parse(m).ok_or_else(|| {
                    ConfigError::key(
                        format!("oauth2.pkce.codeChallengeMethodsSupported[{i}]"),
                        format!("{m:?} is not S256 or plain"),
                    )
                })?;
                if !out.contains(&method) {
                    out.push(method);
                }
            }
            if out.is_empty() {
                return Err(ConfigError::key(
                    "oauth2.pkce.codeChallengeMethodsSupported",
                    "must not be empty",
                ));
            }
            out
        }
    };
    let grant_types = super::grant_types::grant_types(
        raw.grant_types,
        raw.password_connector.is_some(),
        warnings,
    )?;
    Ok(OAuth2 {
        grant_types,
        skip_approval_screen: raw.skip_approval_screen.unwrap_or(false),
        always_show_login_screen: raw.always_show_login_screen.unwrap_or(false),
        password_connector: raw.password_connector,
        pkce_enforce: enforce,
        pkce_methods,
    })
}
