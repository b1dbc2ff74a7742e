//! Outages with real `rasstatic-agent` processes and a real 3-member etcd:
//! - an agent alone frozen (SIGSTOP) past its deadlines: its server stops
//!   claiming, its session is hung up at the hang deadline (as the
//!   plugin's timer does), and only after that does another server get
//!   its block; thawed, it registers again and serves again;
//! - etcd without quorum for less than the grace period: nothing is
//!   taken over and the session up is never due to hang up.

mod etcd;
mod support;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use etcd::Etcd;
use rasstatic::owner::Owner;
use rasstatic::protocol::EndedBy;
use rasstatic::table::{boot_ns, Table};

const POOL: &str = "10.70.0.0/26";

/// One etcd cluster at a time: three members per test on two cores.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// A child killed and reaped however the test ends.
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        // A frozen agent must be thawed to die of SIGKILL promptly.
        // SAFETY: kill(2) on a child we hold and have not reaped.
        unsafe { libc::kill(self.0.id() as i32, libc::SIGCONT) };
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn dir(tag: &str) -> PathBuf {
    let d = PathBuf::from(format!(
        "/tmp/rasstatic-outage-{}-{tag}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// An agent for server `sid` on its own table in `d`: TTL 3 s, grace 3 s;
/// claims stop 2 s after the last renewal, sessions are down 4 s after
/// it, a reclaim elsewhere succeeds no earlier than 6 s after it.
fn agent(e: &Etcd, sid: &str, d: &Path) -> Reaped {
    let log = File::create(d.join("agent.log")).unwrap();
    let c = Command::new(env!("CARGO_BIN_EXE_rasstatic-agent"))
        .args(["--endpoints", &e.endpoints().join(",")])
        .args(["--server-id", sid, "--pool", POOL, "--block", "8"])
        .arg("--dir")
        .arg(d)
        .args(["--ttl", "3", "--grace", "3", "--claim-margin-ms", "1000"])
        .args(["--hang-margin-ms", "2000", "--renew-ms", "500"])
        .stdin(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    let mut r = Reaped(c);
    let t0 = Instant::now();
    loop {
        let text = std::fs::read_to_string(d.join("agent.log")).unwrap_or_default();
        if text.contains("joined pool") {
            return r;
        }
        if let Ok(Some(st)) = r.0.try_wait() {
            panic!("the agent exited ({st}): {text}");
        }
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "never joined: {text}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn claim(t: &Table, who: Owner) -> Option<u32> {
    support::claim(t, who).map(|c| c.slot)
}

/// Who holds block `b` in etcd: "held SID TOKEN", "free ...", or "".
fn record(e: &Etcd, b: u32) -> String {
    let key = format!("/rasstatic/v1/pools/default/blocks/{b:06}");
    e.get_prefix(&key)
        .into_iter()
        .find(|(k, _)| *k == key)
        .map(|(_, v)| v)
        .unwrap_or_default()
}

fn sleeper() -> Reaped {
    Reaped(Command::new("sleep").arg("600").spawn().unwrap())
}

fn owner(r: &Reaped) -> Owner {
    Owner::of_pid(r.0.id()).unwrap().unwrap()
}

#[test]
fn a_frozen_agent_stops_claims_its_session_hangs_up_and_only_then_its_block_moves() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let e = Etcd::start();
    let (d1, d2) = (dir("frozen-1"), dir("frozen-2"));
    let a1 = agent(&e, "bras-1", &d1);
    let _a2 = agent(&e, "bras-2", &d2);
    let t1 = Table::open_existing(&d1, "default").unwrap();
    let session = sleeper();
    let slot = claim(&t1, owner(&session)).expect("bras-1 claims in its block");
    let block = slot / 8;
    assert!(record(&e, block).starts_with("held bras-1 "));
    // Frozen: no renewal from here on.
    // SAFETY: kill(2) on a child we hold and have not reaped.
    assert_eq!(unsafe { libc::kill(a1.0.id() as i32, libc::SIGSTOP) }, 0);
    std::thread::sleep(Duration::from_millis(600)); // a renewal in flight lands
    let (claim_dl, hang_dl, _) = t1.deadlines();
    assert!(claim_dl > boot_ns() && hang_dl > claim_dl);
    let mut session = Some(session);
    let (mut refused_at, mut down_at, mut moved_at) = (None, None, None);
    let t0 = Instant::now();
    while moved_at.is_none() && t0.elapsed() < Duration::from_secs(30) {
        let now = boot_ns();
        let caller = sleeper();
        match claim(&t1, owner(&caller)) {
            Some(s) => {
                assert!(now < claim_dl, "claimed after the claim deadline");
                assert!(t1.release(s, owner(&caller), EndedBy::Api));
            }
            None => {
                refused_at.get_or_insert(now);
            }
        }
        // The plugin's timer: the session hangs up at the hang deadline.
        if session.is_some() && t1.hang_due() {
            assert!(t1.release(slot, owner(session.as_ref().unwrap()), EndedBy::IpDown));
            session = None;
            down_at = Some(boot_ns());
        }
        if !record(&e, block).starts_with("held bras-1 ") {
            moved_at = Some(boot_ns());
            assert!(
                session.is_none(),
                "block {block} moved while bras-1's session was still up"
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let refused_at = refused_at.expect("no claim was refused");
    let down_at = down_at.expect("the session never had to hang up");
    let moved_at = moved_at.expect("the block never moved");
    // Each round of this loop takes about 100 ms (an etcdctl read).
    assert!(refused_at >= claim_dl && refused_at < claim_dl + 1_000_000_000);
    assert!(down_at >= hang_dl && down_at < hang_dl + 1_000_000_000);
    assert!(moved_at > down_at, "moved before the session was down");
    // Thawed: it finds its registration gone, registers again, serves.
    // SAFETY: as above.
    assert_eq!(unsafe { libc::kill(a1.0.id() as i32, libc::SIGCONT) }, 0);
    let t0 = Instant::now();
    let caller = sleeper();
    loop {
        if let Some(s) = claim(&t1, owner(&caller)) {
            assert!(
                record(&e, s / 8).starts_with("held bras-1 "),
                "bras-1 claimed in block {} it does not hold",
                s / 8
            );
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "bras-1 never served again: {}",
            std::fs::read_to_string(d1.join("agent.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let log = std::fs::read_to_string(d1.join("agent.log")).unwrap();
    assert!(log.contains("registered again"), "{log}");
    drop(a1);
    let _ = std::fs::remove_dir_all(&d1);
    let _ = std::fs::remove_dir_all(&d2);
}

#[test]
fn etcd_without_quorum_for_less_than_the_grace_period_takes_nothing_over() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let e = Etcd::start();
    let (d1, d2) = (dir("quorum-1"), dir("quorum-2"));
    let _a1 = agent(&e, "bras-1", &d1);
    let _a2 = agent(&e, "bras-2", &d2);
    let t1 = Table::open_existing(&d1, "default").unwrap();
    let t2 = Table::open_existing(&d2, "default").unwrap();
    let (s1, s2) = (sleeper(), sleeper());
    let slot1 = claim(&t1, owner(&s1)).unwrap();
    let slot2 = claim(&t2, owner(&s2)).unwrap();
    let before: Vec<String> = (0..8).map(|b| record(&e, b)).collect();
    // Two of three members frozen: no quorum for 2.5 s (less than the
    // grace period, 3 s, and than the hang deadline's 4 s after the last
    // renewal).
    let leader = e.leader().expect("a leader");
    let frozen: Vec<usize> = (0..3).filter(|&i| i != (leader + 1) % 3).collect();
    for &i in &frozen {
        e.stop(i);
    }
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_millis(2500) {
        assert!(!t1.hang_due() && !t2.hang_due(), "a session had to hang up");
        std::thread::sleep(Duration::from_millis(50));
    }
    for &i in &frozen {
        e.cont(i);
    }
    e.wait_ready(Duration::from_secs(20));
    // Both servers renew again: their claim deadlines move on.
    let t0 = Instant::now();
    let (c1, c2) = (t1.deadlines().0, t2.deadlines().0);
    while t1.deadlines().0 == c1 || t2.deadlines().0 == c2 {
        assert!(!t1.hang_due() && !t2.hang_due(), "a session had to hang up");
        assert!(
            t0.elapsed() < Duration::from_secs(15),
            "no renewal after quorum came back"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // Nothing taken over: every block held by the same server as before
    // (a registration renewed through the outage keeps its token; one
    // that had to register again re-adopted its blocks).
    for (b, was) in before.iter().enumerate() {
        let now = record(&e, b as u32);
        let sid = |r: &str| r.split(' ').take(2).collect::<Vec<_>>().join(" ");
        assert_eq!(sid(&now), sid(was), "block {b}: {was} became {now}");
    }
    assert_eq!(t1.word(slot1), owner(&s1).word());
    assert_eq!(t2.word(slot2), owner(&s2).word());
    let _ = std::fs::remove_dir_all(&d1);
    let _ = std::fs::remove_dir_all(&d2);
}
