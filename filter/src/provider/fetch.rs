//! The root context's fetch of the broker's discovery document and JWKS, as a state machine
//! the glue advances. Calls are only ever *sent* from a tick ([`ProviderFetch::due`]);
//! an answer ([`ProviderFetch::answer`]) only records what came back. Kong's host crashes the
//! worker when a call is dispatched from inside a call's response callback (the request is
//! built on a connection it already freed), so the JWKS call that follows discovery waits for
//! the next tick instead of going out from the discovery answer.

/// Retry interval after a failed fetch, in seconds.
pub const RETRY_S: u64 = 2;
/// A call still unanswered this long after its timeout is given up: a host may drop a call's
/// callback (a worker shutting down, a cancelled call) and the fetch must not stall for ever.
pub const LOST_CALL_GRACE_S: u64 = 5;

#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    /// Nothing in flight; the next fetch starts at the first tick at or after `at`.
    Idle {
        at: u64,
    },
    AwaitingDiscovery {
        token: u32,
        sent_at: u64,
    },
    /// Discovery arrived and parsed; the JWKS call goes out on the next tick.
    JwksDue {
        discovery: Vec<u8>,
        jwks_path: String,
    },
    AwaitingJwks {
        token: u32,
        sent_at: u64,
        discovery: Vec<u8>,
    },
}

/// What a tick should do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Due {
    Nothing,
    /// A fetch is due: first see whether another worker published fresh documents, else call
    /// the discovery endpoint and report with [`ProviderFetch::sent`].
    Discovery,
    /// Call the JWKS endpoint at this path and report with [`ProviderFetch::sent`].
    Jwks(String),
}

/// What an answer meant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answered {
    /// Not the call this machine waits for (late, or someone else's token).
    NotOurs,
    /// Discovery is in; the JWKS call goes out on the next tick.
    JwksNext,
    /// Both documents are in, not yet checked together: build the provider from them and
    /// report with [`ProviderFetch::loaded`] or [`ProviderFetch::failed`].
    Documents { discovery: Vec<u8>, jwks: Vec<u8> },
    /// The call failed; the machine already scheduled a retry.
    Failed(String),
}

/// The fetch cycle: discovery, then JWKS one tick later, then idle until the refresh is due.
#[derive(Debug)]
pub struct ProviderFetch {
    state: State,
    refresh_s: u64,
    /// Broker timeout in seconds (rounded up), for spotting lost calls.
    timeout_s: u64,
}

impl ProviderFetch {
    pub fn new(refresh_s: u64, timeout_ms: u64) -> ProviderFetch {
        ProviderFetch {
            state: State::Idle { at: 0 },
            refresh_s,
            timeout_s: timeout_ms.div_ceil(1000),
        }
    }

    /// Called on every tick: whether a call should go out now.
    pub fn due(&mut self, now: u64) -> Due {
        match &self.state {
            State::Idle { at } if now >= *at => Due::Discovery,
            State::Idle { .. } => Due::Nothing,
            State::JwksDue { jwks_path, .. } => Due::Jwks(jwks_path.clone()),
            State::AwaitingDiscovery { sent_at, .. } | State::AwaitingJwks { sent_at, .. } => {
                if now > sent_at.saturating_add(self.timeout_s + LOST_CALL_GRACE_S) {
                    self.state = State::Idle { at: now };
                    return self.due(now);
                }
                Due::Nothing
            }
        }
    }

    /// The call [`due`](Self::due) asked for went out with this token.
    pub fn sent(&mut self, token: u32, now: u64) {
        self.state = match std::mem::replace(&mut self.state, State::Idle { at: now }) {
            State::JwksDue { discovery, .. } => State::AwaitingJwks {
                token,
                sent_at: now,
                discovery,
            },
            _ => State::AwaitingDiscovery {
                token,
                sent_at: now,
            },
        };
    }

    /// The call could not be sent, or its documents were refused: retry later.
    pub fn failed(&mut self, now: u64) {
        self.state = State::Idle { at: now + RETRY_S };
    }

    /// A provider fetched at `fetched_at` is in use (ours or another worker's): next fetch when
    /// it is due for a refresh.
    pub fn loaded(&mut self, fetched_at: u64) {
        self.state = State::Idle {
            at: fetched_at.saturating_add(self.refresh_s),
        };
    }

    /// A token named a key the JWKS lacks: start over now, unless a fetch is under way.
    pub fn refetch_now(&mut self, now: u64) {
        if let State::Idle { .. } = self.state {
            self.state = State::Idle { at: now };
        }
    }

    /// A call's answer. `status` is `None` when the call itself failed. `jwks_path` turns a
    /// discovery body into the path of the JWKS call (it checks the issuer).
    pub fn answer(
        &mut self,
        token: u32,
        status: Option<u32>,
        body: Vec<u8>,
        now: u64,
        jwks_path: impl FnOnce(&[u8]) -> Result<String, String>,
    ) -> Answered {
        let (what, discovery) = match &self.state {
            State::AwaitingDiscovery { token: t, .. } if *t == token => ("discovery", None),
            State::AwaitingJwks {
                token: t,
                discovery,
                ..
            } if *t == token => ("JWKS", Some(discovery.clone())),
            _ => return Answered::NotOurs,
        };
        if status != Some(200) {
            self.failed(now);
            return Answered::Failed(format!("{what} answered {status:?}"));
        }
        match discovery {
            None => match jwks_path(&body) {
                Ok(path) => {
                    self.state = State::JwksDue {
                        discovery: body,
                        jwks_path: path,
                    };
                    Answered::JwksNext
                }
                Err(e) => {
                    self.failed(now);
                    Answered::Failed(format!("discovery refused: {e}"))
                }
            },
            Some(discovery) => {
                // Idle until `loaded` or `failed` says how building the provider went.
                self.state = State::Idle { at: now + RETRY_S };
                Answered::Documents {
                    discovery,
                    jwks: body,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok_path(_: &[u8]) -> Result<String, String> {
        Ok("/dex/keys".into())
    }

    #[test]
    fn discovery_then_jwks_one_tick_later_never_from_the_answer() {
        let mut f = ProviderFetch::new(300, 3000);
        assert_eq!(f.due(10), Due::Discovery);
        f.sent(1, 10);
        assert_eq!(
            f.due(11),
            Due::Nothing,
            "nothing while discovery is in flight"
        );
        // The answer only records: the JWKS call is for the next tick.
        assert_eq!(
            f.answer(1, Some(200), b"disc".to_vec(), 11, ok_path),
            Answered::JwksNext
        );
        assert_eq!(f.due(12), Due::Jwks("/dex/keys".into()));
        f.sent(2, 12);
        assert_eq!(f.due(12), Due::Nothing);
        assert_eq!(
            f.answer(2, Some(200), b"keys".to_vec(), 13, ok_path),
            Answered::Documents {
                discovery: b"disc".to_vec(),
                jwks: b"keys".to_vec()
            }
        );
        f.loaded(13);
        assert_eq!(f.due(312), Due::Nothing);
        assert_eq!(f.due(313), Due::Discovery, "refresh when due");
    }

    #[test]
    fn failures_retry_after_a_pause_and_foreign_tokens_are_ignored() {
        let mut f = ProviderFetch::new(300, 3000);
        assert_eq!(f.due(0), Due::Discovery);
        f.sent(7, 0);
        assert_eq!(
            f.answer(8, Some(200), vec![], 1, ok_path),
            Answered::NotOurs
        );
        assert!(matches!(
            f.answer(7, None, vec![], 1, ok_path),
            Answered::Failed(_)
        ));
        assert_eq!(f.due(2), Due::Nothing);
        assert_eq!(f.due(1 + RETRY_S), Due::Discovery);
        f.sent(9, 3);
        assert!(matches!(
            f.answer(9, Some(200), b"x".to_vec(), 3, |_| Err("issuer".into())),
            Answered::Failed(_)
        ));
        assert_eq!(f.due(3 + RETRY_S), Due::Discovery);
        // A JWKS answered 503 starts over from discovery.
        f.sent(10, 5);
        f.answer(10, Some(200), b"d".to_vec(), 5, ok_path);
        f.sent(11, 6);
        assert!(matches!(
            f.answer(11, Some(503), vec![], 6, ok_path),
            Answered::Failed(_)
        ));
        assert_eq!(f.due(6 + RETRY_S), Due::Discovery);
        // Documents that do not build into a provider retry too.
        f.sent(12, 8);
        f.answer(12, Some(200), b"d".to_vec(), 8, ok_path);
        f.sent(13, 9);
        f.answer(13, Some(200), b"k".to_vec(), 9, ok_path);
        f.failed(9);
        assert_eq!(f.due(9 + RETRY_S), Due::Discovery);
    }

    #[test]
    fn a_lost_call_does_not_stall_the_fetch() {
        let mut f = ProviderFetch::new(300, 2500);
        f.due(0);
        f.sent(1, 0);
        assert_eq!(f.due(3 + LOST_CALL_GRACE_S), Due::Nothing);
        assert_eq!(f.due(4 + LOST_CALL_GRACE_S), Due::Discovery);
        f.sent(2, 9);
        // The lost call's late answer is not mistaken for the new one.
        assert_eq!(
            f.answer(1, Some(200), vec![], 9, ok_path),
            Answered::NotOurs
        );
    }

    #[test]
    fn adopting_another_workers_documents_postpones_the_fetch() {
        let mut f = ProviderFetch::new(300, 3000);
        assert_eq!(f.due(100), Due::Discovery);
        f.loaded(90);
        assert_eq!(f.due(100), Due::Nothing);
        assert_eq!(f.due(390), Due::Discovery);
    }
}
