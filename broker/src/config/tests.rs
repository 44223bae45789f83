//! Config loading, key by key: what Dex accepts loads, each refusal names its key.
//! Long on purpose: one small test per rule reads better than a table of them split up.

use super::*;

const SEED_HASH_B64: &str =
    "JDJhJDEyJEwycXBiTjRjNThHTHd1YXo4Wnhoa2UvSzF1cHMvWnVyRnhvNU9iRnAxQWhILmllNGdUNXZD";

fn base() -> String {
    format!(
        r#"
issuer: http://127.0.0.1:5556/dex
storage:
  type: sqlite3
  config:
    file: /tmp/x.db
web:
  http: 127.0.0.1:5556
enablePasswordDB: true
staticClients:
- id: gatehouse
  secret: gatehouse-secret
  name: Gatehouse
  redirectURIs: ["http://127.0.0.1:8080/oauth2/callback"]
staticPasswords:
- email: admin@example.com
  hash: "{SEED_HASH_B64}"
  username: admin
  userID: "08a8684b-db88-4b73-90a9-3cd1661f5466"
  groups: ["admins", "developers"]
"#
    )
}

fn err(yaml: &str) -> String {
    Config::from_yaml(yaml).unwrap_err().to_string()
}

#[test]
fn loads_a_complete_config() {
    let c = Config::from_yaml(&base()).unwrap();
    assert_eq!(c.issuer.url, "http://127.0.0.1:5556/dex");
    assert_eq!(c.issuer.path, "/dex");
    assert_eq!(
        c.issuer.endpoint("/token"),
        "http://127.0.0.1:5556/dex/token"
    );
    assert_eq!(
        c.storage,
        StorageConfig::Sqlite {
            file: "/tmp/x.db".into()
        }
    );
    assert_eq!(c.web.http.as_deref(), Some("127.0.0.1:5556"));
    assert_eq!(c.expiry.id_tokens, Duration::from_secs(86400));
    assert_eq!(c.expiry.auth_requests, Duration::from_secs(86400));
    assert_eq!(c.oauth2.pkce_methods, vec![PkceMethod::S256]);
    assert!(!c.oauth2.skip_approval_screen);
    let client = c.client("gatehouse").unwrap();
    assert!(client.secret.as_ref().unwrap().matches("gatehouse-secret"));
    assert!(!client.public);
    assert_eq!(c.static_passwords[0].groups, vec!["admins", "developers"]);
    assert_eq!(c.static_passwords[0].hash.cost(), 12);
}

/// The second seed's settings (Dex helm values, flattened into a Dex config), minus postgres.
#[test]
fn loads_second_seed_settings() {
    let yaml = format!(
        r#"
issuer: http://localhost/dex
storage:
  type: memory
web:
  http: 0.0.0.0:5556
enablePasswordDb: true
oauth2:
  passwordConnector: local
  responseTypes: ["code"]
staticPasswords:
- email: "admin-dex@example.com"
  hash: "{SEED_HASH_B64}"
  username: "admin"
  userID: "1"
staticClients:
- id: backend-client
  public: false
  secret: "backend-secret-change-in-production"
  name: "Backend Auth Service"
  redirectURIs:
  - "http://localhost:8000/api/auth/callback"
"#
    );
    let c = Config::from_yaml(&yaml).unwrap();
    assert!(c.enable_password_db);
    assert_eq!(c.oauth2.password_connector.as_deref(), Some("local"));
    assert_eq!(c.storage, StorageConfig::Memory);
    let user = &c.static_passwords[0];
    assert!(bcrypt::verify("password", user.hash.as_str()).unwrap());
    assert_eq!(
        c.client("backend-client").unwrap().name,
        "Backend Auth Service"
    );
}

/// The second seed's storage block (Dex helm chart values), password from the environment.
const SEED_POSTGRES: &str = "storage:
  type: postgres
  config:
    host: postgres.postgres.svc.cluster.local
    port: 5432
    database: ps_db
    user: dex
    password: $PASSWORD_ENV_VAR
    ssl:
      mode: disable
";

fn with_storage(storage: &str) -> String {
    base().replace(
        "storage:\n  type: sqlite3\n  config:\n    file: /tmp/x.db\n",
        storage,
    )
}

fn seed_env(name: &str) -> Option<String> {
    (name == "PASSWORD_ENV_VAR").then(|| "p@ss:w/rd".to_string())
}

fn pg(yaml: &str) -> Result<PostgresConfig, String> {
    match Config::from_yaml_with_env(yaml, &seed_env) {
        Ok(c) => match c.storage {
            StorageConfig::Postgres(p) => Ok(p),
            other => panic!("{other:?}"),
        },
        Err(e) => Err(e.to_string()),
    }
}

#[test]
fn seed_postgres_storage_loads_with_the_password_from_the_environment() {
    let p = pg(&with_storage(SEED_POSTGRES)).unwrap();
    assert_eq!(
        p.url.expose(),
        "postgres://dex:p%40ss%3Aw%2Frd@postgres.postgres.svc.cluster.local:5432/ps_db?sslmode=disable"
    );
    assert_eq!(p.display, "postgres.postgres.svc.cluster.local:5432/ps_db");
    assert!(!format!("{p:?}").contains("p@ss"), "password in Debug");
    assert_eq!(p.connection_timeout, storage::DEFAULT_CONNECTION_TIMEOUT);
    assert_eq!(p.max_open_conns, storage::DEFAULT_MAX_OPEN_CONNS);
    // Unset variables are refused by name rather than becoming an empty password.
    let e = Config::from_yaml_with_env(&with_storage(SEED_POSTGRES), &|_| None)
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("storage.config.password") && e.contains("PASSWORD_ENV_VAR"),
        "{e}"
    );
}

#[test]
fn postgres_pool_keys_host_forms_and_url() {
    let yaml = with_storage(
        "storage:\n  type: postgres\n  config:\n    host: ${DBHOST}:6543\n    user: u\n    ssl: {mode: disable}\n    connectionTimeout: 2\n    maxOpenConns: \"7\"\n    maxIdleConns: 0\n    connMaxLifetime: 60\n",
    );
    let env = |n: &str| (n == "DBHOST").then(|| "10.0.0.9".to_string());
    let c = Config::from_yaml_with_env(&yaml, &env).unwrap();
    let StorageConfig::Postgres(p) = c.storage else {
        panic!()
    };
    assert_eq!(
        p.url.expose(),
        "postgres://u@10.0.0.9:6543/u?sslmode=disable"
    );
    assert_eq!(p.connection_timeout, Duration::from_secs(2));
    assert_eq!(p.max_open_conns, 7);
    assert_eq!(p.max_idle_conns, Some(0));
    assert_eq!(p.conn_max_lifetime, Some(Duration::from_secs(60)));
    let socket = with_storage(
        "storage:\n  type: postgres\n  config:\n    host: /run/postgresql\n    user: u\n    database: d\n    ssl: {mode: disable}\n",
    );
    assert_eq!(
        pg(&socket).unwrap().url.expose(),
        "postgres://u@localhost:5432/d?sslmode=disable&host=%2Frun%2Fpostgresql"
    );
    let url = with_storage(
        "storage:\n  type: postgres\n  config:\n    url: postgres://a:pw@db/x\n    maxOpenConns: 3\n",
    );
    let p = pg(&url).unwrap();
    // libpq's default when the URL names no sslmode.
    assert_eq!(p.url.expose(), "postgres://a:pw@db/x?sslmode=prefer");
    assert_eq!(p.max_open_conns, 3);
    assert!(p.tls.warning().is_some());
}

#[test]
fn postgres_tls_is_dex_s_default_and_reaches_the_url() {
    // No ssl block: Dex's default, verify-full, against the system's CAs.
    let p = pg(&with_storage(
        "storage:\n  type: postgres\n  config:\n    host: db.example\n    user: u\n",
    ))
    .unwrap();
    assert_eq!(
        p.url.expose(),
        "postgres://u@db.example:5432/u?sslmode=verify-full"
    );
    assert!(p.tls.warning().is_none());
    let dir = tempfile::tempdir().unwrap();
    let ca = gatehouse_e2e::test_ca::TestCa::create(dir.path(), "ca").unwrap();
    let client = ca.client("client", "u").unwrap();
    let yaml = format!(
        "storage:\n  type: postgres\n  config:\n    host: db.example\n    user: u\n    password: pw\n    ssl:\n      mode: require\n      caFile: {}\n      certFile: {}\n      keyFile: {}\n",
        ca.pem().display(),
        client.cert.display(),
        client.key.display()
    );
    let p = pg(&with_storage(&yaml)).unwrap();
    let url = url::Url::parse(p.url.expose()).unwrap();
    let query: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    let pem = |path: &std::path::Path| path.display().to_string();
    assert_eq!(
        query,
        vec![
            // require with a caFile checks the chain (libpq's rule), so sqlx is told verify-ca.
            ("sslmode".into(), "verify-ca".into()),
            ("sslrootcert".into(), pem(&ca.pem())),
            ("sslcert".into(), pem(&client.cert)),
            ("sslkey".into(), pem(&client.key)),
        ]
    );
    assert_eq!(p.tls.mode, "ssl.mode require");
    // The same through a URL, with another parameter kept.
    let yaml = format!(
        "storage:\n  type: postgres\n  config:\n    url: \"postgres://u@db/x?application_name=gh&sslmode=require&sslrootcert={}\"\n",
        ca.pem().display()
    );
    let p = pg(&with_storage(&yaml)).unwrap();
    assert_eq!(
        p.url.expose(),
        format!(
            "postgres://u@db/x?application_name=gh&sslmode=verify-ca&sslrootcert={}",
            form_urlencoded::byte_serialize(pem(&ca.pem()).as_bytes()).collect::<String>()
        )
    );
}

#[test]
fn postgres_mistakes_are_named() {
    let cases = [
        (
            "    host: h\n    user: u\n    ssl: {mode: prefer}\n",
            "storage.config.ssl.mode",
        ),
        (
            "    host: /run/postgresql\n    user: u\n",
            "storage.config.ssl.mode",
        ),
        (
            "    host: h\n    user: u\n    ssl: {mode: verify-ca, caFile: /no/such/ca.pem}\n",
            "storage.config.ssl.caFile: cannot read",
        ),
        (
            "    url: postgres://h/x?sslmode=verify-full&sslcert=/c.pem\n",
            "storage.config.url: sslkey: missing",
        ),
        (
            "    host: h\n    user: u\n    ssl: {mode: disable, caFile: /ca.pem}\n",
            "storage.config.ssl.caFile",
        ),
        (
            "    host: h\n    ssl: {mode: disable}\n",
            "storage.config.user",
        ),
        (
            "    host: h\n    user: u\n    ssl: {mode: disable}\n    port: seventy\n",
            "storage.config.port",
        ),
        (
            "    host: h\n    user: u\n    ssl: {mode: disable}\n    file: /x.db\n",
            "storage.config.file",
        ),
        ("    url: mysql://h/x\n", "storage.config.url"),
        (
            "    url: postgres://h/x\n    host: h\n",
            "storage.config.host",
        ),
        (
            "    host: h\n    user: u\n    ssl: {mode: disable}\n    maxOpenConn: 3\n",
            "unknown key \"storage.config.maxOpenConn\"",
        ),
    ];
    for (config, expected) in cases {
        let yaml = with_storage(&format!("storage:\n  type: postgres\n  config:\n{config}"));
        let e = pg(&yaml).unwrap_err();
        assert!(e.starts_with(expected), "{config}: {e}");
    }
    let sqlite_with_pg_key = base().replace(
        "    file: /tmp/x.db\n",
        "    file: /tmp/x.db\n    host: h\n",
    );
    assert!(err(&sqlite_with_pg_key).starts_with("storage.config.host"));
}

#[test]
fn keys_are_case_insensitive() {
    let yaml = base()
        .replace("enablePasswordDB", "ENABLEPASSWORDDB")
        .replace("redirectURIs", "redirecturis")
        .replace("userID", "userId");
    let c = Config::from_yaml(&yaml).unwrap();
    assert_eq!(c.clients[0].redirect_uris.len(), 1);
    assert_eq!(
        c.static_passwords[0].user_id,
        "08a8684b-db88-4b73-90a9-3cd1661f5466"
    );
}

#[test]
fn unknown_key_is_named_with_suggestion() {
    let yaml = base().replace("redirectURIs", "redirectURLs");
    assert_eq!(
        err(&yaml),
        "unknown key \"staticClients[0].redirectURLs\": did you mean \"redirectURIs\"?"
    );
}

#[test]
fn wrong_value_type_names_the_key() {
    let yaml = base().replace("enablePasswordDB: true", "enablePasswordDB: [1]");
    assert!(err(&yaml).starts_with("enablePasswordDB"), "{}", err(&yaml));
    let yaml = base().replace("  name: Gatehouse", "  public: maybe");
    assert!(
        err(&yaml).contains("staticClients[0].public"),
        "{}",
        err(&yaml)
    );
}

#[test]
fn issuer_must_be_absolute_http_url() {
    for bad in ["/dex", "ftp://x/dex", "http://x/dex?a=b", "not a url"] {
        let yaml = base().replace("http://127.0.0.1:5556/dex", bad);
        assert!(err(&yaml).starts_with("issuer:"), "{bad}: {}", err(&yaml));
    }
    let yaml = base().replace("issuer: http://127.0.0.1:5556/dex\n", "");
    assert!(err(&yaml).starts_with("issuer: missing"));
}

#[test]
fn root_issuer_has_empty_path() {
    let yaml = base().replace("http://127.0.0.1:5556/dex", "https://sso.example.com/");
    let c = Config::from_yaml(&yaml).unwrap();
    assert_eq!(c.issuer.path, "");
    assert_eq!(c.issuer.endpoint("/keys"), "https://sso.example.com/keys");
}

#[test]
fn clients_need_ids_redirects_and_secrets() {
    let yaml = base().replace("- id: gatehouse\n", "- name2: x\n");
    assert!(err(&yaml).contains("staticClients[0].name2"));
    let yaml = base().replace("  secret: gatehouse-secret\n", "");
    assert!(
        err(&yaml).starts_with("staticClients[0].secret: missing"),
        "{}",
        err(&yaml)
    );
    let yaml = base().replace(
        "  redirectURIs: [\"http://127.0.0.1:8080/oauth2/callback\"]\n",
        "",
    );
    assert!(err(&yaml).starts_with("staticClients[0].redirectURIs: missing"));
    let yaml = base().replace("http://127.0.0.1:8080/oauth2/callback", "/relative");
    assert!(err(&yaml).starts_with("staticClients[0].redirectURIs[0]"));
    let yaml = base().replace(
        "  secret: gatehouse-secret\n",
        "  secret: s\n  public: true\n",
    );
    assert!(err(&yaml).contains("public clients have no secret"));
}

#[test]
fn public_client_without_secret_is_fine() {
    let yaml = base().replace("  secret: gatehouse-secret\n", "  public: true\n");
    let c = Config::from_yaml(&yaml).unwrap();
    assert!(c.clients[0].public && c.clients[0].secret.is_none());
}

#[test]
fn secret_env_reads_the_environment() {
    let yaml = base().replace(
        "secret: gatehouse-secret",
        "secretEnv: GATEHOUSE_TEST_SECRET_UNSET_VAR",
    );
    assert!(err(&yaml).contains("GATEHOUSE_TEST_SECRET_UNSET_VAR"));
    let normalized =
        schema::normalize(&serde_yaml_ng::from_str(&yaml).unwrap(), &schema::ROOT, "").unwrap();
    let raw: raw::RawConfig = serde_json::from_value(normalized).unwrap();
    let c = validate::validate(raw, &|name| {
        (name == "GATEHOUSE_TEST_SECRET_UNSET_VAR").then(|| "from-env".into())
    })
    .unwrap();
    assert!(c.clients[0].secret.as_ref().unwrap().matches("from-env"));
}

#[test]
fn duplicate_client_ids_refused() {
    let yaml = base().replace(
        "staticPasswords:",
        "- id: gatehouse\n  secret: x\n  redirectURIs: [\"http://a/cb\"]\nstaticPasswords:",
    );
    assert!(err(&yaml).contains("staticClients[1].id"), "{}", err(&yaml));
}

#[test]
fn bad_hash_is_named() {
    let yaml = base().replace(SEED_HASH_B64, "plaintext-password");
    assert!(
        err(&yaml).starts_with("staticPasswords[0].hash"),
        "{}",
        err(&yaml)
    );
}

#[test]
fn raw_bcrypt_hash_is_accepted() {
    let raw_hash = "$2a$12$L2qpbN4c58GLwuaz8Zxhke/K1ups/ZurFxo5ObFp1AhH.ie4gT5vC";
    let yaml = base().replace(SEED_HASH_B64, raw_hash);
    let c = Config::from_yaml(&yaml).unwrap();
    assert_eq!(c.static_passwords[0].hash.as_str(), raw_hash);
}

#[test]
fn static_password_fields_are_required_and_unique() {
    let yaml = base().replace("  userID: \"08a8684b-db88-4b73-90a9-3cd1661f5466\"\n", "");
    assert!(err(&yaml).starts_with("staticPasswords[0].userID: missing"));
    let yaml = base().replace("email: admin@example.com", "email: admin");
    assert!(err(&yaml).starts_with("staticPasswords[0].email"));
    let dup = format!(
        "{}- email: ADMIN@example.com\n  hash: \"{SEED_HASH_B64}\"\n  username: b\n  userID: b\n",
        base()
    );
    assert!(
        err(&dup).contains("staticPasswords[1].email"),
        "{}",
        err(&dup)
    );
}

#[test]
fn expiry_durations_parse_and_bad_ones_are_named() {
    let yaml = format!(
        "{}expiry:\n  idTokens: 1h30m\n  authRequests: 10m\n  signingKeys: 6h\n  refreshTokens:\n    validIfNotUsedFor: 2160h\n    absoluteLifetime: 3960h\n    reuseInterval: 0s\n    disableRotation: false\n",
        base()
    );
    let c = Config::from_yaml(&yaml).unwrap();
    assert_eq!(c.expiry.id_tokens, Duration::from_secs(5400));
    assert_eq!(c.expiry.auth_requests, Duration::from_secs(600));
    assert_eq!(
        c.expiry.refresh_tokens.valid_if_not_used_for,
        Some(Duration::from_secs(2160 * 3600))
    );
    assert_eq!(
        c.expiry.refresh_tokens.absolute_lifetime,
        Some(Duration::from_secs(3960 * 3600))
    );
    let bad = format!("{}expiry:\n  idTokens: 5 days\n", base());
    assert!(err(&bad).starts_with("expiry.idTokens"), "{}", err(&bad));
    assert_eq!(c.expiry.refresh_tokens.reuse_interval, Duration::ZERO);
    let reuse = format!(
        "{}expiry:\n  refreshTokens:\n    reuseInterval: 10s\n",
        base()
    );
    let c = Config::from_yaml(&reuse).unwrap();
    assert_eq!(
        c.expiry.refresh_tokens.reuse_interval,
        Duration::from_secs(10)
    );
    // Dex's default when absent.
    let c = Config::from_yaml(&base()).unwrap();
    assert_eq!(
        c.expiry.refresh_tokens.reuse_interval,
        Duration::from_secs(3)
    );
    let bad = format!(
        "{}expiry:\n  refreshTokens:\n    reuseInterval: soon\n",
        base()
    );
    assert!(err(&bad).contains("reuseInterval"), "{}", err(&bad));
}

#[test]
fn logger_and_web_validated() {
    let yaml = format!("{}logger:\n  level: debug\n  format: json\n", base());
    let c = Config::from_yaml(&yaml).unwrap();
    assert_eq!(c.logger.format, LogFormat::Json);
    assert_eq!(c.logger.level, tracing::Level::DEBUG);
    let bad = format!("{}logger:\n  format: xml\n", base());
    assert!(err(&bad).starts_with("logger.format"));
    let bad = base().replace("http: 127.0.0.1:5556", "http: nowhere");
    assert!(err(&bad).starts_with("web.http"));
    let go_form = base().replace("http: 127.0.0.1:5556", "http: \":5556\"");
    assert_eq!(
        Config::from_yaml(&go_form).unwrap().web.http.as_deref(),
        Some("0.0.0.0:5556")
    );
    // Dex: https needs both files; either listener alone is enough.
    let tls = base().replace("http: 127.0.0.1:5556", "https: 127.0.0.1:5554");
    assert!(
        err(&tls).starts_with("web.tlsCert: missing"),
        "{}",
        err(&tls)
    );
    let no_listener = base().replace("  http: 127.0.0.1:5556\n", "  tlsMinVersion: \"1.2\"\n");
    assert!(
        err(&no_listener).starts_with("web.http: missing"),
        "{}",
        err(&no_listener)
    );
    let cert_only = base().replace("http: 127.0.0.1:5556", "tlsCert: /nonexistent.pem");
    assert!(
        err(&cert_only).starts_with("web.https: missing"),
        "{}",
        err(&cert_only)
    );
    let missing_file = base().replace(
        "http: 127.0.0.1:5556",
        "https: 127.0.0.1:5554\n  tlsCert: /nonexistent/c.pem\n  tlsKey: /nonexistent/k.pem",
    );
    assert!(
        err(&missing_file).starts_with("web.tlsCert: cannot read \"/nonexistent/c.pem\""),
        "{}",
        err(&missing_file)
    );
    let bad_version = base().replace(
        "http: 127.0.0.1:5556",
        "http: 127.0.0.1:5556\n  tlsMinVersion: \"1.1\"",
    );
    assert!(
        err(&bad_version).starts_with("web.tlsMinVersion"),
        "{}",
        err(&bad_version)
    );
}

#[test]
fn cors_and_headers_load_with_dex_spelling() {
    let yaml = base().replace(
        "http: 127.0.0.1:5556",
        "http: 127.0.0.1:5556\n  allowedOrigins: [\"https://app.example\"]\n  allowedHeaders: [authorization]\n  headers:\n    x-frame-options: SAMEORIGIN\n    Strict-Transport-Security: max-age=31536000",
    );
    let c = Config::from_yaml(&yaml).unwrap();
    assert_eq!(c.web.cors.origins, ["https://app.example"]);
    assert_eq!(c.web.cors.headers, ["Authorization"]);
    let names: Vec<&str> = c.web.headers.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["x-frame-options", "strict-transport-security"]);
    let unknown = base().replace(
        "http: 127.0.0.1:5556",
        "http: 127.0.0.1:5556\n  headers:\n    Set-Cookie: a=b",
    );
    assert!(
        err(&unknown).starts_with("unknown key \"web.headers.Set-Cookie\""),
        "{}",
        err(&unknown)
    );
}

#[test]
fn id_env_hash_from_env_logo_and_peers() {
    let env = |name: &str| match name {
        "CLIENT_ID" => Some("from-env".to_string()),
        "ADMIN_HASH" => Some(SEED_HASH_B64.to_string()),
        "EMPTY" => Some(String::new()),
        _ => None,
    };
    let load = |yaml: &str| Config::from_yaml_with_env(yaml, &env);
    let yaml = base()
        .replace("- id: gatehouse\n", "- idEnv: CLIENT_ID\n  logoURL: https://cdn.example/logo.png\n  trustedPeers: [other]\n")
        .replace(&format!("  hash: \"{SEED_HASH_B64}\"\n"), "  hashFromEnv: ADMIN_HASH\n");
    let c = load(&yaml).unwrap();
    let client = c.client("from-env").unwrap();
    assert_eq!(
        client.logo_url.as_deref(),
        Some("https://cdn.example/logo.png")
    );
    assert_eq!(client.trusted_peers, ["other"]);
    assert_eq!(c.static_passwords[0].hash.cost(), 12);
    let e = load(&yaml.replace("idEnv: CLIENT_ID", "idEnv: NOT_SET"))
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("staticClients[0].idEnv") && e.contains("NOT_SET"),
        "{e}"
    );
    let e = load(&yaml.replace("idEnv: CLIENT_ID", "idEnv: EMPTY"))
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("staticClients[0].idEnv"), "{e}");
    let e = load(&yaml.replace("idEnv: CLIENT_ID", "idEnv: CLIENT_ID\n  id: x"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("not both"), "{e}");
    let e = load(&yaml.replace("hashFromEnv: ADMIN_HASH", "hashFromEnv: NOT_SET"))
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("staticPasswords[0].hashFromEnv") && e.contains("NOT_SET"),
        "{e}"
    );
    let e = load(&yaml.replace("hashFromEnv: ADMIN_HASH", "hashFromEnv: CLIENT_ID"))
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("staticPasswords[0].hashFromEnv") && !e.contains("from-env"),
        "{e}"
    );
    for bad in [
        "javascript:alert(1)",
        "/logo.png",
        "data:image/png;base64,AAAA",
        "ftp://x/l.png",
    ] {
        let e = load(&yaml.replace("https://cdn.example/logo.png", bad))
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("staticClients[0].logoURL"), "{bad}: {e}");
    }
    let e = load(&yaml.replace("trustedPeers: [other]", "trustedPeers: [\"a b\"]"))
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("staticClients[0].trustedPeers[0]"), "{e}");
}

#[test]
fn pkce_methods_default_and_plain_only_when_listed() {
    let yaml = format!(
        "{}oauth2:\n  pkce:\n    enforce: true\n    codeChallengeMethodsSupported: [S256, plain]\n",
        base()
    );
    let c = Config::from_yaml(&yaml).unwrap();
    assert!(c.oauth2.pkce_enforce);
    assert_eq!(
        c.oauth2.pkce_methods,
        vec![PkceMethod::S256, PkceMethod::Plain]
    );
    let bad = format!(
        "{}oauth2:\n  pkce:\n    codeChallengeMethodsSupported: [S512]\n",
        base()
    );
    assert!(err(&bad).starts_with("oauth2.pkce.codeChallengeMethodsSupported[0]"));
}

#[test]
fn unsupported_response_types_and_typeless_connectors_refused() {
    let yaml = format!("{}oauth2:\n  responseTypes: [code, device]\n", base());
    assert!(err(&yaml).starts_with("oauth2.responseTypes[1]"));
    // A connector's type and `config:` block are its type's to check: connector/types.rs.
    let yaml = format!("{}connectors:\n- id: x\n  name: X\n", base());
    assert!(err(&yaml).starts_with("connectors[0].type: missing"));
    let yaml = base().replace("enablePasswordDB: true", "enablePasswordDB: false");
    assert!(err(&yaml).contains("enablePasswordDB"), "{}", err(&yaml));
}

#[test]
fn storage_kinds() {
    let yaml = base().replace("type: sqlite3", "type: etcd");
    assert!(err(&yaml).starts_with("storage.type"));
    let yaml = base().replace("    file: /tmp/x.db\n", "    file: \"\"\n");
    assert!(err(&yaml).starts_with("storage.config.file"));
}

#[test]
fn invalid_yaml_reported() {
    assert!(err("issuer: [unclosed").starts_with("config is not valid YAML"));
}

#[test]
fn telemetry_listener_is_optional_validated_and_separate() {
    assert_eq!(Config::from_yaml(&base()).unwrap().telemetry_addr, None);
    let yaml = format!("{}Telemetry:\n  HTTP: \":5558\"\n", base());
    assert_eq!(
        Config::from_yaml(&yaml).unwrap().telemetry_addr.as_deref(),
        Some("0.0.0.0:5558")
    );
    let bad = format!("{}telemetry:\n  http: nowhere\n", base());
    assert!(err(&bad).starts_with("telemetry.http"), "{}", err(&bad));
    let same = format!("{}telemetry:\n  http: 127.0.0.1:5556\n", base());
    assert!(
        err(&same).contains("must differ from web.http"),
        "{}",
        err(&same)
    );
    let profiling = format!("{}telemetry:\n  enableProfiling: true\n", base());
    assert!(
        err(&profiling).starts_with("telemetry.enableProfiling: true is not supported")
            && err(&profiling).contains("pprof"),
        "{}",
        err(&profiling)
    );
    // Dex's default asks for nothing: accepted, as a boolean or a string.
    for off in ["false", "\"false\"", "\"False\""] {
        let yaml = format!("{}telemetry:\n  enableProfiling: {off}\n", base());
        assert!(Config::from_yaml(&yaml).is_ok(), "{off}: {}", err(&yaml));
    }
    for bad in ["\"TRUE\"", "\"yes\"", "1", "[true]"] {
        let yaml = format!("{}telemetry:\n  enableProfiling: {bad}\n", base());
        assert!(
            err(&yaml).starts_with("telemetry.enableProfiling"),
            "{bad}: {}",
            err(&yaml)
        );
    }
}

#[test]
fn post_logout_redirect_uris_are_case_insensitive_and_checked() {
    let yaml = base().replace(
        "  name: Gatehouse\n",
        "  name: Gatehouse\n  PostLogoutRedirectURIs: [\"http://127.0.0.1:8080/bye\"]\n",
    );
    let c = Config::from_yaml(&yaml).unwrap();
    assert_eq!(
        c.client("gatehouse").unwrap().post_logout_redirect_uris,
        vec!["http://127.0.0.1:8080/bye".to_string()]
    );
    assert!(Config::from_yaml(&base())
        .unwrap()
        .client("gatehouse")
        .unwrap()
        .post_logout_redirect_uris
        .is_empty());
    for bad in ["/relative", "http://a/b#frag"] {
        let yaml = base().replace(
            "  name: Gatehouse\n",
            &format!("  name: Gatehouse\n  postLogoutRedirectURIs: [\"{bad}\"]\n"),
        );
        assert!(
            err(&yaml).starts_with("staticClients[0].postLogoutRedirectURIs[0]"),
            "{}",
            err(&yaml)
        );
    }
}

#[test]
fn implicit_response_types_load_with_a_warning() {
    let yaml = format!(
        "{}oauth2:\n  responseTypes: [\"code\", \"token\", \"id_token\"]\n",
        base()
    );
    let c = Config::from_yaml(&yaml).unwrap();
    assert_eq!(c.warnings.len(), 2, "{:?}", c.warnings);
    assert!(c.warnings[0].contains("responseTypes[1]") && c.warnings[0].contains("code flow"));
}

#[test]
fn grpc_block_is_read() {
    let yaml = format!(
        "{}grpc:\n  addr: 127.0.0.1:5557\n  reflection: true\n",
        base()
    );
    let g = Config::from_yaml(&yaml).unwrap().grpc.unwrap();
    assert_eq!(g.addr.to_string(), "127.0.0.1:5557");
    assert!(g.reflection && g.tls.is_none());
    let open = format!("{}grpc:\n  addr: 0.0.0.0:5557\n", base());
    assert!(err(&open).starts_with("grpc.tlsClientCA"), "{}", err(&open));
}

#[test]
fn grant_types_and_device_request_expiry() {
    let yaml = format!(
        "{}oauth2:\n  grantTypes: [refresh_token, authorization_code]\nexpiry:\n  deviceRequests: 10m\n",
        base()
    );
    let c = Config::from_yaml(&yaml).unwrap();
    assert_eq!(
        c.oauth2.grant_types.names(),
        vec!["authorization_code", "refresh_token"]
    );
    assert_eq!(
        c.expiry.device_requests,
        std::time::Duration::from_secs(600)
    );
    assert_eq!(
        Config::from_yaml(&base()).unwrap().expiry.device_requests,
        std::time::Duration::from_secs(300)
    );
    let yaml = format!(
        "{}oauth2:\n  grantTypes: [authorization_code, authorisation_code]\n",
        base()
    );
    assert!(
        err(&yaml).starts_with("oauth2.grantTypes[1]: \"authorisation_code\" is not a grant type"),
        "{}",
        err(&yaml)
    );
    let yaml = format!("{}oauth2:\n  grantTypes: authorization_code\n", base());
    assert!(
        err(&yaml).starts_with("oauth2.grantTypes"),
        "{}",
        err(&yaml)
    );
    let yaml = format!("{}expiry:\n  deviceRequests: soon\n", base());
    assert!(
        err(&yaml).starts_with("expiry.deviceRequests"),
        "{}",
        err(&yaml)
    );
}

#[test]
fn dex_device_callback_marker_is_accepted_and_dropped() {
    let yaml = base().replace(
        "redirectURIs: [\"http://127.0.0.1:8080/oauth2/callback\"]",
        "redirectURIs: [\"/device/callback\", \"http://127.0.0.1:8080/oauth2/callback\"]",
    );
    let c = Config::from_yaml(&yaml).unwrap();
    assert_eq!(
        c.client("gatehouse").unwrap().redirect_uris,
        vec!["http://127.0.0.1:8080/oauth2/callback"]
    );
    let yaml = base().replace(
        "redirectURIs: [\"http://127.0.0.1:8080/oauth2/callback\"]",
        "redirectURIs: [\"/device/other\"]",
    );
    assert!(err(&yaml).starts_with("staticClients[0].redirectURIs[0]"));
}

#[test]
fn mysql_storage_with_dex_keys() {
    let with = |config: &str| {
        base().replace(
            "  type: sqlite3\n  config:\n    file: /tmp/x.db\n",
            &format!("  type: mysql\n  config:\n{config}"),
        )
    };
    let c = Config::from_yaml(&with(
        "    host: 127.0.0.1\n    port: 3306\n    database: dex\n    user: root\n    ssl: {mode: \"false\"}\n    maxOpenConns: 4\n",
    ))
    .unwrap();
    let StorageConfig::Mysql(m) = &c.storage else {
        panic!("{:?}", c.storage)
    };
    assert_eq!(
        m.url.expose(),
        "mysql://root@127.0.0.1:3306/dex?ssl-mode=disabled"
    );
    assert_eq!(m.display, "127.0.0.1:3306/dex");
    assert_eq!(m.max_open_conns, 4);
    let c = Config::from_yaml(&with(
        "    host: db:3307\n    database: dex\n    user: u\n    password: \"p@ss/word\"\n    ssl: {mode: \"false\"}\n",
    ))
    .unwrap();
    let StorageConfig::Mysql(m) = &c.storage else {
        panic!()
    };
    assert!(
        m.url
            .expose()
            .starts_with("mysql://u:p%40ss%2Fword@db:3307/dex"),
        "{}",
        m.url.expose()
    );
    assert!(!format!("{m:?}").contains("p@ss"), "password in Debug");
    for (config, expected) in [
        (
            "    database: dex\n    user: u\n    ssl: {mode: verify-full}\n",
            "storage.config.ssl.mode",
        ),
        (
            "    database: dex\n    user: u\n    ssl: {mode: skip-verify, caFile: /ca.pem}\n",
            "storage.config.ssl.mode",
        ),
        (
            "    database: dex\n    user: u\n    ssl: {caFile: /no/such/ca.pem}\n",
            "storage.config.ssl.caFile: cannot read",
        ),
        (
            "    database: dex\n    user: u\n    ssl: {certFile: /c.pem}\n",
            "storage.config.ssl.keyFile: missing",
        ),
        (
            "    user: u\n    ssl: {mode: \"false\"}\n",
            "storage.config.database",
        ),
        (
            "    database: d\n    ssl: {mode: \"false\"}\n",
            "storage.config.user",
        ),
        (
            "    database: d\n    user: u\n    ssl: {mode: \"false\"}\n    file: x\n",
            "storage.config.file",
        ),
        (
            "    database: d\n    user: u\n    ssl: {mode: \"false\", caFile: /ca.pem}\n",
            "storage.config.ssl.caFile",
        ),
    ] {
        assert!(
            err(&with(config)).starts_with(expected),
            "{config}: {}",
            err(&with(config))
        );
    }
    // Dex's default mode ("true"): chain and name, against the system's CAs.
    let c = Config::from_yaml(&with("    host: db\n    database: dex\n    user: u\n")).unwrap();
    let StorageConfig::Mysql(m) = &c.storage else {
        panic!()
    };
    assert_eq!(
        m.url.expose(),
        "mysql://u@db:3306/dex?ssl-mode=verify_identity"
    );
    let c = Config::from_yaml(&with(
        "    host: db\n    database: dex\n    user: u\n    ssl: {mode: skip-verify}\n",
    ))
    .unwrap();
    let StorageConfig::Mysql(m) = &c.storage else {
        panic!()
    };
    assert!(
        m.url.expose().ends_with("?ssl-mode=required"),
        "{}",
        m.url.expose()
    );
    assert!(m.tls.warning().is_some());
    let yaml = base().replace("type: sqlite3", "type: etcd");
    assert!(err(&yaml).contains("postgres"), "{}", err(&yaml));
}

#[test]
fn connector_grant_types_restrict_and_refuse_unknown_names() {
    let entry = |grants: &str| {
        format!(
            "{}connectors:\n- type: oidc\n  id: up\n  name: Up\n  config: {{}}\n{grants}",
            base()
        )
    };
    let c = Config::from_yaml(&entry(&format!(
        "  grantTypes: [authorization_code, implicit, \"{TOKEN_EXCHANGE}\"]\n"
    )))
    .unwrap();
    assert!(c.connector_serves("up", GrantType::AuthorizationCode));
    assert!(c.connector_serves("up", GrantType::TokenExchange));
    assert!(!c.connector_serves("up", GrantType::RefreshToken));
    assert!(!c.connector_serves("up", GrantType::DeviceCode));
    // The password database has no entry: every grant.
    assert!(c.connector_serves("local", GrantType::RefreshToken));
    // Absent or empty: every grant (as Dex).
    for grants in ["", "  grantTypes: []\n"] {
        let c = Config::from_yaml(&entry(grants)).unwrap();
        assert!(
            c.connector_serves("up", GrantType::RefreshToken),
            "{grants:?}"
        );
    }
    let e = err(&entry("  grantTypes: [authorization_code, refresh]\n"));
    assert!(
        e.starts_with("connectors[0].grantTypes[1]: \"refresh\" is not a grant type"),
        "{e}"
    );
    let e = err(&entry("  grantTypes: [client_credentials]\n"));
    assert!(
        e.starts_with("connectors[0].grantTypes[0]: client_credentials involves no connector"),
        "{e}"
    );
    let e = err(&entry("  grantTypes: authorization_code\n"));
    assert!(e.starts_with("connectors[0].grantTypes"), "{e}");
}
