//! The cluster mode's figures (run by `sh bench/cluster/run.sh`, which
//! writes them to bench/results/): three servers, each with its own real
//! table and agent, against a real 3-member etcd on loopback (Debian's
//! etcd-server, the tests' harness). Callers are live processes (`sleep`),
//! so that a claim's liveness checks see real holders.
//!
//! 1. Churn: 1,000 calls arrive at the three servers unevenly (60/30/10 %,
//!    the busiest server changing every 250 calls), each held 0.5 to 5 s;
//!    the agents step every 200 ms. Counted: etcd
//!    writes (the cluster's revision counter), refusals, and refusals while
//!    another server had a claimable address or etcd a free block.
//! 2. Exhaustion: calls keep arriving and none ends, until every server
//!    refuses and no block is free: the addresses stranded then (claimable
//!    at one server while another refuses).
//! 3. Block fetch: each agent step that took a block, timed; and from a
//!    server's first refusal for want of addresses to its next claim.
//! 4. A whole server dies (agent and calls): with the production timing
//!    (TTL 15 s, grace 60 s), the time from its last verified renewal to
//!    its blocks being free again.

#[path = "../tests/etcd/mod.rs"]
mod etcd;

use std::collections::HashSet;
use std::path::PathBuf;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use etcd::Etcd;
use etcd_client::{Client, ConnectOptions};
use rasstatic::owner::Owner;
use rasstatic::pool::Pool;
use rasstatic::protocol::{ClaimOpts, EndedBy};
use rasstatic::table::{boot_ns, Policy, SessionInfo, Table};
use rasstatic_cluster::agent::Agent;
use rasstatic_cluster::deadline::Timing;
use rasstatic_cluster::ledger::{Ledger, Record};
use rasstatic_cluster::spec::Spec;

const POOL: &str = "10.40.0.0-10.40.0.255";
const BLOCK: u32 = 16;
const IDS: usize = 256;

/// The bench's timing for churn: renewals every 200 ms.
const FAST: Timing = Timing {
    ttl: Duration::from_secs(5),
    grace: Duration::from_secs(5),
    claim_margin: Duration::from_secs(2),
    hang_margin: Duration::from_secs(3),
    renew_every: Duration::from_millis(200),
};

/// A small deterministic generator (xorshift).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

struct Ids(Vec<Child>, Vec<Owner>);
impl Ids {
    fn new(n: usize) -> Ids {
        let kids: Vec<Child> = (0..n)
            .map(|_| Command::new("sleep").arg("3600").spawn().unwrap())
            .collect();
        let owners = kids
            .iter()
            .map(|c| Owner::of_pid(c.id()).unwrap().unwrap())
            .collect();
        Ids(kids, owners)
    }
}
impl Drop for Ids {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

struct Server {
    agent: Agent,
    dir: PathBuf,
    /// Calls up: (identity index, slot, ends at).
    calls: Vec<(usize, u32, Instant)>,
    busy: HashSet<usize>,
    refused: u64,
    refused_with_room_elsewhere: u64,
    /// Since when this server has refused for want of addresses.
    dry_since: Option<Instant>,
    dry_to_claim: Vec<Duration>,
}

async fn connect(e: &Etcd) -> Client {
    let opts = ConnectOptions::new()
        .with_timeout(Duration::from_secs(2))
        .with_require_leader(true);
    Client::connect(e.endpoints(), Some(opts)).await.unwrap()
}

async fn server(e: &Etcd, pool_name: &str, sid: &str, timing: Timing) -> Server {
    let dir = PathBuf::from(format!(
        "/dev/shm/rasstatic-cluster-bench-{}-{pool_name}-{sid}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let pool = Pool::parse(POOL, "").unwrap();
    let (t, _) = Table::open(&dir, "default", &pool, POOL).unwrap();
    t.enter_cluster_mode();
    let spec = Spec::new(pool_name, t.pool(), BLOCK, timing.grace.as_secs()).unwrap();
    let ledger = Ledger::new(connect(e).await, spec, sid).unwrap();
    let mut agent = Agent::start(ledger, t, timing, sid).await.unwrap();
    // Steady state: blocks may go back at once (a real agent waits a
    // minute after joining or following a new table, see SETTLE).
    agent.settle = Duration::ZERO;
    Server {
        agent,
        dir,
        calls: Vec::new(),
        busy: HashSet::new(),
        refused: 0,
        refused_with_room_elsewhere: 0,
        dry_since: None,
        dry_to_claim: Vec::new(),
    }
}

async fn revision(c: &mut Client) -> i64 {
    c.get("rasstatic-bench-probe", None)
        .await
        .unwrap()
        .header()
        .unwrap()
        .revision()
}

async fn free_blocks(c: &mut Client, pool_name: &str) -> usize {
    // The ledger's keys: see cluster/src/ledger.rs (free or never written).
    let spec = Spec::new(
        pool_name,
        &Pool::parse(POOL, "").unwrap(),
        BLOCK,
        FAST.grace.as_secs(),
    )
    .unwrap();
    let mut l = Ledger::new(c.clone(), spec, "bench-reader").unwrap();
    l.blocks()
        .await
        .unwrap()
        .iter()
        .filter(|b| matches!(b.record, Record::Absent | Record::Free { .. }))
        .count()
}

/// Try a call at server `i`: true if it got an address.
fn call(servers: &mut [Server], i: usize, ids: &Ids, rng: &mut Rng, hold: bool) -> bool {
    let Some(id) = (0..IDS)
        .map(|k| (k + rng.next() as usize) % IDS)
        .find(|k| !servers[i].busy.contains(k))
    else {
        return false;
    };
    let t = servers[i].agent.table();
    let got = t
        .claim(
            ids.1[id],
            ClaimOpts::default(),
            Policy::RoundRobin,
            &SessionInfo::default(),
        )
        .unwrap();
    let s = &mut servers[i];
    match got {
        Some(c) => {
            let ends = if hold {
                Instant::now() + Duration::from_secs(3600)
            } else {
                Instant::now() + Duration::from_millis(500 + rng.next() % 4500)
            };
            s.calls.push((id, c.slot, ends));
            s.busy.insert(id);
            if let Some(d) = s.dry_since.take() {
                s.dry_to_claim.push(d.elapsed());
            }
            true
        }
        None => {
            s.refused += 1;
            s.dry_since.get_or_insert_with(Instant::now);
            false
        }
    }
}

fn hang_ups(s: &mut Server, ids: &Ids) {
    let now = Instant::now();
    let t = s.agent.table();
    s.calls.retain(|&(id, slot, ends)| {
        if ends > now {
            return true;
        }
        assert!(t.release(slot, ids.1[id], EndedBy::IpDown));
        s.busy.remove(&id);
        false
    });
}

/// The `p` quantile in milliseconds, as printed ("-" with no sample).
fn pct(v: &mut [Duration], p: f64) -> String {
    v.sort();
    if v.is_empty() {
        return "-".into();
    }
    format!(
        "{:.1}",
        v[((v.len() - 1) as f64 * p) as usize].as_secs_f64() * 1e3
    )
}

fn main() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let e = Etcd::start();
    let ids = Ids::new(IDS);
    let mut out = String::new();
    rt.block_on(async {
        let mut probe = connect(&e).await;
        let names = ["bras-a", "bras-b", "bras-c"];
        let mut servers = Vec::new();
        for n in names {
            servers.push(server(&e, "churn", n, FAST).await);
        }
        let mut rng = Rng(0x5eed_1234_abcd_ef01);
        let mut fetches: Vec<Duration> = Vec::new();
        // The busiest server changes every 250 calls, as load moves
        // between concentrators: blocks must move with it.
        let pick = |rng: &mut Rng, calls: usize| {
            let u = rng.unit();
            let first = (calls / 250) % 3;
            let k = if u < 0.6 {
                0
            } else if u < 0.9 {
                1
            } else {
                2
            };
            (first + k) % 3
        };
        // 1. Churn.
        let rev0 = revision(&mut probe).await;
        let (mut calls, mut up) = (0, 0);
        let mut next_step = Instant::now();
        let start = Instant::now();
        while calls < 1000 {
            // About 40 calls a second.
            for _ in 0..(rng.next() % 3) {
                if calls == 1000 {
                    break;
                }
                let i = pick(&mut rng, calls);
                calls += 1;
                if call(&mut servers, i, &ids, &mut rng, false) {
                    up += 1;
                } else {
                    let room = (0..3)
                        .filter(|&j| j != i)
                        .any(|j| servers[j].agent.claimable() > 0)
                        || free_blocks(&mut probe, "churn").await > 0;
                    if room {
                        servers[i].refused_with_room_elsewhere += 1;
                    }
                }
            }
            for s in servers.iter_mut() {
                hang_ups(s, &ids);
            }
            if Instant::now() >= next_step {
                for s in servers.iter_mut() {
                    let t0 = Instant::now();
                    let st = s.agent.step().await.unwrap();
                    if !st.acquired.is_empty() {
                        fetches.push(t0.elapsed());
                    }
                }
                next_step += FAST.renew_every;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        let churn_secs = start.elapsed().as_secs_f64();
        let rev1 = revision(&mut probe).await;
        let refused: u64 = servers.iter().map(|s| s.refused).sum();
        let refused_room: u64 = servers.iter().map(|s| s.refused_with_room_elsewhere).sum();
        out += &format!(
            "## Churn: 1,000 calls over three servers (60/30/10 %, the busiest changing every 250 calls), held 0.5-5 s, about 40 a second\n\n\
             | calls | up | refused | refused while another server had a claimable address or etcd a free block | etcd writes | etcd writes per 1,000 calls | time |\n\
             | --- | --- | --- | --- | --- | --- | --- |\n\
             | {calls} | {up} | {refused} | {refused_room} | {} | {:.0} | {churn_secs:.1} s |\n\n",
            rev1 - rev0,
            (rev1 - rev0) as f64 * 1000.0 / calls as f64
        );
        // 2. Exhaustion: no call ends from here on.
        let mut stranded_at_first: Option<(usize, u32)> = None;
        let t_ex = Instant::now();
        loop {
            let mut all_refuse = true;
            for i in 0..3 {
                if call(&mut servers, i, &ids, &mut rng, true) {
                    all_refuse = false;
                } else if free_blocks(&mut probe, "churn").await == 0 {
                    let elsewhere: u32 = (0..3)
                        .filter(|&j| j != i)
                        .map(|j| servers[j].agent.claimable())
                        .sum();
                    stranded_at_first.get_or_insert((i, elsewhere));
                } else {
                    all_refuse = false;
                }
            }
            for s in servers.iter_mut() {
                let t0 = Instant::now();
                let st = s.agent.step().await.unwrap();
                if !st.acquired.is_empty() {
                    fetches.push(t0.elapsed());
                }
            }
            if all_refuse && free_blocks(&mut probe, "churn").await == 0 {
                break;
            }
            assert!(t_ex.elapsed() < Duration::from_secs(120), "no exhaustion");
        }
        let leased: u32 = servers
            .iter()
            .map(|s| s.agent.table().live_leases())
            .sum();
        let claimable: Vec<u32> = servers.iter().map(|s| s.agent.claimable()).collect();
        let held: Vec<usize> = servers.iter().map(|s| s.agent.held().len()).collect();
        let (first, elsewhere) = stranded_at_first.unwrap();
        out += &format!(
            "## Exhaustion: calls keep arriving, none ends\n\n\
             | pool | leased when every server refuses | blocks held (a/b/c) | claimable then (a/b/c) | at the first refusal with no free block: claimable at the other servers |\n\
             | --- | --- | --- | --- | --- |\n\
             | 256 ({} blocks of {BLOCK}) | {leased} | {}/{}/{} | {}/{}/{} | {elsewhere} (server {} refused) |\n\n",
            256 / BLOCK,
            held[0],
            held[1],
            held[2],
            claimable[0],
            claimable[1],
            claimable[2],
            names[first]
        );
        let mut dry: Vec<Duration> = servers.iter().flat_map(|s| s.dry_to_claim.clone()).collect();
        out += &format!(
            "## Block fetch\n\n\
             | agent steps that took a block | step median | step p99 | refusals for want of addresses, then a claim | first refusal to next claim, median | p99 |\n\
             | --- | --- | --- | --- | --- | --- |\n\
             | {} | {} ms | {} ms | {} | {} ms | {} ms |\n\n\
             A step renews (a keepalive and a verify transaction), reads the blocks held, and takes a block (a read and a transaction); \
             the agents here step every {} ms, so a dry server waits up to that long plus the step.\n\n",
            fetches.len(),
            pct(&mut fetches, 0.5),
            pct(&mut fetches, 0.99),
            dry.len(),
            pct(&mut dry, 0.5),
            pct(&mut dry, 0.99),
            FAST.renew_every.as_millis()
        );
        for s in &servers {
            let _ = std::fs::remove_dir_all(&s.dir);
        }
        drop(servers);
        // 4. A whole server dies, production timing.
        let prod = Timing::DEFAULT;
        let mut a = server(&e, "reclaim", "bras-a", prod).await;
        let mut b = server(&e, "reclaim", "bras-b", prod).await;
        let mut c = server(&e, "reclaim", "bras-c", prod).await;
        for s in [&mut a, &mut b, &mut c] {
            s.agent.step().await.unwrap();
        }
        let c_blocks = c.agent.held();
        assert!(!c_blocks.is_empty());
        c.agent.step().await.unwrap();
        let last = c.agent.renewed_ns();
        let c_dir = c.dir.clone();
        drop(c); // the whole server: no renewal, no release, ever again
        let t0 = Instant::now();
        let mut back_ns = None;
        let mut freed: Vec<u32> = Vec::new();
        while t0.elapsed() < Duration::from_secs(150) && freed.len() < c_blocks.len() {
            tokio::time::sleep(prod.renew_every).await;
            for s in [&mut a, &mut b] {
                let st = s.agent.step().await.unwrap();
                freed.extend(st.reclaimed.iter().filter(|x| c_blocks.contains(x)));
            }
            if freed.len() >= c_blocks.len() {
                back_ns = Some(boot_ns());
            }
        }
        let back = back_ns.expect("the dead server's blocks never came back");
        let secs = (back - last) as f64 / 1e9;
        out += &format!(
            "## A whole server dies (production timing: TTL {} s, grace {} s, renewals every {} s)\n\n\
             | blocks it held | from its last verified renewal to all of them free | lower bound (TTL + grace) | FreeRADIUS sqlippool (`lease_duration` default) |\n\
             | --- | --- | --- | --- |\n\
             | {} | {secs:.1} s | {} s | 3,600 s |\n\n",
            prod.ttl.as_secs(),
            prod.grace.as_secs(),
            prod.renew_every.as_secs(),
            c_blocks.len(),
            (prod.ttl + prod.grace).as_secs()
        );
        for s in [&a, &b] {
            let _ = std::fs::remove_dir_all(&s.dir);
        }
        let _ = std::fs::remove_dir_all(c_dir);
    });
    print!("{out}");
}
