//! Identity headers sent to the upstream. Client-sent copies never pass (the request is refused), so the
//! upstream can trust them.

use crate::session::Session;

/// Headers the filter owns: a request carrying one (in any case or spelling, see
/// `headers::request`) is refused, then they are set from a valid session.
pub const IDENTITY_HEADERS: [&str; 5] = [
    "x-auth-request-user",
    "x-auth-request-email",
    "x-auth-request-groups",
    "x-auth-request-preferred-username",
    "x-auth-request-access-token",
];

/// The address an identity is known by: only a verified one, as oauth2-proxy does, unless the
/// operator opted out (`insecure_oidc_allow_unverified_email`). Anyone can register any
/// address unverified at some providers, so an unverified one must meet no e-mail rule and
/// reach no upstream. A missing `email_verified` counts as unverified (fail closed).
pub fn trusted_email(
    email: Option<String>,
    verified: Option<bool>,
    allow_unverified: bool,
) -> String {
    match email {
        Some(e) if verified == Some(true) || allow_unverified => e,
        _ => String::new(),
    }
}

/// Header values for a session. Groups are comma-separated, as oauth2-proxy sends them.
/// Built on every admitted request, so values are copied once and only cleaned when needed.
pub fn headers(session: &Session, pass_access_token: bool) -> Vec<(&'static str, String)> {
    let mut out = Vec::with_capacity(6);
    out.push(("x-auth-request-user", clean(&session.sub)));
    if !session.email.is_empty() {
        out.push(("x-auth-request-email", clean(&session.email)));
    }
    if !session.groups.is_empty() {
        let len = session.groups.iter().map(|g| g.len() + 1).sum();
        let mut joined = String::with_capacity(len);
        for (i, g) in session.groups.iter().enumerate() {
            if i > 0 {
                joined.push(',');
            }
            push_clean(&mut joined, g);
        }
        out.push(("x-auth-request-groups", joined));
    }
    if !session.preferred_username.is_empty() {
        out.push((
            "x-auth-request-preferred-username",
            clean(&session.preferred_username),
        ));
    }
    if pass_access_token {
        if let Some(at) = &session.access_token {
            let at = clean(at);
            out.push(("authorization", format!("Bearer {at}")));
            out.push(("x-auth-request-access-token", at));
        }
    }
    out
}

/// Header values cannot carry control characters; a claim with them is reduced rather than
/// allowed to split or smuggle headers. Commas inside one group would be ambiguous in the
/// joined list, so they are replaced too.
fn is_unsafe(c: char) -> bool {
    c.is_control() || c == ','
}

fn clean(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    push_clean(&mut out, v);
    out
}

/// Whether `v` surely needs no cleaning: printable ASCII without a comma (the common case),
/// decided on bytes; anything else takes the per-character way.
fn plainly_safe(v: &str) -> bool {
    v.bytes().all(|b| (0x20..0x7f).contains(&b) && b != b',')
}

fn push_clean(out: &mut String, v: &str) {
    if !plainly_safe(v) && v.contains(is_unsafe) {
        out.extend(v.chars().map(|c| if is_unsafe(c) { ' ' } else { c }));
    } else {
        out.push_str(v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_verified_addresses_are_kept() {
        let e = || Some("ceo@corp.example".to_string());
        assert_eq!(trusted_email(e(), Some(true), false), "ceo@corp.example");
        assert_eq!(trusted_email(e(), Some(false), false), "");
        assert_eq!(trusted_email(e(), None, false), "");
        assert_eq!(trusted_email(e(), Some(false), true), "ceo@corp.example");
        assert_eq!(trusted_email(None, Some(true), true), "");
    }

    #[test]
    fn header_values_are_clean() {
        let s = Session {
            sub: "u1".into(),
            email: "a@b.c\r\nx-evil: 1".into(),
            name: String::new(),
            preferred_username: String::new(),
            groups: vec!["a,b".into(), "c".into()],
            issued_at: 0,
            expires_at: 1,
            ends_at: 2,
            refresh_token: None,
            access_token: Some("tok".into()),
            sid: String::new(),
        };
        let h = headers(&s, true);
        assert!(h.iter().all(|(_, v)| !v.contains(['\r', '\n'])));
        // Non-ASCII text is kept, C1 controls (U+0080–U+009F) are not.
        let mut t = s.clone();
        t.groups = vec!["équipe".into(), "a\u{85}b".into(), "del\u{7f}".into()];
        let other = headers(&t, false);
        assert!(other.contains(&("x-auth-request-groups", "équipe,a b,del ".to_string())));
        assert!(h.contains(&("x-auth-request-groups", "a b,c".to_string())));
        assert!(h.contains(&("authorization", "Bearer tok".to_string())));
        assert!(!headers(&s, false)
            .iter()
            .any(|(k, _)| *k == "authorization"));
    }
}
