//! The search filters the connector sends (RFC 4515), with what the user typed (and values read
//! from the directory) escaped as assertion values, so no input can add a wildcard, close a
//! parenthesis or end the string early. Names of attributes and the configured filters come
//! from the config and are checked there with [`is_attribute_description`] and [`is_filter`].
//!
//! No DN is ever made from input: the user's DN comes from the search result, and DNs go into
//! filters only as escaped values, so RFC 4514 DN escaping is not needed anywhere.

/// An assertion value: `\`, `*`, `(`, `)` and NUL as `\XX` (RFC 4515 §3). Other bytes, UTF-8
/// included, are valid as they are.
pub fn escape(value: &str) -> String {
    ldap3::ldap_escape(value).into_owned()
}

/// `(&{extra}(|(a=v)(b=v)))`, without the OR for a single attribute, and without the AND
/// when no extra filter is configured (Dex's shape).
pub fn equality_any(extra: Option<&str>, attributes: &[String], value: &str) -> String {
    let value = escape(value);
    let terms: String = attributes
        .iter()
        .map(|a| format!("({a}={value})"))
        .collect();
    let matching = if attributes.len() == 1 {
        terms
    } else {
        format!("(|{terms})")
    };
    match extra {
        Some(extra) => format!("(&{extra}{matching})"),
        None => matching,
    }
}

/// A complete filter the directory client can encode.
pub fn is_filter(text: &str) -> bool {
    text.starts_with('(') && text.ends_with(')') && ldap3::parse_filter(text).is_ok()
}

/// An attribute description (RFC 4512 §2.5): a name (`uid`, `sAMAccountName`) or a numeric
/// OID, with options (`;lang-en`). `DN` is one too: the connector reads it as the entry's DN.
pub fn is_attribute_description(text: &str) -> bool {
    let mut parts = text.split(';');
    let Some(name) = parts.next() else {
        return false;
    };
    let keystring = name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    let oid = !name.is_empty()
        && name
            .split('.')
            .all(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()));
    (keystring || oid)
        && parts.all(|o| !o.is_empty() && o.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attrs(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn specials_are_escaped_and_nothing_else() {
        assert_eq!(escape("jane"), "jane");
        assert_eq!(escape("*"), "\\2a");
        assert_eq!(escape(")(uid=*"), "\\29\\28uid=\\2a");
        assert_eq!(escape("a\\00b"), "a\\5c00b");
        assert_eq!(escape("a\0b"), "a\\00b");
        assert_eq!(escape("Jürgen Ø"), "Jürgen Ø");
    }

    #[test]
    fn filters_have_dex_shape_and_stay_one_filter_whatever_the_input() {
        assert_eq!(equality_any(None, &attrs(&["uid"]), "jane"), "(uid=jane)");
        assert_eq!(
            equality_any(Some("(objectClass=person)"), &attrs(&["uid", "mail"]), "j*"),
            "(&(objectClass=person)(|(uid=j\\2a)(mail=j\\2a)))"
        );
        for hostile in [
            "*",
            ")(uid=*",
            "*)(|(uid=*",
            "\\",
            "\0",
            "a)(objectClass=*))(&(x=",
            "é*",
        ] {
            let f = equality_any(Some("(objectClass=person)"), &attrs(&["uid"]), hostile);
            assert!(is_filter(&f), "{f}");
            assert!(!f[1..f.len() - 1].contains('*'), "{f}");
        }
    }

    #[test]
    fn configured_filters_and_attribute_names_are_checked() {
        assert!(is_filter("(objectClass=person)"));
        assert!(is_filter(
            "(|(objectClass=posixGroup)(objectClass=groupOfNames))"
        ));
        assert!(!is_filter("objectClass=person"));
        assert!(!is_filter("(objectClass=person"));
        assert!(!is_filter("(objectClass=person))"));
        assert!(!is_filter(""));
        for good in [
            "uid",
            "sAMAccountName",
            "DN",
            "cn;lang-en",
            "2.5.4.3",
            "x-1",
        ] {
            assert!(is_attribute_description(good), "{good}");
        }
        for bad in [
            "",
            "uid ",
            "1uid",
            "u(id",
            "uid=x",
            "cn;",
            "2..5",
            "mail)(uid=*",
        ] {
            assert!(!is_attribute_description(bad), "{bad}");
        }
    }
}
