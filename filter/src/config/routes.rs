//! Compiling `routes` entries (and the global lists) into [`crate::rules`] types. The rules
//! know nothing of configuration keys; errors get their key here.

use super::{invalid, ConfigError, RouteConfig};
use crate::path::decide;
use crate::rules::{PathMatch, RouteRule, Rule, RuleError};

/// A rule from the three lists; `key` names the e-mail-domain list for errors.
pub fn rule(
    groups: Vec<String>,
    emails: Vec<String>,
    domains: Vec<String>,
    key: &str,
) -> Result<Rule, ConfigError> {
    Rule::new(groups, emails, domains).map_err(|e| invalid(key, e.to_string()))
}

/// One `routes[index]` entry; a route without rules of its own takes `default`.
pub fn route(index: usize, cfg: RouteConfig, default: &Rule) -> Result<RouteRule, ConfigError> {
    let key = |k: &str| format!("routes[{index}].{k}");
    let matcher = match (cfg.path_prefix, cfg.path_exact, cfg.path_regex) {
        (Some(p), None, None) => PathMatch::Prefix(route_path(&key("path_prefix"), p)?),
        (None, Some(p), None) => PathMatch::Exact(route_path(&key("path_exact"), p)?),
        (None, None, Some(r)) => PathMatch::regex(&r)
            .map_err(|e: RuleError| invalid(key("path_regex"), e.to_string()))?,
        _ => {
            return Err(invalid(
                format!("routes[{index}]"),
                "set exactly one of path_prefix, path_exact or path_regex",
            ))
        }
    };
    let methods: Vec<String> = cfg.methods.iter().map(|m| m.to_ascii_uppercase()).collect();
    if let Some(m) = methods
        .iter()
        .find(|m| m.is_empty() || !m.bytes().all(|b| b.is_ascii_uppercase()))
    {
        return Err(invalid(
            key("methods"),
            format!("{m:?} is not an HTTP method"),
        ));
    }
    let any_rule =
        cfg.allowed_groups.is_some() || cfg.allowed_emails.is_some() || cfg.email_domains.is_some();
    if cfg.public && any_rule {
        return Err(invalid(
            key("public"),
            "a public route cannot also restrict groups or e-mails",
        ));
    }
    let rule = if any_rule {
        rule(
            cfg.allowed_groups.unwrap_or_default(),
            cfg.allowed_emails.unwrap_or_default(),
            cfg.email_domains.unwrap_or_default(),
            &key("email_domains"),
        )?
    } else {
        default.clone()
    };
    Ok(RouteRule::new(matcher, methods, cfg.public, cfg.api, rule))
}

/// A route path must be one a request can have after the path decision, written without
/// escapes, so that it compares byte for byte with decided paths.
fn route_path(key: &str, p: String) -> Result<String, ConfigError> {
    match decide(&p) {
        Ok(d) if d == p => Ok(p),
        Ok(_) => Err(invalid(
            key,
            "write it without percent escapes (as the decoded path)",
        )),
        Err(why) => Err(invalid(
            key,
            format!("{why}: write an absolute path without '.', '..', '//', ';' or '\\\\'"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::select;

    fn prefix(p: &str, public: bool) -> RouteConfig {
        RouteConfig {
            path_prefix: Some(p.into()),
            public,
            ..Default::default()
        }
    }

    #[test]
    fn config_errors_name_the_entry() {
        let d = Rule::default();
        let e = route(3, RouteConfig::default(), &d).unwrap_err();
        assert!(e.to_string().contains("routes[3]"), "{e}");
        for bad in ["/a/../b", "//a", "/a;b", "a", "/%61", "/a\\b"] {
            let e = route(1, prefix(bad, false), &d).unwrap_err();
            assert!(
                e.to_string().contains("routes[1].path_prefix"),
                "{bad}: {e}"
            );
        }
        let e = route(
            2,
            RouteConfig {
                path_regex: Some("(".into()),
                ..Default::default()
            },
            &d,
        )
        .unwrap_err();
        assert!(e.to_string().contains("routes[2].path_regex"), "{e}");
        let e = route(
            0,
            RouteConfig {
                email_domains: Some(vec!["ex ample".into()]),
                ..prefix("/x", false)
            },
            &d,
        )
        .unwrap_err();
        assert!(e.to_string().contains("routes[0].email_domains"), "{e}");
        let e = route(
            0,
            RouteConfig {
                methods: vec!["G E T".into()],
                ..prefix("/x", false)
            },
            &d,
        )
        .unwrap_err();
        assert!(e.to_string().contains("routes[0].methods"), "{e}");
    }

    #[test]
    fn compiled_routes_select_by_method_and_path() {
        let d = Rule::default();
        let routes = vec![
            route(
                0,
                RouteConfig {
                    methods: vec!["post".into()],
                    ..prefix("/hooks", true)
                },
                &d,
            )
            .unwrap(),
            route(1, prefix("/api/", true), &d).unwrap(),
        ];
        assert!(select(&routes, &d, "POST", "/hooks/x").0.public);
        assert!(!select(&routes, &d, "GET", "/hooks/x").0.public);
        assert!(select(&routes, &d, "GET", "/api/x").0.public);
        assert!(!select(&routes, &d, "GET", "/api").0.public);
    }
}
