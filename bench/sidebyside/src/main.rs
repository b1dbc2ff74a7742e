//! rasstatic against pppd's RADIUS route (FreeRADIUS rlm_sqlippool), on the
//! same machine and in the same run. Driven by bench/run.sh, which sets up
//! the FreeRADIUS side; each subcommand prints Markdown table rows.
//!
//! - `alloc SYSTEM POOL CONCURRENCY SECONDS`: allocation-and-release pairs.
//!   rasstatic: CONCURRENCY forked processes, each claiming and releasing
//!   through `Table::claim`/`Table::release`, the calls the plugin's
//!   `ip_choose_hook` and release paths make. sqlippool: CONCURRENCY lines
//!   (threads with their own sockets and NAS-Port), each sending an
//!   Access-Request (answered with Framed-IP-Address) then an
//!   Accounting-Request Stop. `sqlippool-pg`: the same against the
//!   PostgreSQL back end.
//! - `reclaim-sqlippool`: a line gets the one address of pool "one" and
//!   goes silent (its pppd was SIGKILLed: no Accounting-Stop); a second
//!   line asks every 100 ms until it gets that address.
//! - `reclaim-rasstatic RASSTATIC`: a holder of the one address is
//!   SIGKILLed; the time until its lease is free, with the watchdog.
//! - `memory DB-SMALL DB-LARGE`: bytes per pool address, table against
//!   SQLite database.
//! - `floor`: a bare compare-and-swap, and fork+exec of /bin/true.

mod radius;

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rasstatic::owner::Owner;
use rasstatic::pool::Pool;
use rasstatic::protocol::ClaimOpts;
use rasstatic::table::{Policy, SessionInfo, Table};

const DIR: &str = "/run/rasstatic-bench";
const AUTH_PORT: u16 = 18120;
const ACCT_PORT: u16 = 18121;
/// The same pools on PostgreSQL (bench/freeradius/setup.sh, site bench_pg).
const AUTH_PORT_PG: u16 = 18122;
const ACCT_PORT_PG: u16 = 18123;
const SECRET: &str = "testing123";

fn pool_spec(pool: &str) -> &'static str {
    match pool {
        "small" => "10.60.0.1-10.60.0.254",
        "large" => "10.64.0.0-10.64.255.255",
        "one" => "10.62.0.1",
        _ => panic!("pool is small, large or one"),
    }
}

fn pct(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn fmt_ns(ns: u64) -> String {
    if ns >= 1_000_000 {
        format!("{:.2} ms", ns as f64 / 1e6)
    } else if ns >= 1_000 {
        format!("{:.2} µs", ns as f64 / 1e3)
    } else {
        format!("{ns} ns")
    }
}

/// One result row: system, pool, concurrency, pairs, pairs/s, median, p99,
/// refused, errors.
fn row(system: &str, pool: &str, conc: usize, lat: &mut [u64], secs: f64, refused: u64, errors: u64) {
    lat.sort_unstable();
    println!(
        "| {system} | {pool} | {conc} | {} | {:.0} | {} | {} | {refused} | {errors} |",
        lat.len(),
        lat.len() as f64 / secs,
        fmt_ns(pct(lat, 0.5)),
        fmt_ns(pct(lat, 0.99)),
    );
}

fn alloc_rasstatic(pool_name: &str, conc: usize, secs: f64) {
    let spec = pool_spec(pool_name);
    let pool = Pool::parse(spec, "").unwrap();
    let name = format!("bench-{pool_name}");
    let dir = PathBuf::from(DIR);
    let _ = std::fs::remove_file(dir.join(format!("{name}.table")));
    drop(Table::open(&dir, &name, &pool, spec).unwrap());
    let out = std::env::temp_dir().join(format!("sidebyside-{}", std::process::id()));
    std::fs::create_dir_all(&out).unwrap();
    let start_at = Instant::now() + Duration::from_millis(300);
    let mut kids = Vec::new();
    for k in 0..conc {
        // SAFETY: single-threaded here; the child runs its loop and exits.
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            let (t, _) = Table::open(&dir, &name, &pool, spec).unwrap();
            let me = Owner::current().unwrap();
            let info = SessionInfo {
                peer: format!("user{k}"),
                ifname: "ppp0".into(),
                device: "/dev/ttyS0".into(),
                proxyarp: false,
            };
            let mut lat: Vec<u64> = Vec::with_capacity(1 << 20);
            while Instant::now() < start_at {}
            let end = start_at + Duration::from_secs_f64(secs);
            let mut refused = 0u64;
            while Instant::now() < end {
                let t0 = Instant::now();
                match t.claim(me, ClaimOpts::default(), Policy::RoundRobin, &info) {
                    Ok(Some(c)) => {
                        t.release(c.slot, me, rasstatic::protocol::EndedBy::Api);
                        lat.push(t0.elapsed().as_nanos() as u64);
                    }
                    _ => refused += 1,
                }
            }
            let mut bytes: Vec<u8> = lat.iter().flat_map(|v| v.to_ne_bytes()).collect();
            bytes.extend_from_slice(&refused.to_ne_bytes());
            std::fs::write(out.join(k.to_string()), bytes).unwrap();
            // SAFETY: leave the child without running the parent's atexit.
            unsafe { libc::_exit(0) };
        }
        kids.push(pid);
    }
    for pid in kids {
        // SAFETY: waiting for our own children.
        unsafe { libc::waitpid(pid, std::ptr::null_mut(), 0) };
    }
    let mut lat = Vec::new();
    let mut refused = 0;
    for k in 0..conc {
        let b = std::fs::read(out.join(k.to_string())).unwrap();
        let (l, r) = b.split_at(b.len() - 8);
        refused += u64::from_ne_bytes(r.try_into().unwrap());
        lat.extend(l.chunks(8).map(|c| u64::from_ne_bytes(c.try_into().unwrap())));
    }
    let _ = std::fs::remove_dir_all(&out);
    row("rasstatic", pool_name, conc, &mut lat, secs, refused, 0);
}

fn alloc_sqlippool(label: &str, ports: (u16, u16), pool_name: &str, conc: usize, secs: f64) {
    let start_at = Instant::now() + Duration::from_millis(300);
    let handles: Vec<_> = (0..conc)
        .map(|k| {
            let pool_name = pool_name.to_string();
            std::thread::spawn(move || {
                let mut line = radius::Line::new(
                    Ipv4Addr::LOCALHOST,
                    ports.0,
                    ports.1,
                    SECRET,
                    10_000 + k as u32,
                    &pool_name,
                )
                .unwrap();
                let (mut lat, mut refused, mut errors) = (Vec::new(), 0u64, 0u64);
                while Instant::now() < start_at {
                    std::thread::sleep(Duration::from_micros(200));
                }
                let end = start_at + Duration::from_secs_f64(secs);
                while Instant::now() < end {
                    let t0 = Instant::now();
                    match line.authenticate() {
                        Ok(radius::Outcome::Address(a)) => match line.stop(a) {
                            Ok(()) => lat.push(t0.elapsed().as_nanos() as u64),
                            Err(_) => errors += 1,
                        },
                        Ok(radius::Outcome::Refused) => refused += 1,
                        Err(_) => errors += 1,
                    }
                }
                (lat, refused, errors)
            })
        })
        .collect();
    let (mut lat, mut refused, mut errors) = (Vec::new(), 0, 0);
    for h in handles {
        let (l, r, e) = h.join().unwrap();
        lat.extend(l);
        refused += r;
        errors += e;
    }
    row(label, pool_name, conc, &mut lat, secs, refused, errors);
}

fn reclaim_sqlippool() {
    let mut a = radius::Line::new(Ipv4Addr::LOCALHOST, AUTH_PORT, ACCT_PORT, SECRET, 20_001, "one").unwrap();
    let mut b = radius::Line::new(Ipv4Addr::LOCALHOST, AUTH_PORT, ACCT_PORT, SECRET, 20_002, "one").unwrap();
    let addr = match a.authenticate().unwrap() {
        radius::Outcome::Address(x) => x,
        radius::Outcome::Refused => panic!("pool one: the first line got no address"),
    };
    // Line a's pppd is SIGKILLed now: it never sends Accounting-Stop.
    let t0 = Instant::now();
    let mut tries = 0;
    loop {
        tries += 1;
        match b.authenticate().unwrap() {
            radius::Outcome::Address(x) => {
                assert_eq!(x, addr, "pool one has one address");
                println!(
                    "| sqlippool, lease_duration 5 s | {:.2} s | {tries} Access-Requests refused meanwhile |",
                    t0.elapsed().as_secs_f64()
                );
                b.stop(x).unwrap();
                return;
            }
            radius::Outcome::Refused => std::thread::sleep(Duration::from_millis(100)),
        }
        assert!(t0.elapsed() < Duration::from_secs(60), "never reclaimed");
    }
}

fn reclaim_rasstatic(rasstatic: &Path) {
    let spec = pool_spec("one");
    let pool = Pool::parse(spec, "").unwrap();
    let dir = PathBuf::from(DIR);
    let name = "bench-one";
    let _ = std::fs::remove_file(dir.join(format!("{name}.table")));
    drop(Table::open(&dir, name, &pool, spec).unwrap());
    let st = Command::new(rasstatic)
        .args(["watchdog", "--detach", "--dir", DIR, "--name", name])
        .output()
        .unwrap();
    assert!(st.status.success(), "{}", String::from_utf8_lossy(&st.stderr));
    let wd: i32 = String::from_utf8_lossy(&st.stdout).trim().parse().unwrap();
    let t = Table::open_existing(&dir, name).unwrap();
    let mut lat = Vec::new();
    for _ in 0..20 {
        // SAFETY: the child claims and sleeps until killed.
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            let (t, _) = Table::open(&dir, name, &pool, spec).unwrap();
            let me = Owner::current().unwrap();
            t.claim(me, ClaimOpts::default(), Policy::RoundRobin, &SessionInfo::default())
                .unwrap()
                .unwrap();
            loop {
                // SAFETY: sleeping until killed.
                unsafe { libc::pause() };
            }
        }
        while Owner::from_word(t.slots().word(0)).is_none_or(|o| o.pid() != pid as u32) {
            std::thread::sleep(Duration::from_millis(1));
        }
        std::thread::sleep(Duration::from_millis(100));
        let t0 = Instant::now();
        // SAFETY: killing our own child.
        unsafe { libc::kill(pid, libc::SIGKILL) };
        while Owner::from_word(t.slots().word(0)).is_some() {
            std::thread::sleep(Duration::from_micros(50));
            assert!(t0.elapsed() < Duration::from_secs(5), "not reclaimed");
        }
        lat.push(t0.elapsed().as_nanos() as u64);
        // SAFETY: reaping our own child.
        unsafe { libc::waitpid(pid, std::ptr::null_mut(), 0) };
    }
    // SAFETY: stopping the watchdog we started.
    unsafe { libc::kill(wd, libc::SIGTERM) };
    lat.sort_unstable();
    println!(
        "| rasstatic, watchdog | {} (median of 20; max {}) | 0 |",
        fmt_ns(pct(&lat, 0.5)),
        fmt_ns(*lat.last().unwrap())
    );
}

fn memory(db_small: &Path, db_large: &Path) {
    let dir = PathBuf::from(DIR);
    for (pool_name, db) in [("small", db_small), ("large", db_large)] {
        let spec = pool_spec(pool_name);
        let pool = Pool::parse(spec, "").unwrap();
        let name = format!("mem-{pool_name}");
        let _ = std::fs::remove_file(dir.join(format!("{name}.table")));
        let (t, _) = Table::open(&dir, &name, &pool, spec).unwrap();
        let n = pool.size() as f64;
        let ours = t.file_size() as f64;
        let theirs = std::fs::metadata(db).unwrap().len() as f64;
        println!(
            "| {pool_name} ({} addresses) | {:.0} B ({:.1} B/address) | {:.0} B ({:.1} B/address) | {:.2} |",
            pool.size(),
            ours,
            ours / n,
            theirs,
            theirs / n,
            ours / theirs
        );
    }
}

fn floor() {
    let w = AtomicU64::new(0);
    let n = 20_000_000u64;
    let t0 = Instant::now();
    for i in 0..n {
        let _ = w.compare_exchange(i, i + 1, Ordering::SeqCst, Ordering::SeqCst);
    }
    let cas = t0.elapsed().as_nanos() as f64 / n as f64;
    let mut fe = Vec::new();
    for _ in 0..200 {
        let t0 = Instant::now();
        let st = Command::new("/bin/true").status().unwrap();
        assert!(st.success());
        fe.push(t0.elapsed().as_nanos() as u64);
    }
    fe.sort_unstable();
    println!("| bare compare-and-swap (one thread, uncontended) | {cas:.1} ns |");
    println!("| fork+exec of /bin/true, waited for (median of 200) | {} |", fmt_ns(pct(&fe, 0.5)));
}

fn main() {
    let a: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize| a.get(i).map(String::as_str).unwrap_or("");
    std::fs::create_dir_all(DIR).unwrap();
    // The table directory must be private, as the plugin makes it.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(DIR, std::fs::Permissions::from_mode(0o700)).unwrap();
    match arg(0) {
        "alloc" => {
            let conc: usize = arg(3).parse().unwrap();
            let secs: f64 = arg(4).parse().unwrap();
            match arg(1) {
                "rasstatic" => alloc_rasstatic(arg(2), conc, secs),
                "sqlippool" => alloc_sqlippool(
                    "sqlippool (SQLite)",
                    (AUTH_PORT, ACCT_PORT),
                    arg(2),
                    conc,
                    secs,
                ),
                "sqlippool-pg" => alloc_sqlippool(
                    "sqlippool (PostgreSQL)",
                    (AUTH_PORT_PG, ACCT_PORT_PG),
                    arg(2),
                    conc,
                    secs,
                ),
                s => panic!("unknown system {s}"),
            }
        }
        "reclaim-sqlippool" => reclaim_sqlippool(),
        "reclaim-rasstatic" => reclaim_rasstatic(Path::new(arg(1))),
        "memory" => memory(Path::new(arg(1)), Path::new(arg(2))),
        "floor" => floor(),
        c => {
            eprintln!("usage: sidebyside alloc|reclaim-sqlippool|reclaim-rasstatic|memory|floor ... ({c:?})");
            std::process::exit(2);
        }
    }
}
