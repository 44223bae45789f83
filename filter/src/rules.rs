//! Authorisation rules: who may pass once signed in, and which rule a request falls under.

use crate::config::{ConfigError, RouteConfig};
use crate::path::normalize_path;

/// What a signed-in user must satisfy. Lists are ORed inside, categories are ANDed:
/// a group rule and an e-mail rule both have to hold when both are set.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rule {
    groups: Vec<String>,
    /// Lower-cased addresses.
    emails: Vec<String>,
    /// Lower-cased domains; a leading '.' also admits subdomains; "*" admits any domain.
    domains: Vec<String>,
}

/// The identity facts a rule looks at.
pub struct Subject<'a> {
    pub email: &'a str,
    pub groups: &'a [String],
}

impl Rule {
    pub fn new(
        groups: Vec<String>,
        emails: Vec<String>,
        domains: Vec<String>,
        domains_key: &str,
    ) -> Result<Rule, ConfigError> {
        for d in &domains {
            let body = d.strip_prefix('.').unwrap_or(d);
            let ok = d == "*"
                || (!body.is_empty()
                    && body
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-'));
            if !ok {
                return Err(ConfigError::Invalid {
                    key: domains_key.to_string(),
                    reason: format!("{d:?} is not a domain (use example.com, .example.com or *)"),
                });
            }
        }
        Ok(Rule {
            groups,
            emails: emails.into_iter().map(|e| e.to_ascii_lowercase()).collect(),
            domains: domains
                .into_iter()
                .map(|d| d.to_ascii_lowercase())
                .collect(),
        })
    }

    pub fn allows(&self, who: &Subject<'_>) -> bool {
        let groups_ok =
            self.groups.is_empty() || who.groups.iter().any(|g| self.groups.contains(g));
        let email_ok =
            (self.emails.is_empty() && self.domains.is_empty()) || self.email_ok(who.email);
        groups_ok && email_ok
    }

    fn email_ok(&self, email: &str) -> bool {
        let email = email.to_ascii_lowercase();
        // An address with several '@' (quoted local parts and the like) is never trusted for a
        // domain match: different parsers disagree on which '@' separates the domain.
        let mut parts = email.split('@');
        let (Some(local), Some(domain), None) = (parts.next(), parts.next(), parts.next()) else {
            return false;
        };
        if local.is_empty() || domain.is_empty() {
            return false;
        }
        if self.emails.contains(&email) {
            return true;
        }
        self.domains.iter().any(|d| {
            d == "*"
                || d == domain
                || (d.starts_with('.') && (domain.ends_with(d.as_str()) || domain == &d[1..]))
        })
    }
}

/// How a route answers an unauthenticated request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unauthenticated {
    /// Browser flow: 302 to the broker.
    Redirect,
    /// API: 401 with a JSON body.
    Reject,
}

/// One compiled entry of `routes`.
#[derive(Debug, Clone)]
pub struct RouteRule {
    matcher: PathMatch,
    methods: Vec<String>,
    pub public: bool,
    pub api: bool,
    pub rule: Rule,
}

#[derive(Debug, Clone)]
enum PathMatch {
    Prefix(String),
    Exact(String),
    Regex(regex_lite::Regex),
}

impl RouteRule {
    pub fn from_config(
        index: usize,
        cfg: RouteConfig,
        default: &Rule,
    ) -> Result<RouteRule, ConfigError> {
        let key = |k: &str| format!("routes[{index}].{k}");
        let matcher = match (cfg.path_prefix, cfg.path_exact, cfg.path_regex) {
            (Some(p), None, None) => PathMatch::Prefix(check_route_path(&key("path_prefix"), p)?),
            (None, Some(p), None) => PathMatch::Exact(check_route_path(&key("path_exact"), p)?),
            (None, None, Some(r)) => {
                // Anchored on both ends: a rule must not match a path merely containing it.
                let re = regex_lite::Regex::new(&format!("^(?:{r})$")).map_err(|e| {
                    ConfigError::Invalid {
                        key: key("path_regex"),
                        reason: format!("not a valid regular expression: {e}"),
                    }
                })?;
                PathMatch::Regex(re)
            }
            _ => {
                return Err(ConfigError::Invalid {
                    key: format!("routes[{index}]"),
                    reason: "set exactly one of path_prefix, path_exact or path_regex".into(),
                })
            }
        };
        let methods: Vec<String> = cfg.methods.iter().map(|m| m.to_ascii_uppercase()).collect();
        if let Some(m) = methods
            .iter()
            .find(|m| m.is_empty() || !m.bytes().all(|b| b.is_ascii_uppercase()))
        {
            return Err(ConfigError::Invalid {
                key: key("methods"),
                reason: format!("{m:?} is not an HTTP method"),
            });
        }
        let any_rule = cfg.allowed_groups.is_some()
            || cfg.allowed_emails.is_some()
            || cfg.email_domains.is_some();
        if cfg.public && any_rule {
            return Err(ConfigError::Invalid {
                key: key("public"),
                reason: "a public route cannot also restrict groups or e-mails".into(),
            });
        }
        let rule = if any_rule {
            Rule::new(
                cfg.allowed_groups.unwrap_or_default(),
                cfg.allowed_emails.unwrap_or_default(),
                cfg.email_domains.unwrap_or_default(),
                &key("email_domains"),
            )?
        } else {
            default.clone()
        };
        Ok(RouteRule {
            matcher,
            methods,
            public: cfg.public,
            api: cfg.api,
            rule,
        })
    }

    pub fn matches(&self, method: &str, path: &str) -> bool {
        if !self.methods.is_empty() && !self.methods.iter().any(|m| m == method) {
            return false;
        }
        match &self.matcher {
            PathMatch::Exact(p) => path == p,
            PathMatch::Regex(re) => re.is_match(path),
            PathMatch::Prefix(p) => {
                // "/api" covers "/api" and "/api/x" but not "/apix"; "/api/" covers "/api/x".
                path.starts_with(p.as_str())
                    && (p.ends_with('/')
                        || path.len() == p.len()
                        || path.as_bytes()[p.len()] == b'/')
            }
        }
    }
}

fn check_route_path(key: &str, p: String) -> Result<String, ConfigError> {
    let normalised = normalize_path(&p).ok_or_else(|| ConfigError::Invalid {
        key: key.to_string(),
        reason: "must be an absolute path".into(),
    })?;
    if normalised != p && format!("{normalised}/") != p {
        return Err(ConfigError::Invalid {
            key: key.to_string(),
            reason: format!("write it normalised, as {normalised:?}"),
        });
    }
    Ok(p)
}

/// The policy that applies to one request.
pub struct Applied<'a> {
    pub public: bool,
    pub api: bool,
    pub rule: &'a Rule,
}

/// First matching route wins; no match falls back to the global rule (a browser route).
/// `path` must already be normalised. Also returns the index of the matching route.
pub fn select<'a>(
    routes: &'a [RouteRule],
    default: &'a Rule,
    method: &str,
    path: &str,
) -> (Applied<'a>, Option<usize>) {
    match routes.iter().position(|r| r.matches(method, path)) {
        Some(i) => {
            let r = &routes[i];
            (
                Applied {
                    public: r.public,
                    api: r.api,
                    rule: &r.rule,
                },
                Some(i),
            )
        }
        None => (
            Applied {
                public: false,
                api: false,
                rule: default,
            },
            None,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(groups: &[&str], emails: &[&str], domains: &[&str]) -> Rule {
        let v = |x: &[&str]| x.iter().map(|s| s.to_string()).collect();
        Rule::new(v(groups), v(emails), v(domains), "email_domains").unwrap()
    }

    fn who<'a>(email: &'a str, groups: &'a [String]) -> Subject<'a> {
        Subject { email, groups }
    }

    #[test]
    fn empty_rule_admits_anyone_signed_in() {
        assert!(rule(&[], &[], &[]).allows(&who("a@b.c", &[])));
    }

    #[test]
    fn groups_are_ored_and_required() {
        let r = rule(&["admins", "developers"], &[], &[]);
        assert!(r.allows(&who("a@b.c", &["developers".into()])));
        assert!(!r.allows(&who("a@b.c", &["contractors".into()])));
        assert!(!r.allows(&who("a@b.c", &[])));
        // Group names are exact: no case folding, no prefix matching.
        assert!(!r.allows(&who("a@b.c", &["Admins".into(), "admin".into()])));
    }

    #[test]
    fn emails_and_domains() {
        let r = rule(
            &[],
            &["Boss@Corp.example"],
            &["example.com", ".sub.example"],
        );
        assert!(r.allows(&who("boss@corp.example", &[])));
        assert!(r.allows(&who("x@EXAMPLE.com", &[])));
        assert!(r.allows(&who("x@a.sub.example", &[])));
        assert!(r.allows(&who("x@sub.example", &[])));
        assert!(!r.allows(&who("x@evilexample.com", &[])));
        assert!(!r.allows(&who("x@example.com.evil", &[])));
        assert!(!r.allows(&who("x@evil.com@example.com", &[])));
        assert!(!r.allows(&who("\"x@evil.com\"@example.com", &[])));
        assert!(!r.allows(&who("example.com", &[])));
        assert!(!r.allows(&who("@example.com", &[])));
    }

    #[test]
    fn groups_and_emails_both_apply() {
        let r = rule(&["admins"], &[], &["example.com"]);
        assert!(r.allows(&who("a@example.com", &["admins".into()])));
        assert!(!r.allows(&who("a@other.com", &["admins".into()])));
        assert!(!r.allows(&who("a@example.com", &[])));
    }

    #[test]
    fn bad_domain_is_refused() {
        assert!(Rule::new(vec![], vec![], vec!["ex ample.com".into()], "email_domains").is_err());
    }

    fn route(prefix: &str, public: bool) -> RouteRule {
        RouteRule::from_config(
            0,
            RouteConfig {
                path_prefix: Some(prefix.into()),
                public,
                ..Default::default()
            },
            &Rule::default(),
        )
        .unwrap()
    }

    #[test]
    fn prefix_matches_on_segment_boundary_and_first_wins() {
        let routes = vec![route("/public", true), route("/", false)];
        let d = Rule::default();
        assert!(select(&routes, &d, "GET", "/public").0.public);
        assert!(select(&routes, &d, "GET", "/public/x").0.public);
        assert!(!select(&routes, &d, "GET", "/publicity").0.public);
        assert!(!select(&routes, &d, "GET", "/other").0.public);
    }

    #[test]
    fn regex_routes_are_anchored() {
        let r = RouteRule::from_config(
            0,
            RouteConfig {
                path_regex: Some("/users/[0-9]+/avatar".into()),
                public: true,
                ..Default::default()
            },
            &Rule::default(),
        )
        .unwrap();
        let d = Rule::default();
        let routes = [r];
        assert!(select(&routes, &d, "GET", "/users/42/avatar").0.public);
        assert!(
            !select(&routes, &d, "GET", "/users/42/avatar/../../admin")
                .0
                .public
        );
        assert!(!select(&routes, &d, "GET", "/x/users/42/avatar").0.public);
        assert!(!select(&routes, &d, "GET", "/users/42/avatarx").0.public);
        let bad = RouteRule::from_config(
            2,
            RouteConfig {
                path_regex: Some("(".into()),
                ..Default::default()
            },
            &d,
        )
        .unwrap_err();
        assert!(bad.to_string().contains("routes[2].path_regex"), "{bad}");
    }

    #[test]
    fn methods_restrict_a_route() {
        let r = RouteRule::from_config(
            0,
            RouteConfig {
                path_prefix: Some("/hooks".into()),
                methods: vec!["post".into()],
                public: true,
                ..Default::default()
            },
            &Rule::default(),
        )
        .unwrap();
        let d = Rule::default();
        let routes = [r];
        assert!(select(&routes, &d, "POST", "/hooks/x").0.public);
        assert!(!select(&routes, &d, "GET", "/hooks/x").0.public);
    }

    #[test]
    fn route_config_errors_name_the_entry() {
        let e = RouteRule::from_config(3, RouteConfig::default(), &Rule::default()).unwrap_err();
        assert!(e.to_string().contains("routes[3]"), "{e}");
        let e = RouteRule::from_config(
            1,
            RouteConfig {
                path_prefix: Some("/a/../b".into()),
                ..Default::default()
            },
            &Rule::default(),
        )
        .unwrap_err();
        assert!(e.to_string().contains("routes[1].path_prefix"), "{e}");
    }
}
