//! The lease table: one file per pool, mapped `MAP_SHARED` by every process
//! that uses the pool. See [`crate::protocol`] for the lease protocol and
//! its invariant, and [`layout`] for the file format.
//!
//! Why Rust atomics work here: the file is mapped shared, so every process
//! sees the same physical pages, and the x86-64/aarch64 atomic instructions
//! that `AtomicU64` compiles to are coherent across address spaces exactly
//! as across threads. The mapping is page-aligned and every atomic is
//! naturally aligned (checked at compile time in `layout`).

pub mod layout;
mod meta;

use std::ffi::CString;
use std::fmt;
use std::fs::{self, File};
use std::io;
use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, FromRawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::cutil::{self, cerr, NotOurs};
use crate::owner::Owner;
use crate::pool::{Pool, Range};
use crate::protocol::{
    self, ClaimOpts, Claimed, EndedBy, Free, Liveness, Reaped, ResetState, Slots, Sweep,
};
use layout::*;
pub use meta::{MetaRecord, SessionInfo};

mod error;
mod file;
mod map;
mod open;
pub use error::*;
pub use file::*;
use map::Mapping;
pub use open::{aside_path, now_ms, Definition};

mod reader;
pub use reader::{Reader, ReaderLeases};

/// The default directory for tables: tmpfs, so tables are shared memory and
/// vanish at reboot.
pub const DEFAULT_DIR: &str = "/run/rasstatic";
pub const DEFAULT_NAME: &str = "default";

/// Liveness as a table may judge it: from /proc, and only where /proc
/// speaks of the PID namespace the table's owner words come from. Where
/// it cannot be known, every holder counts as alive: a lease is never
/// reaped on a guess.
#[derive(Clone, Copy, Debug)]
pub struct TableLiveness {
    known: bool,
}

impl TableLiveness {
    /// `Ok` when holders' liveness can be judged; otherwise why not, for a
    /// command that would act on the table at `path`.
    pub fn check(self, path: &Path) -> Result<(), TableError> {
        if self.known {
            Ok(())
        } else {
            Err(TableError::ForeignPidNs {
                path: path.into(),
                leased: None,
            })
        }
    }
}

impl Liveness for TableLiveness {
    fn is_alive(&self, owner: Owner) -> bool {
        !self.known || owner.is_alive()
    }
}

/// An open, validated, mapped table.
pub struct Table {
    path: PathBuf,
    /// Device and inode of `_file`, to tell whether `path` still leads
    /// to it with one `lstat`.
    id: (u64, u64),
    _file: File,
    map: Mapping,
    pool: Pool,
    /// Draining addresses (host byte order, ascending): slots `size()..`.
    drain: Vec<u32>,
    fixed: Fixed,
    sec: Sections,
    /// Whether this process can judge the holders' liveness (its /proc
    /// speaks of the table's PID namespace).
    liveness_known: bool,
    /// The slot this process last claimed through this handle, plus one (0:
    /// none): a second claim by the same process finds its lease at once.
    /// Process-local; a hint checked against the owner word.
    held: AtomicU64,
}

/// How `open` found the table, for the caller to log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Opened {
    Existing,
    Created,
    /// Reset because it was written in an earlier boot.
    ResetBoot,
    /// Rebuilt for a new pool definition (`old`), its live leases carried
    /// over: `kept` in the new pool, `draining` outside it. Or rebuilt for
    /// this PID namespace when it was another's (it had no live leases).
    ResetPool {
        old: String,
        kept: u32,
        draining: u32,
    },
    /// The file at the table's name was damaged (`why`): it was moved
    /// aside to `aside` and the table rebuilt from the kernel's sessions.
    Rebuilt {
        why: String,
        aside: PathBuf,
    },
    /// The table holds a newer pool definition than this process's:
    /// followed.
    Following {
        ours: String,
    },
}

impl Table {
    /// How this process may judge the holders' liveness.
    pub fn liveness(&self) -> TableLiveness {
        TableLiveness {
            known: self.liveness_known,
        }
    }

    /// `Ok` when this process can tell whether the table's holders are
    /// alive; otherwise the reason, for a command that would act on it.
    pub fn check_liveness(&self) -> Result<(), TableError> {
        self.liveness().check(&self.path)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// The definition as the administrator wrote it when the table was made.
    pub fn spec(&self) -> String {
        String::from_utf8_lossy(&self.fixed.spec[..self.fixed.spec_len as usize]).into_owned()
    }

    pub fn created(&self) -> u64 {
        self.fixed.created
    }

    /// Addresses in the pool: the slots a claim may take.
    pub fn size(&self) -> u32 {
        self.fixed.slot_count
    }

    /// Every slot: the pool's, then the draining ones.
    pub fn total(&self) -> u32 {
        self.fixed.slot_count + self.fixed.drain_count
    }

    /// The address of any slot, draining ones included.
    pub fn addr(&self, slot: u32) -> Ipv4Addr {
        slot_addr(&self.pool, &self.drain, slot)
    }

    /// When this table's pool definition was read (unix milliseconds).
    pub fn defined_ms(&self) -> u64 {
        self.fixed.defined_ms
    }

    /// The draining addresses: leased when the pool was redefined without
    /// them, never handed out again.
    pub fn draining(&self) -> impl Iterator<Item = Ipv4Addr> + '_ {
        self.drain.iter().map(|&a| Ipv4Addr::from(a))
    }

    /// Bytes of the file.
    pub fn file_size(&self) -> usize {
        self.sec.total
    }

    pub fn is_retired(&self) -> bool {
        self.live().retired.load(Ordering::SeqCst) != 0
    }

    /// The sweep a claim on a full pool may make: holders are checked by
    /// the claim only while no watchdog vouches for them (a heartbeat
    /// younger than [`protocol::WATCHDOG_TRUSTED_MS`]), and never from
    /// another PID namespace.
    fn sweep_budget(&self) -> Sweep {
        if !self.liveness_known || self.watchdog_fresh() {
            Sweep::TRUSTING
        } else {
            Sweep::CHECKING
        }
    }

    /// Whether a watchdog reported in within [`protocol::WATCHDOG_TRUSTED_MS`].
    pub fn watchdog_fresh(&self) -> bool {
        let beat = self.live().watchdog_beat.load(Ordering::Relaxed);
        beat != 0 && boot_ms().saturating_sub(beat) < protocol::WATCHDOG_TRUSTED_MS
    }

    /// The watchdog's heartbeat (see [`Live::watchdog_beat`]); 0 to say
    /// it stopped.
    pub fn watchdog_beat(&self, ms: u64) {
        self.live().watchdog_beat.store(ms, Ordering::Relaxed);
    }

    fn count(&self, path: EndedBy) {
        self.live().ended[path as usize].fetch_add(1, Ordering::Relaxed);
    }

    fn count_reaps(&self, reaped: &[Reaped], path: EndedBy) {
        for r in reaped {
            self.count(path);
            if path == EndedBy::ReapWatchdog {
                continue; // the watchdog logs its own, fuller line
            }
            log::info!(
                "reaped {} from dead pid {}",
                self.addr(r.slot),
                r.owner.pid()
            );
        }
    }

    /// Claim an address for `me`. See [`crate::protocol::Slots::claim`].
    /// Returns `Ok(None)` when the pool is exhausted, or `Err` when the table
    /// was replaced by a reset meanwhile (reopen and retry).
    pub fn claim(
        &self,
        me: Owner,
        mut opts: ClaimOpts,
        policy: Policy,
        info: &SessionInfo,
    ) -> Result<Option<Claimed>, Retired> {
        let held = self.held.load(Ordering::Relaxed);
        if held != 0 && self.slots().word(held as u32 - 1) == me.word() {
            return Ok(Some(Claimed {
                slot: held as u32 - 1,
                existing: true,
                prev: me.word(),
            }));
        }
        if opts.prefer.is_none() && policy == Policy::Sticky && !info.peer.is_empty() {
            opts.prefer = self.sticky_lookup(&info.peer);
        }
        let out = self
            .slots()
            .claim_with(me, opts, &self.liveness(), now(), self.sweep_budget());
        self.count_reaps(&out.reaped, EndedBy::ReapClaim);
        if out.swept {
            self.live().swept_at.store(boot_ms(), Ordering::Relaxed);
        }
        let Some(c) = out.claimed else {
            // Counted as fenced if the claim deadline has passed too.
            if !self.fenced_now() {
                self.live().refused.fetch_add(1, Ordering::Relaxed);
            }
            return Ok(None);
        };
        if c.existing {
            return Ok(Some(c));
        }
        // Dekker with Table::open's reset (I5): our CAS came first, so
        // either the resetter counts our lease, or we see its word and step
        // back.
        if protocol::claimed_in_retired(&self.live().retired) {
            self.slots().release(c.slot, me, EndedBy::Api, now());
            return Err(Retired);
        }
        // Cluster mode: the claim deadline, read once, after the
        // compare-and-swap, so that a claim that stalled anywhere before it
        // cannot stand. One that must not is undone: the slot's word goes
        // back to what it was (its last holder's record too).
        if self.fenced_now() {
            self.slots().unclaim(c, me);
            return Ok(None);
        }
        self.live().assigned.fetch_add(1, Ordering::Relaxed);
        self.held.store(u64::from(c.slot) + 1, Ordering::Relaxed);
        self.write_meta(c.slot, me, info);
        if !info.peer.is_empty() {
            self.sticky_remember(&info.peer, c.slot);
        }
        Ok(Some(c))
    }

    /// Cluster mode: whether the claim deadline has passed (then the
    /// refusal is counted). Always false in a standalone table.
    fn fenced_now(&self) -> bool {
        let deadline = self.live().claim_deadline_ns.load(Ordering::Acquire);
        if deadline == 0 {
            return false;
        }
        let now = boot_ns();
        if now < deadline {
            return false;
        }
        // The caller logs the refusal (see `Table::is_fenced`).
        self.live().fenced.fetch_add(1, Ordering::Relaxed);
        self.live().refused.fetch_add(1, Ordering::Relaxed);
        true
    }

    /// Whether the table is in cluster mode: it has a claim deadline.
    /// Such a table stays in cluster mode: every table made from it (a
    /// reset, made again after a deletion, rebuilt after damage) is born
    /// fenced with its free slots sealed.
    pub fn is_cluster(&self) -> bool {
        self.live().claim_deadline_ns.load(Ordering::Acquire) != 0
    }

    /// Cluster mode: whether the claim deadline has passed (counts
    /// nothing; see [`Table::claim`] for the refusal).
    pub fn is_fenced(&self) -> bool {
        let deadline = self.live().claim_deadline_ns.load(Ordering::Acquire);
        deadline != 0 && boot_ns() >= deadline
    }

    /// Cluster mode: whether the hang deadline has passed, i.e. every
    /// session of this server must be down now (false with none set).
    pub fn hang_due(&self) -> bool {
        let deadline = self.live().hang_deadline_ns.load(Ordering::Acquire);
        deadline != 0 && boot_ns() >= deadline
    }

    /// Put the table in cluster mode, fenced until an agent verifies a
    /// renewal (no effect where a deadline is set already: it only rises).
    pub fn enter_cluster_mode(&self) {
        self.set_deadlines(CLUSTER_BIRTH_DEADLINE_NS, 0);
    }

    /// Cluster mode: the deadlines after a verified renewal. Each is
    /// raised only (a late, older renewal cannot lower it).
    pub fn set_deadlines(&self, claim_ns: u64, hang_ns: u64) {
        self.live()
            .claim_deadline_ns
            .fetch_max(claim_ns, Ordering::AcqRel);
        self.live()
            .hang_deadline_ns
            .fetch_max(hang_ns, Ordering::AcqRel);
    }

    /// Cluster mode: the claim and hang deadlines (`CLOCK_BOOTTIME`
    /// nanoseconds; 0 in a standalone table) and the claims refused
    /// because the first had passed.
    pub fn deadlines(&self) -> (u64, u64, u64) {
        let l = self.live();
        (
            l.claim_deadline_ns.load(Ordering::Acquire),
            l.hang_deadline_ns.load(Ordering::Acquire),
            l.fenced.load(Ordering::Relaxed),
        )
    }

    /// Cluster mode: seal `count` slots from `first` (see
    /// [`crate::protocol::Slots::seal`]); `Err(address)` names a leased one.
    pub fn seal(&self, first: u32, count: u32) -> Result<(), Ipv4Addr> {
        self.slots().seal(first, count).map_err(|s| self.addr(s))
    }

    /// Cluster mode: seal every free slot of `count` from `first`, undoing
    /// nothing; the leased ones, by slot (see
    /// [`crate::protocol::Slots::seal_free`]).
    pub fn seal_free(&self, first: u32, count: u32) -> Vec<u32> {
        self.slots().seal_free(first, count)
    }

    /// Cluster mode: unseal `count` slots from `first`.
    pub fn unseal(&self, first: u32, count: u32) {
        self.slots().unseal(first, count)
    }

    /// How many of `count` slots from `first` are sealed, and how many are
    /// leased.
    pub fn block_state(&self, first: u32, count: u32) -> (u32, u32) {
        let end = first.saturating_add(count).min(self.size());
        let sealed = self.slots().sealed(first, end.saturating_sub(first));
        let leased = (first..end)
            .filter(|&s| !crate::word::is_free(self.word(s)))
            .count() as u32;
        (sealed, leased)
    }

    /// Release `slot` if `me` holds it. Idempotent.
    pub fn release(&self, slot: u32, me: Owner, path: EndedBy) -> bool {
        let done = self.all_slots().release(slot, me, path, now());
        if done {
            self.count(path);
        }
        done
    }

    /// Free a lease whatever holds it (administrators only).
    pub fn force_release(&self, slot: u32, path: EndedBy) -> Option<Owner> {
        let o = self.all_slots().force_release(slot, path, now());
        if o.is_some() {
            self.count(path);
        }
        o
    }

    /// Free one slot if its owner is dead. Never from another PID
    /// namespace (see [`Table::check_liveness`]).
    pub fn reap(&self, slot: u32, live: &impl Liveness, path: EndedBy) -> Option<Reaped> {
        if !self.liveness_known {
            return None;
        }
        let r = self.all_slots().reap(slot, live, path, now());
        if let Some(r) = r {
            self.count_reaps(&[r], path);
        }
        r
    }

    /// The watchdog: take over the lease of `dead` (observed dead) for
    /// `me`, to clean up after it while nobody else can lease the address.
    pub fn seize(&self, slot: u32, dead: Owner, me: Owner) -> bool {
        self.all_slots().seize(slot, dead, me, &self.liveness())
    }

    /// Free a lease `me` seized from `dead`, as a watchdog reap of `dead`.
    pub fn release_seized(&self, slot: u32, me: Owner, dead: Owner) -> bool {
        let done =
            self.all_slots()
                .release_recording(slot, me, EndedBy::ReapWatchdog, dead.pid(), now());
        if done {
            self.count(EndedBy::ReapWatchdog);
        }
        done
    }

    /// Free every lease whose owner is dead (none from another PID
    /// namespace: see [`Table::check_liveness`]).
    pub fn reap_all(&self, path: EndedBy) -> Vec<Reaped> {
        let r = self.all_slots().reap_all(&self.liveness(), path, now());
        self.count_reaps(&r, path);
        r
    }

    /// Re-enter `me`'s lease on `slot`, whose address `me`'s session has
    /// on its interface (protocol I2, re-assert): taken if free, held by
    /// a dead process or by the interface lease a rebuild entered for
    /// `me`'s own interface. `Err(Some(x))`: the live holder `x` has it;
    /// `Err(None)`: it is sealed (cluster mode: not this server's to take
    /// until the agent unseals its block).
    /// `own_if`: the index of `me`'s own interface, whose interface lease
    /// gives way (another interface's does not: a duplicate).
    pub fn reassert(
        &self,
        slot: u32,
        me: Owner,
        own_if: Option<u32>,
    ) -> Result<bool, Option<Owner>> {
        let addr = u32::from(self.addr(slot));
        let live = self.liveness();
        self.all_slots().reassert(slot, me, |x| match x.iface() {
            Some((ifindex, peer)) => peer == addr && Some(ifindex) == own_if,
            None => !live.is_alive(x),
        })
    }

    /// Move `me`'s lease on `slot` to `to` (pppd's detach), atomically.
    pub fn transfer(&self, slot: u32, from: Owner, to: Owner) -> bool {
        let ok = self.all_slots().transfer(slot, from, to);
        if ok {
            // Keep the display record's owner tag in step.
            self.metas()[slot as usize]
                .owner_tag
                .store(meta::owner_tag(to), Ordering::Relaxed);
        }
        ok
    }

    /// Leases whose owner is alive.
    /// (From another PID namespace every lease counts as live.)
    pub fn live_leases(&self) -> u32 {
        let live = self.liveness();
        (0..self.total())
            .filter(|&s| Owner::from_word(self.word(s)).is_some_and(|o| live.is_alive(o)))
            .count() as u32
    }

    /// The owner word of any slot, draining ones included.
    pub fn word(&self, slot: u32) -> u64 {
        self.all_slots().word(slot)
    }

    /// A consistent snapshot of one slot, for display.
    pub fn lease(&self, slot: u32) -> Lease {
        let word = self.word(slot);
        let meta = meta::read(&self.metas()[slot as usize]);
        let mut l = Lease::new(slot, self.addr(slot), word, meta);
        l.draining = slot >= self.size();
        l
    }

    /// Every slot, the draining ones last.
    pub fn leases(&self) -> impl Iterator<Item = Lease> + '_ {
        (0..self.total()).map(|s| self.lease(s))
    }

    pub fn counters(&self) -> Counters {
        let l = self.live();
        Counters {
            assigned: l.assigned.load(Ordering::Relaxed),
            refused: l.refused.load(Ordering::Relaxed),
            ended: std::array::from_fn(|i| l.ended[i].load(Ordering::Relaxed)),
            claim_deadline_ns: l.claim_deadline_ns.load(Ordering::Relaxed),
            hang_deadline_ns: l.hang_deadline_ns.load(Ordering::Relaxed),
            fenced: l.fenced.load(Ordering::Relaxed),
        }
    }

    fn write_meta(&self, slot: u32, me: Owner, info: &SessionInfo) {
        meta::write(&self.metas()[slot as usize], me, now(), info);
    }

    /// Update the display record of a lease `me` holds (for example the
    /// interface name, known only once IPCP is up).
    pub fn update_meta(&self, slot: u32, me: Owner, info: &SessionInfo) {
        if self.word(slot) == me.word() {
            let since = self.lease(slot).meta.map(|m| m.since).unwrap_or_else(now);
            meta::write(&self.metas()[slot as usize], me, since, info);
        }
    }

    fn sticky_cell(&self, peer: &str) -> (&AtomicU32, u32) {
        let h = meta::hash(peer.as_bytes());
        let cell = &self.metas()[(h % u64::from(self.size())) as usize].sticky;
        let tag = ((h >> 56) as u32 | 1) << 24;
        (cell, tag)
    }

    fn sticky_remember(&self, peer: &str, slot: u32) {
        let (cell, tag) = self.sticky_cell(peer);
        cell.store(slot | tag, Ordering::Relaxed);
    }

    /// The slot `peer` held last, if the hint still names it.
    fn sticky_lookup(&self, peer: &str) -> Option<u32> {
        let (cell, tag) = self.sticky_cell(peer);
        let v = cell.load(Ordering::Relaxed);
        if v & 0xff00_0000 != tag {
            return None;
        }
        let slot = v & 0x00ff_ffff;
        if slot >= self.size() {
            return None;
        }
        let m = meta::read(&self.metas()[slot as usize])?;
        (m.peer_matches(peer)).then_some(slot)
    }

    /// The slot for `addr`, if it is in this table's pool.
    pub fn slot_of(&self, addr: Ipv4Addr) -> Option<u32> {
        self.pool.index(addr)
    }

    /// The slot for `addr` in the pool or among the draining addresses.
    pub fn any_slot_of(&self, addr: Ipv4Addr) -> Option<u32> {
        self.pool.index(addr).or_else(|| {
            self.drain
                .binary_search(&u32::from(addr))
                .ok()
                .map(|i| self.size() + i as u32)
        })
    }
}

/// The table was replaced by a reset after this process opened it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retired;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Policy {
    /// The next free address after the last one handed out.
    #[default]
    RoundRobin,
    /// The address the same peer held last when it is free, otherwise
    /// round-robin.
    Sticky,
}

impl Policy {
    pub const ALL: [Policy; 2] = [Policy::RoundRobin, Policy::Sticky];

    /// The name `rasstatic-policy` takes.
    pub fn name(self) -> &'static str {
        match self {
            Policy::RoundRobin => "round-robin",
            Policy::Sticky => "sticky",
        }
    }

    pub fn parse(s: &str) -> Option<Policy> {
        Policy::ALL.into_iter().find(|p| p.name() == s)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LeaseState {
    Leased(Owner),
    Free(Free),
}

/// One slot as seen at one moment.
#[derive(Clone, Debug)]
pub struct Lease {
    pub slot: u32,
    pub addr: Ipv4Addr,
    pub state: LeaseState,
    pub meta: Option<MetaRecord>,
    /// A draining slot: its address left the pool while leased; never
    /// handed out again.
    pub draining: bool,
    /// Cluster mode: a free slot that is sealed (its block is not this
    /// server's to hand out; protocol I7).
    pub sealed: bool,
}

/// The address of `slot` in a table of `pool` plus `drain`.
pub(crate) fn slot_addr(pool: &Pool, drain: &[u32], slot: u32) -> Ipv4Addr {
    match slot.checked_sub(pool.size()) {
        None => pool.addr(slot),
        Some(i) => Ipv4Addr::from(drain[i as usize]),
    }
}

impl Lease {
    /// A slot's owner word and display record; the record is kept only if
    /// its tag says it belongs to this lease (or, for a free slot, to its
    /// last holder).
    fn new(slot: u32, addr: Ipv4Addr, word: u64, meta: Option<MetaRecord>) -> Lease {
        let state = match Owner::from_word(word) {
            Some(o) => LeaseState::Leased(o),
            None => LeaseState::Free(Free::from_word(word).expect("free word")),
        };
        let meta = meta.filter(|m| match state {
            LeaseState::Leased(o) => m.owner_tag == meta::owner_tag(o),
            LeaseState::Free(f) => {
                f.path != EndedBy::Never && m.owner_tag & 0x3f_ffff == f.last_pid
            }
        });
        Lease {
            slot,
            addr,
            state,
            meta,
            draining: false,
            sealed: crate::word::is_sealed(word),
        }
    }

    /// The owner word this snapshot was made from.
    pub fn word(&self) -> u64 {
        match self.state {
            LeaseState::Leased(o) => o.word(),
            LeaseState::Free(f) if self.sealed => f.word() | crate::word::SEALED,
            LeaseState::Free(f) => f.word(),
        }
    }
}

#[derive(Clone, Copy, Debug)]
pub struct Counters {
    pub assigned: u64,
    pub refused: u64,
    pub ended: [u64; 16],
    /// Cluster mode: the claim and hang deadlines (`CLOCK_BOOTTIME`
    /// nanoseconds, 0 in a standalone table) and the claims refused
    /// because the first had passed.
    pub claim_deadline_ns: u64,
    pub hang_deadline_ns: u64,
    pub fenced: u64,
}

impl Counters {
    pub fn ended_by(&self, p: EndedBy) -> u64 {
        self.ended[p as usize]
    }
}
