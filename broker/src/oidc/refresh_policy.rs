//! The refresh-token rules of `expiry.refreshTokens`, as storage applies them: shared by the
//! token endpoint (rotation), revocation and the sign-in sessions (their lifetime).

use super::AppState;
use crate::storage::RefreshPolicy;

pub(super) fn refresh_policy(app: &AppState) -> RefreshPolicy {
    let r = &app.config.expiry.refresh_tokens;
    RefreshPolicy {
        rotate: !r.disable_rotation,
        idle_secs: r.valid_if_not_used_for.map(|d| d.as_secs() as i64),
        absolute_secs: r.absolute_lifetime.map(|d| d.as_secs() as i64),
        reuse_interval_secs: r.reuse_interval.as_secs() as i64,
    }
}
