//! Finds a login form in an HTML page, the way a person would: the form that has a
//! password box. Tolerant of markup style (quotes, case, attribute order, entities).

use anyhow::{bail, Context, Result};
use url::Url;

/// A login form ready to be filled in and posted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginForm {
    /// Absolute URL the form posts to (the page's own URL when `action` is absent).
    pub action: Url,
    /// Lower-case, `get` or `post`.
    pub method: String,
    /// Hidden inputs, in page order.
    pub hidden: Vec<(String, String)>,
    /// Name of the text input for the login (`login` on Dex-style pages).
    pub login_field: String,
    /// Name of the password input.
    pub password_field: String,
}

impl LoginForm {
    /// The fields a browser would submit: hidden ones, then login and password.
    pub fn fields(&self, login: &str, password: &str) -> Vec<(String, String)> {
        let mut fields = self.hidden.clone();
        fields.push((self.login_field.clone(), login.to_string()));
        fields.push((self.password_field.clone(), password.to_string()));
        fields
    }
}

/// The first form in `html` with a password input; `base` resolves a relative action.
pub fn find_login_form(html: &str, base: &Url) -> Result<LoginForm> {
    let mut form: Option<(Tag, Vec<Tag>)> = None;
    for tag in tags(html) {
        match tag.name.as_str() {
            "form" => {
                // An unclosed form before a new one still counts.
                if let Some((form_tag, inputs)) = form.take() {
                    if let Some(found) = login_form(&form_tag, &inputs, base)? {
                        return Ok(found);
                    }
                }
                form = Some((tag, Vec::new()));
            }
            "/form" => {
                if let Some((form_tag, inputs)) = form.take() {
                    if let Some(found) = login_form(&form_tag, &inputs, base)? {
                        return Ok(found);
                    }
                }
            }
            "input" => {
                if let Some((_, inputs)) = form.as_mut() {
                    inputs.push(tag);
                }
            }
            _ => {}
        }
    }
    // A form left unclosed at the end of the page still counts.
    if let Some((form_tag, inputs)) = form {
        if let Some(found) = login_form(&form_tag, &inputs, base)? {
            return Ok(found);
        }
    }
    let preview: String = html.chars().take(600).collect();
    bail!("no form with a password input at {base}; the page starts:\n{preview}")
}

fn login_form(form: &Tag, inputs: &[Tag], base: &Url) -> Result<Option<LoginForm>> {
    let kind = |t: &Tag| t.attr("type").unwrap_or("text").to_ascii_lowercase();
    let Some(password_field) = inputs
        .iter()
        .find(|t| kind(t) == "password")
        .and_then(|t| t.attr("name"))
    else {
        return Ok(None);
    };
    let text_inputs: Vec<&Tag> = inputs
        .iter()
        .filter(|t| matches!(kind(t).as_str(), "text" | "email"))
        .collect();
    let login_field = text_inputs
        .iter()
        .find(|t| t.attr("name") == Some("login"))
        .or_else(|| text_inputs.first())
        .and_then(|t| t.attr("name"))
        .unwrap_or("login");
    let action = match form.attr("action") {
        Some(action) if !action.is_empty() => base
            .join(action)
            .with_context(|| format!("form action {action:?} on {base}"))?,
        _ => base.clone(),
    };
    let hidden = inputs
        .iter()
        .filter(|t| kind(t) == "hidden")
        .filter_map(|t| {
            let name = t.attr("name")?;
            Some((name.to_string(), t.attr("value").unwrap_or("").to_string()))
        })
        .collect();
    Ok(Some(LoginForm {
        action,
        method: form.attr("method").unwrap_or("get").to_ascii_lowercase(),
        hidden,
        login_field: login_field.to_string(),
        password_field: password_field.to_string(),
    }))
}

/// A start or end tag: lower-case name (`/form` for an end tag) and decoded attributes.
#[derive(Debug)]
pub(crate) struct Tag {
    pub(crate) name: String,
    attrs: Vec<(String, String)>,
}

impl Tag {
    pub(crate) fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// The tags of `html`, skipping comments and the bodies of `script`/`style`.
pub(crate) fn tags(html: &str) -> Vec<Tag> {
    let mut out = Vec::new();
    let mut rest = html;
    while let Some(lt) = rest.find('<') {
        rest = &rest[lt..];
        if let Some(after) = rest.strip_prefix("<!--") {
            rest = after.find("-->").map_or("", |end| &after[end + 3..]);
            continue;
        }
        let (tag, after) = parse_tag(&rest[1..]);
        rest = after;
        if let Some(tag) = tag {
            if tag.name == "script" || tag.name == "style" {
                let close = format!("</{}", tag.name);
                let lower = rest.to_ascii_lowercase();
                rest = lower.find(&close).map_or("", |i| &rest[i..]);
            }
            out.push(tag);
        }
    }
    out
}

/// Parses after a `<`; returns the tag (None for `<!doctype`, stray `<`, …) and the rest.
fn parse_tag(s: &str) -> (Option<Tag>, &str) {
    let bytes = s.as_bytes();
    let mut i = 0;
    let closing = bytes.first() == Some(&b'/');
    if closing {
        i += 1;
    }
    let name_start = i;
    while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'-') {
        i += 1;
    }
    if i == name_start {
        return (None, s);
    }
    let mut name = s[name_start..i].to_ascii_lowercase();
    if closing {
        name.insert(0, '/');
    }
    let mut attrs = Vec::new();
    loop {
        while i < bytes.len() && (bytes[i].is_ascii_whitespace() || bytes[i] == b'/') {
            i += 1;
        }
        if i >= bytes.len() {
            return (Some(Tag { name, attrs }), "");
        }
        if bytes[i] == b'>' {
            return (Some(Tag { name, attrs }), &s[i + 1..]);
        }
        let attr_start = i;
        while i < bytes.len()
            && !bytes[i].is_ascii_whitespace()
            && !matches!(bytes[i], b'=' | b'>' | b'/')
        {
            i += 1;
        }
        let attr_name = s[attr_start..i].to_ascii_lowercase();
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        let mut value = String::new();
        if bytes.get(i) == Some(&b'=') {
            i += 1;
            while i < bytes.len() && bytes[i].is_ascii_whitespace() {
                i += 1;
            }
            match bytes.get(i) {
                Some(&q) if q == b'"' || q == b'\'' => {
                    let start = i + 1;
                    let end = s[start..].find(q as char).map_or(s.len(), |e| start + e);
                    value = decode_entities(&s[start..end]);
                    i = (end + 1).min(s.len());
                }
                _ => {
                    let start = i;
                    while i < bytes.len() && !bytes[i].is_ascii_whitespace() && bytes[i] != b'>' {
                        i += 1;
                    }
                    value = decode_entities(&s[start..i]);
                }
            }
        }
        if !attr_name.is_empty() {
            attrs.push((attr_name, value));
        } else {
            i += 1; // a stray '=': skip it
        }
    }
}

/// Decodes the character references that appear in attribute values.
fn decode_entities(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        rest = &rest[amp..];
        // Byte search: slicing at a fixed length could split a multi-byte character.
        let Some(semi) = rest.bytes().take(12).position(|b| b == b';') else {
            out.push('&');
            rest = &rest[1..];
            continue;
        };
        let entity = &rest[1..semi];
        let decoded = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => entity
                .strip_prefix("#x")
                .or_else(|| entity.strip_prefix("#X"))
                .and_then(|hex| u32::from_str_radix(hex, 16).ok())
                .or_else(|| entity.strip_prefix('#').and_then(|d| d.parse().ok()))
                .and_then(char::from_u32),
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &rest[semi + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Url {
        Url::parse("http://127.0.0.1:5556/dex/auth/local?req=abc").unwrap()
    }

    #[test]
    fn finds_a_dex_style_form() {
        let html = r#"<!DOCTYPE html><html><body>
          <form method="post" action="/dex/auth/local/login?back=&amp;state=xyz">
            <input type="hidden" name="req" value="a&amp;b&#39;c&#x22;">
            <input id="login" name="login" type="text" placeholder="email" autofocus/>
            <input name="password" type="password">
            <button type="submit">Login</button>
          </form></body></html>"#;
        let form = find_login_form(html, &base()).unwrap();
        assert_eq!(
            form.action.as_str(),
            "http://127.0.0.1:5556/dex/auth/local/login?back=&state=xyz"
        );
        assert_eq!(form.method, "post");
        assert_eq!(form.hidden, vec![("req".into(), "a&b'c\"".into())]);
        assert_eq!(
            form.fields("u@x", "pw"),
            vec![
                ("req".into(), "a&b'c\"".into()),
                ("login".into(), "u@x".into()),
                ("password".into(), "pw".into())
            ]
        );
    }

    #[test]
    fn skips_forms_without_a_password_and_tolerates_markup_style() {
        let html = "<FORM action='/search'><INPUT name=q></FORM>\
            <!-- <form action='/fake'><input type=password name=x></form> -->\
            <script>var s = '<form action=\"/js\"><input type=password name=y>';</script>\
            <Form Method=POST><Input Type=hidden Name=t Value=1><input type=email name=user>\
            <input type = \"password\" name = 'pw' ></form>";
        let form = find_login_form(html, &base()).unwrap();
        assert_eq!(form.action, base(), "no action posts back to the page");
        assert_eq!(form.method, "post");
        assert_eq!(form.hidden, vec![("t".into(), "1".into())]);
        assert_eq!(form.login_field, "user");
        assert_eq!(form.password_field, "pw");
    }

    #[test]
    fn a_page_without_a_login_form_is_an_error_showing_the_page() {
        let err = find_login_form("<p>Invalid request</p>", &base()).unwrap_err();
        assert!(err.to_string().contains("Invalid request"), "{err}");
    }

    #[test]
    fn broken_markup_does_not_panic() {
        for html in [
            "<",
            "<form",
            "&é;é&éééééééééééé;",
            "<input type=\"password",
            "<a b='",
            "&#xFFFFFFFF;<",
            "<!--",
            "<script>",
        ] {
            let _ = find_login_form(html, &base());
        }
        assert_eq!(
            decode_entities("&bogus; &#1114112; & &amp"),
            "&bogus; &#1114112; & &amp"
        );
    }
}
