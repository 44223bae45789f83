//! Authorisation rules: who may pass once signed in, and which rule a request falls under.

/// A rule that cannot be built; the configuration names the key it came from.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuleError {
    #[error("{0:?} is not a domain (use example.com, .example.com or *)")]
    Domain(String),
    #[error("not a valid regular expression: {0}")]
    Regex(String),
}

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
    ) -> Result<Rule, RuleError> {
        for d in &domains {
            let body = d.strip_prefix('.').unwrap_or(d);
            let ok = d == "*"
                || (!body.is_empty()
                    && body
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-'));
            if !ok {
                return Err(RuleError::Domain(d.clone()));
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
    /// Upper-case method names; empty matches every method.
    methods: Vec<String>,
    pub public: bool,
    pub api: bool,
    pub rule: Rule,
}

/// How a route names its paths; matched against the decided path ([`crate::path::decide`]).
#[derive(Debug, Clone)]
pub enum PathMatch {
    Prefix(String),
    Exact(String),
    Regex(regex_lite::Regex),
}

impl PathMatch {
    /// A regex route, anchored on both ends: a rule must not match a path merely containing it.
    pub fn regex(r: &str) -> Result<PathMatch, RuleError> {
        regex_lite::Regex::new(&format!("^(?:{r})$"))
            .map(PathMatch::Regex)
            .map_err(|e| RuleError::Regex(e.to_string()))
    }
}

impl RouteRule {
    pub fn new(
        matcher: PathMatch,
        methods: Vec<String>,
        public: bool,
        api: bool,
        rule: Rule,
    ) -> RouteRule {
        RouteRule {
            matcher,
            methods,
            public,
            api,
            rule,
        }
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

/// The policy that applies to one request.
pub struct Applied<'a> {
    pub public: bool,
    pub api: bool,
    pub rule: &'a Rule,
}

/// First matching route wins; no match falls back to the global rule (a browser route).
/// `path` is the decided path ([`crate::path::decide`]). Also returns the index of the matching route.
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
        Rule::new(v(groups), v(emails), v(domains)).unwrap()
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
        // No address (an unverified one is dropped before rules see it) meets no e-mail rule.
        assert!(!r.allows(&who("", &[])));
    }

    #[test]
    fn groups_and_emails_both_apply() {
        let r = rule(&["admins"], &[], &["example.com"]);
        assert!(r.allows(&who("a@example.com", &["admins".into()])));
        assert!(!r.allows(&who("a@other.com", &["admins".into()])));
        assert!(!r.allows(&who("a@example.com", &[])));
    }

    #[test]
    fn bad_domain_and_bad_regex_are_refused() {
        assert_eq!(
            Rule::new(vec![], vec![], vec!["ex ample.com".into()]).unwrap_err(),
            RuleError::Domain("ex ample.com".into())
        );
        assert!(matches!(PathMatch::regex("("), Err(RuleError::Regex(_))));
    }

    fn route(m: PathMatch, methods: &[&str], public: bool) -> RouteRule {
        let methods = methods.iter().map(|m| m.to_string()).collect();
        RouteRule::new(m, methods, public, false, Rule::default())
    }

    #[test]
    fn prefix_matches_on_segment_boundary_and_first_wins() {
        let routes = vec![
            route(PathMatch::Prefix("/public".into()), &[], true),
            route(PathMatch::Prefix("/".into()), &[], false),
        ];
        let d = Rule::default();
        assert!(select(&routes, &d, "GET", "/public").0.public);
        assert!(select(&routes, &d, "GET", "/public/x").0.public);
        assert!(!select(&routes, &d, "GET", "/publicity").0.public);
        assert!(!select(&routes, &d, "GET", "/other").0.public);
    }

    #[test]
    fn regex_routes_are_anchored() {
        let routes = [route(
            PathMatch::regex("/users/[0-9]+/avatar").unwrap(),
            &[],
            true,
        )];
        let d = Rule::default();
        assert!(select(&routes, &d, "GET", "/users/42/avatar").0.public);
        assert!(!select(&routes, &d, "GET", "/x/users/42/avatar").0.public);
        assert!(!select(&routes, &d, "GET", "/users/42/avatarx").0.public);
    }

    #[test]
    fn methods_restrict_a_route() {
        let routes = [route(PathMatch::Prefix("/hooks".into()), &["POST"], true)];
        let d = Rule::default();
        assert!(select(&routes, &d, "POST", "/hooks/x").0.public);
        assert!(!select(&routes, &d, "GET", "/hooks/x").0.public);
    }
}
