//! A confidential OIDC client of a provider's token endpoint, plus the browser part of a
//! code-flow login (driven by the harness `Browser`), with each step timed.

use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use gatehouse_e2e::Browser;
use url::Url;

/// A token endpoint answer (only what the benchmark uses).
#[derive(Debug, Clone, serde::Deserialize)]
pub struct Tokens {
    pub access_token: String,
    pub refresh_token: Option<String>,
}

/// Wall time of each step of one browser login.
#[derive(Debug, Clone, Copy)]
pub struct LoginSteps {
    /// `/auth` and its redirects up to the login page.
    pub authorize: Duration,
    /// The login form POST (the password check, bcrypt, happens here).
    pub form_post: Duration,
    /// Redirects from the form's answer to the client's callback with the code.
    pub to_callback: Duration,
    /// The code exchange at the token endpoint.
    pub token: Duration,
}

impl LoginSteps {
    pub fn total(&self) -> Duration {
        self.authorize + self.form_post + self.to_callback + self.token
    }
}

#[derive(Clone)]
pub struct OidcClient {
    http: reqwest::blocking::Client,
    pub issuer: String,
    pub token_endpoint: String,
    client_id: String,
    client_secret: String,
    pub redirect_uri: String,
}

impl OidcClient {
    pub fn new(
        issuer: &str,
        token_endpoint: &str,
        client_id: &str,
        client_secret: &str,
        redirect_uri: &str,
    ) -> Result<Self> {
        let http = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(30))
            .pool_max_idle_per_host(256)
            .build()
            .context("building the token client")?;
        Ok(Self {
            http,
            issuer: issuer.to_string(),
            token_endpoint: token_endpoint.to_string(),
            client_id: client_id.to_string(),
            client_secret: client_secret.to_string(),
            redirect_uri: redirect_uri.to_string(),
        })
    }

    /// Signs `login` in at the broker's own pages and returns the authorization code the
    /// broker sends to `redirect_uri` (that redirect is not followed).
    pub fn browser_code(
        &self,
        browser: &mut Browser,
        login: &str,
        password: &str,
    ) -> Result<(String, LoginSteps)> {
        browser.jar.clear();
        let mut auth = Url::parse(&format!("{}/auth", self.issuer)).context("issuer URL")?;
        auth.query_pairs_mut()
            .append_pair("client_id", &self.client_id)
            .append_pair("redirect_uri", &self.redirect_uri)
            .append_pair("response_type", "code")
            .append_pair("scope", "openid email profile groups offline_access")
            .append_pair("state", "bench-state")
            .append_pair("nonce", "bench-nonce");
        let t0 = Instant::now();
        let first = browser.get(auth.as_str())?;
        let login_page = browser.follow_all(first)?;
        let form = login_page.login_form()?;
        let t1 = Instant::now();
        let posted = browser.post_form(form.action.as_str(), &form.fields(login, password))?;
        let t2 = Instant::now();
        let redirect = self.redirect_uri.clone();
        let last = browser.follow_until(posted, |p| {
            p.location()
                .is_some_and(|l| l.as_str().starts_with(&redirect))
        })?;
        let t3 = Instant::now();
        let Some(location) = last.location() else {
            bail!(
                "the login of {login} did not end in a redirect to the client: {} {}",
                last.status,
                browser.history_text()
            );
        };
        let Some(code) = location
            .query_pairs()
            .find(|(k, _)| k == "code")
            .map(|(_, v)| v.into_owned())
        else {
            bail!("the redirect to the client carries no code: {location}");
        };
        let steps = LoginSteps {
            authorize: t1 - t0,
            form_post: t2 - t1,
            to_callback: t3 - t2,
            token: Duration::ZERO,
        };
        Ok((code, steps))
    }

    /// A full login: the browser part, then the code exchange.
    pub fn login(
        &self,
        browser: &mut Browser,
        login: &str,
        password: &str,
    ) -> Result<(Tokens, LoginSteps)> {
        let (code, mut steps) = self.browser_code(browser, login, password)?;
        let t = Instant::now();
        let tokens = self.exchange(&code)?;
        steps.token = t.elapsed();
        Ok((tokens, steps))
    }

    pub fn exchange(&self, code: &str) -> Result<Tokens> {
        self.token(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", &self.redirect_uri),
        ])
    }

    pub fn refresh(&self, refresh_token: &str) -> Result<Tokens> {
        self.token(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
        ])
    }

    fn token(&self, form: &[(&str, &str)]) -> Result<Tokens> {
        let body: String = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form.iter())
            .finish();
        let response = self
            .http
            .post(&self.token_endpoint)
            .basic_auth(&self.client_id, Some(&self.client_secret))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .with_context(|| format!("POST {}", self.token_endpoint))?;
        let status = response.status();
        let text = response.text().context("reading the token response")?;
        if !status.is_success() {
            // The error body names the OAuth error; it holds no token.
            bail!("token endpoint answered {status}: {text}");
        }
        serde_json::from_str(&text).context("the token response is not the expected JSON")
    }
}
