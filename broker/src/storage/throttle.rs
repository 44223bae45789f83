//! Login throttling state, shared by every replica through storage: per key (an account, a
//! client address) the failures so far, the back-off they earned, and whether a password check
//! is in flight. Keys are opaque hashes chosen by the caller (no e-mail or address is stored).

use super::UnixTime;

/// How one kind of key backs off after failures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// Failures allowed before any wait.
    pub free_failures: i64,
    /// The first wait; each further failure doubles it.
    pub base_secs: i64,
    pub max_secs: i64,
    /// A key with no failure for this long starts from zero again.
    pub forget_secs: i64,
    /// A successful sign-in clears the key (accounts: yes; addresses: no, or one valid account
    /// would reset an attacker's address between guesses).
    pub reset_on_success: bool,
    /// At most one check in flight for this key (accounts: yes; addresses: no, or everyone
    /// behind one NAT or proxy would sign in one at a time).
    pub exclusive: bool,
}

impl Backoff {
    /// Seconds to wait after the `failures`-th failure (0: none yet).
    pub fn wait_after(&self, failures: i64) -> i64 {
        let over = failures - self.free_failures;
        if over <= 0 {
            return 0;
        }
        let doublings = (over - 1).min(30) as u32;
        self.base_secs
            .saturating_mul(1i64 << doublings)
            .min(self.max_secs)
    }
}

/// One key of an attempt and the policy it follows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThrottleKey {
    pub id: String,
    pub backoff: Backoff,
}

/// Whether a password check may run now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginGate {
    /// Admitted: every key is held until the attempt ends (or its lease runs out).
    Open,
    /// A key is backing off until then.
    Throttled { until: UnixTime },
    /// A key already has a check in flight: refused rather than queued.
    Busy,
}

/// How an admitted attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptOutcome {
    Succeeded,
    /// Wrong credentials: counts against every key.
    Failed,
    /// No answer (busy queue, internal error): the keys are released, nothing is counted.
    Abandoned,
}

/// A key's row.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct ThrottleRow {
    pub failures: i64,
    pub blocked_until: UnixTime,
    pub busy_until: UnixTime,
    /// After this the row is forgotten (and garbage-collected).
    pub expires_at: UnixTime,
}

impl ThrottleRow {
    /// The row as seen at `now` (a forgotten row counts as none).
    pub fn at(self, now: UnixTime) -> Self {
        if self.expires_at <= now {
            ThrottleRow::default()
        } else {
            self
        }
    }

    /// The row after the attempt it held ended.
    pub fn ended(self, backoff: &Backoff, outcome: AttemptOutcome, now: UnixTime) -> Self {
        let mut row = self.at(now);
        row.busy_until = 0;
        match outcome {
            AttemptOutcome::Succeeded if backoff.reset_on_success => return ThrottleRow::default(),
            AttemptOutcome::Succeeded | AttemptOutcome::Abandoned => return row,
            AttemptOutcome::Failed => {}
        }
        row.failures += 1;
        let wait = backoff.wait_after(row.failures);
        if wait > 0 {
            row.blocked_until = row.blocked_until.max(now.saturating_add(wait));
        }
        row.expires_at = row
            .blocked_until
            .max(now)
            .saturating_add(backoff.forget_secs);
        row
    }
}

/// The decision for all keys together, from their rows at `now`.
pub(super) fn gate(rows: &[ThrottleRow], now: UnixTime) -> LoginGate {
    let until = rows
        .iter()
        .map(|r| r.at(now).blocked_until)
        .filter(|&u| u > now)
        .max();
    if let Some(until) = until {
        return LoginGate::Throttled { until };
    }
    if rows.iter().any(|r| r.at(now).busy_until > now) {
        return LoginGate::Busy;
    }
    LoginGate::Open
}

/// The row once an admitted attempt holds it.
pub(super) fn held(
    row: ThrottleRow,
    backoff: &Backoff,
    now: UnixTime,
    lease_until: UnixTime,
) -> ThrottleRow {
    let mut row = row.at(now);
    if !backoff.exclusive {
        return row;
    }
    row.busy_until = lease_until;
    row.expires_at = row.expires_at.max(lease_until);
    row
}

/// The start of an attempt over its keys' rows (as read, in `keys` order): the gate, and when
/// it is open, each key's row held for the attempt, to write back. Memory and SQL storage both
/// decide here; only how they read and write rows differs.
pub(super) fn begin<'k>(
    keys: impl IntoIterator<Item = &'k ThrottleKey>,
    rows: Vec<ThrottleRow>,
    now: UnixTime,
    lease_until: UnixTime,
) -> (LoginGate, Vec<(&'k ThrottleKey, ThrottleRow)>) {
    let gate = gate(&rows, now);
    if gate != LoginGate::Open {
        return (gate, Vec::new());
    }
    let writes = keys
        .into_iter()
        .zip(rows)
        .map(|(key, row)| (key, held(row, &key.backoff, now, lease_until)))
        .collect();
    (gate, writes)
}

/// One count against a fixed window: `stored` is the window's end and count as read (`(0, 0)`
/// when there is none); `None` when the window is full (nothing to write), else what to store.
pub(super) fn count_step(
    stored: (UnixTime, i64),
    limit: i64,
    window_secs: i64,
    now: UnixTime,
) -> Option<(UnixTime, i64)> {
    let (end, count) = match stored {
        (end, count) if end > now => (end, count),
        _ => (now.saturating_add(window_secs), 0),
    };
    (count < limit).then_some((end, count + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_counts_to_its_limit_then_starts_anew() {
        assert_eq!(count_step((0, 0), 2, 60, 100), Some((160, 1)));
        assert_eq!(count_step((160, 1), 2, 60, 120), Some((160, 2)));
        assert_eq!(count_step((160, 2), 2, 60, 159), None);
        assert_eq!(count_step((160, 2), 2, 60, 160), Some((220, 1)));
    }

    const B: Backoff = Backoff {
        free_failures: 2,
        base_secs: 1,
        max_secs: 8,
        forget_secs: 100,
        reset_on_success: true,
        exclusive: true,
    };

    #[test]
    fn back_off_grows_and_is_capped() {
        let waits: Vec<i64> = (0..8).map(|f| B.wait_after(f)).collect();
        assert_eq!(waits, [0, 0, 0, 1, 2, 4, 8, 8]);
        assert_eq!(B.wait_after(i64::MAX), 8);
    }

    #[test]
    fn failures_block_success_resets_and_time_forgets() {
        let mut row = ThrottleRow::default();
        for _ in 0..3 {
            row = row.ended(&B, AttemptOutcome::Failed, 1000);
        }
        assert_eq!(gate(&[row], 1000), LoginGate::Throttled { until: 1001 });
        assert_eq!(gate(&[row], 1001), LoginGate::Open);
        assert_eq!(
            row.ended(&B, AttemptOutcome::Succeeded, 1001),
            ThrottleRow::default()
        );
        assert_eq!(row.ended(&B, AttemptOutcome::Abandoned, 1001).failures, 3);
        assert_eq!(row.at(1001 + 100), ThrottleRow::default(), "forgotten");
        let busy = held(ThrottleRow::default(), &B, 1000, 1030);
        assert_eq!(gate(&[ThrottleRow::default(), busy], 1000), LoginGate::Busy);
        assert_eq!(gate(&[busy], 1030), LoginGate::Open, "lease ran out");
        let shared = Backoff {
            exclusive: false,
            ..B
        };
        let open = held(ThrottleRow::default(), &shared, 1000, 1030);
        assert_eq!(gate(&[open], 1000), LoginGate::Open, "not single-flight");
    }
}
