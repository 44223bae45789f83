//! When the root context polls the feed: every `poll_s`, one call at a time, sent from a tick
//! only (never from a call's answer: Kong's host crashes the worker then), a lost call given
//! up after its timeout.

use crate::provider::fetch::{LOST_CALL_GRACE_S, RETRY_S};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Idle { at: u64 },
    Awaiting { token: u32, sent_at: u64 },
}

#[derive(Debug)]
pub struct FeedFetch {
    state: State,
    poll_s: u64,
    timeout_s: u64,
}

impl FeedFetch {
    pub fn new(poll_s: u64, timeout_ms: u64) -> FeedFetch {
        FeedFetch {
            state: State::Idle { at: 0 },
            poll_s,
            timeout_s: timeout_ms.div_ceil(1000),
        }
    }

    /// Whether a fetch should start on this tick.
    pub fn due(&mut self, now: u64) -> bool {
        match self.state {
            State::Idle { at } => now >= at,
            State::Awaiting { sent_at, .. } => {
                if now > sent_at.saturating_add(self.timeout_s + LOST_CALL_GRACE_S) {
                    self.state = State::Idle { at: now };
                    return true;
                }
                false
            }
        }
    }

    pub fn sent(&mut self, token: u32, now: u64) {
        self.state = State::Awaiting {
            token,
            sent_at: now,
        };
    }

    pub fn waits_for(&self, token: u32) -> bool {
        matches!(self.state, State::Awaiting { token: t, .. } if t == token)
    }

    /// Whether `token` is the call this waits for; if so, nothing is in flight any more and
    /// the next poll is due `poll_s` after `now` (after a failure, sooner).
    pub fn answered(&mut self, token: u32, ok: bool, now: u64) -> bool {
        match self.state {
            State::Awaiting { token: t, .. } if t == token => {
                self.state = State::Idle {
                    at: now
                        + if ok {
                            self.poll_s
                        } else {
                            RETRY_S.min(self.poll_s)
                        },
                };
                true
            }
            _ => false,
        }
    }

    /// The call could not be sent.
    pub fn failed(&mut self, now: u64) {
        self.state = State::Idle {
            at: now + RETRY_S.min(self.poll_s),
        };
    }

    /// Another worker fetched at `fetched_at`: the next poll is due a period after that.
    pub fn adopted(&mut self, fetched_at: u64) {
        if let State::Idle { .. } = self.state {
            self.state = State::Idle {
                at: fetched_at.saturating_add(self.poll_s),
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn polls_on_its_period_one_call_at_a_time() {
        let mut f = FeedFetch::new(5, 3000);
        assert!(f.due(100));
        f.sent(1, 100);
        assert!(!f.due(101), "nothing while a call is in flight");
        assert!(!f.answered(2, true, 101), "someone else's answer");
        assert!(f.answered(1, true, 101));
        assert!(!f.due(105));
        assert!(f.due(106));
        f.sent(3, 106);
        assert!(f.answered(3, false, 106));
        assert!(f.due(106 + RETRY_S), "a failure retries sooner");
        f.adopted(110);
        assert!(!f.due(114));
        assert!(f.due(115));
    }

    #[test]
    fn a_lost_call_is_given_up() {
        let mut f = FeedFetch::new(5, 2500);
        f.due(0);
        f.sent(1, 0);
        assert!(!f.due(3 + LOST_CALL_GRACE_S));
        assert!(f.due(4 + LOST_CALL_GRACE_S));
        f.sent(2, 9);
        assert!(
            !f.answered(1, true, 9),
            "the lost call's late answer is not the new one"
        );
    }
}
