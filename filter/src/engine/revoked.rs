//! Sessions ended at the broker (issue 17): a session whose `sid` the broker's revocation feed
//! lists is refused like an invalid cookie (browser: new login; API: 401), before anything else
//! looks at it; with no feed fresh enough to tell, the request gets a 503 unless the
//! configuration admits then. Only when the broker's discovery offers a feed.

use std::rc::Rc;

use crate::provider::Provider;
use crate::revocation::held::HeldFeed;
use crate::revocation::{check, Check};
use crate::session::cache::Opened;
use crate::session::SessionError;

use super::Engine;

/// The feed is too old to tell whether the session ended.
pub(super) struct Stale;

impl Engine {
    /// The opened session cookie, with a session the feed lists turned into
    /// [`SessionError::Ended`].
    pub(super) fn screen_revoked(
        &self,
        opened: Option<Result<Rc<Opened>, SessionError>>,
        provider: &Provider,
        now: u64,
    ) -> Result<Option<Result<Rc<Opened>, SessionError>>, Stale> {
        let Some(Ok(sess)) = opened else {
            return Ok(opened);
        };
        if provider.endpoints.revocation_feed.is_none() {
            return Ok(Some(Ok(sess)));
        }
        let held = self.feed.borrow();
        let started = self.started.get();
        match check(
            held.as_ref(),
            &sess.sid,
            now,
            started,
            &self.settings.revocation,
        ) {
            Check::Admit => Ok(Some(Ok(sess))),
            Check::Revoked => Ok(Some(Err(SessionError::Ended))),
            Check::Stale => Err(Stale),
        }
    }

    /// When the filter started (the root context's first tick), for [`check`].
    pub fn set_started(&self, now: u64) {
        if self.started.get() == 0 {
            self.started.set(now);
        }
    }

    /// The feed this worker holds (a cheap clone: the entries are shared).
    pub fn feed(&self) -> Option<HeldFeed> {
        self.feed.borrow().clone()
    }

    /// Installs a newer feed (fetched, or adopted from another worker).
    pub fn set_feed(&self, feed: HeldFeed) {
        *self.feed.borrow_mut() = Some(feed);
    }
}
