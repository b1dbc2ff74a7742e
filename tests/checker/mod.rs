//! The duplicate checker shared by the torture test (tests/torture.rs) and
//! the soak (bench/soak): lease holders publish what they believe they hold
//! in a shared region; a checker process scans the beliefs all along and
//! counts any address believed held by two processes that are both alive.
//!
//! The protocol, for a holder at position `idx`: store its owner word in
//! `who[idx]` and `pid << 40` in `belief[idx]` before anything else; after
//! each successful claim store `pid << 40 | generation << 16 | (slot + 1)`
//! (the generation grows at every claim); clear the slot part (keeping the
//! generation) before releasing.
#![allow(dead_code)]

use std::sync::atomic::{AtomicU64, Ordering};

use std::collections::HashSet;

use rasstatic::owner::Owner;
use rasstatic::protocol::{ClaimOpts, Liveness};
use rasstatic::table::Table;

/// Positions in the shared region: at most this many holders.
pub const MAX_HOLDERS: usize = 64;

/// Shared between all processes: an anonymous MAP_SHARED region.
#[repr(C)]
pub struct Shared {
    /// Per worker position: the worker's owner word.
    pub who: [AtomicU64; MAX_HOLDERS],
    /// Per worker position: `pid << 40 | generation << 16 | (slot + 1)`,
    /// with the slot part 0 while it holds nothing. The generation grows at
    /// every claim, so an unchanged word means an unbroken belief.
    pub belief: [AtomicU64; MAX_HOLDERS],
    pub violations: AtomicU64,
    pub stolen: AtomicU64,
    /// Leases a holder found missing from the current table and re-entered.
    pub reentered: AtomicU64,
    pub claims: AtomicU64,
    pub refusals: AtomicU64,
    pub checks: AtomicU64,
    pub stop: AtomicU64,
}

pub fn shared() -> &'static Shared {
    // SAFETY: a fresh anonymous shared mapping, zero-filled, big enough for
    // Shared (atomics only, valid when zero); it is never unmapped.
    unsafe {
        let p = libc::mmap(
            std::ptr::null_mut(),
            std::mem::size_of::<Shared>(),
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED | libc::MAP_ANONYMOUS,
            -1,
            0,
        );
        assert_ne!(p, libc::MAP_FAILED);
        &*(p as *const Shared)
    }
}

pub struct Rng(pub u64);
impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// A belief word for `pid` holding `slot` (None: holding nothing) at
/// claim number `generation`.
pub fn belief(pid: u32, generation: u64, slot: Option<u32>) -> u64 {
    u64::from(pid) << 40 | generation << 16 | slot.map_or(0, |s| u64::from(s) + 1)
}

/// Scan beliefs until told to stop. Two passes: an entry unchanged between
/// its pass-1 and pass-2 reads was believed throughout, and all such
/// intervals overlap (every pass-1 read precedes every pass-2 read). Two of
/// them on one slot, by processes still alive afterwards, are a violation.
pub fn checker(sh: &Shared, workers: usize) {
    let snap = || -> Vec<(u64, u64)> {
        (0..workers)
            .map(|i| {
                (
                    sh.who[i].load(Ordering::SeqCst),
                    sh.belief[i].load(Ordering::SeqCst),
                )
            })
            .collect()
    };
    while sh.stop.load(Ordering::Relaxed) == 0 {
        let a = snap();
        let b = snap();
        let held: Vec<(u64, u64)> = a
            .iter()
            .zip(&b)
            // Unchanged, holding a slot, and written by the process that
            // `who` names.
            .filter(|(x, y)| {
                x == y
                    && x.1 & 0xffff != 0
                    && Owner::from_word(x.0).map(|o| u64::from(o.pid())) == Some(x.1 >> 40)
            })
            .map(|(x, _)| (x.1 & 0xffff, x.0))
            .collect();
        for (i, &(s1, o1)) in held.iter().enumerate() {
            for &(s2, o2) in &held[i + 1..] {
                let alive = |w| Owner::from_word(w).is_some_and(|o| o.is_alive());
                if s1 == s2 && alive(o1) && alive(o2) {
                    sh.violations.fetch_add(1, Ordering::SeqCst);
                    let msg = format!("violation: slot {} held by {o1:#x} and {o2:#x}\n", s1 - 1);
                    // SAFETY: writing a buffer we own to stderr.
                    unsafe { libc::write(2, msg.as_ptr().cast(), msg.len()) };
                }
            }
        }
        sh.checks.fetch_add(1, Ordering::Relaxed);
    }
}

struct AllAlive;
impl Liveness for AllAlive {
    fn is_alive(&self, _: Owner) -> bool {
        true
    }
}

/// Once every holder is dead and the table reaped: claim the whole pool
/// with made-up owners, one address more than it has. `Ok(n)`: all but `n`
/// addresses could be claimed (the leak); `Err`: an address was handed out
/// twice, outside the pool, or beyond its size.
pub fn leaked(t: &Table) -> Result<u32, String> {
    let pool = t.pool().clone();
    let mut got = HashSet::new();
    for k in 0..=pool.size() {
        let o = Owner::new(1, 1_000_000 + u64::from(k));
        let Some(c) = t
            .slots()
            .claim(o, ClaimOpts::default(), &AllAlive, 0)
            .claimed
        else {
            break;
        };
        let a = pool.addr(c.slot);
        if k == pool.size() {
            return Err(format!(
                "{a} claimed beyond the pool's {} addresses",
                pool.size()
            ));
        }
        if !got.insert(a) {
            return Err(format!("{a} handed out twice"));
        }
    }
    Ok(pool.size() - got.len() as u32)
}
