//! `$VAR` / `${VAR}` expansion inside `storage.config`, as Dex does with Go's `os.ExpandEnv`.
//!
//! The syntax follows Go's `os.Expand`: `$NAME` takes letters, digits and `_`; `${NAME}` takes
//! anything up to `}`; a `$` not followed by a name stays as it is. One deliberate difference:
//! Go turns an unset variable into an empty string (a silently empty database password); we
//! refuse it with the variable's name instead.

use serde_json::Value;

/// Expands every string inside `value` (recursively); `path` names the node for errors.
pub fn expand_value(
    value: &mut Value,
    path: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(), (String, String)> {
    match value {
        Value::String(text) => {
            *text = expand(text, env).map_err(|message| (path.to_string(), message))?;
        }
        Value::Object(map) => {
            for (key, child) in map.iter_mut() {
                expand_value(child, &format!("{path}.{key}"), env)?;
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter_mut().enumerate() {
                expand_value(child, &format!("{path}[{i}]"), env)?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// Expands the variables in one string.
pub fn expand(text: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        match name_at(after) {
            Name::Var(name, used) => {
                let value = env(name).ok_or_else(|| {
                    format!("environment variable {name:?} (written ${name}) is not set")
                })?;
                out.push_str(&value);
                rest = &after[used..];
            }
            Name::Bad(used) => {
                return Err(format!(
                    "{:?} is not a valid variable reference; write $NAME or ${{NAME}}",
                    format!("${}", &after[..used])
                ))
            }
            Name::None => {
                out.push('$');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    Ok(out)
}

enum Name<'a> {
    /// A name and how many bytes after the `$` it used.
    Var(&'a str, usize),
    /// Broken syntax (`${`, `${}`) spanning this many bytes.
    Bad(usize),
    /// No name: the `$` is literal.
    None,
}

fn name_at(s: &str) -> Name<'_> {
    let bytes = s.as_bytes();
    match bytes.first() {
        None => Name::None,
        Some(b'{') => match s.find('}') {
            Some(1) => Name::Bad(2),
            Some(end) => Name::Var(&s[1..end], end + 1),
            None => Name::Bad(1),
        },
        // Go's one-character shell specials ($1, $$, $@ …) name variables too.
        Some(b) if b"*#$@!?-".contains(b) || b.is_ascii_digit() => Name::Var(&s[..1], 1),
        Some(_) => {
            let len = bytes
                .iter()
                .take_while(|b| b.is_ascii_alphanumeric() || **b == b'_')
                .count();
            if len == 0 {
                Name::None
            } else {
                Name::Var(&s[..len], len)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "PASSWORD_ENV_VAR" => Some("s3cr$t".into()),
            "HOST" => Some("db".into()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    #[test]
    fn expands_both_forms_once() {
        assert_eq!(expand("$PASSWORD_ENV_VAR", &env).unwrap(), "s3cr$t");
        assert_eq!(expand("${HOST}:5432", &env).unwrap(), "db:5432");
        assert_eq!(expand("$HOST.local", &env).unwrap(), "db.local");
        assert_eq!(expand("a${EMPTY}b", &env).unwrap(), "ab");
        // The value is not expanded again.
        assert_eq!(expand("x$PASSWORD_ENV_VAR", &env).unwrap(), "xs3cr$t");
    }

    #[test]
    fn a_dollar_without_a_name_stays() {
        assert_eq!(expand("cost $ 5", &env).unwrap(), "cost $ 5");
        assert_eq!(expand("end$", &env).unwrap(), "end$");
        assert_eq!(expand("plain", &env).unwrap(), "plain");
    }

    #[test]
    fn unset_and_broken_references_are_refused() {
        let e = expand("$NOPE", &env).unwrap_err();
        assert!(e.contains("\"NOPE\"") && e.contains("not set"), "{e}");
        assert!(expand("${}", &env).is_err());
        assert!(expand("${HOST", &env).is_err());
    }

    #[test]
    fn walks_nested_values_and_names_the_key() {
        let mut v = serde_json::json!({"password": "$PASSWORD_ENV_VAR", "ssl": {"mode": "$X"}, "port": 5432});
        let (path, message) = expand_value(&mut v, "storage.config", &env).unwrap_err();
        assert_eq!(path, "storage.config.ssl.mode");
        assert!(message.contains("\"X\""), "{message}");
        let mut v = serde_json::json!({"password": "$PASSWORD_ENV_VAR", "port": 5432});
        expand_value(&mut v, "storage.config", &env).unwrap();
        assert_eq!(v, serde_json::json!({"password": "s3cr$t", "port": 5432}));
    }
}
