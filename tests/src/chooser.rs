//! The broker's connector chooser as a person uses it: pick one connector, follow its login.

use anyhow::{Context, Result};

use crate::browser::{Browser, Page};

impl Browser {
    /// On `chooser` (the broker's list of connectors), opens the link to connector `id`
    /// (`…/auth/{id}?req=…`) and follows redirects to wherever the login lands.
    pub fn choose_connector(&mut self, chooser: &Page, id: &str) -> Result<Page> {
        let suffix = format!("/auth/{id}");
        let link = chooser
            .links()
            .into_iter()
            .find(|l| l.path().ends_with(&suffix))
            .with_context(|| format!("no link to {suffix} on {}: {}", chooser.url, chooser.body))?;
        let start = self.get(link.as_str())?;
        self.follow_all(start)
    }
}
