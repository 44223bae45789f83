//! A browser-like HTTP client: its own cookie jar, redirects followed by hand (so tests
//! can look at every hop), `Accept: text/html` like a navigation.

use std::time::Duration;

use anyhow::{bail, Context, Result};
use reqwest::blocking::{Client, RequestBuilder};
use reqwest::header::{HeaderMap, ACCEPT, COOKIE, LOCATION, SET_COOKIE};
use url::Url;

use crate::cookie_jar::CookieJar;
use crate::html_form::{find_form, find_links, HtmlForm};
use crate::login_form::{find_login_form, LoginForm};

/// What a browser navigation sends as `Accept`.
pub const NAVIGATION_ACCEPT: &str =
    "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";

/// Enough for any login round trip; more means a redirect loop.
const MAX_REDIRECTS: usize = 10;

/// One response, fully read.
#[derive(Debug, Clone)]
pub struct Page {
    pub status: u16,
    pub url: Url,
    pub headers: HeaderMap,
    pub body: String,
}

impl Page {
    pub fn is_redirect(&self) -> bool {
        (300..400).contains(&self.status) && self.headers.contains_key(LOCATION)
    }

    /// The `Location` header resolved against this page's URL.
    pub fn location(&self) -> Option<Url> {
        let raw = self.headers.get(LOCATION)?.to_str().ok()?;
        self.url.join(raw).ok()
    }

    /// The first value of header `name`.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The page's JSON body.
    pub fn json(&self) -> Result<serde_json::Value> {
        serde_json::from_str(&self.body)
            .with_context(|| format!("{} ({}) is not JSON: {}", self.url, self.status, self.body))
    }

    /// The first form on this page (any form, e.g. an auto-POST hand-off).
    pub fn form(&self) -> Result<HtmlForm> {
        find_form(&self.body, &self.url)
    }

    /// The links on this page.
    pub fn links(&self) -> Vec<Url> {
        find_links(&self.body, &self.url)
    }

    /// The login form on this page.
    pub fn login_form(&self) -> Result<LoginForm> {
        find_login_form(&self.body, &self.url)
    }
}

/// How a browser speaks to the gateway. Real browsers send HTTP/1.x header names in title
/// case (`Cookie`, `Accept`); reqwest's default is lower case, like HTTP/2.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Wire {
    /// HTTP/1.1, lower-case names.
    #[default]
    Http1,
    /// HTTP/1.1 with title-case names, as browsers send them.
    Http1TitleCase,
    /// HTTP/2 without TLS (prior knowledge) to the gateway; other hosts over HTTP/1.1.
    H2c,
}

#[derive(Clone)]
pub struct Browser {
    client: Client,
    /// For `Wire::H2c`: the gateway's origin and the HTTP/2 client used for it.
    h2c: Option<(String, Client)>,
    pub jar: CookieJar,
    /// `(status, url)` of every response received, oldest first, for failure messages.
    pub history: Vec<(u16, Url)>,
}

impl Browser {
    pub fn new() -> Result<Self> {
        Self::speaking(Wire::Http1, "")
    }

    /// A browser speaking `wire` to the gateway at `gateway_origin` (`http://127.0.0.1:port`).
    pub fn speaking(wire: Wire, gateway_origin: &str) -> Result<Self> {
        let builder = || {
            Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(Duration::from_secs(30))
        };
        let client = match wire {
            Wire::Http1TitleCase => builder().http1_title_case_headers(),
            Wire::Http1 | Wire::H2c => builder(),
        }
        .build()
        .context("building the browser's HTTP client")?;
        let h2c = match wire {
            Wire::H2c => Some((
                gateway_origin.trim_end_matches('/').to_string(),
                builder()
                    .http2_prior_knowledge()
                    .build()
                    .context("building the browser's HTTP/2 client")?,
            )),
            _ => None,
        };
        Ok(Self {
            client,
            h2c,
            jar: CookieJar::new(),
            history: Vec::new(),
        })
    }

    fn client_for(&self, url: &Url) -> &Client {
        match &self.h2c {
            Some((origin, client)) if url.origin().ascii_serialization() == *origin => client,
            _ => &self.client,
        }
    }

    /// A navigation: GET with `Accept: text/html…`.
    pub fn get(&mut self, url: &str) -> Result<Page> {
        self.get_with(url, &[("accept", NAVIGATION_ACCEPT)])
    }

    /// GET with the given headers (they replace the navigation `Accept`).
    pub fn get_with(&mut self, url: &str, headers: &[(&str, &str)]) -> Result<Page> {
        let url = parse(url)?;
        let mut request = self.client_for(&url).get(url.clone());
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        self.send(url, request)
    }

    /// A form submission (`application/x-www-form-urlencoded`).
    pub fn post_form<K: AsRef<str>, V: AsRef<str>>(
        &mut self,
        url: &str,
        fields: &[(K, V)],
    ) -> Result<Page> {
        let url = parse(url)?;
        let body: String = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields.iter().map(|(k, v)| (k.as_ref(), v.as_ref())))
            .finish();
        let request = self
            .client_for(&url)
            .post(url.clone())
            .header(ACCEPT, NAVIGATION_ACCEPT)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body);
        self.send(url, request)
    }

    /// Submits `form` with its hidden fields, as a script-driven auto-POST would.
    pub fn submit_form(&mut self, form: &HtmlForm) -> Result<Page> {
        if form.method != "post" {
            bail!("the form to {} uses method {}", form.action, form.method);
        }
        self.post_form(form.action.as_str(), &form.hidden)
    }

    /// Follows one redirect (as a GET navigation).
    pub fn follow(&mut self, page: &Page) -> Result<Page> {
        let Some(next) = page.location() else {
            bail!("{} ({}) is not a redirect", page.url, page.status);
        };
        self.get(next.as_str())
    }

    /// Follows redirects until a page that is not one.
    pub fn follow_all(&mut self, mut page: Page) -> Result<Page> {
        for _ in 0..MAX_REDIRECTS {
            if !page.is_redirect() {
                return Ok(page);
            }
            page = self.follow(&page)?;
        }
        bail!(
            "more than {MAX_REDIRECTS} redirects: {:?}",
            self.history_text()
        )
    }

    /// Follows redirects while `stop` says no; returns the first page it accepts, or
    /// the first page that is not a redirect.
    pub fn follow_until(&mut self, mut page: Page, stop: impl Fn(&Page) -> bool) -> Result<Page> {
        for _ in 0..MAX_REDIRECTS {
            if stop(&page) || !page.is_redirect() {
                return Ok(page);
            }
            page = self.follow(&page)?;
        }
        bail!(
            "more than {MAX_REDIRECTS} redirects: {}",
            self.history_text()
        )
    }

    /// Opens `url`, follows redirects to the login page and submits the form; returns
    /// the broker's answer to the submission, not followed.
    pub fn submit_login(&mut self, url: &str, login: &str, password: &str) -> Result<Page> {
        let first = self.get(url)?;
        let login_page = self.follow_all(first)?;
        let form = login_page
            .login_form()
            .with_context(|| format!("after {}", self.history_text()))?;
        if form.method != "post" {
            bail!(
                "the login form at {} uses method {}",
                login_page.url,
                form.method
            );
        }
        self.post_form(form.action.as_str(), &form.fields(login, password))
    }

    /// The whole login a person does: open `url`, follow redirects to the login page,
    /// submit the form, follow redirects to wherever that lands. Returns the last page.
    pub fn login(&mut self, url: &str, login: &str, password: &str) -> Result<Page> {
        let posted = self.submit_login(url, login, password)?;
        self.follow_all(posted)
    }

    /// `status url` lines of the history, for assertion messages.
    pub fn history_text(&self) -> String {
        self.history
            .iter()
            .map(|(status, url)| format!("{status} {url}"))
            .collect::<Vec<_>>()
            .join("\n")
    }

    fn send(&mut self, url: Url, mut request: RequestBuilder) -> Result<Page> {
        if let Some(cookies) = self.jar.header_for(&url) {
            request = request.header(COOKIE, cookies);
        }
        let response = request
            .send()
            .with_context(|| format!("requesting {url}"))?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        for set_cookie in headers.get_all(SET_COOKIE) {
            let text = set_cookie
                .to_str()
                .with_context(|| format!("non-text Set-Cookie from {url}"))?;
            self.jar.store(&url, text)?;
        }
        let body = response
            .text()
            .with_context(|| format!("reading the body of {url}"))?;
        self.history.push((status, url.clone()));
        Ok(Page {
            status,
            url,
            headers,
            body,
        })
    }
}

fn parse(url: &str) -> Result<Url> {
    Url::parse(url).with_context(|| format!("bad URL {url:?}"))
}
