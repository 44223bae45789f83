//! The feed a worker holds: every listed ended session, numbered `first..=seq`, and a set of
//! them built once per change so the per-request lookup is O(1). A new document is merged in
//! only when it is not older than the one held (issue time and number), continues it without
//! a gap, or starts a new epoch with every listed entry.

use std::collections::HashSet;
use std::rc::Rc;

use serde::{Deserialize, Serialize};

use super::feed::{FeedDoc, FeedError};

/// The entries, shared (not copied) by feeds that only differ in issue time.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Entries {
    /// In feed order, the first numbered [`HeldFeed::first`].
    pub sids: Vec<String>,
    set: HashSet<String>,
}

impl Entries {
    fn new(sids: Vec<String>) -> Entries {
        let set = sids.iter().cloned().collect();
        Entries { sids, set }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldFeed {
    pub epoch: u64,
    /// The broker's issue time of the newest document merged: how fresh this is.
    pub iat: u64,
    /// The number of `entries.sids[0]` (`seq + 1` when empty).
    pub first: u64,
    pub seq: u64,
    pub entries: Rc<Entries>,
}

/// How it travels through shared data.
#[derive(Serialize, Deserialize)]
struct Record {
    epoch: u64,
    iat: u64,
    first: u64,
    seq: u64,
    sids: Vec<String>,
}

impl HeldFeed {
    /// Merges `doc` into `held` (none yet: `doc` must list everything).
    pub fn apply(held: Option<&HeldFeed>, doc: FeedDoc) -> Result<HeldFeed, FeedError> {
        let full = doc.from == doc.floor;
        let Some(h) = held else {
            return if full {
                Ok(Self::replace(doc))
            } else {
                Err(FeedError::Inconsistent(
                    "a first feed must list every entry",
                ))
            };
        };
        if doc.iat < h.iat {
            return Err(FeedError::Replayed);
        }
        if doc.epoch != h.epoch {
            return if full {
                Ok(Self::replace(doc))
            } else {
                Err(FeedError::Inconsistent("a new epoch must list every entry"))
            };
        }
        if doc.seq < h.seq {
            return Err(FeedError::Replayed);
        }
        if doc.from > h.seq + 1 && !full {
            return Err(FeedError::Inconsistent(
                "entries missing after the ones held",
            ));
        }
        let floor = doc.floor.max(h.first);
        if doc.sids.is_empty() && doc.from == h.seq + 1 && floor == h.first {
            // Nothing new, nothing dropped: only fresher.
            return Ok(HeldFeed {
                iat: doc.iat,
                ..h.clone()
            });
        }
        // Held entries numbered floor..doc.from, then the document's.
        let keep_from = (floor - h.first) as usize;
        let keep_to =
            (doc.from.min(h.seq + 1).saturating_sub(h.first) as usize).min(h.entries.sids.len());
        let mut sids: Vec<String> = h
            .entries
            .sids
            .get(keep_from.min(keep_to)..keep_to)
            .unwrap_or_default()
            .to_vec();
        let first = if sids.is_empty() { doc.from } else { floor };
        sids.extend(doc.sids);
        Ok(HeldFeed {
            epoch: doc.epoch,
            iat: doc.iat,
            first,
            seq: doc.seq,
            entries: Rc::new(Entries::new(sids)),
        })
    }

    fn replace(doc: FeedDoc) -> HeldFeed {
        HeldFeed {
            epoch: doc.epoch,
            iat: doc.iat,
            first: doc.from,
            seq: doc.seq,
            entries: Rc::new(Entries::new(doc.sids)),
        }
    }

    pub fn contains(&self, sid: &str) -> bool {
        self.entries.set.contains(sid)
    }

    pub fn len(&self) -> usize {
        self.entries.sids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.sids.is_empty()
    }

    pub fn to_json(&self) -> Option<Vec<u8>> {
        serde_json::to_vec(&Record {
            epoch: self.epoch,
            iat: self.iat,
            first: self.first,
            seq: self.seq,
            sids: self.entries.sids.clone(),
        })
        .ok()
    }

    /// A record another worker published (already authenticated by its MAC).
    pub fn from_json(bytes: &[u8]) -> Option<HeldFeed> {
        let r: Record = serde_json::from_slice(bytes).ok()?;
        (r.first.checked_add(r.sids.len() as u64)? == r.seq.checked_add(1)?).then(|| HeldFeed {
            epoch: r.epoch,
            iat: r.iat,
            first: r.first,
            seq: r.seq,
            entries: Rc::new(Entries::new(r.sids)),
        })
    }
}
