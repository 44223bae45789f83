use axum::http::StatusCode;
use axum::response::Response;

use super::escape;
use super::layout::Page;

/// "<client> wants to …" with approve and deny buttons, and the client's logo when it has one
/// (`logo`: an absolute http(s) URL, see `crate::config::web_url`).
pub fn approval_page(
    action: &str,
    request_id: &str,
    client_name: &str,
    logo: Option<&str>,
    user: &str,
    scopes: &[String],
) -> Response {
    let logo_origin = logo
        .and_then(|l| url::Url::parse(l).ok())
        .filter(|u| matches!(u.scheme(), "http" | "https"))
        .map(|u| u.origin().ascii_serialization());
    let logo_img = match (logo, &logo_origin) {
        (Some(src), Some(_)) => format!(
            r#"<img class="theme-client-logo" src="{}" alt="" width="64" height="64">"#,
            escape(src)
        ),
        _ => String::new(),
    };
    let items: String = scopes
        .iter()
        .filter_map(|s| scope_description(s))
        .map(|d| format!("<li>{}</li>", escape(&d)))
        .collect();
    let body = format!(
        r#"{logo_img}<h1 class="theme-heading">Grant access</h1>
<p><strong>{client}</strong> would like to:</p><ul>{items}</ul>
<p class="dex-subtle-text">Signed in as {user}</p>
<form method="post" action="{action}">
<input type="hidden" name="req" value="{req}">
<button type="submit" name="approval" value="approve" class="dex-btn theme-btn--primary" autofocus>Grant access</button>
<button type="submit" name="approval" value="deny" class="dex-btn theme-btn--secondary">Cancel</button>
</form>"#,
        client = escape(client_name),
        user = escape(user),
        action = escape(action),
        req = escape(request_id),
    );
    let page = Page::new("Grant access", body);
    // The page's policy loads nothing from elsewhere; the logo's origin is let in for images.
    match logo_origin {
        Some(origin) => page.allow_images_from(origin),
        None => page,
    }
    .respond(StatusCode::OK)
}

fn scope_description(scope: &str) -> Option<String> {
    if let Some(peer) = crate::token::cross_client_peer(scope) {
        return Some(format!("Sign you in to {peer} as well"));
    }
    Some(
        match scope {
            "openid" => "Know who you are",
            "email" => "View your e-mail address",
            "profile" => "View basic profile information",
            "groups" => "View your groups",
            "offline_access" => "Have offline access",
            "federated:id" => "Know which identity provider you used",
            _ => return None,
        }
        .to_string(),
    )
}
