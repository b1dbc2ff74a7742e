//! Loom model of the claim / release / reap / transfer protocol and of
//! table resets (protocol I5): the very code in `src/protocol.rs`,
//! instantiated over loom's atomics. For resets, the file system's part
//! (the name, the file lock the kernel drops when its holder dies) is
//! modelled beside it: the table's name is an index into two tables, and
//! each table's lock a [`Flock`] whose guard a dying process drops as it
//! unwinds, as the kernel drops a dead process's `flock`.
//!
//! Process death between any two instructions: each modelled process gets
//! a budget of atomic operations; when it runs out, the next operation
//! unwinds out of the protocol (the process "stops executing" there), and
//! the process is then marked dead, as the kernel would after SIGKILL. Each
//! scenario runs once per budget, 0 up to "never dies", and loom explores
//! every interleaving of each.

use std::cell::Cell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::Ordering;

use loom::sync::atomic::{AtomicBool, AtomicU64};
use loom::sync::Arc;
use loom::thread;

use rasstatic::owner::Owner;
use rasstatic::protocol::{
    begin_reset, bitmap_words, claimed_in_retired, initial_hint, judge_reset, roll_back_reset,
    ClaimOpts, EndedBy, Liveness, ResetState, Slots, Word,
};
use rasstatic::word::SEALED;

loom::thread_local! {
    /// Atomic operations this modelled process may still perform.
    static BUDGET: Cell<usize> = Cell::new(usize::MAX);
}

/// Unwinds when the current process's budget is spent: it dies here.
struct Died;

fn step() {
    BUDGET.with(|b| {
        let left = b.get();
        if left == 0 {
            std::panic::resume_unwind(Box::new(Died));
        }
        b.set(left - 1);
    });
}

struct LWord(AtomicU64);

impl Word for LWord {
    fn load(&self, o: Ordering) -> u64 {
        step();
        self.0.load(o)
    }
    fn store(&self, v: u64, o: Ordering) {
        step();
        self.0.store(v, o)
    }
    fn compare_exchange(&self, c: u64, n: u64) -> Result<u64, u64> {
        step();
        self.0
            .compare_exchange(c, n, Ordering::SeqCst, Ordering::SeqCst)
    }
    fn fetch_or(&self, v: u64, o: Ordering) -> u64 {
        step();
        self.0.fetch_or(v, o)
    }
    fn fetch_and(&self, v: u64, o: Ordering) -> u64 {
        step();
        self.0.fetch_and(v, o)
    }
}

/// A process table for the model: PIDs 1..=4, alive until marked dead.
struct Procs {
    alive: [AtomicBool; 5],
    /// What each process believes it holds: slot + 1, or 0.
    holds: [AtomicU64; 5],
}

impl Procs {
    fn new() -> Procs {
        Procs {
            alive: std::array::from_fn(|_| AtomicBool::new(true)),
            holds: std::array::from_fn(|_| AtomicU64::new(0)),
        }
    }
}

impl Liveness for Procs {
    fn is_alive(&self, o: Owner) -> bool {
        self.alive[o.pid() as usize].load(Ordering::SeqCst)
    }
}

fn owner(pid: u32) -> Owner {
    Owner::new(pid, u64::from(pid) * 100)
}

struct Table {
    owners: Vec<LWord>,
    bitmap: Vec<LWord>,
    cursor: LWord,
    sweep: LWord,
}

impl Table {
    fn new(n: u32) -> Table {
        Table {
            owners: (0..n).map(|_| LWord(AtomicU64::new(0))).collect(),
            bitmap: (0..bitmap_words(n))
                .map(|w| LWord(AtomicU64::new(initial_hint(w, n))))
                .collect(),
            cursor: LWord(AtomicU64::new(0)),
            sweep: LWord(AtomicU64::new(0)),
        }
    }
    fn slots(&self) -> Slots<'_, LWord> {
        Slots {
            owners: &self.owners,
            bitmap: &self.bitmap,
            cursor: &self.cursor,
            sweep: &self.sweep,
        }
    }
}

/// Record a belief and check it against every other live believer.
fn believe(p: &Procs, pid: u32, slot: u32) {
    p.holds[pid as usize].store(u64::from(slot) + 1, Ordering::SeqCst);
    for other in 1..5 {
        if other != pid as usize
            && p.holds[other].load(Ordering::SeqCst) == u64::from(slot) + 1
            && p.alive[other].load(Ordering::SeqCst)
        {
            panic!("slot {slot} held by live processes {pid} and {other}");
        }
    }
}

/// Run `body` as process `pid` with `budget` atomic operations; if it runs
/// out, the process is dead from then on.
fn process(p: &Procs, pid: u32, budget: usize, body: impl FnOnce()) {
    BUDGET.with(|b| b.set(budget));
    let r = catch_unwind(AssertUnwindSafe(body));
    BUDGET.with(|b| b.set(usize::MAX));
    match r {
        Ok(()) => {}
        Err(e) if e.is::<Died>() => p.alive[pid as usize].store(false, Ordering::SeqCst),
        Err(e) => std::panic::resume_unwind(e),
    }
}

/// A claim-then-release session of process `pid`.
fn session(t: &Table, p: &Procs, pid: u32) {
    let me = owner(pid);
    if let Some(c) = t.slots().claim(me, ClaimOpts::default(), p, 0).claimed {
        believe(p, pid, c.slot);
        p.holds[pid as usize].store(0, Ordering::SeqCst);
        assert!(
            t.slots().release(c.slot, me, EndedBy::Api, 0),
            "lease taken from a live owner"
        );
    }
}

/// After everything: mark all dead, reap once, and the whole pool must be
/// claimable again, not one address more.
fn check_nothing_lost(t: &Table, p: &Procs, n: u32) {
    for a in &p.alive {
        a.store(false, Ordering::SeqCst);
    }
    t.slots().reap_all(p, EndedBy::ReapAdmin, 0);
    assert_eq!(t.slots().leased(), 0);
    for a in &p.alive {
        a.store(true, Ordering::SeqCst);
    }
    let mut got = vec![];
    for pid in 1..=n {
        let c = t
            .slots()
            .claim(owner(pid), ClaimOpts::default(), p, 0)
            .claimed;
        got.push(c.expect("a free address was lost").slot);
    }
    got.sort();
    got.dedup();
    assert_eq!(got.len() as u32, n);
    // Every process is alive and holds one; the next claim must fail.
    assert!(t
        .slots()
        .claim(owner(4), ClaimOpts::default(), p, 0)
        .claimed
        .is_none());
}

fn model(f: impl Fn() + Sync + Send + 'static) {
    let mut b = loom::model::Builder::new();
    b.preemption_bound = Some(2);
    b.check(f);
}

/// Two processes contend for a one-address pool while a third reaps; the
/// first may die at any instruction.
#[test]
fn claim_release_reap_with_death_anywhere() {
    // 0..=40 covers every death point of a claim + release (fewer than 40
    // atomic operations) and the no-death run.
    for budget in [
        0,
        1,
        2,
        3,
        4,
        5,
        6,
        7,
        8,
        10,
        12,
        14,
        17,
        20,
        25,
        30,
        usize::MAX,
    ] {
        model(move || {
            let t = Arc::new(Table::new(1));
            let p = Arc::new(Procs::new());
            let (t1, p1) = (t.clone(), p.clone());
            let a = thread::spawn(move || process(&p1, 1, budget, || session(&t1, &p1, 1)));
            let (t2, p2) = (t.clone(), p.clone());
            let b = thread::spawn(move || process(&p2, 2, usize::MAX, || session(&t2, &p2, 2)));
            t.slots().reap_all(&*p, EndedBy::ReapWatchdog, 0);
            a.join().unwrap();
            b.join().unwrap();
            check_nothing_lost(&t, &p, 1);
        });
    }
}

/// pppd's detach: the parent (pid 1) claims, its child (pid 2) exists, and
/// the lease moves to the child, by the parent's pidchange or by the
/// child's own adoption, whichever comes first, while a reaper runs. The
/// parent may die at any instruction; it exits after the transfer.
#[test]
fn transfer_to_detached_child() {
    for budget in [0, 1, 2, 3, 4, 5, 6, 8, 10, usize::MAX] {
        model(move || {
            let t = Arc::new(Table::new(2));
            let p = Arc::new(Procs::new());
            let (parent, child) = (owner(1), owner(2));
            // The parent claims before forking.
            let slot = t
                .slots()
                .claim(parent, ClaimOpts::default(), &*p, 0)
                .claimed
                .unwrap()
                .slot;
            let (t1, p1) = (t.clone(), p.clone());
            let par = thread::spawn(move || {
                process(&p1, 1, budget, || {
                    t1.slots().transfer(slot, parent, child);
                });
                // exit(0) after pidchange.
                p1.alive[1].store(false, Ordering::SeqCst);
            });
            let (t2, p2) = (t.clone(), p.clone());
            let ch = thread::spawn(move || {
                // The child adopts the lease at its first notifier.
                let adopted = t2.slots().transfer(slot, parent, child);
                let w = t2.slots().word(slot);
                if adopted || w == child.word() {
                    believe(&p2, 2, slot);
                    p2.holds[2].store(0, Ordering::SeqCst);
                    assert!(
                        t2.slots().release(slot, child, EndedBy::Api, 0),
                        "child lost its lease"
                    );
                }
            });
            t.slots().reap_all(&*p, EndedBy::ReapWatchdog, 0);
            par.join().unwrap();
            ch.join().unwrap();
            check_nothing_lost(&t, &p, 2);
        });
    }
}

/// Two addresses: the victim holds one and may die anywhere; the other
/// process runs two sessions in a row, so its claims wrap the cursor, race
/// the bitmap hints and, once the pool looks full, reap the victim.
#[test]
fn two_addresses_hints_and_reap_on_full() {
    for budget in [0, 1, 2, 3, 4, 6, 8, 11, 14, usize::MAX] {
        model(move || {
            let t = Arc::new(Table::new(2));
            let p = Arc::new(Procs::new());
            // Pid 3 holds one address throughout, alive.
            let c = t
                .slots()
                .claim(owner(3), ClaimOpts::default(), &*p, 0)
                .claimed
                .unwrap();
            believe(&p, 3, c.slot);
            let (t1, p1) = (t.clone(), p.clone());
            let a = thread::spawn(move || process(&p1, 1, budget, || session(&t1, &p1, 1)));
            process(&p, 2, usize::MAX, || {
                session(&t, &p, 2);
                session(&t, &p, 2);
            });
            a.join().unwrap();
            p.holds[3].store(0, Ordering::SeqCst);
            assert!(t.slots().release(c.slot, owner(3), EndedBy::Api, 0));
            check_nothing_lost(&t, &p, 2);
        });
    }
}

/// The watchdog (pid 3) seizes the lease of a holder it saw dead, to clean
/// up after it, then frees it, while another process (pid 2) runs a session
/// on the one-address pool (reaping on full). The holder (pid 1) claims and
/// is then killed, or dies anywhere in its claim; the watchdog may die at
/// any instruction too.
#[test]
fn watchdog_seizes_then_frees_a_dead_holders_lease() {
    const NEVER: usize = usize::MAX;
    for (holder, watchdog) in [
        (0, NEVER),
        (2, NEVER),
        (4, NEVER),
        (7, NEVER),
        (NEVER, NEVER),
        (NEVER, 0),
        (NEVER, 1),
        (NEVER, 2),
        (NEVER, 3),
        (NEVER, 4),
        (NEVER, 6),
    ] {
        model(move || {
            let t = Arc::new(Table::new(1));
            let p = Arc::new(Procs::new());
            let (t1, p1) = (t.clone(), p.clone());
            let h = thread::spawn(move || {
                process(&p1, 1, holder, || {
                    let c = t1.slots().claim(owner(1), ClaimOpts::default(), &*p1, 0);
                    if let Some(c) = c.claimed {
                        believe(&p1, 1, c.slot);
                    }
                });
                // SIGKILL after the claim.
                p1.alive[1].store(false, Ordering::SeqCst);
            });
            let (t3, p3) = (t.clone(), p.clone());
            let wd = thread::spawn(move || {
                process(&p3, 3, watchdog, || {
                    let Some(dead) = Owner::from_word(t3.slots().word(0)) else {
                        return;
                    };
                    if dead.pid() == 3 || !t3.slots().seize(0, dead, owner(3), &*p3) {
                        return;
                    }
                    believe(&p3, 3, 0);
                    p3.holds[3].store(0, Ordering::SeqCst);
                    assert!(
                        t3.slots().release_recording(
                            0,
                            owner(3),
                            EndedBy::ReapWatchdog,
                            dead.pid(),
                            0
                        ),
                        "lease taken from the live watchdog"
                    );
                })
            });
            let (t2, p2) = (t.clone(), p.clone());
            let other = thread::spawn(move || process(&p2, 2, NEVER, || session(&t2, &p2, 2)));
            h.join().unwrap();
            wd.join().unwrap();
            other.join().unwrap();
            check_nothing_lost(&t, &p, 1);
        });
    }
}

/// `flock(2)` in the model: shared or exclusive; waiting yields.
struct Flock(AtomicU64);

const EXCLUSIVE: u64 = 1 << 63;

struct Held<'a>(&'a Flock, bool);

impl Flock {
    fn shared(&self) -> Held<'_> {
        loop {
            let v = self.0.load(Ordering::SeqCst);
            if v & EXCLUSIVE == 0
                && self
                    .0
                    .compare_exchange(v, v + 1, Ordering::SeqCst, Ordering::SeqCst)
                    .is_ok()
            {
                return Held(self, false);
            }
            thread::yield_now();
        }
    }
    fn exclusive(&self) -> Held<'_> {
        while self
            .0
            .compare_exchange(0, EXCLUSIVE, Ordering::SeqCst, Ordering::SeqCst)
            .is_err()
        {
            thread::yield_now();
        }
        Held(self, true)
    }
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        if self.1 {
            self.0 .0.store(0, Ordering::SeqCst);
        } else {
            self.0 .0.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

/// One table file of the reset model: the slots, the header's reset word
/// and the file's lock.
struct File {
    t: Table,
    reset: LWord,
    lock: Flock,
}

/// The table directory: two files for one name. `named` is the index of
/// the file the name leads to; a reset renames file 1 over file 0.
struct Dir {
    files: [File; 2],
    named: LWord,
    /// Per process: which file its belief (in `Procs::holds`) is about.
    which: [AtomicU64; 5],
}

impl Dir {
    fn new(n: u32) -> Dir {
        let file = || File {
            t: Table::new(n),
            reset: LWord(AtomicU64::new(0)),
            lock: Flock(AtomicU64::new(0)),
        };
        Dir {
            files: [file(), file()],
            named: LWord(AtomicU64::new(0)),
            which: std::array::from_fn(|_| AtomicU64::new(0)),
        }
    }
}

/// Table::open's reset, for a pool change: under the old file's exclusive
/// lock, judge the reset word, begin the reset (taking over an abandoned
/// one), carry every live lease into the new file (read with a
/// read-modify-write after the reset word is set: the Dekker pair with
/// claims), and "rename" the new file into place, all before the lock is
/// let go. (The new pool here has the old one's shape, so a lease keeps
/// its slot.)
fn reset(d: &Dir, p: &Procs, pid: u32) {
    let me = owner(pid);
    for _ in 0..3 {
        let i = d.named.load(Ordering::SeqCst) as usize;
        let f = &d.files[i];
        let _ex = f.lock.exclusive();
        let named = d.named.load(Ordering::SeqCst) as usize == i;
        let seen = match judge_reset(f.reset.load(Ordering::SeqCst), named, p) {
            ResetState::Replaced => continue,
            ResetState::Resetting(_) => {
                thread::yield_now();
                continue;
            }
            ResetState::InUse => 0,
            ResetState::Abandoned(w) => w,
        };
        if i == 1 {
            // The new table is in place: nothing to reset (roll back what
            // a dead resetter may have left in it, as open does).
            roll_back_reset(&f.reset, seen);
            return;
        }
        if !begin_reset(&f.reset, seen, me) {
            continue;
        }
        carry(&f.t, &d.files[1].t, p);
        d.named.store(1, Ordering::SeqCst);
        return;
    }
}

/// Table::carry into a new file: every live lease, each owner word read
/// with a read-modify-write.
fn carry(from: &Table, to: &Table, p: &Procs) {
    for (slot, w) in from.owners.iter().enumerate() {
        if let Some(o) = Owner::from_word(w.fetch_or(0, Ordering::SeqCst)) {
            if p.is_alive(o) {
                to.owners[slot].store(o.word(), Ordering::SeqCst);
                to.bitmap[slot / 64].fetch_and(!(1 << (slot % 64)), Ordering::SeqCst);
            }
        }
    }
}

/// Open the table the name leads to, as Table::open does when the pool
/// is its own: wait for a live resetter, roll back a dead one's reset.
/// Returns the file's index.
fn open_current(d: &Dir, p: &Procs) -> usize {
    loop {
        let i = d.named.load(Ordering::SeqCst) as usize;
        let f = &d.files[i];
        let sh = f.lock.shared();
        let named = d.named.load(Ordering::SeqCst) as usize == i;
        match judge_reset(f.reset.load(Ordering::SeqCst), named, p) {
            ResetState::InUse => return i,
            ResetState::Replaced => continue,
            ResetState::Resetting(_) => {
                drop(sh);
                thread::yield_now();
            }
            ResetState::Abandoned(_) => {
                drop(sh);
                let _ex = f.lock.exclusive();
                let named = d.named.load(Ordering::SeqCst) as usize == i;
                if let ResetState::Abandoned(w) =
                    judge_reset(f.reset.load(Ordering::SeqCst), named, p)
                {
                    roll_back_reset(&f.reset, w);
                }
            }
        }
    }
}

/// The plugin's release: release in the file it has open, then, if that
/// file was replaced meanwhile, release again in the current one, which
/// may have carried the lease.
fn release_everywhere(d: &Dir, p: &Procs, pid: u32, file: usize, slot: u32) {
    let me = owner(pid);
    p.holds[pid as usize].store(0, Ordering::SeqCst);
    d.files[file].t.slots().release(slot, me, EndedBy::Api, 0);
    let f = &d.files[file];
    if f.reset.load(Ordering::SeqCst) != 0 || d.named.load(Ordering::SeqCst) as usize != file {
        let i = open_current(d, p);
        d.files[i].t.slots().release(slot, me, EndedBy::Api, 0);
    }
}

/// Table::open then Table::claim, as the plugin does: open under the
/// shared lock (rolling back an abandoned reset under the exclusive one),
/// claim, and give the address back and reopen if the table turned out
/// retired. Returns the file and slot claimed; `None` when the pool is
/// exhausted. Panics if it gives up, which a dead resetter must never
/// make it do.
fn open_and_claim(d: &Dir, p: &Procs, pid: u32) -> Option<(usize, u32)> {
    let me = owner(pid);
    for _ in 0..6 {
        let i = d.named.load(Ordering::SeqCst) as usize;
        let f = &d.files[i];
        {
            let sh = f.lock.shared();
            let named = d.named.load(Ordering::SeqCst) as usize == i;
            match judge_reset(f.reset.load(Ordering::SeqCst), named, p) {
                ResetState::InUse => {}
                ResetState::Replaced => continue,
                ResetState::Resetting(_) => {
                    drop(sh);
                    thread::yield_now();
                    continue;
                }
                ResetState::Abandoned(_) => {
                    drop(sh);
                    let _ex = f.lock.exclusive();
                    let named = d.named.load(Ordering::SeqCst) as usize == i;
                    if let ResetState::Abandoned(w) =
                        judge_reset(f.reset.load(Ordering::SeqCst), named, p)
                    {
                        roll_back_reset(&f.reset, w);
                    }
                    continue;
                }
            }
        }
        let c = f.t.slots().claim(me, ClaimOpts::default(), p, 0).claimed?;
        if !c.existing && claimed_in_retired(&f.reset) {
            assert!(f.t.slots().release(c.slot, me, EndedBy::Api, 0));
            continue;
        }
        d.which[pid as usize].store(i as u64, Ordering::SeqCst);
        believe(p, pid, c.slot);
        return Some((i, c.slot));
    }
    panic!("process {pid} gave up opening the table");
}

/// A reset for a new pool definition (pid 1, dying at any step) races a
/// process opening and claiming (pid 2), while pid 3 holds a lease in the
/// old table from the start, alive (the reset must carry it over) or dead
/// (it must not). Afterwards every live lease is recorded in the current
/// table, a new opener gets the table open at once, it is not retired, and
/// the whole pool is claimable.
#[test]
fn reset_with_death_at_every_step() {
    for holder_alive in [true, false] {
        for budget in [0, 1, 2, 3, 4, 5, 6, 7, 8, 10, usize::MAX] {
            model(move || {
                let d = Arc::new(Dir::new(2));
                let p = Arc::new(Procs::new());
                let c = d.files[0]
                    .t
                    .slots()
                    .claim(owner(3), ClaimOpts::default(), &*p, 0)
                    .claimed
                    .unwrap();
                believe(&p, 3, c.slot);
                if !holder_alive {
                    p.alive[3].store(false, Ordering::SeqCst);
                }
                let (d1, p1) = (d.clone(), p.clone());
                let r = thread::spawn(move || process(&p1, 1, budget, || reset(&d1, &p1, 1)));
                let (d2, p2) = (d.clone(), p.clone());
                let o = thread::spawn(move || {
                    process(&p2, 2, usize::MAX, || {
                        open_and_claim(&d2, &p2, 2);
                    })
                });
                r.join().unwrap();
                o.join().unwrap();
                // The resetter is done (or dead): it exits either way.
                p.alive[1].store(false, Ordering::SeqCst);
                let named = d.named.load(Ordering::SeqCst) as usize;
                // Every live lease is recorded in the table the name leads
                // to: claimed there, or carried over.
                for pid in 2..5 {
                    let held = p.holds[pid].load(Ordering::SeqCst);
                    if p.alive[pid].load(Ordering::SeqCst) && held != 0 {
                        assert_eq!(
                            d.files[named].t.owners[held as usize - 1]
                                .0
                                .load(Ordering::SeqCst),
                            owner(pid as u32).word(),
                            "process {pid}'s live lease is missing from the current table"
                        );
                    }
                }
                // Pid 2 hangs up (exits); a new process opens the table: it
                // must not give up, and the table must not stay retired.
                p.alive[2].store(false, Ordering::SeqCst);
                p.holds[2].store(0, Ordering::SeqCst);
                let got = open_and_claim(&d, &p, 4);
                assert!(got.is_some(), "a free address was lost");
                let named = d.named.load(Ordering::SeqCst) as usize;
                assert_eq!(got.unwrap().0, named);
                assert_eq!(d.files[named].reset.load(Ordering::SeqCst), 0);
                p.holds[4].store(0, Ordering::SeqCst);
                p.holds[3].store(0, Ordering::SeqCst);
                check_nothing_lost(&d.files[named].t, &p, 2);
            });
        }
    }
}

/// Re-assert (I2): a live session whose table lost its lease re-enters it
/// in the new table while a new caller claims there and may die at any
/// instruction; the new table's word for the address starts free, or as
/// the interface lease a rebuild entered from the kernel. Never do both
/// end up holding the address in the table; a conflict names one loser,
/// the younger; and nothing is lost.
#[test]
fn reassert_races_a_claim_in_a_rebuilt_table() {
    for start_iface in [false, true] {
        for budget in 0..=8 {
            model(move || {
                let t = Arc::new(Table::new(1));
                if start_iface {
                    // (Index 3: the model's liveness reads it as a
                    // process that never dies, as a claim must.)
                    t.owners[0]
                        .0
                        .store(Owner::interface(3, 0x0a00_0001).word(), Ordering::SeqCst);
                    t.bitmap[0].0.store(0, Ordering::SeqCst);
                }
                let p = Arc::new(Procs::new());
                let (t2, p2) = (t.clone(), p.clone());
                let claimer = thread::spawn(move || {
                    process(&p2, 2, budget, || session(&t2, &p2, 2));
                });
                let me = owner(1);
                let yields = |x: Owner| x.iface().is_some() || !p.is_alive(x);
                match t.slots().reassert(0, me, yields) {
                    Ok(_) => {
                        believe(&p, 1, 0);
                        p.holds[1].store(0, Ordering::SeqCst);
                        assert!(t.slots().release(0, me, EndedBy::Api, 0));
                    }
                    Err(None) => panic!("nothing seals in this model"),
                    Err(Some(other)) => {
                        // Observed alive by the re-assert (it may die since).
                        assert_eq!(other, owner(2), "only the claimer can hold it");
                        // Process 2 started later: it is the one to hang up.
                        assert_eq!(rasstatic::protocol::conflict_loser(me, other), other);
                    }
                }
                claimer.join().unwrap();
                check_nothing_lost(&t, &p, 1);
            });
        }
    }
}

/// A holder releasing (the plugin's way: release, then release again in
/// a table that replaced its own) races a reset for a new definition
/// (pid 1, dying at any step) that carries live leases over. Whatever the
/// interleaving, the released lease is not left in the current table.
#[test]
fn a_release_racing_a_migration_leaves_no_lease_behind() {
    for budget in [0, 1, 2, 3, 4, 5, 6, 7, 8, usize::MAX] {
        model(move || {
            let d = Arc::new(Dir::new(2));
            let p = Arc::new(Procs::new());
            let c = d.files[0]
                .t
                .slots()
                .claim(owner(3), ClaimOpts::default(), &*p, 0)
                .claimed
                .unwrap();
            believe(&p, 3, c.slot);
            let (d1, p1) = (d.clone(), p.clone());
            let r = thread::spawn(move || process(&p1, 1, budget, || reset(&d1, &p1, 1)));
            release_everywhere(&d, &p, 3, 0, c.slot);
            r.join().unwrap();
            p.alive[1].store(false, Ordering::SeqCst);
            let named = open_current(&d, &p);
            assert_ne!(
                d.files[named].t.owners[c.slot as usize]
                    .0
                    .load(Ordering::SeqCst),
                owner(3).word(),
                "a released lease was carried into the current table"
            );
            check_nothing_lost(&d.files[named].t, &p, 2);
        });
    }
}

/// No name: the table was deleted.
const UNNAMED: u64 = 2;

/// I6: process `pid`, which maps file 0 and found the name gone, makes
/// the table again from it (file 1), as `Table::recreate` does: under file
/// 0's exclusive lock, unless a successor exists or a live process is at
/// it, set the reset word (taking over a dead recreator's), carry every
/// live lease, then link file 1 to the name.
fn recreate(d: &Dir, p: &Procs, pid: u32) {
    let f = &d.files[0];
    let _ex = f.lock.exclusive();
    if d.named.load(Ordering::SeqCst) != UNNAMED {
        return;
    }
    let word = f.reset.load(Ordering::SeqCst);
    let seen = match Owner::from_word(word) {
        None => 0,
        Some(o) if !p.is_alive(o) => word,
        Some(_) => return,
    };
    if !begin_reset(&f.reset, seen, owner(pid)) {
        return;
    }
    carry(&f.t, &d.files[1].t, p);
    let _ = d.named.compare_exchange(UNNAMED, 1);
}

/// A claim as the plugin makes it, mapping file 0 to start with: a claim
/// that sees the reset word set, or its file no longer named, gives the
/// address back; a process whose file's name is gone makes the table
/// again itself unless a live process is at it; then it claims in the
/// table the name leads to.
fn claim_checking_the_name(d: &Dir, p: &Procs, pid: u32) {
    let me = owner(pid);
    for _ in 0..8 {
        let named = d.named.load(Ordering::SeqCst);
        if named == UNNAMED {
            let w = d.files[0].reset.load(Ordering::SeqCst);
            if Owner::from_word(w).is_some_and(|o| p.is_alive(o)) {
                thread::yield_now();
            } else {
                recreate(d, p, pid);
            }
            continue;
        }
        let f = &d.files[named as usize];
        let Some(c) = f.t.slots().claim(me, ClaimOpts::default(), p, 0).claimed else {
            return;
        };
        if !c.existing && (claimed_in_retired(&f.reset) || d.named.load(Ordering::SeqCst) != named)
        {
            f.t.slots().release(c.slot, me, EndedBy::Api, 0);
            continue;
        }
        d.which[pid as usize].store(named, Ordering::SeqCst);
        believe(p, pid, c.slot);
        return;
    }
    panic!("process {pid} gave up claiming");
}

/// I6: the table is deleted while pid 3 holds a lease in it and pid 2
/// claims; a process that maps it (pid 1, dying at any step, as the
/// watchdog would) makes it again, or pid 2 does. Afterwards (a later process making it
/// again if nobody did) every live lease is recorded in the table the
/// name leads to, and nothing is lost.
#[test]
fn a_deleted_table_made_again_keeps_every_live_lease() {
    for budget in [0, 1, 2, 3, 4, 5, 6, usize::MAX] {
        model(move || {
            let d = Arc::new(Dir::new(2));
            let p = Arc::new(Procs::new());
            let c = d.files[0]
                .t
                .slots()
                .claim(owner(3), ClaimOpts::default(), &*p, 0)
                .claimed
                .unwrap();
            believe(&p, 3, c.slot);
            let (d1, p1) = (d.clone(), p.clone());
            let r = thread::spawn(move || {
                d1.named.store(UNNAMED, Ordering::SeqCst);
                process(&p1, 1, budget, || recreate(&d1, &p1, 1));
            });
            claim_checking_the_name(&d, &p, 2);
            r.join().unwrap();
            p.alive[1].store(false, Ordering::SeqCst);
            if d.named.load(Ordering::SeqCst) == UNNAMED {
                recreate(&d, &p, 4);
            }
            let named = d.named.load(Ordering::SeqCst) as usize;
            assert_eq!(named, 1);
            for pid in [2usize, 3] {
                let held = p.holds[pid].load(Ordering::SeqCst);
                if held != 0 {
                    assert_eq!(
                        d.files[named].t.owners[held as usize - 1]
                            .0
                            .load(Ordering::SeqCst),
                        owner(pid as u32).word(),
                        "process {pid}'s live lease is missing from the table made again"
                    );
                }
            }
            p.holds[2].store(0, Ordering::SeqCst);
            p.holds[3].store(0, Ordering::SeqCst);
            check_nothing_lost(&d.files[named].t, &p, 2);
        });
    }
}

/// The agent, process 3, sealing slots 0 and 1 (a block, to give it
/// back) with `budget` atomic operations: its result, if it lived.
fn sealer(
    t: &Arc<Table>,
    p: &Arc<Procs>,
    budget: usize,
) -> thread::JoinHandle<Option<Result<(), u32>>> {
    let (t, p) = (t.clone(), p.clone());
    thread::spawn(move || {
        let out = std::cell::Cell::new(None);
        process(&p, 3, budget, || out.set(Some(t.slots().seal(0, 2))));
        out.get()
    })
}

/// After a seal of slots 0 and 1 raced the others: no word is leased and
/// sealed at once; a seal that reported success left both sealed, nothing
/// leased and nothing claimable; one that failed left no seal. (An agent
/// that died leaves any mix: its successor settles it.)
fn check_after_seal(t: &Table, p: &Procs, sealed: Option<Result<(), u32>>) {
    for s in 0..2 {
        let w = t.slots().word(s);
        assert!(
            Owner::from_word(w).is_none() || w & SEALED == 0,
            "a word leased and sealed at once: {w:#x}"
        );
    }
    match sealed {
        Some(Ok(())) => {
            assert_eq!(
                t.slots().sealed(0, 2),
                2,
                "a block reported sealed has an open or leased slot"
            );
            assert!(
                t.slots()
                    .claim(owner(4), ClaimOpts::default(), p, 0)
                    .claimed
                    .is_none(),
                "a claim in a sealed block"
            );
        }
        Some(Err(_)) => assert_eq!(t.slots().sealed(0, 2), 0, "a failed seal left seals"),
        None => {}
    }
}

/// Cluster mode (I7): the agent seals a two-address block while a session
/// claims and releases in it and a reaper runs; the session may die at
/// any instruction, and so may the agent. A word is never leased and
/// sealed at once; a seal that reports success leaves every slot sealed
/// and none leased; a seal that fails undoes what it sealed (unless the
/// agent died); and once the block is unsealed again, nothing is lost.
#[test]
fn a_seal_races_claims_releases_and_reaps() {
    for (session_budget, agent_budget) in [
        (usize::MAX, usize::MAX),
        (0, usize::MAX),
        (2, usize::MAX),
        (4, usize::MAX),
        (7, usize::MAX),
        (12, usize::MAX),
        (usize::MAX, 1),
        (usize::MAX, 3),
        (usize::MAX, 5),
        (6, 4),
    ] {
        model(move || {
            let t = Arc::new(Table::new(2));
            let p = Arc::new(Procs::new());
            let (t1, p1) = (t.clone(), p.clone());
            let a = thread::spawn(move || process(&p1, 1, session_budget, || session(&t1, &p1, 1)));
            // The agent is process 3: its result, if it lived.
            let agent = sealer(&t, &p, agent_budget);
            t.slots().reap_all(&*p, EndedBy::ReapWatchdog, 0);
            a.join().unwrap();
            let sealed = agent.join().unwrap();
            check_after_seal(&t, &p, sealed);
            // The block comes back (the agent unseals it): nothing lost.
            t.slots().unseal(0, 2);
            check_nothing_lost(&t, &p, 2);
        });
    }
}

/// I7 with re-assert (cluster mode): a session re-entering its lost lease
/// races the agent sealing the block to give it back. A re-assert never
/// takes a sealed word, so a seal that reports success leaves the block
/// wholly sealed with nothing leased in it, whatever order the two ran in
/// and wherever either died.
#[test]
fn a_reassert_never_takes_a_slot_sealed_to_give_its_block_back() {
    for (session_budget, agent_budget) in [
        (usize::MAX, usize::MAX),
        (1, usize::MAX),
        (2, usize::MAX),
        (usize::MAX, 1),
        (usize::MAX, 2),
    ] {
        model(move || {
            let t = Arc::new(Table::new(2));
            let p = Arc::new(Procs::new());
            let (t1, p1) = (t.clone(), p.clone());
            let a = thread::spawn(move || {
                process(&p1, 1, session_budget, || {
                    let me = owner(1);
                    if t1.slots().reassert(0, me, |_| true) == Ok(true) {
                        assert!(t1.slots().release(0, me, EndedBy::Api, 0));
                    }
                })
            });
            let agent = sealer(&t, &p, agent_budget);
            a.join().unwrap();
            let sealed = agent.join().unwrap();
            check_after_seal(&t, &p, sealed);
            t.slots().reap_all(&*p, EndedBy::ReapWatchdog, 0);
            t.slots().unseal(0, 2);
            check_nothing_lost(&t, &p, 2);
        });
    }
}

/// Cluster mode's claim deadline: a claim that finds, after its
/// compare-and-swap, that the deadline has passed is undone
/// ([`Slots::unclaim`]) to the very word it replaced. That undo races
/// another session, the agent sealing the block to give it back, and a
/// reaper; the claimer may die anywhere, before or after its undo, and so
/// may the agent. A word is never leased and sealed at once, two live
/// processes never believe they hold one slot, a seal that reports success
/// leaves nothing leased, and nothing is lost.
#[test]
fn a_claim_undone_at_the_deadline_races_a_seal_a_session_and_a_reaper() {
    for (claimer_budget, agent_budget) in [
        (usize::MAX, usize::MAX),
        (2, usize::MAX),
        (4, usize::MAX),
        (6, usize::MAX),
        (usize::MAX, 1),
        (usize::MAX, 3),
        (5, 2),
    ] {
        model(move || {
            let t = Arc::new(Table::new(2));
            let p = Arc::new(Procs::new());
            let (t1, p1) = (t.clone(), p.clone());
            let late = thread::spawn(move || {
                process(&p1, 1, claimer_budget, || {
                    let me = owner(1);
                    if let Some(c) = t1.slots().claim(me, ClaimOpts::default(), &*p1, 0).claimed {
                        // The deadline had passed: undone, never used.
                        // (That the undo restores the very word it
                        // replaced is tests/cluster_table.rs's to show:
                        // here the others may change it right after.)
                        assert!(
                            t1.slots().unclaim(c, me),
                            "a live holder's claim not undone"
                        );
                    }
                })
            });
            let (t2, p2) = (t.clone(), p.clone());
            let other = thread::spawn(move || session(&t2, &p2, 2));
            let agent = sealer(&t, &p, agent_budget);
            t.slots().reap_all(&*p, EndedBy::ReapWatchdog, 0);
            late.join().unwrap();
            other.join().unwrap();
            let sealed = agent.join().unwrap();
            check_after_seal(&t, &p, sealed);
            t.slots().unseal(0, 2);
            check_nothing_lost(&t, &p, 2);
        });
    }
}

/// I6, a deleted table's leases entered into the table another process
/// made at the name ([`Slots::carry_in`]): the lease's own session moved
/// to that table, re-entered its lease and released it (its call ended),
/// while a process still mapping the deleted file enters that lease on
/// the session's behalf, at any point of it. The session may die anywhere.
/// A live session never ends up recorded as holding an address it has
/// released, and nothing is lost. (Only the last release is recorded: a
/// third process claiming and releasing the address in between is not
/// modelled, and `Slots::carry_in` says what it would do.)
#[test]
fn a_carried_lease_never_outlives_its_sessions_release_in_the_new_table() {
    for (session_budget, merger_budget) in [
        (usize::MAX, usize::MAX),
        (1, usize::MAX),
        (2, usize::MAX),
        (3, usize::MAX),
        (usize::MAX, 0),
    ] {
        model(move || {
            let t = Arc::new(Table::new(1));
            let p = Arc::new(Procs::new());
            let (t1, p1) = (t.clone(), p.clone());
            let session = thread::spawn(move || {
                process(&p1, 1, session_budget, || {
                    let me = owner(1);
                    assert!(t1.slots().reassert(0, me, |x| !p1.is_alive(x)).is_ok());
                    believe(&p1, 1, 0);
                    p1.holds[1].store(0, Ordering::SeqCst);
                    assert!(
                        t1.slots().release(0, me, EndedBy::IpDown, 0),
                        "the session's lease was taken"
                    );
                })
            });
            let (t2, p2) = (t.clone(), p.clone());
            let merger = thread::spawn(move || {
                process(&p2, 2, merger_budget, || {
                    let _ = t2.slots().carry_in(0, owner(1), |x| !p2.is_alive(x));
                })
            });
            session.join().unwrap();
            merger.join().unwrap();
            if p.alive[1].load(Ordering::SeqCst) {
                assert_ne!(
                    t.slots().word(0),
                    owner(1).word(),
                    "a released lease came back to life"
                );
            }
            check_nothing_lost(&t, &p, 1);
        });
    }
}
