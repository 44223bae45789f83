//! Opening the session cookie through the worker's cache of opened sessions: a hit skips
//! base64, XChaCha20-Poly1305 and JSON, and yields the very session that opening would.
//! Only sessions valid at `now` are kept; invalid cookies are never cached.

use std::rc::Rc;

use crate::session::cache::Opened;
use crate::session::{Freshness, Session, SessionError};

use super::Engine;

impl Engine {
    /// The session sealed in `value` (the cookie `name`, chunks joined).
    pub(super) fn open_session(
        &self,
        name: &str,
        value: &str,
        now: u64,
    ) -> Result<Rc<Opened>, SessionError> {
        if let Some(s) = self.session_cache.borrow().get(value, now) {
            return Ok(s);
        }
        let session = Rc::new(Opened::new(Session::open(&self.codec, name, value)?));
        if session.freshness(now) == Freshness::Valid {
            self.session_cache
                .borrow_mut()
                .insert(value, session.clone(), now);
        }
        Ok(session)
    }

    /// Sessions held in this worker's cache (for tests and metrics).
    pub fn cached_sessions(&self) -> usize {
        self.session_cache.borrow().len()
    }
}
