//! A soak of the real plugin: `librasstatic.so`, loaded by a pppd-ABI host
//! (src/pppd_host.c: pppd's globals, notifier chains, option table and
//! callouts), driven through the hooks pppd calls for each call: the phase
//! changes, `ip_choose_hook`, `allowed_address_hook`, the ip-up, ip-down and
//! link-down notifiers and the callouts the plugin schedules.
//!
//! Forked holders, each a "pppd" with its own copy of the plugin, make call
//! after call on one pool, more holders than addresses. The parent
//! SIGKILLs holders at random (some also kill themselves right after their
//! claim) and forks replacements, SIGKILLs the watchdog (which the plugin
//! starts; the next pppd to start must start a new one), and times how long
//! each killed holder's lease stays taken (the watchdog's reclaim latency).
//! The torture test's checker (tests/checker) scans the holders' beliefs
//! throughout for an address held by two live processes; each holder also
//! checks that its lease is still its own before hanging up. At the end,
//! with every holder dead, the whole pool and not one address more must be
//! claimable.
//!
//! `--replace-table-every-ms N` also deletes the table file every N ms
//! while holders use it (off by default); with `--fresh-file`, every other
//! time a fresh table file is put in its place instead, as an
//! administrator copying a table in would (then a process that still had
//! a lease in the old file enters it into the new one when it notices,
//! and a caller that claimed its address meanwhile is a conflict, which
//! the younger call's hang-up settles: such duplicates are transient and
//! counted).

use std::ffi::{c_char, c_int, c_void, CString};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use rasstatic::owner::Owner;
use rasstatic::pool::Pool;
use rasstatic::protocol::EndedBy;
use rasstatic::table::Table;

#[path = "../../../tests/checker/mod.rs"]
mod checker;
use checker::{belief, Rng, Shared};

const NAME: &str = "soak";

extern "C" {
    fn host_option(name: *const c_char, value: *const c_char) -> c_int;
    fn host_establish();
    fn host_choose() -> u32;
    fn host_allowed(addr: u32) -> c_int;
    fn host_ip_up();
    fn host_hang_up(ip_was_up: c_int);
}

struct Opts {
    cycles: u64,
    holders: usize,
    pool: String,
    so: PathBuf,
    dir: PathBuf,
    kill_every_us: u64,
    watchdog_kill_every_ms: u64,
    replace_table_every_ms: u64,
    /// With --replace-table-every-ms: also put a fresh table file in its
    /// place every other time (an administrator copying a table in).
    fresh_file: bool,
    hold_us: u64,
    spin: bool,
}

fn opts() -> Opts {
    let mut o = Opts {
        cycles: 1_000_000,
        holders: 32,
        pool: "10.66.0.1-10.66.0.24".into(),
        so: PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../target/release/librasstatic.so"
        )),
        dir: PathBuf::from(format!("/dev/shm/rasstatic-soak-{}", std::process::id())),
        kill_every_us: 2000,
        watchdog_kill_every_ms: 2000,
        replace_table_every_ms: 0,
        fresh_file: false,
        hold_us: 200,
        spin: false,
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut v = || it.next().unwrap_or_else(|| usage(a)).clone();
        let num = |s: String| s.parse::<u64>().unwrap_or_else(|_| usage(a));
        match a.as_str() {
            "--cycles" => o.cycles = num(v()),
            "--holders" => o.holders = num(v()) as usize,
            "--pool" => o.pool = v(),
            "--so" => o.so = PathBuf::from(v()),
            "--dir" => o.dir = PathBuf::from(v()),
            "--kill-every-us" => o.kill_every_us = num(v()),
            "--watchdog-kill-every-ms" => o.watchdog_kill_every_ms = num(v()),
            "--replace-table-every-ms" => o.replace_table_every_ms = num(v()),
            "--fresh-file" => o.fresh_file = true,
            "--hold-us" => o.hold_us = num(v()),
            "--spin" => o.spin = true,
            _ => usage(a),
        }
    }
    if o.holders == 0 || o.holders > checker::MAX_HOLDERS {
        usage("--holders");
    }
    o
}

fn usage(at: &str) -> ! {
    eprintln!(
        "soak: bad argument at {at}\nusage: soak [--cycles N] [--holders N (1-64)] [--pool SPEC] [--so PATH] \
         [--dir DIR] [--kill-every-us N] [--watchdog-kill-every-ms N (0: never)] \
         [--replace-table-every-ms N (0: never)] [--fresh-file] [--hold-us N] [--spin]"
    );
    std::process::exit(2)
}

/// A call's (or a refused caller's) pause: asleep, as a pppd with a call up
/// is, or with `--spin` on the CPU, which packs more calls in a second but
/// leaves the watchdog only its share of a saturated machine.
fn hold(o: &Opts, us: u64) {
    if !o.spin {
        std::thread::sleep(Duration::from_micros(us));
        return;
    }
    let t = Instant::now();
    while t.elapsed() < Duration::from_micros(us) {
        std::hint::spin_loop();
    }
}

fn cstr(s: &str) -> CString {
    CString::new(s).expect("no NUL")
}

/// Load the plugin as pppd does and give it its options.
fn load_plugin(o: &Opts) {
    let so = cstr(o.so.to_str().expect("a UTF-8 path"));
    // SAFETY: dlopen of the plugin file; its undefined symbols bind to the
    // pppd ABI this executable exports (-rdynamic).
    let h = unsafe { libc::dlopen(so.as_ptr(), libc::RTLD_NOW) };
    if h.is_null() {
        // SAFETY: dlerror returns a NUL-terminated message after a failure.
        let e = unsafe { std::ffi::CStr::from_ptr(libc::dlerror()) };
        die(&format!(
            "dlopen {}: {}",
            o.so.display(),
            e.to_string_lossy()
        ));
    }
    // SAFETY: a symbol lookup in the handle just opened.
    let init = unsafe { libc::dlsym(h, c"plugin_init".as_ptr()) };
    if init.is_null() {
        die("the plugin has no plugin_init");
    }
    // SAFETY: plugin_init is `void plugin_init(void)`, as pppd calls it.
    unsafe { std::mem::transmute::<*mut c_void, extern "C" fn()>(init)() };
    let dir = o.dir.to_str().expect("a UTF-8 path");
    for (k, v) in [
        ("rasstatic-pool", o.pool.as_str()),
        ("rasstatic-dir", dir),
        ("rasstatic-name", NAME),
    ] {
        let (k, v) = (cstr(k), cstr(v));
        // SAFETY: two NUL-terminated strings that outlive the call.
        if unsafe { host_option(k.as_ptr(), v.as_ptr()) } != 1 {
            die("the plugin refused its options");
        }
    }
}

fn die(msg: &str) -> ! {
    eprintln!("soak holder {}: {msg}", std::process::id());
    // SAFETY: ending a forked child without the parent's atexit handlers.
    unsafe { libc::_exit(3) }
}

/// Write `s` and a NUL at `dst`.
///
/// # Safety
/// `dst` must be valid for writes of `cap` bytes, and nothing else may
/// access it meanwhile.
unsafe fn set_cstr(dst: *mut c_char, cap: usize, s: &str) {
    let b = s.as_bytes();
    assert!(b.len() < cap);
    // SAFETY: the caller's promise; we write fewer than `cap` bytes.
    unsafe {
        std::ptr::copy_nonoverlapping(b.as_ptr().cast(), dst, b.len());
        *dst.add(b.len()) = 0;
    }
}

extern "C" {
    static mut ifname: [c_char; 32];
    static mut devnam: [c_char; 4096];
    static mut peer_authname: [c_char; 256];
}

/// A holder's life: a pppd taking call after call until killed.
fn holder(o: &Opts, sh: &Shared, idx: usize, seed: u64) -> ! {
    let me = Owner::current().unwrap_or_else(|e| die(&format!("identity: {e}")));
    let mut rng = Rng(seed | 1);
    let b = &sh.belief[idx];
    let mut generation = 0u64;
    b.store(belief(me.pid(), 0, None), Ordering::SeqCst);
    sh.who[idx].store(me.word(), Ordering::SeqCst);
    load_plugin(o);
    // SAFETY: the host's globals, of the sizes given, written on this
    // process's only thread.
    unsafe {
        set_cstr((&raw mut ifname).cast(), 32, &format!("ppp{idx}"));
        set_cstr((&raw mut devnam).cast(), 4096, &format!("/dev/pts/{idx}"));
    }
    let pool = Pool::parse(&o.pool, "").unwrap_or_else(|e| die(&e.to_string()));
    let mut t: Option<Table> = None;
    loop {
        if sh.stop.load(Ordering::Relaxed) != 0 {
            // SAFETY: as in die().
            unsafe { libc::_exit(0) };
        }
        // SAFETY: the host's globals, as above.
        unsafe {
            set_cstr(
                (&raw mut peer_authname).cast(),
                256,
                &format!("user{idx}-{}", rng.below(8)),
            );
        }
        // SAFETY: the host's call sequence, on this process's only thread.
        let addr = unsafe {
            host_establish();
            host_choose()
        };
        if addr == 0 {
            sh.refusals.fetch_add(1, Ordering::Relaxed);
            // SAFETY: as above.
            unsafe { host_hang_up(0) };
            // A refused caller redials a little later.
            hold(o, 1000 + rng.below(1000));
            continue;
        }
        if rng.below(50) == 0 {
            // Die between the claim and IPCP coming up.
            // SAFETY: raise has no preconditions.
            unsafe { libc::raise(libc::SIGKILL) };
        }
        let ip = Ipv4Addr::from(u32::from_be(addr));
        let Some(slot) = pool.index(ip) else {
            die(&format!("{ip} handed out but not in the pool"));
        };
        // The table as it is now, for checking the lease below (none while
        // the file is gone, with --replace-table-every-ms).
        if t.as_ref().is_none_or(|t| t.replaced()) {
            t = Table::open_existing(&o.dir, NAME).ok();
        }
        sh.claims.fetch_add(1, Ordering::Relaxed);
        generation += 1;
        b.store(belief(me.pid(), generation, Some(slot)), Ordering::SeqCst);
        // SAFETY: as above.
        unsafe {
            if host_allowed(addr) != 1 {
                die(&format!("{ip}, just chosen, not allowed"));
            }
            host_ip_up();
        }
        hold(o, rng.below(o.hold_us + 1));
        let lost = t
            .as_ref()
            .is_some_and(|t| !t.replaced() && t.slots().word(slot) != me.word());
        if lost {
            sh.stolen.fetch_add(1, Ordering::SeqCst);
            eprintln!("soak holder {}: lost {ip} while holding it", me.pid());
        }
        b.store(belief(me.pid(), generation, None), Ordering::SeqCst);
        // SAFETY: as above.
        unsafe { host_hang_up(1) };
    }
}

fn fork_into(f: impl FnOnce()) -> libc::pid_t {
    // SAFETY: the parent is single-threaded, so the child starts from a
    // consistent state; the child never returns.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        f();
        // SAFETY: f never returns; this is a backstop.
        unsafe { libc::_exit(1) };
    }
    pid
}

#[derive(Default)]
struct Tally {
    self_kills: u64,
    /// Holders the plugin hung up (SIGTERM to itself) on an address
    /// conflict after a table was lost: its documented answer.
    conflicts: u64,
    failures: u64,
}

/// Replace every dead holder (the one the soak killed, `killed`, or one
/// that killed itself), counting how each died.
fn respawn(
    o: &Opts,
    sh: &'static Shared,
    pids: &mut [libc::pid_t],
    rng: &mut Rng,
    killed: libc::pid_t,
    tally: &mut Tally,
) {
    for (j, pid) in pids.iter_mut().enumerate() {
        let mut status = 0;
        // SAFETY: non-blocking wait for our own child.
        if unsafe { libc::waitpid(*pid, &mut status, libc::WNOHANG) } == *pid {
            if libc::WIFSIGNALED(status) && libc::WTERMSIG(status) == libc::SIGKILL {
                if *pid != killed {
                    tally.self_kills += 1;
                }
            } else if libc::WIFSIGNALED(status) && libc::WTERMSIG(status) == libc::SIGTERM {
                tally.conflicts += 1;
            } else {
                tally.failures += 1;
                eprintln!("soak: holder {} ended with status {status:#x}", *pid);
            }
            let seed = rng.next();
            *pid = fork_into(|| holder(o, sh, j, seed));
        }
    }
}

fn pct(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn ms(ns: u64) -> String {
    format!("{:.2} ms", ns as f64 / 1e6)
}

/// Delete or replace the table file under its users (`--replace-table-every-ms`).
fn replace_table(dir: &Path, pool: &Pool, spec: &str, n: u64, fresh_file: bool) {
    let path = dir.join(format!("{NAME}.table"));
    if !fresh_file || n.is_multiple_of(2) {
        let _ = std::fs::remove_file(&path);
    } else {
        let side = dir.join("side");
        let _ = std::fs::remove_dir_all(&side);
        if let Ok((t, _)) = Table::open(&side, NAME, pool, spec) {
            drop(t);
            let _ = std::fs::rename(side.join(format!("{NAME}.table")), &path);
        }
    }
}

fn main() {
    let o = opts();
    let pool = Pool::parse(&o.pool, "").unwrap_or_else(|e| {
        eprintln!("soak: --pool: {e}");
        std::process::exit(2)
    });
    if !o.so.is_file() {
        eprintln!(
            "soak: no plugin at {} (cargo build --release)",
            o.so.display()
        );
        std::process::exit(2);
    }
    let _ = std::fs::remove_dir_all(&o.dir);
    let (mut t, _) = Table::open(&o.dir, NAME, &pool, &o.pool).expect("create the table");
    let sh = checker::shared();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ u64::from(std::process::id()));
    println!(
        "soak: {} holders, pool {} ({} addresses), plugin {}, until {} cycles",
        o.holders,
        pool,
        pool.size(),
        o.so.display(),
        o.cycles
    );
    let checker_pid = fork_into(|| checker::checker(sh, o.holders));
    let mut pids: Vec<libc::pid_t> = (0..o.holders)
        .map(|i| {
            let seed = rng.next();
            fork_into(|| holder(&o, sh, i, seed))
        })
        .collect();
    let start = Instant::now();
    let mut kills = 0u64;
    let mut tally = Tally::default();
    let (mut wd_kills, mut takeovers, mut replacements) = (0u64, 0u64, 0u64);
    let mut reclaim: Vec<u64> = Vec::new();
    let mut reclaim_other: Vec<u64> = Vec::new();
    let mut takeover: Vec<u64> = Vec::new();
    let mut stuck = 0u64;
    let mut last_wd_kill = Instant::now();
    let mut wd_killed: Option<(u32, Instant)> = None;
    let mut last_replace = Instant::now();
    let mut last_report = Instant::now();
    while sh.claims.load(Ordering::Relaxed) < o.cycles {
        std::thread::sleep(Duration::from_micros(
            o.kill_every_us / 2 + rng.below(o.kill_every_us + 1),
        ));
        // Kill a holder, timing the reclaim of the lease it held.
        let i = rng.below(o.holders as u64) as usize;
        let (who, b1) = (
            sh.who[i].load(Ordering::SeqCst),
            sh.belief[i].load(Ordering::SeqCst),
        );
        let wd_at_kill = rasstatic::watchdog::running(&o.dir, NAME);
        let victim = pids[i];
        // SAFETY: signalling our own child.
        unsafe { libc::kill(victim, libc::SIGKILL) };
        let killed_at = Instant::now();
        kills += 1;
        let holding = b1 & 0xffff != 0
            && sh.belief[i].load(Ordering::SeqCst) == b1
            && Owner::from_word(who).map(|o| u64::from(o.pid())) == Some(b1 >> 40)
            && u64::from(pids[i] as u32) == b1 >> 40;
        if holding && !t.replaced() {
            let slot = (b1 & 0xffff) as u32 - 1;
            let mut freed = false;
            let mut polls = 0u64;
            while killed_at.elapsed() < Duration::from_secs(10) {
                if t.slots().word(slot) != who {
                    freed = true;
                    break;
                }
                std::thread::sleep(Duration::from_micros(20));
                polls += 1;
                if polls.is_multiple_of(50) {
                    // Calls go on meanwhile, as on a real server.
                    respawn(&o, sh, &mut pids, &mut rng, victim, &mut tally);
                }
            }
            let took = killed_at.elapsed().as_nanos() as u64;
            // Steady: one watchdog, running (not starting), throughout.
            let wd_after = rasstatic::watchdog::running(&o.dir, NAME);
            if !freed {
                stuck += 1;
            } else if wd_at_kill.is_some_and(|p| p != 0) && wd_after == wd_at_kill {
                reclaim.push(took);
            } else {
                reclaim_other.push(took);
            }
        }
        respawn(&o, sh, &mut pids, &mut rng, victim, &mut tally);
        // Kill the watchdog now and then; a pppd starting must start another.
        let wd = rasstatic::watchdog::running(&o.dir, NAME);
        if let Some((old, at)) = wd_killed {
            if wd.is_some_and(|p| p != old && p != 0) {
                takeovers += 1;
                takeover.push(at.elapsed().as_nanos() as u64);
                wd_killed = None;
            }
        }
        if o.watchdog_kill_every_ms > 0
            && wd_killed.is_none()
            && last_wd_kill.elapsed() >= Duration::from_millis(o.watchdog_kill_every_ms)
        {
            if let Some(p) = wd.filter(|&p| p != 0) {
                // SAFETY: a plain kill of the watchdog's PID.
                unsafe { libc::kill(p as i32, libc::SIGKILL) };
                wd_kills += 1;
                wd_killed = Some((p, Instant::now()));
                last_wd_kill = Instant::now();
            }
        }
        if o.replace_table_every_ms > 0
            && last_replace.elapsed() >= Duration::from_millis(o.replace_table_every_ms)
        {
            replace_table(&o.dir, &pool, &o.pool, replacements, o.fresh_file);
            replacements += 1;
            last_replace = Instant::now();
            if let Ok((n, _)) = Table::open(&o.dir, NAME, &pool, &o.pool) {
                t = n;
            }
        }
        if last_report.elapsed() >= Duration::from_secs(30) {
            last_report = Instant::now();
            println!(
                "  {:.0} s: {} cycles, {} kills, {} watchdog kills",
                start.elapsed().as_secs_f64(),
                sh.claims.load(Ordering::Relaxed),
                kills,
                wd_kills
            );
        }
    }
    // Stop: every holder killed where it stands.
    sh.stop.store(1, Ordering::SeqCst);
    for &pid in &pids {
        // SAFETY: our own children.
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
    for &pid in pids.iter().chain([&checker_pid]) {
        let mut status = 0;
        // SAFETY: blocking wait for our own child.
        unsafe { libc::waitpid(pid, &mut status, 0) };
    }
    let wall = start.elapsed();
    if t.replaced() {
        t = Table::open_existing(&o.dir, NAME).expect("the table at the end");
    }
    // The watchdog frees what the last holders held.
    let end = Instant::now();
    while t.slots().leased() > 0 && end.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(1));
    }
    let left_to_reap = t.slots().leased();
    if let Some(p) = rasstatic::watchdog::running(&o.dir, NAME).filter(|&p| p != 0) {
        // SAFETY: a plain kill of the watchdog's PID.
        unsafe { libc::kill(p as i32, libc::SIGKILL) };
    }
    let reaped = t.reap_all(EndedBy::ReapAdmin).len();
    let still = t.slots().leased();
    let leaked = checker::leaked(&t);
    let cycles = sh.claims.load(Ordering::SeqCst);
    let dups = sh.violations.load(Ordering::SeqCst);
    let stolen = sh.stolen.load(Ordering::SeqCst);
    reclaim.sort_unstable();
    takeover.sort_unstable();
    println!("cycles (claim, ip-up, ip-down, release): {cycles}");
    println!(
        "refused (pool full): {}",
        sh.refusals.load(Ordering::SeqCst)
    );
    println!(
        "wall time: {:.1} s ({:.0} cycles/s)",
        wall.as_secs_f64(),
        cycles as f64 / wall.as_secs_f64()
    );
    println!(
        "holders SIGKILLed: {kills} by the soak, {} by themselves after a claim",
        tally.self_kills
    );
    println!(
        "holders the plugin hung up on an address conflict (SIGTERM): {}",
        tally.conflicts
    );
    println!("holders that died otherwise: {}", tally.failures);
    println!(
        "watchdog SIGKILLs: {wd_kills}, taken over: {takeovers}; takeover p50 {} max {}",
        ms(pct(&takeover, 0.5)),
        ms(takeover.last().copied().unwrap_or(0))
    );
    println!("table replacements: {replacements}");
    println!("checker scans: {}", sh.checks.load(Ordering::SeqCst));
    println!("duplicates (an address held by two live holders): {dups}");
    println!("leases lost by a live holder: {stolen}");
    reclaim_other.sort_unstable();
    for (what, v) in [
        ("one watchdog running throughout", &reclaim),
        (
            "the watchdog starting, killed or replaced meanwhile",
            &reclaim_other,
        ),
    ] {
        println!(
            "reclaim latency, SIGKILL to free, {what} ({} leases): p50 {} p90 {} p99 {} max {}",
            v.len(),
            ms(pct(v, 0.5)),
            ms(pct(v, 0.9)),
            ms(pct(v, 0.99)),
            ms(v.last().copied().unwrap_or(0))
        );
    }
    println!("leases not freed within 10 s of their holder's SIGKILL: {stuck}");
    println!("at the end: {left_to_reap} leases not reaped by the watchdog within 5 s; final reap freed {reaped}; still leased {still}");
    let leaked_n = match &leaked {
        Ok(n) => {
            println!("leaked addresses at the end: {n}");
            *n
        }
        Err(e) => {
            println!("leak check failed: {e}");
            1
        }
    };
    let _ = std::fs::remove_dir_all(&o.dir);
    let ok = dups == 0
        && stolen == 0
        && leaked_n == 0
        && still == 0
        && tally.failures == 0
        && stuck == 0
        && cycles >= o.cycles;
    println!("{}", if ok { "PASS" } else { "FAIL" });
    std::process::exit(if ok { 0 } else { 1 });
}
