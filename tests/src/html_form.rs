//! Any form and any link on a page, for pages that are not login forms: the SAML IdP's
//! auto-POST form (which a browser submits by script) and the broker's connector chooser.

use anyhow::{bail, Context, Result};
use url::Url;

use crate::login_form::tags;

/// A form as a browser would submit it without user input: its hidden fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HtmlForm {
    pub action: Url,
    /// Lower-case, `get` or `post`.
    pub method: String,
    pub hidden: Vec<(String, String)>,
}

impl HtmlForm {
    /// The value of hidden field `name`.
    pub fn field(&self, name: &str) -> Option<&str> {
        self.hidden
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// The first form in `html`; `base` resolves a relative action.
pub fn find_form(html: &str, base: &Url) -> Result<HtmlForm> {
    let mut form: Option<HtmlForm> = None;
    for tag in tags(html) {
        match tag.name.as_str() {
            "form" if form.is_none() => {
                let action = match tag.attr("action") {
                    Some(a) if !a.is_empty() => base
                        .join(a)
                        .with_context(|| format!("form action {a:?} on {base}"))?,
                    _ => base.clone(),
                };
                form = Some(HtmlForm {
                    action,
                    method: tag.attr("method").unwrap_or("get").to_ascii_lowercase(),
                    hidden: Vec::new(),
                });
            }
            "/form" if form.is_some() => break,
            "input" => {
                if let Some(f) = form.as_mut() {
                    if tag
                        .attr("type")
                        .is_some_and(|t| t.eq_ignore_ascii_case("hidden"))
                    {
                        if let Some(name) = tag.attr("name") {
                            f.hidden.push((
                                name.to_string(),
                                tag.attr("value").unwrap_or("").to_string(),
                            ));
                        }
                    }
                }
            }
            _ => {}
        }
    }
    match form {
        Some(f) => Ok(f),
        None => {
            let preview: String = html.chars().take(600).collect();
            bail!("no form at {base}; the page starts:\n{preview}")
        }
    }
}

/// Every `<a href>` of `html`, resolved against `base`.
pub fn find_links(html: &str, base: &Url) -> Vec<Url> {
    tags(html)
        .into_iter()
        .filter(|t| t.name == "a")
        .filter_map(|t| t.attr("href").and_then(|h| base.join(h).ok()))
        .collect()
}
