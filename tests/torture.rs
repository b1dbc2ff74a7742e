//! Multi-process torture of the lease table: real processes, real SIGKILL.
//!
//! 40 forked workers share a 12-address pool and claim and release in
//! loops. The parent SIGKILLs random workers at random moments and forks
//! replacements; some workers kill themselves between the claim's
//! compare-and-swap and the metadata write. Each worker publishes what it
//! believes it holds in a shared "beliefs" array: set after its claim
//! succeeds, cleared before it releases. A checker process scans the
//! beliefs all along.
//!
//! Asserted:
//! - no address is ever believed held by two processes that are both alive;
//! - no live worker ever finds its lease taken from it;
//! - after every worker is dead and one reap, the whole pool, and not one
//!   address more, can be claimed again.

use std::sync::atomic::Ordering;

mod checker;
use checker::{checker, shared, Rng, Shared};
use std::time::{Duration, Instant};

use rasstatic::owner::Owner;
use rasstatic::pool::Pool;
use rasstatic::protocol::{ClaimOpts, EndedBy};
use rasstatic::table::{Policy, SessionInfo, Table};

const WORKERS: usize = 40;
const POOL: &str = "10.77.0.1-10.77.0.12";
const RUN: Duration = Duration::from_secs(12);

fn spin_for(us: u64) {
    let t = Instant::now();
    while t.elapsed() < Duration::from_micros(us) {
        std::hint::spin_loop();
    }
}

/// A worker's life: claim, hold a little, release; sometimes die on purpose
/// right after the claim's CAS, before the metadata is written.
fn worker(t: &Table, sh: &Shared, idx: usize, seed: u64) {
    let me = Owner::current().expect("identity");
    let mut rng = Rng(seed | 1);
    let b = &sh.belief[idx];
    let tag = u64::from(me.pid()) << 40;
    let mut generation = 0u64;
    // Take over the position: first drop the dead predecessor's belief.
    b.store(tag, Ordering::SeqCst);
    sh.who[idx].store(me.word(), Ordering::SeqCst);
    let info = SessionInfo {
        peer: format!("w{idx}"),
        ifname: format!("ppp{idx}"),
        device: format!("/dev/pts/{idx}"),
        proxyarp: false,
    };
    loop {
        if sh.stop.load(Ordering::Relaxed) != 0 {
            // SAFETY: ending a forked child without running the parent's
            // atexit handlers or test harness.
            unsafe { libc::_exit(0) };
        }
        let split = rng.below(4) == 0;
        let slot = if split {
            // The protocol's CAS alone, then a pause, then the record: the
            // window the parent's kills (and our own) aim at.
            let out = t.slots().claim(
                me,
                ClaimOpts::default(),
                &rasstatic::protocol::ProcLiveness,
                0,
            );
            out.claimed.map(|c| {
                if rng.below(50) == 0 {
                    // SAFETY: raise has no preconditions.
                    unsafe { libc::raise(libc::SIGKILL) };
                }
                spin_for(rng.below(200));
                t.update_meta(c.slot, me, &info);
                c.slot
            })
        } else {
            t.claim(me, ClaimOpts::default(), Policy::RoundRobin, &info)
                .expect("no reset in this test")
                .map(|c| c.slot)
        };
        let Some(slot) = slot else {
            sh.refusals.fetch_add(1, Ordering::Relaxed);
            spin_for(rng.below(300));
            continue;
        };
        sh.claims.fetch_add(1, Ordering::Relaxed);
        generation += 1;
        b.store(
            tag | generation << 16 | (u64::from(slot) + 1),
            Ordering::SeqCst,
        );
        spin_for(rng.below(500));
        if t.slots().word(slot) != me.word() {
            sh.stolen.fetch_add(1, Ordering::SeqCst);
        }
        b.store(tag | generation << 16, Ordering::SeqCst);
        assert!(t.release(slot, me, EndedBy::Api));
        spin_for(rng.below(100));
    }
}

/// The tests of this binary run one at a time, so that each forks from a
/// process whose only other threads are idle harness threads.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn fork_into(f: impl FnOnce()) -> libc::pid_t {
    // SAFETY: the tests here run one at a time (ONE_AT_A_TIME), so the
    // only other threads are the harness's, idle; the child starts from a
    // consistent state and never returns.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        f();
        // SAFETY: f never returns; this is a backstop.
        unsafe { libc::_exit(1) };
    }
    pid
}

#[test]
fn forty_processes_with_sigkill_never_share_and_never_lose_an_address() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let dir = std::env::temp_dir().join(format!("rasstatic-torture-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let pool = Pool::parse(POOL, "").unwrap();
    let (t, _) = Table::open(&dir, "torture", &pool, POOL).unwrap();
    let sh = shared();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ u64::from(std::process::id()));

    let checker_pid = fork_into(|| checker(sh, WORKERS));
    let mut pids: Vec<libc::pid_t> = (0..WORKERS)
        .map(|i| {
            let seed = rng.next();
            fork_into(|| worker(&t, sh, i, seed))
        })
        .collect();
    let start = Instant::now();
    let mut kills = 0u64;
    while start.elapsed() < RUN {
        std::thread::sleep(Duration::from_micros(200 + rng.below(3000)));
        let i = rng.below(WORKERS as u64) as usize;
        // SAFETY: signalling our own child.
        unsafe { libc::kill(pids[i], libc::SIGKILL) };
        kills += 1;
        // Reap any dead children (killed by us or by themselves) and
        // replace them, reusing the belief slot.
        for (j, pid) in pids.iter_mut().enumerate() {
            let mut status = 0;
            // SAFETY: non-blocking wait for our own child.
            if unsafe { libc::waitpid(*pid, &mut status, libc::WNOHANG) } == *pid {
                let seed = rng.next();
                *pid = fork_into(|| worker(&t, sh, j, seed));
            }
        }
    }
    // Stop: kill every worker where it stands.
    sh.stop.store(1, Ordering::SeqCst);
    for &pid in &pids {
        // SAFETY: as above.
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
    for &pid in pids.iter().chain([&checker_pid]) {
        let mut status = 0;
        // SAFETY: blocking wait for our own child.
        unsafe { libc::waitpid(pid, &mut status, 0) };
    }

    let claims = sh.claims.load(Ordering::SeqCst);
    let checks = sh.checks.load(Ordering::SeqCst);
    eprintln!(
        "{claims} claims, {} refusals, {kills} parent kills, {checks} checker scans",
        sh.refusals.load(Ordering::SeqCst)
    );
    assert!(claims > 1000, "the workers barely ran ({claims} claims)");
    assert!(checks > 100, "the checker barely ran ({checks} scans)");
    assert_eq!(
        sh.violations.load(Ordering::SeqCst),
        0,
        "an address was held by two live processes"
    );
    assert_eq!(
        sh.stolen.load(Ordering::SeqCst),
        0,
        "a live worker lost its lease"
    );

    // Everyone is dead. One reap frees every lease.
    let reaped = t.reap_all(EndedBy::ReapAdmin);
    eprintln!("final reap freed {} leases", reaped.len());
    assert_eq!(t.slots().leased(), 0, "leases survived a full reap");
    // The whole pool, and not one address more, can be claimed again.
    assert_eq!(checker::leaked(&t), Ok(0));
    let _ = std::fs::remove_dir_all(&dir);
}

/// The plugin's way with a table that may be replaced under it: wait for
/// whoever replaces it, or make it again from this mapping if it was
/// deleted (I6), then open the current one, following its definition.
fn refresh(t: &mut Table, dir: &std::path::Path, def: &rasstatic::table::Definition) {
    loop {
        match t.current(dir, "torture", def) {
            Ok(Some((n, _))) => *t = n,
            Ok(None) => return,
            Err(_) => spin_for(100),
        }
    }
}

const POOL_A: &str = "10.77.1.1-10.77.1.12";
const POOL_B: &str = "10.77.1.5-10.77.1.16";

/// A worker as pppd runs the plugin, while its table is deleted and
/// redefined under it: claim, check the name (I6), hold, make sure the
/// current table still records the lease (re-assert), release, and
/// release again in a table that replaced this one. Beliefs are by
/// address (slot numbers change with the pool).
fn healing_worker(t: &mut Table, dir: &std::path::Path, sh: &Shared, idx: usize, seed: u64) {
    let me = Owner::current().expect("identity");
    let mut rng = Rng(seed | 1);
    let b = &sh.belief[idx];
    let tag = u64::from(me.pid()) << 40;
    let mut generation = 0u64;
    b.store(tag, Ordering::SeqCst);
    sh.who[idx].store(me.word(), Ordering::SeqCst);
    let pool = Pool::parse(POOL_A, "").unwrap();
    // An old definition: the table's, whatever it is, wins.
    let def = rasstatic::table::Definition {
        pool: &pool,
        spec: POOL_A,
        defined_ms: 1,
        cluster: false,
    };
    let info = SessionInfo::default();
    // A table of its own: the one inherited from the parent shares the
    // parent's open file description, and with it the parent's file
    // locks. (Each pppd opens its table itself.) While the name is gone, a
    // process that maps the table makes it again (I6): wait for that.
    *t = loop {
        match Table::open_as_existing(dir, "torture", &def) {
            Ok(Some((n, _))) => break n,
            _ => spin_for(200),
        }
    };
    loop {
        if sh.stop.load(Ordering::Relaxed) != 0 {
            // SAFETY: ending a forked child without the harness.
            unsafe { libc::_exit(0) };
        }
        refresh(t, dir, &def);
        let c = match t.claim(me, ClaimOpts::default(), Policy::RoundRobin, &info) {
            Err(_) => continue,
            Ok(None) => {
                sh.refusals.fetch_add(1, Ordering::Relaxed);
                spin_for(rng.below(300));
                continue;
            }
            Ok(Some(c)) => c,
        };
        if !c.existing && !t.still_named() {
            t.release(c.slot, me, EndedBy::Api);
            continue;
        }
        let addr = u32::from(t.addr(c.slot));
        sh.claims.fetch_add(1, Ordering::Relaxed);
        generation += 1;
        b.store(
            tag | generation << 16 | u64::from(addr & 0xffff),
            Ordering::SeqCst,
        );
        spin_for(rng.below(500));
        refresh(t, dir, &def);
        if let Some(slot) = t.any_slot_of(addr.into()) {
            match t.reassert(slot, me, None) {
                Ok(false) => {}
                Ok(true) => {
                    sh.reentered.fetch_add(1, Ordering::SeqCst);
                }
                Err(_) => {
                    sh.stolen.fetch_add(1, Ordering::SeqCst);
                }
            }
        }
        b.store(tag | generation << 16, Ordering::SeqCst);
        if let Some(slot) = t.any_slot_of(addr.into()) {
            t.release(slot, me, EndedBy::Api);
        }
        if t.replaced() {
            refresh(t, dir, &def);
            if let Some(slot) = t.any_slot_of(addr.into()) {
                t.release(slot, me, EndedBy::Api);
            }
        }
        spin_for(rng.below(100));
    }
}

/// 40 processes claim and release as the plugin does while their table is
/// deleted and its pool redefined (grown, shrunk) under them, and they are
/// SIGKILLed at random. The checker finds no address believed by two live
/// processes; no live process finds its address held by another, or
/// missing from the current table; at the end the current pool, and not
/// one address more, can be claimed.
#[test]
fn table_deletions_and_pool_changes_while_processes_claim_and_die() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let dir = std::env::temp_dir().join(format!("rasstatic-torture2-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let pools = [
        Pool::parse(POOL_A, "").unwrap(),
        Pool::parse(POOL_B, "").unwrap(),
    ];
    let specs = [POOL_A, POOL_B];
    let (mut t, _) = Table::open(&dir, "torture", &pools[0], POOL_A).unwrap();
    let sh = shared();
    let mut rng = Rng(0x2545_f491_4f6c_dd1d ^ u64::from(std::process::id()));
    let checker_pid = fork_into(|| checker(sh, WORKERS));
    let spawn = |t: &mut Table, i: usize, seed: u64| {
        let d = dir.clone();
        fork_into(move || healing_worker(t, &d, sh, i, seed))
    };
    let mut pids: Vec<libc::pid_t> = (0..WORKERS).map(|i| spawn(&mut t, i, rng.next())).collect();
    let start = Instant::now();
    let (mut kills, mut deletions, mut redefinitions) = (0u64, 0u64, 0u64);
    let mut current = 0;
    let mut next_change = Instant::now() + Duration::from_millis(100);
    let newest = |i: usize| rasstatic::table::Definition {
        pool: &pools[i],
        spec: specs[i],
        defined_ms: rasstatic::table::now_ms(),
        cluster: false,
    };
    while start.elapsed() < RUN {
        std::thread::sleep(Duration::from_micros(200 + rng.below(3000)));
        let i = rng.below(WORKERS as u64) as usize;
        // SAFETY: signalling our own child.
        unsafe { libc::kill(pids[i], libc::SIGKILL) };
        kills += 1;
        if Instant::now() >= next_change {
            next_change = Instant::now() + Duration::from_millis(50 + rng.below(250));
            if rng.below(2) == 0 {
                // An administrator deletes the table; the parent, which
                // maps it, makes it again as the watchdog would.
                std::fs::remove_file(dir.join("torture.table")).unwrap();
                deletions += 1;
                if rng.below(2) == 0 {
                    let _ = t.recreate();
                }
            } else {
                // A pppd with the other definition starts.
                refresh(&mut t, &dir, &newest(current));
                current = 1 - current;
                let (n, _) = Table::open_as(&dir, "torture", &newest(current)).unwrap();
                t = n;
                redefinitions += 1;
            }
        }
        // The replacements start from the current table.
        refresh(&mut t, &dir, &newest(current));
        for (j, pid) in pids.iter_mut().enumerate() {
            let mut status = 0;
            // SAFETY: non-blocking wait for our own child.
            if unsafe { libc::waitpid(*pid, &mut status, libc::WNOHANG) } == *pid {
                *pid = spawn(&mut t, j, rng.next());
            }
        }
    }
    sh.stop.store(1, Ordering::SeqCst);
    for &pid in &pids {
        // SAFETY: as above.
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
    for &pid in pids.iter().chain([&checker_pid]) {
        let mut status = 0;
        // SAFETY: blocking wait for our own child.
        unsafe { libc::waitpid(pid, &mut status, 0) };
    }
    let claims = sh.claims.load(Ordering::SeqCst);
    eprintln!(
        "{claims} claims, {} refusals, {kills} kills, {deletions} deletions, {redefinitions} pool changes, {} checker scans, {} leases re-entered",
        sh.refusals.load(Ordering::SeqCst),
        sh.checks.load(Ordering::SeqCst),
        sh.reentered.load(Ordering::SeqCst)
    );
    assert!(claims > 1000, "the workers barely ran ({claims} claims)");
    assert!(
        deletions > 5 && redefinitions > 5,
        "the table was barely replaced"
    );
    assert_eq!(
        sh.violations.load(Ordering::SeqCst),
        0,
        "an address was held by two live processes"
    );
    assert_eq!(
        sh.stolen.load(Ordering::SeqCst),
        0,
        "a live process found its address leased to another"
    );
    assert_eq!(
        sh.reentered.load(Ordering::SeqCst),
        0,
        "a table lost a live lease (re-entered by its holder)"
    );
    refresh(&mut t, &dir, &newest(current));
    t.reap_all(EndedBy::ReapAdmin);
    assert_eq!(t.live_leases(), 0, "leases survived a full reap");
    // The whole current pool, and not one address more, can be claimed.
    assert_eq!(checker::leaked(&t), Ok(0));
    let _ = std::fs::remove_dir_all(&dir);
}
