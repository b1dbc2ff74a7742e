//! The reset word (protocol I5): how a reset is begun, seen by a claim,
//! judged by an opener and rolled back.

use super::*;

/// The reset protocol's half of the Dekker pair (I5): after its
/// compare-and-swap, a claimer reads the table's reset word. True: a reset
/// has begun, and the claimer must give the address back and reopen.
#[inline]
pub fn claimed_in_retired<W: Word>(reset: &W) -> bool {
    reset.load(Ordering::SeqCst) != 0
}

/// The resetter's half (I5): mark the table retired by `me`, from the
/// value `seen` the resetter read under the exclusive lock (0, or a dead
/// resetter's word it takes over). False if the word changed meanwhile
/// (it cannot while the lock is held; a caller treats it as "look again").
pub fn begin_reset<W: Word>(reset: &W, seen: u64, me: Owner) -> bool {
    reset.compare_exchange(seen, me.word()).is_ok()
}

/// Undo a reset that did not happen (live leases found) or that a dead
/// resetter abandoned: the reset word alone is what a reset changes in the
/// old table, so this restores it exactly.
pub fn roll_back_reset<W: Word>(reset: &W, seen: u64) -> bool {
    reset.compare_exchange(seen, 0).is_ok()
}

/// The resetter's count of live leases (I5), every owner word read with a
/// read-modify-write so that it pairs with [`claimed_in_retired`].
pub fn live_leases<W: Word>(owners: &[W], live: &impl Liveness) -> u32 {
    owners
        .iter()
        .filter(|w| {
            Owner::from_word(w.fetch_or(0, Ordering::SeqCst)).is_some_and(|o| live.is_alive(o))
        })
        .count() as u32
}

/// What the reset word says, read while holding the table file's lock
/// (shared or exclusive), given whether the table's name still leads to
/// this file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResetState {
    /// Not being reset.
    InUse,
    /// A reset finished: the name leads to the new table. Reopen.
    Replaced,
    /// A resetter let go of the lock without renaming: it died. The word
    /// (its owner word) may be rolled back under the exclusive lock.
    Abandoned(u64),
    /// The recorded resetter is still alive although it does not hold the
    /// lock (its descriptor was closed under it): wait for it.
    Resetting(Owner),
}

/// Judge a reset word (I5). The lock is what proves a resetter gone; the
/// recorded owner is checked as well, so that a live resetter that lost
/// its lock is waited for, not raced.
pub fn judge_reset(word: u64, named: bool, live: &impl Liveness) -> ResetState {
    if word == 0 {
        return ResetState::InUse;
    }
    if !named {
        return ResetState::Replaced;
    }
    match Owner::from_word(word) {
        Some(o) if live.is_alive(o) => ResetState::Resetting(o),
        _ => ResetState::Abandoned(word),
    }
}
