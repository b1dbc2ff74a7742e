//! Agents joining real tables to the ledger, against a real 3-member etcd:
//! two servers on one pool hand out disjoint addresses until the pool runs
//! dry; a server cut off from etcd stops claiming at its claim deadline,
//! its session is down by its hang deadline, and only after that does
//! another server get its blocks; a session found in a block the server
//! does not hold is hung up, and claims wait until it is gone.

mod etcd;

use std::collections::{BTreeSet, HashMap};
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::process::{Child, Command};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use etcd::Etcd;
use etcd_client::{Client, ConnectOptions};
use rasstatic::owner::Owner;
use rasstatic::pool::Pool;
use rasstatic::protocol::{ClaimOpts, EndedBy};
use rasstatic::table::{boot_ns, Policy, SessionInfo, Table};
use rasstatic_cluster::agent::Agent;
use rasstatic_cluster::deadline::Timing;
use rasstatic_cluster::ledger::Ledger;
use rasstatic_cluster::spec::Spec;

static SERIAL: Mutex<()> = Mutex::new(());

const POOL: &str = "10.30.0.0/26";

/// The tests' timing: ttl 3 s, grace 3 s; claims stop 2 s after the last
/// renewal, sessions down 4 s after it, a reclaim no earlier than 6 s.
const TIMING: Timing = Timing {
    ttl: Duration::from_secs(3),
    grace: Duration::from_secs(3),
    claim_margin: Duration::from_secs(1),
    hang_margin: Duration::from_millis(2000),
    renew_every: Duration::from_millis(500),
};

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// A session's stand-in: a live process whose identity holds a lease.
struct Holder(Child);

impl Holder {
    fn new() -> Holder {
        Holder(Command::new("sleep").arg("600").spawn().unwrap())
    }
    fn owner(&self) -> Owner {
        Owner::of_pid(self.0.id()).unwrap().unwrap()
    }
}

impl Drop for Holder {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn table(tag: &str) -> (Table, PathBuf) {
    let dir = PathBuf::from(format!(
        "/tmp/rasstatic-agent-test-{}-{tag}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let pool = Pool::parse(POOL, "").unwrap();
    let (t, _) = Table::open(&dir, "default", &pool, POOL).unwrap();
    (t, dir)
}

async fn agent(e: &Etcd, sid: &str) -> (Agent, PathBuf) {
    let (t, dir) = table(sid);
    let spec = Spec::new("agents", t.pool(), 8, TIMING.grace.as_secs()).unwrap();
    let opts = ConnectOptions::new()
        .with_timeout(Duration::from_secs(2))
        .with_require_leader(true);
    let client = Client::connect(e.endpoints(), Some(opts)).await.unwrap();
    let ledger = Ledger::new(client, spec, sid).unwrap();
    let mut a = Agent::start(ledger, t, TIMING, sid).await.unwrap();
    // The tests start from nothing: no table was made anew under a
    // session, so blocks may go back at once.
    a.settle = Duration::ZERO;
    a.hysteresis = Duration::ZERO;
    (a, dir)
}

/// A standalone table `t` taken into a cluster, as rasstatic-agent and
/// rasstatic-cluster do (fenced first), joined by server `sid` on pool
/// `pool_name`.
async fn join_fenced(e: &Etcd, t: Table, pool_name: &str, sid: &str) -> Agent {
    t.enter_cluster_mode();
    let spec = Spec::new(pool_name, t.pool(), 8, TIMING.grace.as_secs()).unwrap();
    let client = Client::connect(e.endpoints(), None).await.unwrap();
    let ledger = Ledger::new(client, spec, sid).unwrap();
    Agent::start(ledger, t, TIMING, sid).await.unwrap()
}

fn claim(t: &Table, h: &Holder) -> Option<Ipv4Addr> {
    t.claim(
        h.owner(),
        ClaimOpts::default(),
        Policy::RoundRobin,
        &SessionInfo::default(),
    )
    .unwrap()
    .map(|c| t.addr(c.slot))
}

#[test]
fn two_servers_hand_out_disjoint_addresses_until_the_pool_runs_dry() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let e = Etcd::start();
    rt().block_on(async {
        let (mut a, da) = agent(&e, "bras-a").await;
        let (mut b, db) = agent(&e, "bras-b").await;
        // Joining took blocks up to the low-water mark: a claim lands in
        // one of them, and nowhere else.
        let h = Holder::new();
        let x = claim(a.table(), &h).expect("a claim right after joining");
        let slot = a.table().slot_of(x).unwrap();
        assert!(
            a.held().contains(&(slot / 8)),
            "{x}: outside the blocks held"
        );
        assert!(a.table().release(slot, h.owner(), EndedBy::Api));
        let mut out: HashMap<Ipv4Addr, &str> = HashMap::new();
        let mut holders = Vec::new();
        let pool = Pool::parse(POOL, "").unwrap();
        let mut dry = BTreeSet::new();
        let mut turn = 0;
        while dry.len() < 2 {
            turn += 1;
            let (ag, name) = if turn % 2 == 0 {
                (&mut a, "a")
            } else {
                (&mut b, "b")
            };
            if dry.contains(name) {
                continue;
            }
            let h = Holder::new();
            let mut got = claim(ag.table(), &h);
            if got.is_none() {
                // Dry here: the agent fetches a block, if one is free.
                ag.step().await.unwrap();
                got = claim(ag.table(), &h);
            }
            match got {
                Some(addr) => {
                    if let Some(other) = out.insert(addr, name) {
                        panic!("{addr} handed out by {other} and {name}");
                    }
                    // It lies in a block the ledger says this server holds.
                    let slot = ag.table().pool().index(addr).unwrap();
                    assert!(
                        ag.held().contains(&(slot / 8)),
                        "{addr} outside {name}'s blocks"
                    );
                    holders.push((name, h, addr));
                }
                None => {
                    dry.insert(name);
                }
            }
        }
        for addr in out.keys() {
            assert!(pool.contains(*addr));
        }
        // Stranded at exhaustion: at most servers × (block − 1).
        let n = out.len() as u32;
        let size = pool.size();
        assert!(n + 2 * 7 >= size, "only {n} of {size} handed out");
        assert_eq!(
            a.held().len() + b.held().len(),
            8,
            "blocks neither server holds"
        );
        eprintln!("handed out {n} of {size} before both ran dry");
        // Everyone hangs up: empty blocks go back, one per step, until a
        // server has no more claimable addresses than its high water mark;
        // each keeps one at least.
        for (name, h, addr) in &holders {
            let t = if *name == "a" { a.table() } else { b.table() };
            let slot = t.slot_of(*addr).unwrap();
            assert!(t.release(slot, h.owner(), EndedBy::IpDown));
        }
        for _ in 0..8 {
            a.step().await.unwrap();
            b.step().await.unwrap();
        }
        let before = (a.held().len(), b.held().len());
        for ag in [&a, &b] {
            assert!(!ag.held().is_empty());
            assert!(
                ag.claimable() <= ag.high_water,
                "{} claimable",
                ag.claimable()
            );
        }
        assert!(
            before.0 < 4 || before.1 < 4,
            "no block given back: {before:?}"
        );
        // What they gave back is free in the ledger, and sealed here.
        let blocks = a.ledger().blocks().await.unwrap();
        let free = blocks
            .iter()
            .filter(|b| matches!(b.record, rasstatic_cluster::ledger::Record::Free { .. }))
            .count();
        assert_eq!(free + a.held().len() + b.held().len(), 8);
        for blk in 0..8u32 {
            if !a.held().contains(&blk) {
                let r = a.ledger().spec().slots(blk);
                let (sealed, _) = a.table().block_state(r.start, r.len() as u32);
                assert_eq!(sealed, r.len() as u32, "block {blk} open in bras-a's table");
            }
        }
        let _ = std::fs::remove_dir_all(da);
        let _ = std::fs::remove_dir_all(db);
    });
}

#[test]
fn a_server_cut_off_stops_claiming_and_is_down_before_its_blocks_move() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let e = Etcd::start();
    rt().block_on(async {
        let (mut a, da) = agent(&e, "bras-a").await;
        a.step().await.unwrap();
        let session = Holder::new();
        let addr = claim(a.table(), &session).expect("a claims in its block");
        let mine: Vec<u32> = a.held();
        // bras-a is cut off from here on: its agent never reaches etcd.
        let (claim_dl, hang_dl, _) = a.table().deadlines();
        assert!(claim_dl > boot_ns() && hang_dl > claim_dl);
        let (mut b, db) = agent(&e, "bras-b").await;
        let mut session = Some(session);
        let mut fenced_at = None;
        let mut down_at = None;
        let mut moved_at = None;
        let t0 = Instant::now();
        while moved_at.is_none() && t0.elapsed() < Duration::from_secs(30) {
            let now = boot_ns();
            // bras-a's sessions: a new caller is refused once the claim
            // deadline passed; the session up hangs up at the hang
            // deadline (what the plugin's timer does in each pppd).
            let caller = Holder::new();
            match claim(a.table(), &caller) {
                Some(x) => {
                    assert!(now < claim_dl, "{x} claimed after the claim deadline");
                    let slot = a.table().slot_of(x).unwrap();
                    a.table().release(slot, caller.owner(), EndedBy::Api);
                }
                None if now >= claim_dl => {
                    fenced_at.get_or_insert(now);
                }
                None => {}
            }
            if now >= hang_dl {
                if let Some(s) = session.take() {
                    let slot = a.table().slot_of(addr).unwrap();
                    assert!(a.table().release(slot, s.owner(), EndedBy::Api));
                    down_at = Some(now);
                }
            }
            let step = b.step().await.unwrap();
            if !step.reclaimed.is_empty() {
                let mut got = step.reclaimed.clone();
                got.sort();
                assert_eq!(got, mine, "reclaimed other blocks than bras-a's");
                // The oracle: bras-a's session was down before its blocks
                // could go to anyone else.
                assert!(session.is_none(), "bras-a's blocks moved with its session up");
                moved_at = Some(boot_ns());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let (fenced_at, down_at, moved_at) =
            (fenced_at.expect("never fenced"), down_at.expect("never down"), moved_at.expect("never moved"));
        assert!(fenced_at <= down_at && down_at < moved_at);
        assert!(a.table().deadlines().2 > 0, "no fenced refusal counted");
        // bras-b takes the freed blocks as it needs them, and bras-a's
        // address with them.
        let mut got = Vec::new();
        let mut hs = Vec::new();
        for _ in 0..64 {
            let h = Holder::new();
            let mut x = claim(b.table(), &h);
            if x.is_none() {
                b.step().await.unwrap();
                x = claim(b.table(), &h);
            }
            match x {
                Some(x) => {
                    got.push(x);
                    hs.push(h);
                }
                None => break,
            }
        }
        assert!(got.contains(&addr), "bras-a's address never reached bras-b");
        eprintln!(
            "first refusal {} ms, session down {} ms, blocks moved {} ms after bras-a's claim deadline",
            (fenced_at - claim_dl) / 1_000_000,
            (down_at - claim_dl) / 1_000_000,
            (moved_at - claim_dl) / 1_000_000
        );
        let _ = std::fs::remove_dir_all(da);
        let _ = std::fs::remove_dir_all(db);
    });
}

#[test]
fn a_session_in_a_block_not_held_is_hung_up_and_claims_wait_until_it_is_gone() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let e = Etcd::start();
    rt().block_on(async {
        // A standalone table with a session up, taken into a cluster (as
        // rasstatic-agent and rasstatic-cluster do): fenced first.
        let (t, dir) = table("stray");
        let mut stray = Holder::new();
        let addr = claim(&t, &stray).unwrap();
        let mut a = join_fenced(&e, t, "strays", "bras-s").await;
        // It holds no block yet: the session is a stray. It got SIGTERM,
        // and no deadline was raised while it lived.
        assert_eq!(a.held(), Vec::<u32>::new());
        assert_eq!(a.strays(), 1);
        assert!(
            a.table().is_fenced(),
            "claims stay stopped while a stray lives"
        );
        let status = stray.0.wait().unwrap();
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(status.signal(), Some(libc::SIGTERM), "{status:?}");
        // It is dead: the next step reaps and seals its slot, then raises
        // the deadlines and takes a block.
        a.step().await.unwrap();
        assert_eq!(a.strays(), 0);
        assert!(!a.table().is_fenced());
        let slot = a.table().slot_of(addr).unwrap();
        let block = slot / 8;
        let w = a.table().word(slot);
        if a.held().contains(&block) {
            assert!(rasstatic::word::is_claimable(w), "{w:#x}");
        } else {
            assert!(rasstatic::word::is_sealed(w), "{w:#x}");
        }
        let caller = Holder::new();
        let got = claim(a.table(), &caller).expect("claims resume");
        let b = a.table().slot_of(got).unwrap() / 8;
        assert!(a.held().contains(&b), "{got} is in block {b}, not held");
        let _ = std::fs::remove_dir_all(dir);
    });
}

/// A stray is dealt with, and the deadlines raised once it is gone, even
/// when the ledger work after the renewal never gets anywhere (stalled at
/// every step): the table is reconciled with the blocks the agent holds
/// right after each renewal, with no etcd read.
#[test]
fn a_stray_is_hung_up_and_claims_resume_while_the_ledger_work_stalls() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let e = Etcd::start();
    rt().block_on(async {
        let (t, dir) = table("straystall");
        let mut stray = Holder::new();
        claim(&t, &stray).unwrap();
        let mut a = join_fenced(&e, t, "straystall", "bras-t").await;
        assert_eq!(a.strays(), 1);
        a.work_stall = Duration::from_secs(30);
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(stray.0.wait().unwrap().signal(), Some(libc::SIGTERM));
        // The next step reaps it (no watchdog runs) and raises the
        // deadlines, though its ledger work is cut short.
        let st = a.step().await.unwrap();
        assert!(st.cut_short);
        assert_eq!(a.strays(), 0);
        assert!(!a.table().is_fenced(), "claims did not resume");
        let _ = std::fs::remove_dir_all(dir);
    });
}

/// A dead session in a block the server does not hold is left to the
/// table's watchdog while one runs (it also removes what the session left
/// in the kernel), and counted as a stray meanwhile; if the watchdog has
/// not reaped it within STRAY_KILL_AFTER, the agent does. The watchdog
/// here is a stand-in that holds the watchdog's lock and never reaps.
#[test]
fn a_dead_stray_is_left_to_the_watchdog_then_reaped() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let e = Etcd::start();
    rt().block_on(async {
        let (t, dir) = table("deadstray");
        let mut gone = Holder::new();
        let addr = claim(&t, &gone).unwrap();
        let slot = t.slot_of(addr).unwrap();
        let word = t.word(slot);
        gone.0.kill().unwrap();
        gone.0.wait().unwrap();
        let lock = rasstatic::watchdog::Lock::acquire(&dir, "default").unwrap();
        assert!(rasstatic::watchdog::running(&dir, "default").is_some());
        let t0 = Instant::now();
        let mut a = join_fenced(&e, t, "deadstrays", "bras-d").await;
        // Left to the watchdog: still leased, counted, no deadline raised.
        while t0.elapsed() < rasstatic_cluster::agent::STRAY_KILL_AFTER - Duration::from_secs(1) {
            assert_eq!(a.table().word(slot), word, "reaped while a watchdog runs");
            assert_eq!(a.strays(), 1);
            assert!(a.table().is_fenced());
            std::thread::sleep(Duration::from_millis(500));
            a.step().await.unwrap();
        }
        // The watchdog did not reap it in time: the agent does.
        std::thread::sleep(Duration::from_secs(2));
        a.step().await.unwrap();
        assert_ne!(a.table().word(slot), word, "never reaped");
        a.step().await.unwrap();
        assert_eq!(a.strays(), 0);
        assert!(!a.table().is_fenced(), "claims did not resume");
        drop(lock);
        let _ = std::fs::remove_dir_all(dir);
    });
}

/// A step whose ledger work stalls (a stand-in for an etcd that answers
/// slowly, or a long reclaim) is cut short after one renewal period: the
/// renewals, and the deadlines they raise, go on, so the table is never
/// fenced, though each stall is far longer than the time from a renewal
/// to its claim deadline (2 s here).
#[test]
fn slow_ledger_work_holds_no_renewal_back() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let e = Etcd::start();
    rt().block_on(async {
        let (mut a, dir) = agent(&e, "bras-slow").await;
        a.work_stall = Duration::from_secs(30);
        // Watches the table, as pppd would see it, every 20 ms.
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let watcher = {
            let stop = stop.clone();
            let dir = dir.clone();
            std::thread::spawn(move || {
                let t = Table::open_existing(&dir, "default").unwrap();
                let mut fenced = 0u32;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    if t.is_fenced() {
                        fenced += 1;
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
                fenced
            })
        };
        let t0 = Instant::now();
        let mut last = a.table().deadlines().0;
        let mut steps = 0;
        while t0.elapsed() < Duration::from_secs(6) {
            let st = a.step().await.unwrap();
            assert!(st.cut_short, "the stalled work was not cut short");
            let claim_deadline = a.table().deadlines().0;
            assert!(claim_deadline > last, "no renewal raised the deadline");
            last = claim_deadline;
            steps += 1;
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        assert_eq!(watcher.join().unwrap(), 0, "the table was seen fenced");
        assert!(steps >= 6, "{steps} steps in 6 s");
        let h = Holder::new();
        assert!(claim(a.table(), &h).is_some(), "no claim after the stalls");
    });
}

/// An empty block goes back only once it has been seen empty for the
/// hysteresis time, while etcd has free blocks; when etcd has none (other
/// servers may be short), at once, down to a block and the low water
/// mark's worth of claimable addresses.
#[test]
fn empty_blocks_go_back_after_the_hysteresis_or_at_once_when_the_pool_is_scarce() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let e = Etcd::start();
    rt().block_on(async {
        let (mut a, da) = agent(&e, "bras-h").await;
        a.hysteresis = Duration::from_secs(4);
        // 40 sessions: five blocks or more.
        let hs: Vec<Holder> = (0..40).map(|_| Holder::new()).collect();
        let mut up = Vec::new();
        for h in &hs {
            let got = loop {
                if let Some(x) = claim(a.table(), h) {
                    break x;
                }
                a.step().await.unwrap();
            };
            up.push((a.table().slot_of(got).unwrap(), h.owner()));
        }
        for (slot, who) in &up {
            assert!(a.table().release(*slot, *who, EndedBy::IpDown));
        }
        let held = a.held().len();
        assert!(held >= 5, "{held} blocks");
        assert!(a.claimable() > a.high_water);
        // Empty, plenty claimable, etcd has free blocks: kept for now.
        let t0 = Instant::now();
        while t0.elapsed() < Duration::from_millis(2500) {
            let st = a.step().await.unwrap();
            assert!(st.returned.is_empty(), "given back before the hysteresis");
            std::thread::sleep(Duration::from_millis(100));
        }
        assert_eq!(a.ledger().free_seen().map(|f| f > 0), Some(true));
        std::thread::sleep(Duration::from_millis(4500).saturating_sub(t0.elapsed()));
        let st = a.step().await.unwrap();
        assert_eq!(st.returned.len(), 1, "not given back after the hysteresis");

        // Scarce: another server takes every free block.
        a.hysteresis = Duration::from_secs(3600);
        let (mut b, db) = agent(&e, "bras-h2").await;
        let more: Vec<Holder> = (0..64).map(|_| Holder::new()).collect();
        let mut n = 0;
        loop {
            b.step().await.unwrap();
            while n < more.len() && claim(b.table(), &more[n]).is_some() {
                n += 1;
            }
            if b.ledger().free_seen() == Some(0) {
                break;
            }
            assert!(n < more.len(), "etcd never ran out of blocks");
        }
        // a steps again: it sees no free block, and gives an empty block
        // back at once; b takes it, and so on, down to a block and a
        // quarter at a.
        let keep = a.low_water + 8;
        let (held_before, before) = (a.held().len(), n);
        for _ in 0..20 {
            a.step().await.unwrap();
            b.step().await.unwrap();
            while n < more.len() && claim(b.table(), &more[n]).is_some() {
                n += 1;
            }
        }
        assert!(
            a.held().len() < held_before,
            "nothing given back while the pool is scarce"
        );
        assert!(
            a.claimable() <= keep && a.claimable() > a.low_water,
            "{} claimable",
            a.claimable()
        );
        assert!(n > before, "the other server got none of them");
        let _ = std::fs::remove_dir_all(da);
        let _ = std::fs::remove_dir_all(db);
    });
}
