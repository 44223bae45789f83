use axum::http::StatusCode;
use axum::response::Response;

use super::{escape, html_response};

/// "<client> wants to …" with approve and deny buttons.
pub fn approval_page(
    action: &str,
    request_id: &str,
    client_name: &str,
    user: &str,
    scopes: &[String],
) -> Response {
    let items: String = scopes
        .iter()
        .filter_map(|s| scope_description(s))
        .map(|d| format!("<li>{}</li>", escape(d)))
        .collect();
    let body = format!(
        r#"<h1>Grant access</h1>
<p><strong>{client}</strong> would like to:</p><ul>{items}</ul>
<p class="muted">Signed in as {user}</p>
<form method="post" action="{action}">
<input type="hidden" name="req" value="{req}">
<button type="submit" name="approval" value="approve" autofocus>Grant access</button>
<button type="submit" name="approval" value="deny" class="secondary">Cancel</button>
</form>"#,
        client = escape(client_name),
        user = escape(user),
        action = escape(action),
        req = escape(request_id),
    );
    html_response(StatusCode::OK, "Grant access", &body)
}

fn scope_description(scope: &str) -> Option<&'static str> {
    Some(match scope {
        "openid" => "Know who you are",
        "email" => "View your e-mail address",
        "profile" => "View basic profile information",
        "groups" => "View your groups",
        "offline_access" => "Have offline access",
        "federated:id" => "Know which identity provider you used",
        _ => return None,
    })
}
