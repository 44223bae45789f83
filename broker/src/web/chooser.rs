use axum::http::StatusCode;
use axum::response::Response;

use super::{escape, html_response};

pub struct ConnectorLink {
    pub name: String,
    pub href: String,
}

/// "Log in with …" list, shown when there is more than one connector (or always, if configured).
pub fn chooser_page(links: &[ConnectorLink]) -> Response {
    let items: String = links
        .iter()
        .map(|l| {
            format!(
                "<a class=\"dex-btn theme-btn-provider\" href=\"{}\">Log in with {}</a>",
                escape(&l.href),
                escape(&l.name)
            )
        })
        .collect();
    html_response(
        StatusCode::OK,
        "Log in",
        &format!("<h1 class=\"theme-heading\">Log in to continue</h1>{items}"),
    )
}
