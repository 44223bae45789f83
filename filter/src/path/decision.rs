//! Which request target the filter decides on. Envoy hands `:path` exactly as it forwards it.
//! Kong's host (ngx_wasm_module) hands nginx's percent-decoded, dot-resolved, slash-merged
//! `r->uri` as `:path` but forwards the raw request target, which it gives in the property
//! `request.path` (kong-real FINDINGS (e)). Judging `:path` there lets
//! `/admin/x%2F..%2F..%2Fpublic` be judged as `/public` and reach the upstream as an admin
//! path, so on such a host the filter decides on the raw target instead.

/// Where the path the upstream gets is read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathSource {
    /// `:path` is what the upstream gets (Envoy).
    PseudoHeader,
    /// `:path` is rewritten; the raw target is the `request.path` property (nginx hosts).
    RawTarget,
}

impl PathSource {
    /// nginx hosts are recognised by their `ngx.<variable>` properties, e.g. `ngx.server_name`.
    pub fn detect(has_nginx_variables: bool) -> Self {
        if has_nginx_variables {
            PathSource::RawTarget
        } else {
            PathSource::PseudoHeader
        }
    }
}

/// The path to decide on; `None` when the raw target is needed but missing (fail closed).
pub fn decision_path<'a>(
    source: PathSource,
    pseudo_header: &'a str,
    raw_target: Option<&'a str>,
) -> Option<&'a str> {
    match source {
        PathSource::PseudoHeader => Some(pseudo_header),
        PathSource::RawTarget => raw_target.filter(|t| !t.is_empty()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envoy_decides_on_the_pseudo_header() {
        let s = PathSource::detect(false);
        assert_eq!(s, PathSource::PseudoHeader);
        assert_eq!(decision_path(s, "/a?b", None), Some("/a?b"));
        assert_eq!(decision_path(s, "/a?b", Some("/x")), Some("/a?b"));
    }

    #[test]
    fn nginx_hosts_decide_on_the_raw_target_the_upstream_gets() {
        let s = PathSource::detect(true);
        assert_eq!(s, PathSource::RawTarget);
        assert_eq!(
            decision_path(s, "/public", Some("/admin/x%2F..%2F..%2Fpublic")),
            Some("/admin/x%2F..%2F..%2Fpublic")
        );
    }

    #[test]
    fn a_missing_raw_target_fails_closed() {
        let s = PathSource::RawTarget;
        assert_eq!(decision_path(s, "/public", None), None);
        assert_eq!(decision_path(s, "/public", Some("")), None);
    }
}
