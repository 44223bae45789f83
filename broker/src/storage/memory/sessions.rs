//! [`Sessions`] in memory: the same rules as SQL, under the one storage lock.

use std::collections::{BTreeMap, HashMap};

use async_trait::async_trait;
use rand::Rng;

use super::MemoryStorage;
use crate::storage::{
    EndCause, Ended, FeedPage, Result, SessionRecord, SessionSelector, Sessions, StorageError,
    UnixTime,
};

pub(in crate::storage) struct SessionState {
    sessions: HashMap<String, SessionRecord>,
    /// Feed number → sid of the ended sessions still remembered.
    feed: BTreeMap<i64, String>,
    seq: i64,
    /// Random per process: a restarted memory broker starts a new feed.
    epoch: i64,
}

impl Default for SessionState {
    fn default() -> Self {
        SessionState {
            sessions: HashMap::new(),
            feed: BTreeMap::new(),
            seq: 0,
            epoch: rand::rngs::OsRng.gen_range(1..i64::MAX),
        }
    }
}

impl SessionState {
    /// True while the session exists and has not ended.
    pub(super) fn is_live(&self, sid: &str) -> bool {
        self.sessions.get(sid).is_some_and(|s| s.ended.is_none())
    }

    /// Moves a live session's expiry up to `expires_at` (never down).
    pub(super) fn extend(&mut self, sid: &str, expires_at: UnixTime) {
        if let Some(s) = self.sessions.get_mut(sid) {
            if s.ended.is_none() {
                s.expires_at = s.expires_at.max(expires_at);
            }
        }
    }

    /// The lowest number still listed: entries are listed from the first whose listing lasts.
    fn floor(&self, now: UnixTime) -> i64 {
        self.feed
            .iter()
            .find(|(_, sid)| {
                self.sessions
                    .get(*sid)
                    .and_then(|s| s.ended.as_ref())
                    .is_some_and(|e| e.listed_until > now)
            })
            .map_or(self.seq + 1, |(seq, _)| *seq)
    }
}

#[async_trait]
impl Sessions for MemoryStorage {
    async fn create_session(&self, session: &SessionRecord) -> Result<()> {
        let mut s = self.lock();
        let map = &mut s.sessions.sessions;
        if map.contains_key(&session.sid) {
            return Err(StorageError::AlreadyExists);
        }
        map.insert(session.sid.clone(), session.clone());
        Ok(())
    }

    async fn get_session(&self, sid: &str) -> Result<Option<SessionRecord>> {
        Ok(self.lock().sessions.sessions.get(sid).cloned())
    }

    async fn extend_session(&self, sid: &str, expires_at: UnixTime) -> Result<()> {
        self.lock().sessions.extend(sid, expires_at);
        Ok(())
    }

    async fn end_sessions(
        &self,
        which: SessionSelector<'_>,
        cause: EndCause,
        now: UnixTime,
        listed_until: UnixTime,
    ) -> Result<Vec<SessionRecord>> {
        let mut guard = self.lock();
        let state = &mut *guard;
        let st = &mut state.sessions;
        let mut chosen: Vec<&mut SessionRecord> = st
            .sessions
            .values_mut()
            .filter(|s| s.ended.is_none() && which.matches(s))
            .collect();
        // Numbered in a stable order, as SQL numbers them (by sid).
        chosen.sort_by(|a, b| a.sid.cmp(&b.sid));
        let mut ended = Vec::new();
        for s in chosen {
            st.seq += 1;
            s.ended = Some(Ended {
                at: now,
                cause,
                seq: st.seq,
                listed_until,
            });
            st.feed.insert(st.seq, s.sid.clone());
            ended.push(s.clone());
        }
        for s in &ended {
            state
                .refresh_tokens
                .retain(|_, (t, _)| t.family != s.family);
        }
        Ok(ended)
    }

    async fn revocation_feed(&self, held: (i64, i64), now: UnixTime) -> Result<FeedPage> {
        let s = self.lock();
        let st = &s.sessions;
        let floor = st.floor(now);
        let from = FeedPage::first_sent(st.epoch, st.seq, floor, held);
        Ok(FeedPage {
            epoch: st.epoch,
            seq: st.seq,
            floor,
            from,
            sids: st.feed.range(from..).map(|(_, sid)| sid.clone()).collect(),
        })
    }

    async fn delete_expired_sessions(&self, now: UnixTime) -> Result<u64> {
        let mut s = self.lock();
        let st = &mut s.sessions;
        let floor = st.floor(now);
        let before = st.sessions.len();
        let unlisted: Vec<i64> = st.feed.range(..floor).map(|(seq, _)| *seq).collect();
        for seq in unlisted {
            if let Some(sid) = st.feed.remove(&seq) {
                st.sessions.remove(&sid);
            }
        }
        st.sessions
            .retain(|_, x| x.ended.is_some() || x.expires_at > now);
        Ok((before - st.sessions.len()) as u64)
    }
}
