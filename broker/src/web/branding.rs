//! What every page's frame shows from `frontend:`: the issuer name, the logo and where the
//! stylesheets are, resolved once from the config.

use crate::config::{Frontend, Logo};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Branding {
    /// `frontend.issuer`, unescaped (the frame escapes it).
    pub name: String,
    /// The issuer's path (`/dex`, or empty): `static/` and `theme/` live under it.
    pub base: String,
    /// The logo's `src`: a path under the issuer, or an absolute http(s) URL.
    pub logo_src: String,
    /// The logo's origin when it is on another host, for the pages' `img-src`.
    pub logo_origin: Option<String>,
}

impl Branding {
    pub fn new(frontend: &Frontend, issuer_path: &str) -> Self {
        let base = issuer_path.trim_end_matches('/').to_string();
        let (logo_src, logo_origin) = match &frontend.logo {
            Logo::UnderIssuer(path) => (format!("{base}/{path}"), None),
            Logo::Url(url) => (
                url.clone(),
                url::Url::parse(url)
                    .ok()
                    .map(|u| u.origin().ascii_serialization()),
            ),
        };
        Branding {
            name: frontend.issuer_name.clone(),
            base,
            logo_src,
            logo_origin,
        }
    }
}

impl Default for Branding {
    /// Dex's defaults at the root path: what a page shows before the frame layer brands it.
    fn default() -> Self {
        Branding::new(&Frontend::default(), "")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logo_paths_live_under_the_issuer_and_urls_bring_their_origin() {
        let mut f = Frontend::default();
        let b = Branding::new(&f, "/dex/");
        assert_eq!(b.logo_src, "/dex/theme/logo.png");
        assert_eq!(b.logo_origin, None);
        f.logo = Logo::Url("https://cdn.example:8443/a/logo.png".into());
        let b = Branding::new(&f, "/dex");
        assert_eq!(b.logo_origin.as_deref(), Some("https://cdn.example:8443"));
    }
}
