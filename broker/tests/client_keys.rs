//! Dex's client and user keys through the real broker binary: `idEnv`/`secretEnv`/`hashFromEnv`
//! (and `check-config` naming an unset variable's key), `logoURL` on the approval page, and
//! `trustedPeers` with the cross-client scope `audience:server:client_id:<peer>`.

mod support;

use std::process::Command;

use support::*;

const ENV_REDIRECT: &str = "http://127.0.0.1:8081/cb";

fn env_broker() -> Broker {
    let hash = bcrypt::hash("env-password", 4).unwrap();
    Broker::start(Options {
        clients_extra: format!(
            "- idEnv: GH_TEST_CLIENT_ID\n  secretEnv: GH_TEST_CLIENT_SECRET\n  name: From env\n  \
             redirectURIs: [\"{ENV_REDIRECT}\"]\n"
        ),
        passwords_extra: "- email: env@example.com\n  hashFromEnv: GH_TEST_HASH\n  username: env\n  userID: env-1\n".into(),
        env: vec![
            ("GH_TEST_CLIENT_ID".into(), "env-client".into()),
            ("GH_TEST_CLIENT_SECRET".into(), "env-secret-value".into()),
            ("GH_TEST_HASH".into(), hash),
        ],
        ..Options::default()
    })
}

/// Signs `email` in at `client` (approving if asked) and returns the redirect back.
fn redirect_back(
    b: &Broker,
    client: &str,
    redirect: &str,
    scope: &str,
    email: &str,
    password: &str,
    p: &Pkce,
) -> String {
    let url = auth_url(b, client, redirect, scope, "st", "no", Some(p));
    let (form, req) = open_login_form(b, &url);
    approve(b, submit_login(&form, &req, email, password))
}

#[test]
fn id_secret_and_hash_come_from_the_environment() {
    let b = env_broker();
    let p = pkce();
    let back = redirect_back(
        &b,
        "env-client",
        ENV_REDIRECT,
        "openid email",
        "env@example.com",
        "env-password",
        &p,
    );
    let code = query_param(&back, "code").unwrap_or_else(|| panic!("{back}"));
    let r = http()
        .post(b.url("/token"))
        .basic_auth("env-client", Some("env-secret-value"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", ENV_REDIRECT),
            ("code_verifier", p.verifier.as_str()),
        ])
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    let tokens = json(r);
    let claims = verify_jwt(&b, tokens["id_token"].as_str().unwrap(), "env-client");
    assert_eq!(claims["email"], "env@example.com");
    // Neither the secret nor the hash is written to the log.
    let log = b.log();
    assert!(
        !log.contains("env-secret-value") && !log.contains("$2b$04$"),
        "{log}"
    );
}

#[test]
fn check_config_names_the_key_of_an_unset_variable() {
    let dir = tempfile::tempdir().unwrap();
    let b_yaml = config_yaml(
        8,
        &dir.path().join("x.db"),
        &Options {
            clients_extra: "- idEnv: GH_TEST_UNSET_ID\n  secret: s\n  redirectURIs: [\"http://127.0.0.1:1/cb\"]\n".into(),
            ..Options::default()
        },
    );
    let check = |yaml: &str, env: &[(&str, &str)]| {
        let path = dir.path().join("config.yaml");
        std::fs::write(&path, yaml).unwrap();
        Command::new(BIN)
            .arg("check-config")
            .arg(&path)
            .env_remove("GH_TEST_UNSET_ID")
            .env_remove("GH_TEST_UNSET_HASH")
            .envs(env.iter().copied())
            .output()
            .unwrap()
    };
    let out = check(&b_yaml, &[]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("staticClients[2].idEnv") && err.contains("GH_TEST_UNSET_ID"),
        "{err}"
    );
    let out = check(&b_yaml, &[("GH_TEST_UNSET_ID", "set-now")]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let yaml = config_yaml(
        8,
        &dir.path().join("x.db"),
        &Options {
            passwords_extra: "- email: e@example.com\n  hashFromEnv: GH_TEST_UNSET_HASH\n  username: e\n  userID: e\n".into(),
            ..Options::default()
        },
    );
    let err = String::from_utf8_lossy(&check(&yaml, &[]).stderr).to_string();
    assert!(err.contains("staticPasswords[2].hashFromEnv"), "{err}");
    // A variable holding something else than a bcrypt hash is refused without echoing it.
    let out = check(&yaml, &[("GH_TEST_UNSET_HASH", "hunter2-not-a-hash")]);
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(
        !out.status.success() && err.contains("staticPasswords[2].hashFromEnv"),
        "{err}"
    );
    assert!(!err.contains("hunter2"), "{err}");
}

#[test]
fn logo_is_shown_escaped_and_let_in_by_the_page_policy() {
    let b = Broker::start(Options {
        clients_extra: "- id: logo-app\n  secret: s\n  name: \"<b>Logo</b> app\"\n  \
                        logoURL: \"https://cdn.example/logo.png?a=1&b=\\\"><script>x</script>\"\n  \
                        redirectURIs: [\"http://127.0.0.1:8082/cb\"]\n"
            .into(),
        ..Options::default()
    });
    let p = pkce();
    let url = auth_url(
        &b,
        "logo-app",
        "http://127.0.0.1:8082/cb",
        "openid",
        "s",
        "n",
        Some(&p),
    );
    let (form, req) = open_login_form(&b, &url);
    let login = submit_login(&form, &req, ADMIN_EMAIL, ADMIN_PASSWORD);
    let cookie = approval_cookie(&login);
    let page = http()
        .get(format!("http://127.0.0.1:{}{}", b.port, location(&login)))
        .header("cookie", cookie)
        .send()
        .unwrap();
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(csp.contains("img-src 'self' https://cdn.example;"), "{csp}");
    assert!(csp.starts_with("default-src 'none'"), "{csp}");
    let html = page.text().unwrap();
    assert!(
        html.contains(
            r#"<img class="theme-client-logo" src="https://cdn.example/logo.png?a=1&amp;b="#
        ),
        "{html}"
    );
    assert!(
        !html.contains("<script>") && !html.contains("<b>Logo"),
        "{html}"
    );
    assert!(html.contains("&lt;b&gt;Logo&lt;/b&gt; app"), "{html}");
}

fn peers_broker() -> Broker {
    Broker::start(Options {
        clients_extra: "- id: api\n  secret: api-secret\n  name: API\n  trustedPeers: [gatehouse]\n  \
                        redirectURIs: [\"http://127.0.0.1:8083/cb\"]\n\
                        - id: loner\n  secret: loner-secret\n  redirectURIs: [\"http://127.0.0.1:8084/cb\"]\n"
            .into(),
        password_grant: true,
        ..Options::default()
    })
}

#[test]
fn a_trusted_peer_gets_a_token_for_the_peers_audience() {
    let b = peers_broker();
    let scope = "openid email audience:server:client_id:api";
    let p = pkce();
    let url = auth_url(&b, CLIENT_ID, REDIRECT, scope, "s", "n", Some(&p));
    let (form, req) = open_login_form(&b, &url);
    let login = submit_login(&form, &req, ADMIN_EMAIL, ADMIN_PASSWORD);
    let cookie = approval_cookie(&login);
    let page = http()
        .get(format!("http://127.0.0.1:{}{}", b.port, location(&login)))
        .header("cookie", &cookie)
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(page.contains("Sign you in to api as well"), "{page}");
    let approved = http()
        .post(b.url("/approval"))
        .header("cookie", &cookie)
        .form(&[
            ("req", hidden_input(&page, "req").as_str()),
            ("approval", "approve"),
        ])
        .send()
        .unwrap();
    assert_eq!(approved.status(), 302);
    let back = location(&approved);
    let code = query_param(&back, "code").unwrap_or_else(|| panic!("{back}"));
    let tokens = json(exchange(&b, &code, &p.verifier));
    let id_token = tokens["id_token"].as_str().unwrap();
    // The peer (the resource server) accepts it as its own audience; azp names the client.
    let claims = verify_jwt(&b, id_token, "api");
    assert_eq!(claims["aud"], serde_json::json!(["api", CLIENT_ID]));
    assert_eq!(claims["azp"], CLIENT_ID);
    verify_jwt(&b, id_token, CLIENT_ID);
    // A refresh keeps the audience.
    let refreshed = json(refresh(
        &b,
        tokens["refresh_token"].as_str().unwrap_or_default(),
    ));
    if let Some(t) = refreshed["id_token"].as_str() {
        assert_eq!(verify_jwt(&b, t, "api")["azp"], CLIENT_ID);
    }
    // Without the scope: the client alone, as a string, and no azp.
    let plain = sign_in(&b, "openid");
    let claims = verify_jwt(&b, plain["id_token"].as_str().unwrap(), CLIENT_ID);
    assert_eq!(claims["aud"], CLIENT_ID);
    assert!(claims.get("azp").is_none());
}

#[test]
fn an_untrusted_or_unknown_peer_is_refused_with_invalid_scope() {
    let b = peers_broker();
    for (client, redirect, scope) in [
        // api trusts gatehouse, not loner.
        (
            "loner",
            "http://127.0.0.1:8084/cb",
            "openid audience:server:client_id:api",
        ),
        // Trust is one-way: loner does not list gatehouse.
        (
            CLIENT_ID,
            REDIRECT,
            "openid audience:server:client_id:loner",
        ),
        (
            CLIENT_ID,
            REDIRECT,
            "openid audience:server:client_id:no-such-client",
        ),
        (CLIENT_ID, REDIRECT, "openid audience:server:client_id:"),
    ] {
        let url = auth_url(&b, client, redirect, scope, "s", "n", None);
        let r = http().get(&url).send().unwrap();
        assert_eq!(r.status(), 302, "{scope}");
        let back = location(&r);
        assert!(back.starts_with(redirect), "{back}");
        assert_eq!(
            query_param(&back, "error").as_deref(),
            Some("invalid_scope"),
            "{back}"
        );
        assert!(query_param(&back, "code").is_none());
    }
    // The password grant applies the same rule.
    let r = http()
        .post(b.url("/token"))
        .basic_auth("loner", Some("loner-secret"))
        .form(&[
            ("grant_type", "password"),
            ("username", ADMIN_EMAIL),
            ("password", ADMIN_PASSWORD),
            ("scope", "openid audience:server:client_id:api"),
        ])
        .send()
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(json(r)["error"], "invalid_scope");
}
