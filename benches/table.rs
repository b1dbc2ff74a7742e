//! Lease-table benchmark: `cargo bench --bench table`.
//!
//! On a 65,536-address pool in a table on tmpfs (/dev/shm):
//! - one process, a claim-and-release pair (the plugin's path: Table::claim
//!   with its record and counters, then Table::release), with the pool 0%,
//!   50% and 99% full (held by other, live-looking identities);
//! - aggregate pairs per second with 2, 8 and 64 processes;
//! - the time to reap 65,536 dead leases;
//! - the table's size per address;
//! - the floor: a bare compare-and-swap pair on shared memory;
//! - the cost of a refusal (`Table::claim` on a full pool) at 1,024,
//!   16,384 and 65,536 addresses, every one held by a live process, with
//!   no watchdog and with one reporting in;
//! - the CPU an idle watchdog (the built `rasstatic watchdog`) uses on a
//!   1,048,576-address table with no leases.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rasstatic::owner::Owner;
use rasstatic::pool::Pool;
use rasstatic::protocol::{ClaimOpts, EndedBy, Liveness};
use rasstatic::table::{Policy, SessionInfo, Table};

const POOL: &str = "10.0.0.0-10.0.255.255";

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

struct AllAlive;
impl Liveness for AllAlive {
    fn is_alive(&self, _: Owner) -> bool {
        true
    }
}

fn fresh_table(tag: &str) -> (Table, Pool) {
    fresh_table_of(tag, POOL)
}

fn bench_dir(tag: &str) -> std::path::PathBuf {
    std::path::PathBuf::from(format!(
        "/dev/shm/rasstatic-bench-{}-{tag}",
        std::process::id()
    ))
}

fn fresh_table_of(tag: &str, spec: &str) -> (Table, Pool) {
    let dir = bench_dir(tag);
    let _ = std::fs::remove_dir_all(&dir);
    let pool = Pool::parse(spec, "").unwrap();
    let (t, _) = Table::open(&dir, "bench", &pool, spec).unwrap();
    (t, pool)
}

/// Forked processes that sleep until killed: live lease holders.
struct Sleepers(Vec<libc::pid_t>);

impl Sleepers {
    fn new(n: usize) -> Sleepers {
        Sleepers(
            (0..n)
                .map(|_| {
                    // SAFETY: the child only sleeps until killed.
                    let pid = unsafe { libc::fork() };
                    if pid == 0 {
                        loop {
                            // SAFETY: pause has no preconditions.
                            unsafe { libc::pause() };
                        }
                    }
                    pid
                })
                .collect(),
        )
    }
}

impl Drop for Sleepers {
    fn drop(&mut self) {
        for &pid in &self.0 {
            // SAFETY: killing and reaping our own children.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
                libc::waitpid(pid, std::ptr::null_mut(), 0);
            }
        }
    }
}

/// Median and worst of `Table::claim` refusals on a pool of `spec`, every
/// address held by one of 64 live processes. `beat`: a watchdog reports
/// in (its heartbeat is kept fresh) or not.
fn refusal(spec: &str, beat: bool) -> (Duration, Duration, u32) {
    let (t, _) = fresh_table_of("refusal", spec);
    let holders = Sleepers::new(64);
    let ids: Vec<Owner> = holders
        .0
        .iter()
        .map(|&p| Owner::of_pid(p as u32).unwrap().unwrap())
        .collect();
    for slot in 0..t.size() {
        let o = ids[slot as usize % ids.len()];
        let c = t.slots().claim(
            o,
            ClaimOpts {
                prefer: Some(slot),
                avoid: None,
            },
            &AllAlive,
            0,
        );
        assert_eq!(c.claimed.unwrap().slot, slot);
    }
    let me = Owner::current().unwrap();
    let info = SessionInfo::default();
    let mut d = vec![];
    for _ in 0..11 {
        set_beat(&t, beat);
        let s = Instant::now();
        let r = t
            .claim(me, ClaimOpts::default(), Policy::RoundRobin, &info)
            .unwrap();
        d.push(s.elapsed());
        assert!(r.is_none(), "a full pool handed out an address");
    }
    d.sort();
    (d[d.len() / 2], d[d.len() - 1], t.size())
}

fn set_beat(t: &Table, on: bool) {
    t.watchdog_beat(if on { rasstatic::table::boot_ms() } else { 0 });
}

/// CPU ticks (user + system) of process `pid`.
fn cpu_ticks(pid: u32) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let rest = &s[s.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // Fields 14 and 15 (utime, stime) are the 12th and 13th after the state.
    f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap()
}

/// An idle watchdog on a table of `spec` with no leases: CPU ticks over
/// `secs` seconds (after 2 s of start-up), and its resident set.
fn idle_watchdog(spec: &str, secs: u64) -> (u64, u64, String) {
    let (t, _) = fresh_table_of("idle", spec);
    let dir = bench_dir("idle");
    let size = t.size();
    drop(t);
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_rasstatic"))
        .args(["watchdog", "--name", "bench", "--dir"])
        .arg(&dir)
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(2));
    let a = cpu_ticks(child.id());
    std::thread::sleep(Duration::from_secs(secs));
    let b = cpu_ticks(child.id());
    let rss = std::fs::read_to_string(format!("/proc/{}/status", child.id()))
        .unwrap()
        .lines()
        .find(|l| l.starts_with("VmRSS"))
        .unwrap_or("")
        .to_string();
    let _ = child.kill();
    let _ = child.wait();
    (b - a, u64::from(size), rss)
}

fn cleanup() {
    for e in std::fs::read_dir("/dev/shm").unwrap().flatten() {
        if e.file_name()
            .to_string_lossy()
            .starts_with(&format!("rasstatic-bench-{}", std::process::id()))
        {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

/// Fill `fraction` of the slots, chosen at random, with other identities
/// (PID 1 and made-up start times: alive as far as a claim cares).
fn prefill(t: &Table, fraction: f64) {
    let n = t.size() as usize;
    let want = (n as f64 * fraction) as usize;
    let mut idx: Vec<u32> = (0..n as u32).collect();
    let mut r = Rng(0x2545_f491_4f6c_dd1d);
    for i in (1..n).rev() {
        idx.swap(i, (r.next() % (i as u64 + 1)) as usize);
    }
    for (k, &slot) in idx[..want].iter().enumerate() {
        let o = Owner::new(1, 1_000_000 + k as u64);
        let c = t
            .slots()
            .claim(
                o,
                ClaimOpts {
                    prefer: Some(slot),
                    avoid: None,
                },
                &AllAlive,
                0,
            )
            .claimed
            .unwrap();
        assert_eq!(c.slot, slot);
    }
    // Start the round-robin cursor somewhere arbitrary.
    t.live()
        .cursor
        .store(r.next() % n as u64, Ordering::Relaxed);
}

fn percentile(sorted: &[u64], p: f64) -> u64 {
    sorted[((sorted.len() - 1) as f64 * p) as usize]
}

fn pair_latency(fraction: f64) -> (u64, u64, u64) {
    pair_latency_in(fraction, false)
}

/// As [`pair_latency`]; `cluster`: the table in cluster mode, as an agent
/// leaves it with every block held (deadlines far ahead, nothing sealed),
/// so each claim also reads the claim deadline and the clock.
fn pair_latency_in(fraction: f64, cluster: bool) -> (u64, u64, u64) {
    let (t, _) = fresh_table(&format!(
        "lat{}{}",
        (fraction * 100.0) as u32,
        if cluster { "c" } else { "" }
    ));
    if cluster {
        t.enter_cluster_mode();
        let now = rasstatic::table::boot_ns();
        t.set_deadlines(now + 3_600_000_000_000, now + 7_200_000_000_000);
        t.unseal(0, t.total());
    }
    prefill(&t, fraction);
    let me = Owner::current().unwrap();
    let info = SessionInfo {
        peer: "bench".into(),
        ifname: "ppp0".into(),
        device: "/dev/ttyS0".into(),
        proxyarp: false,
    };
    let iters = 200_000;
    let mut ns = Vec::with_capacity(iters);
    for i in 0..iters + 10_000 {
        let s = Instant::now();
        let c = t
            .claim(me, ClaimOpts::default(), Policy::RoundRobin, &info)
            .unwrap()
            .expect("pool not exhausted");
        assert!(t.release(c.slot, me, EndedBy::Api));
        let d = s.elapsed().as_nanos() as u64;
        if i >= 10_000 {
            ns.push(d);
        }
    }
    ns.sort_unstable();
    // The prefilled holders are made-up identities: dead, if anyone asked.
    // Nobody may: with free addresses left, claims never take the slow
    // path that reaps. Prove it, or the figure would be of another path.
    assert_eq!(
        t.counters().ended_by(EndedBy::ReapClaim),
        0,
        "a claim took the slow path"
    );
    (
        percentile(&ns, 0.5),
        percentile(&ns, 0.99),
        *ns.last().unwrap(),
    )
}

/// `procs` processes doing pairs for `secs`; total pairs per second.
fn aggregate(procs: usize, secs: f64) -> f64 {
    let (t, _) = fresh_table(&format!("agg{procs}"));
    // SAFETY: an anonymous shared mapping of two counters and a start flag.
    let shared: &[AtomicU64; 3] = unsafe {
        let p = libc::mmap(
            std::ptr::null_mut(),
            4096,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED | libc::MAP_ANONYMOUS,
            -1,
            0,
        );
        assert_ne!(p, libc::MAP_FAILED);
        &*(p as *const [AtomicU64; 3])
    };
    let mut pids = vec![];
    for _ in 0..procs {
        // SAFETY: the child only runs the loop below and _exits.
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            let me = Owner::current().unwrap();
            let info = SessionInfo::default();
            while shared[0].load(Ordering::Acquire) == 0 {
                std::hint::spin_loop();
            }
            let mut n = 0u64;
            while shared[0].load(Ordering::Relaxed) == 1 {
                for _ in 0..64 {
                    let c = t
                        .claim(me, ClaimOpts::default(), Policy::RoundRobin, &info)
                        .unwrap()
                        .unwrap();
                    t.release(c.slot, me, EndedBy::Api);
                }
                n += 64;
            }
            shared[1].fetch_add(n, Ordering::SeqCst);
            // SAFETY: leave the forked child without unwinding.
            unsafe { libc::_exit(0) };
        }
        pids.push(pid);
    }
    std::thread::sleep(Duration::from_millis(200));
    let start = Instant::now();
    shared[0].store(1, Ordering::Release);
    std::thread::sleep(Duration::from_secs_f64(secs));
    shared[0].store(2, Ordering::Release);
    let el = start.elapsed().as_secs_f64();
    for pid in pids {
        // SAFETY: waiting for our own child.
        unsafe { libc::waitpid(pid, std::ptr::null_mut(), 0) };
    }
    shared[1].load(Ordering::SeqCst) as f64 / el
}

fn reap_time() -> (Duration, usize) {
    let (t, _) = fresh_table("reap");
    let pid_max: u32 = std::fs::read_to_string("/proc/sys/kernel/pid_max")
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    // 65,536 distinct PIDs near the top of the PID space, none of them
    // running (checked), each holding one lease.
    let mut k = 0u32;
    let mut pid = pid_max - 1;
    while k < t.size() {
        if !std::path::Path::new(&format!("/proc/{pid}")).exists() {
            let o = Owner::new(pid, 42);
            t.slots()
                .claim(
                    o,
                    ClaimOpts {
                        prefer: Some(k),
                        avoid: None,
                    },
                    &AllAlive,
                    0,
                )
                .claimed
                .unwrap();
            k += 1;
        }
        pid -= 1;
    }
    let s = Instant::now();
    let r = t.reap_all(EndedBy::ReapAdmin);
    (s.elapsed(), r.len())
}

fn cas_floor() -> f64 {
    let w = AtomicU64::new(0);
    let iters = 20_000_000u64;
    let s = Instant::now();
    for i in 1..=iters {
        let v = std::hint::black_box(i | 1 << 63);
        let _ = w.compare_exchange(0, v, Ordering::SeqCst, Ordering::SeqCst);
        let _ = w.compare_exchange(v, 0, Ordering::SeqCst, Ordering::SeqCst);
    }
    s.elapsed().as_nanos() as f64 / iters as f64
}

/// `RASSTATIC_BENCH_PAIRS=N`: N untimed claim-and-release pairs on a
/// half-full 65,536-address table, and nothing else: for an instruction
/// count under `valgrind --tool=callgrind` (repeatable whatever else the
/// machine runs), compared against N=0.
fn pairs_only(n: u64) {
    let (t, _) = fresh_table("pairs");
    prefill(&t, 0.5);
    let me = Owner::current().unwrap();
    let info = SessionInfo {
        peer: "bench".into(),
        ifname: "ppp0".into(),
        device: "/dev/ttyS0".into(),
        proxyarp: false,
    };
    for _ in 0..n {
        let c = t
            .claim(me, ClaimOpts::default(), Policy::RoundRobin, &info)
            .unwrap()
            .expect("pool not exhausted");
        assert!(t.release(c.slot, me, EndedBy::Api));
    }
    cleanup();
}

/// What the plugin adds since tables heal: after each claim, the check
/// that the table's name still leads to its file (`still_named`, protocol
/// I6); and every 3 s, the check that the file is still the table and
/// still valid (`replaced`, `verify`). Medians and p99s over 20,000
/// rounds, in ns: (per claim, per tick).
fn plugin_checks() -> ((u64, u64), (u64, u64)) {
    let (t, _) = fresh_table("checks");
    let time = |f: &dyn Fn()| {
        let mut ns = Vec::with_capacity(20_000);
        for i in 0..21_000 {
            let s = Instant::now();
            f();
            if i >= 1_000 {
                ns.push(s.elapsed().as_nanos() as u64);
            }
        }
        ns.sort_unstable();
        (percentile(&ns, 0.5), percentile(&ns, 0.99))
    };
    let claim = time(&|| assert!(t.still_named()));
    let tick = time(&|| {
        assert!(!t.replaced());
        t.verify().unwrap();
    });
    (claim, tick)
}

/// The claim+release pair in single-machine mode and in cluster mode,
/// side by side: five rounds each, alternating, so that drift on the
/// machine hits both alike; the median of the rounds' medians.
fn cluster_pairs() {
    // What cluster mode adds to a claim: one read of CLOCK_BOOTTIME.
    let n = 10_000_000u32;
    let t = Instant::now();
    let mut acc = 0u64;
    for _ in 0..n {
        acc = acc.wrapping_add(rasstatic::table::boot_ns());
    }
    println!(
        "one clock_gettime(CLOCK_BOOTTIME): {:.1} ns ({})\n",
        t.elapsed().as_nanos() as f64 / f64::from(n),
        acc % 10
    );
    println!("| pool full | single-machine pair median | cluster mode pair median | cluster / single | single p99 | cluster p99 |");
    println!("| --- | --- | --- | --- | --- | --- |");
    for f in [0.0, 0.5, 0.99] {
        let (mut s, mut c, mut sp, mut cp) = (vec![], vec![], vec![], vec![]);
        for _ in 0..5 {
            let (m, p, _) = pair_latency_in(f, false);
            s.push(m);
            sp.push(p);
            let (m, p, _) = pair_latency_in(f, true);
            c.push(m);
            cp.push(p);
        }
        for v in [&mut s, &mut c, &mut sp, &mut cp] {
            v.sort_unstable();
        }
        println!(
            "| {:.0}% | {} ns | {} ns | {:.2} | {} ns | {} ns |",
            f * 100.0,
            s[2],
            c[2],
            c[2] as f64 / s[2] as f64,
            sp[2],
            cp[2]
        );
    }
}

fn main() {
    if let Some(n) = std::env::var("RASSTATIC_BENCH_PAIRS")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        pairs_only(n);
        return;
    }
    if std::env::var_os("RASSTATIC_BENCH_CLUSTER").is_some() {
        cluster_pairs();
        cleanup();
        return;
    }
    if std::env::var_os("RASSTATIC_BENCH_CHECKS").is_some() {
        let ((m, p), (tm, tp)) = plugin_checks();
        println!("after each claim (still_named): median {m} ns, p99 {p} ns; each tick (replaced, verify): median {tm} ns, p99 {tp} ns");
        cleanup();
        return;
    }
    // `cargo test --all-targets` runs benches with --bench absent; keep that
    // path cheap but real: one short aggregate run.
    let quick = !std::env::args().any(|a| a == "--bench");
    if quick {
        println!("quick check (run `cargo bench --bench table` for figures): {:.0} pairs/s with 2 processes", aggregate(2, 0.2));
        cleanup();
        return;
    }
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_default();
    // SAFETY: uname fills a struct we own.
    let kernel = unsafe {
        let mut u: libc::utsname = std::mem::zeroed();
        libc::uname(&mut u);
        std::ffi::CStr::from_ptr(u.release.as_ptr())
            .to_string_lossy()
            .into_owned()
    };
    println!(
        "machine: {} cores, {cpu}, Linux {kernel}",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(0)
    );
    println!("pool: 65,536 addresses, table on tmpfs (/dev/shm)\n");
    println!("| pool full | pair median | pair p99 | pair max |");
    println!("| --- | --- | --- | --- |");
    for f in [0.0, 0.5, 0.99] {
        let (m, p, x) = pair_latency(f);
        println!(
            "| {:.0}% | {:.0} ns | {:.0} ns | {:.1} µs |",
            f * 100.0,
            m,
            p,
            x as f64 / 1000.0
        );
    }
    println!("\n| processes | pairs per second (all processes) |");
    println!("| --- | --- |");
    for n in [1, 2, 8, 64] {
        println!("| {n} | {:.2} M |", aggregate(n, 2.0) / 1e6);
    }
    let (d, n) = reap_time();
    println!(
        "\nreap of {n} dead leases: {:.1} ms ({:.2} µs per lease, one /proc lookup each)",
        d.as_secs_f64() * 1e3,
        d.as_secs_f64() * 1e6 / n as f64
    );
    let (t, _) = fresh_table("size");
    println!(
        "table size: {} bytes for {} addresses = {:.2} bytes per address",
        t.file_size(),
        t.size(),
        t.file_size() as f64 / f64::from(t.size())
    );
    println!(
        "floor: bare compare-and-swap pair on one word: {:.1} ns",
        cas_floor()
    );
    let ((m, p), (tm, tp)) = plugin_checks();
    println!(
        "the plugin's check after each claim (still_named): median {m} ns, p99 {p} ns; its tick every 3 s (replaced, verify): median {tm} ns, p99 {tp} ns"
    );
    println!(
        "\n| pool | refusal median (no watchdog) | worst | median (watchdog reporting) | worst |"
    );
    println!("| --- | --- | --- | --- | --- |");
    let large = std::env::var_os("RASSTATIC_BENCH_LARGE").is_some();
    let mut specs = vec!["10.0.0.0-10.0.3.255", "10.0.0.0-10.0.63.255", POOL];
    if large {
        // Set RASSTATIC_BENCH_LARGE=1 for the supported maximum too (a
        // 1 GB table on /dev/shm; about a minute more).
        specs.extend(["10.0.0.0-10.15.255.255", "10.0.0.0-10.255.255.255"]);
    }
    for spec in specs {
        let (m, w, n) = refusal(spec, false);
        let (m2, w2, _) = refusal(spec, true);
        println!(
            "| {n} | {:.3} ms | {:.3} ms | {:.3} ms | {:.3} ms |",
            m.as_secs_f64() * 1e3,
            w.as_secs_f64() * 1e3,
            m2.as_secs_f64() * 1e3,
            w2.as_secs_f64() * 1e3
        );
    }
    let hz = 100.0; // USER_HZ on Linux
    let idle: &[&str] = if large {
        &["10.0.0.0-10.15.255.255", "10.0.0.0-10.255.255.255"]
    } else {
        &["10.0.0.0-10.15.255.255"]
    };
    for &spec in idle {
        let secs = 20;
        let (ticks, n, rss) = idle_watchdog(spec, secs);
        println!(
            "idle watchdog, {n} addresses, no leases: {ticks} ticks in {secs} s = {:.3}% of a core; {rss}",
            ticks as f64 / hz / secs as f64 * 100.0
        );
    }
    cleanup();
}
