//! Three simulated dial-in servers on one pool, each in its own network
//! namespace with its own table, its own `rasstatic-agent` process and
//! forked holders (the sessions: claim, hold, release, and hang up at the
//! table's hang deadline as the plugin's timer does), against a real
//! 3-member etcd in a fourth namespace. Partitions are nftables drop rules
//! inside a server's namespace. An oracle (one shared atomic per address,
//! set after each claim, cleared before each release) fails the test on
//! any address held by two servers at any moment.
//!
//! As root (network namespaces, nftables); `./test.sh` runs as root.

mod etcd;
mod support;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use etcd::Etcd;
use rasstatic::owner::Owner;
use rasstatic::pool::Pool;
use rasstatic::protocol::{ClaimOpts, EndedBy};
use rasstatic::table::{boot_ns, Policy, SessionInfo, Table};
use support::sh;

const POOL: &str = "10.40.0.0/26";
const SERVERS: usize = 3;
const HOLDERS: usize = 4;
const CORE_ADDR: &str = "10.213.0.1";

/// What every process of the test shares: an anonymous shared mapping made
/// before the holders are forked.
#[repr(C)]
struct Shared {
    /// Per pool slot: the server (1..) whose session holds it, or 0.
    oracle: [AtomicU32; 64],
    /// Duplicates seen: an oracle compare-and-swap that found another
    /// server's mark.
    violations: AtomicU64,
    /// The first duplicate: slot << 16 | mine << 8 | theirs.
    first: AtomicU64,
    stop: [AtomicU32; SERVERS + 1],
    claims: [AtomicU64; SERVERS + 1],
    hangups: [AtomicU64; SERVERS + 1],
}

fn shared() -> &'static Shared {
    // SAFETY: a fresh anonymous shared mapping, zero-filled, of the size
    // of Shared, whose fields are all atomics (valid when zero); it is
    // never unmapped, so the 'static reference stays valid, in the forked
    // children too.
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

/// The namespaces: `core` with a bridge on 10.213.0.1/24 (etcd), and one
/// per server with a veth into the bridge.
struct Net {
    core: String,
    servers: Vec<String>,
}

impl Net {
    fn new() -> Net {
        assert_eq!(
            // SAFETY: geteuid has no preconditions.
            unsafe { libc::geteuid() },
            0,
            "this test needs root (network namespaces, nftables): run it through ./test.sh"
        );
        let id = std::process::id();
        let core = format!("rsc-{id}");
        let servers: Vec<String> = (1..=SERVERS).map(|i| format!("rss{i}-{id}")).collect();
        let net = Net { core, servers };
        let c = &net.core;
        sh(&format!(
            "ip netns add {c} && ip -n {c} link set lo up && ip -n {c} link add br0 type bridge && \
             ip -n {c} addr add {CORE_ADDR}/24 dev br0 && ip -n {c} link set br0 up"
        ));
        for (i, s) in net.servers.iter().enumerate() {
            sh(&format!(
                "ip netns add {s} && ip -n {s} link set lo up && \
                 ip -n {c} link add vs{i} type veth peer name eth0 netns {s} && \
                 ip -n {c} link set vs{i} master br0 up && \
                 ip -n {s} addr add 10.213.0.{}/24 dev eth0 && ip -n {s} link set eth0 up",
                11 + i
            ));
        }
        net
    }

    /// Cut server `i` (1-based) off from etcd: a silent drop of everything
    /// it sends to the core.
    fn cut(&self, i: usize) {
        let s = &self.servers[i - 1];
        sh(&format!(
            "ip netns exec {s} nft add table inet cut && \
             ip netns exec {s} nft 'add chain inet cut out {{ type filter hook output priority 0; }}' && \
             ip netns exec {s} nft add rule inet cut out ip daddr {CORE_ADDR} drop"
        ));
    }

    fn heal(&self, i: usize) {
        sh(&format!(
            "ip netns exec {} nft delete table inet cut",
            self.servers[i - 1]
        ));
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        for s in self.servers.iter().chain([&self.core]) {
            let _ = Command::new("ip").args(["netns", "del", s]).status();
        }
    }
}

struct Server {
    agent: Option<Child>,
    holders: Vec<libc::pid_t>,
    dir: PathBuf,
    log: PathBuf,
}

/// Whatever happens (a failed assertion too), no holder or agent outlives
/// the test.
impl Drop for Server {
    fn drop(&mut self) {
        for pid in self.holders.drain(..) {
            kill_wait(pid);
        }
        if let Some(mut a) = self.agent.take() {
            let _ = a.kill();
            let _ = a.wait();
        }
    }
}

/// Server `i`'s table directory. Called in the test's own process only
/// (a forked holder is given it: its own PID differs).
fn table_dir(i: usize) -> PathBuf {
    PathBuf::from(format!(
        "/tmp/rasstatic-partition-{}-s{i}",
        std::process::id()
    ))
}

fn start_agent(net: &Net, e: &Etcd, i: usize, log: &Path) -> Child {
    let out = File::options().create(true).append(true).open(log).unwrap();
    Command::new("ip")
        .args(["netns", "exec", &net.servers[i - 1]])
        .arg(env!("CARGO_BIN_EXE_rasstatic-agent"))
        .args(["--endpoints", &e.endpoints().join(",")])
        .args(["--server-id", &format!("bras-{i}")])
        .args(["--pool", POOL, "--block", "8"])
        .arg("--dir")
        .arg(table_dir(i))
        .args(["--ttl", "3", "--grace", "3", "--claim-margin-ms", "1000"])
        .args(["--hang-margin-ms", "2000", "--renew-ms", "500"])
        .stdin(Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .spawn()
        .unwrap()
}

fn wait_log(log: &Path, what: &str, limit: Duration) {
    let t0 = Instant::now();
    loop {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        if text.contains(what) {
            return;
        }
        assert!(
            t0.elapsed() < limit,
            "{} never said {what:?}:\n{text}",
            log.display()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

struct Rng(u64);
impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// A session of server `srv`, forever: claim, mark the oracle, hold it
/// (hanging up early at the hang deadline), clear the oracle, release;
/// pause; again. Runs in a forked child.
fn holder(srv: usize, long: bool, dir: &Path, seed: u64, s: &Shared) -> ! {
    let pool = Pool::parse(POOL, "").unwrap();
    let (t, _) = Table::open(dir, "default", &pool, POOL).unwrap();
    let me = Owner::current().unwrap();
    let mut rng = Rng(seed | 1);
    let mark = srv as u32;
    loop {
        if s.stop[srv].load(Ordering::SeqCst) != 0 {
            // SAFETY: ending a forked child without the parent's atexit
            // handlers or test harness.
            unsafe { libc::_exit(0) };
        }
        let got = t
            .claim(
                me,
                ClaimOpts::default(),
                Policy::RoundRobin,
                &SessionInfo::default(),
            )
            .ok()
            .flatten();
        let Some(c) = got else {
            std::thread::sleep(Duration::from_millis(20));
            continue;
        };
        s.claims[srv].fetch_add(1, Ordering::Relaxed);
        let slot = c.slot as usize;
        if let Err(theirs) =
            s.oracle[slot].compare_exchange(0, mark, Ordering::SeqCst, Ordering::SeqCst)
        {
            s.violations.fetch_add(1, Ordering::SeqCst);
            let _ = s.first.compare_exchange(
                0,
                (slot as u64) << 16 | u64::from(mark) << 8 | u64::from(theirs),
                Ordering::SeqCst,
                Ordering::SeqCst,
            );
        }
        // Holder 0 of each server holds its session until it must hang up
        // (or the test ends), so that a session is up whenever a server is
        // cut off; the others 50 to 300 ms.
        let ticks = if long { u64::MAX } else { 5 + rng.below(26) };
        for _ in 0..ticks {
            if s.stop[srv].load(Ordering::SeqCst) != 0 {
                break;
            }
            let (_, hang, _) = t.deadlines();
            if hang != 0 && boot_ns() >= hang {
                s.hangups[srv].fetch_add(1, Ordering::Relaxed);
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = s.oracle[slot].compare_exchange(mark, 0, Ordering::SeqCst, Ordering::SeqCst);
        t.release(c.slot, me, EndedBy::IpDown);
        std::thread::sleep(Duration::from_millis(rng.below(30)));
    }
}

fn fork_holder(srv: usize, long: bool, dir: &Path, seed: u64, s: &'static Shared) -> libc::pid_t {
    // SAFETY: this test binary runs this one test; the child only touches
    // its own table, the shared mapping and the clock, then _exits.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        holder(srv, long, dir, seed, s);
    }
    pid
}

fn kill_wait(pid: libc::pid_t) {
    // SAFETY: kill and waitpid on our own unreaped child.
    unsafe {
        libc::kill(pid, libc::SIGKILL);
        libc::waitpid(pid, std::ptr::null_mut(), 0);
    }
}

/// The block records: index → value.
fn blocks(e: &Etcd) -> Vec<(String, String)> {
    e.get_prefix("/rasstatic/v1/pools/default/blocks/")
}

#[test]
fn three_servers_partitions_and_a_dead_server_never_share_an_address() {
    let s: &'static Shared = shared();
    let net = Net::new();
    let e = Etcd::start_in(Some(&net.core), CORE_ADDR);
    let mut servers: Vec<Server> = (1..=SERVERS)
        .map(|i| {
            let dir = table_dir(i);
            let _ = std::fs::remove_dir_all(&dir);
            let log = PathBuf::from(format!("{}.agent.log", dir.display()));
            let _ = std::fs::remove_file(&log);
            let agent = start_agent(&net, &e, i, &log);
            wait_log(&log, "joined pool", Duration::from_secs(20));
            Server {
                agent: Some(agent),
                holders: Vec::new(),
                dir,
                log,
            }
        })
        .collect();
    for (i, srv) in servers.iter_mut().enumerate() {
        for h in 0..HOLDERS {
            let dir = srv.dir.clone();
            srv.holders.push(fork_holder(
                i + 1,
                h == 0,
                &dir,
                (i * 100 + h) as u64 + 7,
                s,
            ));
        }
    }
    let pause = |d: u64| std::thread::sleep(Duration::from_millis(d));
    let ok = |what: &str| {
        let v = s.violations.load(Ordering::SeqCst);
        let f = s.first.load(Ordering::SeqCst);
        assert_eq!(
            v,
            0,
            "{what}: {v} duplicates; first: slot {} by server {} while server {} held it",
            f >> 16,
            (f >> 8) & 0xff,
            f & 0xff
        );
    };
    // 1. Churn.
    pause(4000);
    ok("churn");
    for i in 1..=SERVERS {
        assert!(
            s.claims[i].load(Ordering::Relaxed) > 0,
            "server {i} claimed nothing"
        );
    }
    // 2. Server 1 cut off for longer than ttl + grace: its claims stop, its
    // sessions hang up at its hang deadline, then the others free its
    // blocks and use them.
    let before = blocks(&e);
    let held_by_1 = before
        .iter()
        .filter(|(_, v)| v.starts_with("held bras-1 "))
        .count();
    assert!(held_by_1 > 0, "bras-1 held no block: {before:?}");
    net.cut(1);
    let t_cut = Instant::now();
    pause(9000);
    ok("partition of bras-1");
    assert!(
        s.hangups[1].load(Ordering::Relaxed) > 0,
        "bras-1's sessions never hung up"
    );
    let during = blocks(&e);
    assert!(
        !during.iter().any(|(_, v)| v.starts_with("held bras-1 ")),
        "bras-1's blocks not freed {:?} after the cut: {during:?}",
        t_cut.elapsed()
    );
    let freed = [&servers[1].log, &servers[2].log]
        .iter()
        .map(|l| {
            std::fs::read_to_string(l)
                .unwrap()
                .matches("freed block")
                .count()
        })
        .sum::<usize>();
    assert!(
        freed >= held_by_1,
        "{freed} blocks freed, bras-1 held {held_by_1}"
    );
    // 3. Healed: bras-1 registers again and serves again.
    net.heal(1);
    wait_log(&servers[0].log, "registered again", Duration::from_secs(20));
    let c1 = s.claims[1].load(Ordering::Relaxed);
    pause(3000);
    ok("bras-1 back");
    assert!(
        s.claims[1].load(Ordering::Relaxed) > c1,
        "bras-1 claims nothing after healing"
    );
    // 4. Server 3 cut off for less than its claim margin allows: nothing
    // is taken over, no session drops.
    let h3 = s.hangups[3].load(Ordering::Relaxed);
    let held_by_3: Vec<String> = blocks(&e)
        .into_iter()
        .filter(|(_, v)| v.starts_with("held bras-3 "))
        .map(|(k, _)| k)
        .collect();
    net.cut(3);
    pause(1500);
    net.heal(3);
    pause(2000);
    ok("short partition of bras-3");
    assert_eq!(
        s.hangups[3].load(Ordering::Relaxed),
        h3,
        "bras-3's sessions dropped"
    );
    let now3: Vec<(String, String)> = blocks(&e);
    for k in &held_by_3 {
        let v = &now3.iter().find(|(kk, _)| kk == k).unwrap().1;
        assert!(v.starts_with("held bras-3 "), "{k} left bras-3: {v}");
    }
    // 5. Server 2 dies whole (agent and sessions, SIGKILL): its sessions
    // end with it; its blocks come back to the others after ttl + grace.
    let hang2 = {
        let pool = Pool::parse(POOL, "").unwrap();
        let (t, _) = Table::open(&servers[1].dir, "default", &pool, POOL).unwrap();
        t.deadlines().1
    };
    let srv2 = &mut servers[1];
    let mut agent = srv2.agent.take().unwrap();
    let _ = agent.kill();
    let _ = agent.wait();
    for pid in srv2.holders.drain(..) {
        kill_wait(pid);
    }
    for slot in &s.oracle {
        let _ = slot.compare_exchange(2, 0, Ordering::SeqCst, Ordering::SeqCst);
    }
    let t_kill = Instant::now();
    let mut back = None;
    while t_kill.elapsed() < Duration::from_secs(20) {
        if !blocks(&e)
            .iter()
            .any(|(_, v)| v.starts_with("held bras-2 "))
        {
            back = Some(t_kill.elapsed());
            // Not before bras-2's sessions had to be down (its hang
            // deadline, from its last verified renewal).
            assert!(
                boot_ns() >= hang2,
                "bras-2's blocks moved before its hang deadline"
            );
            break;
        }
        pause(200);
    }
    let back = back.expect("bras-2's blocks never came back");
    pause(2000);
    ok("bras-2 dead");
    // The end: stop the sessions; every record is free or held by a live
    // server, and no address was ever held twice.
    for i in [1, 3] {
        s.stop[i].store(1, Ordering::SeqCst);
    }
    for srv in servers.iter_mut() {
        for pid in srv.holders.drain(..) {
            // SAFETY: waitpid on our own child.
            unsafe { libc::waitpid(pid, std::ptr::null_mut(), 0) };
        }
    }
    // Every address claimable exactly once: callers at both live servers
    // until both refuse and etcd has no free block. Each address goes out
    // once, from a block etcd records for the server that handed it out,
    // and every address of the pool goes out.
    let callers: Vec<Child> = (0..80)
        .map(|_| Command::new("sleep").arg("600").spawn().unwrap())
        .collect();
    let mut next = 0;
    let mut got: Vec<(usize, u32, String)> = Vec::new();
    let tables: Vec<(usize, Table)> = [1, 3]
        .iter()
        .map(|&i| {
            (
                i,
                Table::open_existing(&servers[i - 1].dir, "default").unwrap(),
            )
        })
        .collect();
    let t0 = Instant::now();
    let last_round;
    loop {
        let mut any = false;
        for (i, t) in &tables {
            let who = Owner::of_pid(callers[next].id()).unwrap().unwrap();
            if let Some(c) = support::claim(t, who) {
                got.push((*i, c.slot, t.addr(c.slot).to_string()));
                next += 1;
                any = true;
            }
        }
        // Free: recorded free, or never written (no key).
        let records = blocks(&e);
        let held = records
            .iter()
            .filter(|(_, v)| v.starts_with("held "))
            .count();
        let free = 8 - held;
        // A block etcd records for a server that its table still has
        // sealed: the agent took it and unseals it right after.
        let unsealing = records.iter().any(|(k, v)| {
            let b: u32 = k.rsplit('/').next().unwrap().parse().unwrap();
            tables.iter().any(|(i, t)| {
                v.starts_with(&format!("held bras-{i} "))
                    && t.block_state(b * 8, (t.size() - b * 8).min(8)).0 > 0
            })
        });
        // A table fenced for a moment (its agent holds the deadlines back
        // while a stray lease lives, e.g. a killed holder's until it is
        // reaped) refuses claims until its next renewal.
        let fenced: Vec<bool> = tables.iter().map(|(_, t)| t.is_fenced()).collect();
        if !any && free == 0 && !unsealing && !fenced.contains(&true) {
            last_round = format!(
                "the last round: {free} free blocks, none being unsealed, fenced {fenced:?}"
            );
            break;
        }
        if !any {
            // The agents take the free blocks at their next step.
            std::thread::sleep(Duration::from_millis(200));
        }
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "never drained: {got:?}"
        );
    }
    let records = blocks(&e);
    let mut seen = std::collections::HashSet::new();
    for (srv, slot, addr) in &got {
        assert!(seen.insert(addr.clone()), "{addr} went out twice");
        let key = format!("/blocks/{:06}", slot / 8);
        let rec = &records.iter().find(|(k, _)| k.ends_with(&key)).unwrap().1;
        assert!(
            rec.starts_with(&format!("held bras-{srv} ")),
            "{addr} from bras-{srv}, in block {} recorded as {rec}",
            slot / 8
        );
    }
    let state: Vec<String> = tables
        .iter()
        .map(|(i, t)| {
            let per: Vec<String> = (0..8)
                .map(|b| {
                    let n = (t.size() - b * 8).min(8);
                    let (sealed, leased) = t.block_state(b * 8, n);
                    format!("{b}:{sealed}s/{leased}l")
                })
                .collect();
            format!("bras-{i} {:?} fenced {}", per, t.is_fenced())
        })
        .collect();
    assert_eq!(
        seen.len() as u32,
        Pool::parse(POOL, "").unwrap().size(),
        "not every address of the pool went out: {records:?} {state:?}; {last_round}"
    );
    for mut c in callers {
        let _ = c.kill();
        let _ = c.wait();
    }
    for srv in servers.iter_mut() {
        if let Some(mut a) = srv.agent.take() {
            let _ = a.kill();
            let _ = a.wait();
        }
    }
    ok("end");
    for (k, v) in blocks(&e) {
        assert!(
            v.starts_with("free ")
                || v.starts_with("held bras-1 ")
                || v.starts_with("held bras-3 "),
            "{k} = {v}"
        );
    }
    eprintln!(
        "claims: bras-1 {}, bras-2 {}, bras-3 {}; hang-ups: bras-1 {}, bras-3 {}; bras-2's blocks back {:?} after its death",
        s.claims[1].load(Ordering::Relaxed),
        s.claims[2].load(Ordering::Relaxed),
        s.claims[3].load(Ordering::Relaxed),
        s.hangups[1].load(Ordering::Relaxed),
        s.hangups[3].load(Ordering::Relaxed),
        back
    );
    for srv in &servers {
        let _ = std::fs::remove_dir_all(&srv.dir);
        let _ = std::fs::remove_file(&srv.log);
    }
}
