//! The revocation feed's keys (issue 17): how often the filter polls the broker's feed, and
//! what it does once the feed it holds is too old to tell whether a session ended.

use super::{invalid, ConfigError};

/// Used when the broker's discovery offers a revocation feed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RevocationSettings {
    pub poll_s: u64,
    pub max_stale_s: u64,
    pub admit_when_stale: bool,
}

impl RevocationSettings {
    /// `revocation_poll_s` (default 5), `revocation_max_stale_s` (default 60, at least the
    /// poll period), `revocation_admit_when_stale` (default false: refuse, fail closed).
    pub(super) fn parse(
        poll_s: Option<u64>,
        max_stale_s: Option<u64>,
        admit_when_stale: bool,
    ) -> Result<RevocationSettings, ConfigError> {
        let poll_s = poll_s.unwrap_or(5);
        if !(1..=300).contains(&poll_s) {
            return Err(invalid(
                "revocation_poll_s",
                "must be between 1 and 300 seconds",
            ));
        }
        let max_stale_s = max_stale_s.unwrap_or(60);
        if !(5..=86_400).contains(&max_stale_s) || max_stale_s < poll_s {
            return Err(invalid(
                "revocation_max_stale_s",
                "must be between 5 and 86400 seconds, and at least revocation_poll_s",
            ));
        }
        Ok(RevocationSettings {
            poll_s,
            max_stale_s,
            admit_when_stale,
        })
    }
}
