//! The claim / release / reap / transfer protocol over one word per slot.
//!
//! This module is generic over the atomic word type so that the very code
//! the table runs on shared memory is also what `tests/loom.rs` model-checks
//! with loom's atomics.
//!
//! # The invariant
//!
//! Any process may die between any two instructions, so the protocol keeps
//! these at every step, not just at the end of an operation:
//!
//! - **I1 (one authority).** A slot's lease state is its owner word alone:
//!   `OWNED | start | pid` means leased to exactly that process lifetime;
//!   anything with bit 63 clear means free. Metadata, the free-bitmap and
//!   the round-robin cursor never decide ownership.
//! - **I2 (who may write what).** Every change of an owner word is one
//!   compare-and-swap from a value the writer just observed:
//!   - claim: `free -> OWNED(me)`, by `me` itself;
//!   - release: `OWNED(me) -> free`, by `me` itself;
//!   - transfer: `OWNED(me) -> OWNED(child)`, by `me` or by `child`, where
//!     `child` is alive (pppd's detach fork);
//!   - reap: `OWNED(x) -> free`, by anyone, only after observing that `x`
//!     is dead. A (PID, start time) pair, once dead, never lives again in
//!     this boot, so the observation cannot go stale and there is no ABA.
//!   - seize: `OWNED(x) -> OWNED(me)`, by `me`, only after observing that
//!     `x` is dead: a reap and a claim in one step. The watchdog seizes a
//!     dead session's lease while it removes what that session left in the
//!     kernel, so nobody can lease the address meanwhile, then releases it
//!     (recording `x`'s PID).
//!
//!   - re-assert: `free -> OWNED(me)` or `OWNED(x) -> OWNED(me)`, by
//!     `me`, a live session that holds the slot's address on its
//!     interface but finds the table no longer records it (the table was
//!     deleted, damaged or rebuilt under it), and only where `x` is
//!     observed dead or is the interface lease ([`Owner::interface`]) a
//!     rebuild entered for `me`'s own interface. Where a live process holds
//!     it, nothing is written: [`conflict_loser`] names the session that
//!     must hang up.
//!
//!   Hence no address is ever leased to two processes in one table: a
//!   word names one. Across tables (one deleted, one made again), the
//!   leases carried over keep that true (I5, I6); what neither a mapping
//!   nor the kernel knew (a call still negotiating when a table was made
//!   from nothing) is found by that call's own re-assert and settled by
//!   a hang-up ([`conflict_loser`]).
//! - **I3 (nothing lost).** A dying process leaves each word either free,
//!   `OWNED(itself)` (dead, so reapable) or `OWNED(someone alive)`. No
//!   intermediate state exists. The hints (bitmap, cursor) only make the
//!   common case fast, and any value they hold, torn or stale, is safe.
//!   A claim reports exhaustion only after the free-bitmap showed no free
//!   address and a bounded sweep (see [`Sweep`]) of the owner words, from
//!   where the previous sweep stopped, found none free and, checking up to
//!   [`Sweep::checks`] holders, none dead. A pool of at most
//!   [`SWEEP_WORDS`] addresses has every owner word read by each such
//!   claim; a larger one is covered by successive refusals. Holders are
//!   checked through /proc by the claim itself only when no watchdog has
//!   reported in the last [`WATCHDOG_TRUSTED_MS`] ms (the table decides;
//!   a watchdog frees a dead holder's address milliseconds after the
//!   death, so a refusal then misses only a holder that died within those
//!   milliseconds). Without a watchdog, a dead holder's address is found
//!   within `leased / checks` refused claims (one refusal for pools up to
//!   [`SWEEP_CHECKS`] addresses), and `rasstatic reap` frees them all.
//! - **I4 (no locks).** Nothing here waits for another process; a dead
//!   process cannot leave anything held. (Opening and resetting a table
//!   take a file lock, which the kernel drops when its holder dies; see
//!   I5.)
//! - **I5 (resets).** A table is reset (an earlier boot's, or a rebuild
//!   for another pool) by writing a complete new file and renaming it over
//!   the old one's name. The resetter holds the old file's exclusive lock
//!   from before it writes its own owner word into the old table's reset
//!   word until after the rename, and changes nothing else in the old
//!   file. Every opener takes the file's shared lock before it looks at
//!   the reset word. So an opener holding the lock that finds the word set
//!   while the name still leads to this file knows that the resetter let
//!   go of the lock without renaming: it died (or, should its descriptor
//!   have been closed under it, is still alive: [`judge_reset`] checks the
//!   recorded owner and then waits). The opener rolls the reset back under
//!   the exclusive lock (the word back to 0, which is the whole of what
//!   the reset changed) and opens as usual, starting its own reset if it
//!   needs one. Claims and the resetter's count of live leases form a
//!   Dekker pair: a claim compare-and-swaps its owner word, then reads the
//!   reset word ([`claimed_in_retired`]); the resetter writes the reset
//!   word, then reads every owner word ([`live_leases`]), all sequentially
//!   consistent; so either the resetter counts the claim, or the claim
//!   sees the reset and gives the address back.
//!   A reset for a new pool definition carries every live lease over to
//!   the new file (kept, or draining when its address left the pool), read
//!   the same way after the reset word is set, so the same pair decides
//!   whether a racing claim is carried or given back. A releaser pairs
//!   the other way round: it releases, then looks at the reset word (and
//!   the name); if the table was replaced it releases again in the new
//!   one, which may have carried its lease.
//! - **I6 (a deleted table).** A process that still maps a table whose
//!   name no longer leads to it (deleted by an administrator: nothing in
//!   the file changes), and that is not marked superseded, makes the table
//!   again from it, as a reset does: under the file's exclusive lock it
//!   sets the reset word (taking over a dead recreator's), reads every
//!   owner word with a read-modify-write, writes a new file carrying each
//!   live lease and links it to the name (if another process made a table
//!   there first, it enters each lease into that one where it is free or
//!   held by the dead, except where the lease's own process released that
//!   address there since: that process maps the new table and never
//!   writes the deleted one (it may never have mapped it, when another
//!   process carried its lease into that file), and a kernel session read
//!   may be older than the release, so the release is the newer word;
//!   [`Slots::carry_in`], modelled in `tests/loom.rs`,
//!   `a_carried_lease_never_outlives_its_sessions_release_in_the_new_table`),
//!   maps the new file before anyone could delete its
//!   name again, and marks the old one superseded. A claim in the old
//!   file pairs with it as with a reset (the reset word, I5), and also
//!   checks after its compare-and-swap that the name still leads to its
//!   file. A process whose table is superseded never makes a table from
//!   nothing while the name is gone: it waits (4 s at most) for a process
//!   that maps the successor to make it again. A process with no table
//!   that finds none while a watchdog runs gives the watchdog 1.5 s (it
//!   looks every second) first. A table made by a process that maps no
//!   earlier one starts from the kernel's sessions ([`crate::kernel`]);
//!   what that misses (a call still negotiating, not yet on an interface)
//!   its own pppd re-asserts within seconds (re-assert, I2), the younger
//!   call hanging up on a conflict.
//! - **I7 (sealed slots, cluster mode).** A free word may carry
//!   [`SEALED`]: free, but not this server's to hand out (its block is
//!   held by no one here, or is being given back). Claims take only words
//!   that are free and unsealed ([`is_claimable`]); the bitmap never marks
//!   a sealed slot free for long (as with a leased one). Sealing and
//!   unsealing are compare-and-swaps between a free word and the same
//!   word with the bit set, so a word is never leased and sealed at once,
//!   and a claim racing a seal of the same word loses to it or makes the
//!   seal fail ([`Slots::seal`]). Release, reap and seize act on leased
//!   words only and leave a free, unsealed word, as before: the agent
//!   seals such a word in a block it does not hold at its next step, and
//!   raises no deadline while a lease lives in such a block (see
//!   `cluster/src/agent.rs`). Re-assert (I2) never takes a sealed word,
//!   as a claim never does: the session waits for the agent to unseal its
//!   block (a table made anew in cluster mode starts sealed), and hangs up
//!   if it stays sealed. Modelled in `tests/loom.rs`
//!   (`a_seal_races_claims_releases_and_reaps`,
//!   `a_reassert_never_takes_a_slot_sealed_to_give_its_block_back`).

use std::sync::atomic::{AtomicU64, Ordering};

use crate::word::{is_claimable, is_free, is_sealed, Owner, SEALED};
pub use crate::word::{EndedBy, Free};

/// What [`Slots::seal_one`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Sealing {
    Sealed,
    Already,
    Leased,
}

/// An atomic 64-bit word. Implemented for `std`'s `AtomicU64` (the table)
/// and, in tests, for loom's.
pub trait Word {
    fn load(&self, order: Ordering) -> u64;
    fn store(&self, v: u64, order: Ordering);
    fn compare_exchange(&self, current: u64, new: u64) -> Result<u64, u64>;
    fn fetch_or(&self, v: u64, order: Ordering) -> u64;
    fn fetch_and(&self, v: u64, order: Ordering) -> u64;
}

impl Word for AtomicU64 {
    #[inline]
    fn load(&self, order: Ordering) -> u64 {
        AtomicU64::load(self, order)
    }
    #[inline]
    fn store(&self, v: u64, order: Ordering) {
        AtomicU64::store(self, v, order)
    }
    #[inline]
    fn compare_exchange(&self, current: u64, new: u64) -> Result<u64, u64> {
        AtomicU64::compare_exchange(self, current, new, Ordering::SeqCst, Ordering::SeqCst)
    }
    #[inline]
    fn fetch_or(&self, v: u64, order: Ordering) -> u64 {
        AtomicU64::fetch_or(self, v, order)
    }
    #[inline]
    fn fetch_and(&self, v: u64, order: Ordering) -> u64 {
        AtomicU64::fetch_and(self, v, order)
    }
}

/// Answers whether a lease owner is still alive.
pub trait Liveness {
    fn is_alive(&self, owner: Owner) -> bool;
}

/// The real answer, from /proc.
pub struct ProcLiveness;

impl Liveness for ProcLiveness {
    fn is_alive(&self, owner: Owner) -> bool {
        owner.is_alive()
    }
}

/// What a claim may prefer or must avoid.
#[derive(Clone, Copy, Debug, Default)]
pub struct ClaimOpts {
    /// Try this slot first (this session's earlier address, or the sticky
    /// address of the peer).
    pub prefer: Option<u32>,
    /// Never hand out this slot (the server's own address).
    pub avoid: Option<u32>,
}

/// The result of a successful claim.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Claimed {
    pub slot: u32,
    /// True when the caller already held this slot.
    pub existing: bool,
    /// The slot's word before the claim (the caller's own when
    /// `existing`): what [`Slots::unclaim`] puts back.
    pub prev: u64,
}

/// A lease freed by a reap.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reaped {
    pub slot: u32,
    pub owner: Owner,
}

/// The outcome of a claim: the slot, or `None` when the pool is exhausted;
/// plus any dead leases reaped along the way.
#[derive(Debug, Default)]
pub struct ClaimOutcome {
    pub claimed: Option<Claimed>,
    pub reaped: Vec<Reaped>,
    /// The slow path's sweep passed the end of the table.
    pub swept: bool,
}

/// Owner words a claim that finds the pool looking full reads, at most,
/// looking for a free word the bitmap missed.
pub const SWEEP_WORDS: u32 = 65_536;
/// Holders such a claim checks through /proc, at most, when no watchdog
/// vouches for them.
pub const SWEEP_CHECKS: u32 = 32;
/// A watchdog heartbeat younger than this (milliseconds) vouches for the
/// holders' liveness: the claim itself then checks none.
pub const WATCHDOG_TRUSTED_MS: u64 = 1_000;

/// How much a claim that finds the pool looking full may do: read up to
/// `words` owner words from the sweep cursor on, and check up to `checks`
/// of their holders for liveness (reaping the dead).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sweep {
    pub words: u32,
    pub checks: u32,
}

impl Sweep {
    /// Check holders through /proc (no watchdog vouches for them).
    pub const CHECKING: Sweep = Sweep {
        words: SWEEP_WORDS,
        checks: SWEEP_CHECKS,
    };
    /// A running watchdog reaps the dead: look for free words only.
    pub const TRUSTING: Sweep = Sweep {
        words: SWEEP_WORDS,
        checks: 0,
    };
    /// Everything: read every word and check every holder (tests, models).
    pub const FULL: Sweep = Sweep {
        words: u32::MAX,
        checks: u32::MAX,
    };
}

/// The protocol's view of a table: one owner word per slot, a free-bitmap
/// hint (bit set = probably free), a round-robin cursor hint and the
/// sweep cursor (where the next full-pool sweep starts).
///
/// The bitmap is kept so that a leased slot's bit is clear except for a
/// few instructions at a time: a claim clears the bit right after its
/// compare-and-swap, and whoever frees a word sets the bit and then looks
/// at the word again, clearing the bit if the slot was claimed meanwhile. The watchdog relies on that to look only at
/// slots whose bit is clear; see `watchdog` for what it does about the
/// exceptions (a process that dies inside those few instructions).
pub struct Slots<'a, W: Word> {
    pub owners: &'a [W],
    pub bitmap: &'a [W],
    pub cursor: &'a W,
    pub sweep: &'a W,
}

impl<W: Word> Slots<'_, W> {
    pub fn len(&self) -> u32 {
        self.owners.len() as u32
    }

    pub fn is_empty(&self) -> bool {
        self.owners.is_empty()
    }

    /// The owner word of a slot.
    #[inline]
    pub fn word(&self, slot: u32) -> u64 {
        self.owners[slot as usize].load(Ordering::SeqCst)
    }

    /// Whether the bitmap calls `slot` probably free.
    #[inline]
    pub fn hinted_free(&self, slot: u32) -> bool {
        self.bitmap[(slot / 64) as usize].load(Ordering::Relaxed) & (1 << (slot % 64)) != 0
    }

    /// Mark `slot` probably free, then look again: if it was claimed
    /// meanwhile, take the mark back (the claimer may have cleared it
    /// before this set it).
    #[inline]
    fn hint_free(&self, slot: u32) {
        self.bitmap[(slot / 64) as usize].fetch_or(1 << (slot % 64), Ordering::SeqCst);
        if !is_claimable(self.word(slot)) {
            self.hint_taken(slot);
        }
    }

    #[inline]
    fn hint_taken(&self, slot: u32) {
        self.bitmap[(slot / 64) as usize].fetch_and(!(1 << (slot % 64)), Ordering::SeqCst);
    }

    /// Try to take one slot. `Some(existing)` on success.
    #[inline]
    fn try_take(&self, slot: u32, me: Owner) -> Option<(bool, u64)> {
        let w = self.word(slot);
        if w == me.word() {
            return Some((true, w));
        }
        if is_claimable(w)
            && self.owners[slot as usize]
                .compare_exchange(w, me.word())
                .is_ok()
        {
            return Some((false, w));
        }
        None
    }

    /// Bookkeeping after a successful take; round-robin picks move the
    /// cursor, preferred ones do not.
    fn took(&self, slot: u32, (existing, prev): (bool, u64), round_robin: bool) -> Claimed {
        self.hint_taken(slot);
        if round_robin && !existing {
            self.cursor.store(u64::from(slot) + 1, Ordering::Relaxed);
        }
        Claimed {
            slot,
            existing,
            prev,
        }
    }

    /// Undo `c`, a new claim by `me` that must not stand (cluster mode:
    /// the claim deadline passed while it was made): the slot's word goes
    /// back to what it was, as if the claim had never been made. Only the
    /// holder changes a leased word (I1), so nothing else can have
    /// changed it meanwhile. False if `me` does not hold it.
    pub fn unclaim(&self, c: Claimed, me: Owner) -> bool {
        if c.existing {
            return false;
        }
        let ok = self.owners[c.slot as usize]
            .compare_exchange(me.word(), c.prev)
            .is_ok();
        if ok {
            self.hint_free(c.slot);
        }
        ok
    }

    /// Claim a slot for `me`, with the sweep budget that checks holders
    /// (see [`Slots::claim_with`]).
    pub fn claim(
        &self,
        me: Owner,
        opts: ClaimOpts,
        live: &impl Liveness,
        now: u32,
    ) -> ClaimOutcome {
        self.claim_with(me, opts, live, now, Sweep::CHECKING)
    }

    /// Claim a slot for `me`. Fast path: the bitmap from the cursor on.
    /// Slow path, when nothing looked free: a bounded sweep of the owner
    /// words from the sweep cursor on, taking the first free word, and
    /// checking up to `sweep.checks` holders, reaping the dead (I3).
    pub fn claim_with(
        &self,
        me: Owner,
        opts: ClaimOpts,
        live: &impl Liveness,
        now: u32,
        sweep: Sweep,
    ) -> ClaimOutcome {
        let n = self.len();
        let avoid = opts.avoid.unwrap_or(u32::MAX);
        if let Some(p) = opts.prefer.filter(|&p| p < n && p != avoid) {
            if let Some(existing) = self.try_take(p, me) {
                return ClaimOutcome {
                    claimed: Some(self.took(p, existing, false)),
                    reaped: Vec::new(),
                    swept: false,
                };
            }
        }
        if let Some(c) = self.claim_fast(me, avoid) {
            return ClaimOutcome {
                claimed: Some(c),
                reaped: Vec::new(),
                swept: false,
            };
        }
        self.claim_sweep(me, avoid, live, now, sweep)
    }

    /// Round-robin over the bitmap: the first probably-free slot at or after
    /// the cursor, wrapping once.
    fn claim_fast(&self, me: Owner, avoid: u32) -> Option<Claimed> {
        let n = self.len();
        let words = self.bitmap.len() as u32;
        let start = (self.cursor.load(Ordering::Relaxed) % u64::from(n)) as u32;
        let (sw, sb) = (start / 64, start % 64);
        for k in 0..=words {
            let wi = (sw + k) % words;
            let mut bits = self.bitmap[wi as usize].load(Ordering::Relaxed);
            if k == 0 {
                bits &= !0u64 << sb;
            } else if k == words {
                // Back at the start word: only the bits before the cursor.
                bits &= (1u64 << sb).wrapping_sub(1);
            }
            while bits != 0 {
                let b = bits.trailing_zeros();
                bits &= bits - 1;
                let slot = wi * 64 + b;
                if slot >= n || slot == avoid {
                    continue;
                }
                match self.try_take(slot, me) {
                    Some(existing) => return Some(self.took(slot, existing, true)),
                    // Taken meanwhile or a stale hint: clear it. If it was
                    // freed again in between, the slow path finds it.
                    None => self.hint_taken(slot),
                }
            }
        }
        None
    }

    /// The slow path: up to `sweep.words` owner words from the sweep
    /// cursor on. Takes the first free word (or `me`'s own lease); checks
    /// up to `sweep.checks` holders, reaping the dead and taking the first
    /// address so freed. Moves the sweep cursor past what it covered and
    /// rebuilds the bitmap words it read. `swept` is set when the sweep
    /// passed the end of the table (a full round completed).
    fn claim_sweep(
        &self,
        me: Owner,
        avoid: u32,
        live: &impl Liveness,
        now: u32,
        sweep: Sweep,
    ) -> ClaimOutcome {
        let n = self.len();
        let words = sweep.words.min(n);
        let start = (self.sweep.load(Ordering::Relaxed) % u64::from(n)) as u32;
        let mut checks = sweep.checks;
        let mut reaped = Vec::new();
        let mut found = None;
        // Where the liveness part stopped, if its budget ran out first.
        let mut checked_to = None;
        let mut read = words;
        for k in 0..words {
            let slot = (start + k) % n;
            if slot == avoid {
                continue;
            }
            if let Some(existing) = self.try_take(slot, me) {
                found = Some(self.took(slot, existing, true));
                read = k + 1;
                break;
            }
            if checks == 0 || Owner::from_word(self.word(slot)).is_none() {
                continue;
            }
            checks -= 1;
            if checks == 0 {
                checked_to = Some(k + 1);
            }
            if let Some(r) = self.reap(slot, live, EndedBy::ReapClaim, now) {
                reaped.push(r);
                if let Some(existing) = self.try_take(slot, me) {
                    found = Some(self.took(slot, existing, true));
                    read = k + 1;
                    break;
                }
            }
        }
        // The next sweep goes on after the last holder this one checked
        // (or after what it read, if it checked all it met).
        let covered = checked_to.map_or(read, |c| c.min(read));
        let next = u64::from(start) + u64::from(covered);
        self.sweep.store(next % u64::from(n), Ordering::Relaxed);
        self.rebuild_hints_range(start, read);
        ClaimOutcome {
            claimed: found,
            reaped,
            swept: covered == n || next >= u64::from(n),
        }
    }

    /// Recompute the whole bitmap from the owner words.
    pub fn rebuild_hints(&self) {
        self.rebuild_hints_range(0, self.len());
    }

    /// Recompute the bitmap words covering `count` slots from `first` on
    /// (wrapping). Each word is stored, then each bit it marks free is
    /// checked again and cleared if its slot was claimed meanwhile; a
    /// release racing the store may be lost from the hint, and the slow
    /// path still finds it.
    pub fn rebuild_hints_range(&self, first: u32, count: u32) {
        let n = self.len();
        if n == 0 || count == 0 {
            return;
        }
        let nw = self.bitmap.len() as u32;
        let w0 = first / 64;
        let last = first as u64 + count.min(n) as u64 - 1;
        let span = ((last / 64) as u32 + 1 - w0).min(nw);
        for k in 0..span {
            let wi = (w0 + k) % nw;
            let base = wi * 64;
            let mut mask = 0u64;
            for b in 0..64.min(n - base) {
                if is_claimable(self.word(base + b)) {
                    mask |= 1 << b;
                }
            }
            let hint = &self.bitmap[wi as usize];
            if hint.load(Ordering::Relaxed) == mask {
                continue;
            }
            hint.store(mask, Ordering::SeqCst);
            let mut bits = mask;
            while bits != 0 {
                let b = bits.trailing_zeros();
                bits &= bits - 1;
                if !is_claimable(self.word(base + b)) {
                    hint.fetch_and(!(1 << b), Ordering::SeqCst);
                }
            }
        }
    }

    /// Release `slot` if `me` holds it. Idempotent: false when `me` does not
    /// hold it (already released, reaped, or never held).
    pub fn release(&self, slot: u32, me: Owner, path: EndedBy, now: u32) -> bool {
        self.release_recording(slot, me, path, me.pid(), now)
    }

    /// Release `slot` if `me` holds it, recording `last_pid` as its last
    /// holder (after a seize: the dead session's PID).
    pub fn release_recording(
        &self,
        slot: u32,
        me: Owner,
        path: EndedBy,
        last_pid: u32,
        now: u32,
    ) -> bool {
        let free = Free {
            path,
            last_pid,
            when: now,
        };
        if self.owners[slot as usize]
            .compare_exchange(me.word(), free.word())
            .is_ok()
        {
            self.hint_free(slot);
            true
        } else {
            false
        }
    }

    /// Free `slot` whatever holds it (`rasstatic release --force`). Returns
    /// the owner it took the slot from, if any.
    pub fn force_release(&self, slot: u32, path: EndedBy, now: u32) -> Option<Owner> {
        loop {
            let w = self.word(slot);
            let owner = Owner::from_word(w)?;
            let free = Free {
                path,
                last_pid: owner.pid(),
                when: now,
            };
            if self.owners[slot as usize]
                .compare_exchange(w, free.word())
                .is_ok()
            {
                self.hint_free(slot);
                return Some(owner);
            }
        }
    }

    /// Free `slot` if its owner is dead. Returns the dead owner.
    pub fn reap(&self, slot: u32, live: &impl Liveness, path: EndedBy, now: u32) -> Option<Reaped> {
        let w = self.word(slot);
        let owner = Owner::from_word(w)?;
        if live.is_alive(owner) {
            return None;
        }
        let free = Free {
            path,
            last_pid: owner.pid(),
            when: now,
        };
        // The CAS fails only if someone else reaped it first (I2: a dead
        // owner cannot release or transfer).
        self.owners[slot as usize]
            .compare_exchange(w, free.word())
            .ok()?;
        self.hint_free(slot);
        Some(Reaped { slot, owner })
    }

    /// Take `slot` over from `dead` for `me`, if `dead` holds it and is
    /// observed dead (see I2, seize). False otherwise.
    pub fn seize(&self, slot: u32, dead: Owner, me: Owner, live: &impl Liveness) -> bool {
        if self.word(slot) != dead.word() || live.is_alive(dead) {
            return false;
        }
        self.owners[slot as usize]
            .compare_exchange(dead.word(), me.word())
            .is_ok()
    }

    /// Reap every slot whose owner is dead.
    pub fn reap_all(&self, live: &impl Liveness, path: EndedBy, now: u32) -> Vec<Reaped> {
        (0..self.len())
            .filter_map(|s| self.reap(s, live, path, now))
            .collect()
    }

    /// Re-enter `me`'s lease on `slot` (I2, re-assert). `yields(x)` says
    /// whether holder `x` gives way: observed dead, or the interface
    /// lease of `me`'s own session. `Ok(true)`: re-entered; `Ok(false)`:
    /// `me` held it already; `Err(Some(x))`: the live process `x` holds
    /// it; `Err(None)`: the slot is sealed (cluster mode, I7): its block
    /// may be another server's, so a re-assert never takes it, exactly as
    /// a claim never does (the two are compare-and-swaps from the same
    /// free word as a seal, so one of them fails).
    pub fn reassert(
        &self,
        slot: u32,
        me: Owner,
        yields: impl Fn(Owner) -> bool,
    ) -> Result<bool, Option<Owner>> {
        self.enter(slot, me, yields, |_| true)
            .map(|entered| entered == Some(true))
    }

    /// Enter, on `owner`'s behalf, a lease a deleted table (or the kernel)
    /// recorded for it into this one (I6: the table another process made
    /// at the name first), as a re-assert does, except where the free word
    /// says `owner` itself released the address here: it maps this table
    /// and ended that lease, which is newer than what the deleted file (a
    /// file it never writes) or an earlier kernel read recorded.
    /// `Ok(None)`: released here by its owner; left free. Only the last
    /// release is recorded, so a lease released by its owner and then
    /// claimed and released by another process in between is entered (a
    /// window of milliseconds; the lease is then held until its owner
    /// exits, and is stale after). An interface owner's `pid()` is an
    /// interface index, never compared.
    pub fn carry_in(
        &self,
        slot: u32,
        owner: Owner,
        yields: impl Fn(Owner) -> bool,
    ) -> Result<Option<bool>, Option<Owner>> {
        let process = owner.iface().is_none();
        self.enter(slot, owner, yields, |f| {
            !(process && f.last_pid == owner.pid())
        })
    }

    /// Re-assert and carry-in: `me` takes `slot` by one compare-and-swap
    /// from a free word `takes(free)` accepts, or from a holder that
    /// `yields`. `Ok(Some(true))`: entered; `Ok(Some(false))`: `me` held it
    /// already; `Ok(None)`: a free word `takes` refused.
    fn enter(
        &self,
        slot: u32,
        me: Owner,
        yields: impl Fn(Owner) -> bool,
        takes: impl Fn(Free) -> bool,
    ) -> Result<Option<bool>, Option<Owner>> {
        loop {
            let w = self.word(slot);
            if w == me.word() {
                return Ok(Some(false));
            }
            if is_sealed(w) {
                return Err(None);
            }
            match Owner::from_word(w) {
                Some(x) if !yields(x) => return Err(Some(x)),
                Some(_) => {}
                None => {
                    if Free::from_word(w).is_some_and(|f| !takes(f)) {
                        return Ok(None);
                    }
                }
            }
            if self.owners[slot as usize]
                .compare_exchange(w, me.word())
                .is_ok()
            {
                self.hint_taken(slot);
                return Ok(Some(true));
            }
        }
    }

    /// Move `slot` from `from` to `to` in one step; the slot is never free
    /// in between. False if `from` does not hold it.
    pub fn transfer(&self, slot: u32, from: Owner, to: Owner) -> bool {
        self.owners[slot as usize]
            .compare_exchange(from.word(), to.word())
            .is_ok()
    }

    /// Seal `count` slots from `first` (a block, in cluster mode), so that
    /// none of them can be claimed: each free word, one by one, by
    /// compare-and-swap to itself with [`SEALED`] set. If one is leased,
    /// the seal is abandoned: the words this call sealed are unsealed
    /// again, and `Err(slot)` names the leased one. A word sealed before
    /// the call stays sealed. `Ok(())`: every slot is sealed, and none
    /// can be leased until [`Slots::unseal`].
    ///
    /// A claim and a seal of one word are compare-and-swaps from the same
    /// free value, so one of them fails: a slot is never leased and sealed
    /// at once (I7). A sealer that dies half way leaves some words sealed
    /// and the rest free, which is safe (fewer addresses to hand out); the
    /// agent that takes over seals or unseals the block whole again.
    pub fn seal(&self, first: u32, count: u32) -> Result<(), u32> {
        let end = first.saturating_add(count).min(self.len());
        let mut sealed_here = Vec::new();
        for slot in first..end {
            match self.seal_one(slot) {
                Sealing::Leased => {
                    for &s in &sealed_here {
                        self.unseal_one(s);
                    }
                    return Err(slot);
                }
                Sealing::Sealed => sealed_here.push(slot),
                Sealing::Already => {}
            }
        }
        Ok(())
    }

    /// Seal every free word of `count` slots from `first`, leaving leased
    /// ones as they are and undoing nothing: for a block this server does
    /// not hold, where every free address must be closed whatever else
    /// is in it. Returns the leased slots (their sessions must end; a word
    /// they free is unsealed, and the next call seals it).
    pub fn seal_free(&self, first: u32, count: u32) -> Vec<u32> {
        let end = first.saturating_add(count).min(self.len());
        (first..end)
            .filter(|&slot| self.seal_one(slot) == Sealing::Leased)
            .collect()
    }

    /// Seal one word: by compare-and-swap from the free value read, again
    /// if it changed meanwhile.
    fn seal_one(&self, slot: u32) -> Sealing {
        loop {
            let w = self.word(slot);
            if is_sealed(w) {
                return Sealing::Already;
            }
            if !is_free(w) {
                return Sealing::Leased;
            }
            if self.owners[slot as usize]
                .compare_exchange(w, w | SEALED)
                .is_ok()
            {
                self.hint_taken(slot);
                return Sealing::Sealed;
            }
        }
    }

    /// Unseal `count` slots from `first`: each sealed word becomes free
    /// and claimable again (its history kept), and is marked free in the
    /// bitmap.
    pub fn unseal(&self, first: u32, count: u32) {
        let end = first.saturating_add(count).min(self.len());
        for slot in first..end {
            self.unseal_one(slot);
        }
    }

    fn unseal_one(&self, slot: u32) {
        loop {
            let w = self.word(slot);
            if !is_sealed(w) {
                return;
            }
            if self.owners[slot as usize]
                .compare_exchange(w, w & !SEALED)
                .is_ok()
            {
                self.hint_free(slot);
                return;
            }
        }
    }

    /// How many of `count` slots from `first` are sealed.
    pub fn sealed(&self, first: u32, count: u32) -> u32 {
        let end = first.saturating_add(count).min(self.len());
        (first..end).filter(|&s| is_sealed(self.word(s))).count() as u32
    }

    /// How many slots are leased right now.
    pub fn leased(&self) -> u32 {
        (0..self.len()).filter(|&s| !is_free(self.word(s))).count() as u32
    }
}

/// Of two live sessions found holding one address (a table lost a lease
/// and another session claimed it meanwhile), the one that must hang up:
/// the younger, by start time (then by PID), so the call that was up
/// first stays up.
pub fn conflict_loser(a: Owner, b: Owner) -> Owner {
    if (a.start_ticks(), a.pid()) > (b.start_ticks(), b.pid()) {
        a
    } else {
        b
    }
}

/// Bitmap words needed for `n` slots.
pub fn bitmap_words(n: u32) -> usize {
    n.div_ceil(64) as usize
}

/// The bitmap of a fresh table: every slot probably free.
pub fn initial_hint(word: usize, n: u32) -> u64 {
    let base = word as u32 * 64;
    let bits = 64.min(n.saturating_sub(base));
    if bits == 64 {
        !0
    } else {
        (1u64 << bits) - 1
    }
}

mod reset;
pub use reset::*;

#[cfg(test)]
mod tests;
