//! A minimal OpenID Connect client of the broker, for tests that drive a connector without
//! the gateway: authorize through a browser, redeem the code, refresh, read ID-token claims.

use anyhow::{bail, Context, Result};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::Value;

use crate::broker::{CLIENT_ID, CLIENT_SECRET};
use crate::browser::{Browser, Page};

/// A fixed PKCE verifier (43 characters); its S256 challenge is computed.
const VERIFIER: &str = "gatehouse-test-verifier-0123456789-abcdefgh";

fn challenge() -> String {
    use sha2::Digest;
    URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(VERIFIER.as_bytes()))
}

pub struct OidcClient {
    pub issuer: String,
    /// Registered for the `gatehouse` client (the gateway's callback; nothing needs to listen).
    pub redirect_uri: String,
    http: reqwest::blocking::Client,
}

/// The end of an authorization attempt.
pub enum Outcome {
    /// The broker sent the browser back to the client with this code.
    Code(String),
    /// The browser stopped on a page that is not a redirect back to the client.
    Page(Page),
}

impl OidcClient {
    pub fn new(issuer: &str, redirect_uri: &str) -> Result<Self> {
        Ok(OidcClient {
            issuer: issuer.to_string(),
            redirect_uri: redirect_uri.to_string(),
            http: reqwest::blocking::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()?,
        })
    }

    /// `/auth` with `connector_id` (or the chooser when None), followed through the upstream.
    pub fn authorize(
        &self,
        browser: &mut Browser,
        connector: Option<&str>,
        scope: &str,
    ) -> Result<Outcome> {
        let mut url = url::Url::parse(&format!("{}/auth", self.issuer))?;
        url.query_pairs_mut()
            .append_pair("client_id", CLIENT_ID)
            .append_pair("redirect_uri", &self.redirect_uri)
            .append_pair("response_type", "code")
            .append_pair("scope", scope)
            .append_pair("state", "client-state")
            .append_pair("nonce", "client-nonce")
            .append_pair("code_challenge", &challenge())
            .append_pair("code_challenge_method", "S256");
        if let Some(c) = connector {
            url.query_pairs_mut().append_pair("connector_id", c);
        }
        let first = browser.get(url.as_str())?;
        let back = self.redirect_uri.clone();
        let page = browser.follow_until(first, |p| {
            p.location().is_some_and(|l| l.as_str().starts_with(&back))
        })?;
        match page.location().filter(|l| l.as_str().starts_with(&back)) {
            Some(l) => {
                let q: std::collections::HashMap<_, _> = l.query_pairs().into_owned().collect();
                if q.get("state").map(String::as_str) != Some("client-state") {
                    bail!("state not echoed: {l}");
                }
                match q.get("code") {
                    Some(code) => Ok(Outcome::Code(code.clone())),
                    None => bail!("redirected back without a code: {l}"),
                }
            }
            None => Ok(Outcome::Page(page)),
        }
    }

    /// Signs in through `connector` and redeems the code: the token answer. Panics, with the
    /// browser's history and `context()` (e.g. a log), when no code comes back.
    pub fn sign_in(&self, connector: &str, scope: &str, context: impl Fn() -> String) -> Value {
        let mut browser = Browser::new().unwrap();
        match self
            .authorize(&mut browser, Some(connector), scope)
            .unwrap()
        {
            Outcome::Code(code) => {
                let (status, tokens) = self.redeem(&code).unwrap();
                assert_eq!(status, 200, "{tokens}");
                tokens
            }
            Outcome::Page(p) => panic!(
                "no code: {} {}\n{}\n{}",
                p.status,
                p.body,
                browser.history_text(),
                context()
            ),
        }
    }

    /// Signs in at the broker's password form of `connector` and redeems the code: the token
    /// answer.
    pub fn password_sign_in(
        &self,
        connector: &str,
        scope: &str,
        email: &str,
        password: &str,
    ) -> Result<Value> {
        let mut browser = Browser::new()?;
        let page = match self.authorize(&mut browser, Some(connector), scope)? {
            Outcome::Page(p) => p,
            Outcome::Code(_) => bail!("signed in without a password"),
        };
        let form = page.login_form()?;
        let posted = browser.post_form(form.action.as_str(), &form.fields(email, password))?;
        let back = self.redirect_uri.clone();
        let landed = browser.follow_until(posted, |p| {
            p.location().is_some_and(|l| l.as_str().starts_with(&back))
        })?;
        let code = landed
            .location()
            .and_then(|l| {
                l.query_pairs()
                    .find(|(k, _)| k == "code")
                    .map(|(_, v)| v.into_owned())
            })
            .context("no code came back")?;
        let (status, tokens) = self.redeem(&code)?;
        if status != 200 {
            bail!("the code was refused: {status} {tokens}");
        }
        Ok(tokens)
    }

    /// Signs in through `connector` and expects to be stopped on a page (no code issued).
    pub fn refused(&self, connector: &str, scope: &str) -> Page {
        let mut browser = Browser::new().unwrap();
        match self
            .authorize(&mut browser, Some(connector), scope)
            .unwrap()
        {
            Outcome::Code(_) => panic!("a code was issued:\n{}", browser.history_text()),
            Outcome::Page(p) => p,
        }
    }

    /// POST /token; returns (HTTP status, JSON body).
    pub fn token(&self, form: &[(&str, &str)]) -> Result<(u16, Value)> {
        let r = self
            .http
            .post(format!("{}/token", self.issuer))
            .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
            .form(form)
            .send()
            .context("POST /token")?;
        let status = r.status().as_u16();
        let text = r.text()?;
        Ok((
            status,
            serde_json::from_str(&text).with_context(|| format!("token answer {text}"))?,
        ))
    }

    pub fn redeem(&self, code: &str) -> Result<(u16, Value)> {
        self.token(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", &self.redirect_uri),
            ("code_verifier", VERIFIER),
        ])
    }

    pub fn refresh(&self, refresh_token: &str) -> Result<(u16, Value)> {
        self.token(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
        ])
    }
}

/// The payload of a JWT (the broker's own tokens; the signature is the broker tests' business).
pub fn jwt_claims(token: &str) -> Result<Value> {
    let payload = token.split('.').nth(1).context("not a JWT")?;
    Ok(serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload)?)?)
}
