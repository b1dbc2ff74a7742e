//! Watchdog reclaim latency: N lease holders (forked processes) are killed
//! with one SIGKILL to their process group; for each lease, the time from
//! just before kill(2) until its slot is free (polled every ~100 µs), and,
//! for comparison, until the holder had exited (its pidfd readable). No
//! process claims anything meanwhile: only the watchdog frees.
//!
//! Run: `cargo bench --bench reclaim` (as root, like the watchdog; the
//! watchdog is the built `rasstatic watchdog`).

#[path = "../tests/holders/mod.rs"]
mod holders;

use std::time::{Duration, Instant};

use holders::*;
use rasstatic::owner::Owner;
use rasstatic::table::{SessionInfo, Table};

fn pidfd(pid: i32) -> i32 {
    // SAFETY: pidfd_open(pid, 0) takes no pointers.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) } as i32;
    assert!(fd >= 0, "pidfd_open: {}", std::io::Error::last_os_error());
    fd
}

/// Mark in `gone` the holders whose pidfd became readable (one poll(2)
/// for all, so the observer costs little CPU).
fn poll_exits(fds: &[i32], gone: &mut [Option<Duration>], t0: Instant) {
    let mut idx = Vec::new();
    let mut pfds: Vec<libc::pollfd> = Vec::new();
    for (i, &fd) in fds.iter().enumerate() {
        if gone[i].is_none() {
            idx.push(i);
            pfds.push(libc::pollfd {
                fd,
                events: libc::POLLIN,
                revents: 0,
            });
        }
    }
    if pfds.is_empty() {
        return;
    }
    // SAFETY: pfds is a valid array of its length; no waiting.
    let n = unsafe { libc::poll(pfds.as_mut_ptr(), pfds.len() as libc::nfds_t, 0) };
    if n <= 0 {
        return;
    }
    let now = t0.elapsed();
    for (k, p) in pfds.iter().enumerate() {
        if p.revents != 0 {
            gone[idx[k]] = Some(now);
        }
    }
}

/// One round: N holders, one SIGKILL; (freed, exited) per lease.
fn round(n: usize) -> Vec<(Duration, Duration)> {
    let (dir, pool) = fresh(&format!("bench-reclaim-{n}"), "10.50.0.0/21");
    let mut wd = start_watchdog(&dir);
    let t = Table::open_existing(&dir, "default").unwrap();
    let info = SessionInfo {
        peer: "bench".into(),
        ifname: String::new(),
        device: "/dev/null".into(),
        proxyarp: false,
    };
    let first = fork_holder(&dir, &pool, &info, Some(0), true);
    let pg = first.pid;
    let mut hs = vec![first];
    while hs.len() < n {
        hs.push(fork_holder(&dir, &pool, &info, Some(pg), true));
    }
    let fds: Vec<i32> = hs.iter().map(|h| pidfd(h.pid)).collect();
    // Let the watchdog see every holder (it scans every 50 ms).
    std::thread::sleep(Duration::from_millis(300));
    let mut freed = vec![None; n];
    let mut gone = vec![None; n];
    let t0 = Instant::now();
    kill(-pg);
    while freed.iter().any(Option::is_none) {
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "leases not freed in 30 s"
        );
        poll_exits(&fds, &mut gone, t0);
        for (i, h) in hs.iter().enumerate() {
            if freed[i].is_none() && Owner::from_word(t.slots().word(h.slot)).is_none() {
                freed[i] = Some(t0.elapsed());
                gone[i].get_or_insert(freed[i].unwrap());
            }
        }
        std::thread::sleep(Duration::from_micros(100));
    }
    for (h, fd) in hs.iter().zip(&fds) {
        reap_child(h.pid);
        // SAFETY: closing our own descriptor.
        unsafe { libc::close(*fd) };
    }
    // SAFETY: signalling our own child.
    unsafe { libc::kill(wd.id() as i32, libc::SIGTERM) };
    let _ = wd.wait();
    let _ = std::fs::remove_dir_all(&dir);
    freed
        .into_iter()
        .zip(gone)
        .map(|(f, g)| (f.unwrap(), g.unwrap()))
        .collect()
}

/// One round of healing: 10 holders, a watchdog; the table deleted (or
/// overwritten in place with junk); the time until a table is at its path
/// again, and, for a deletion, until it holds all 10 live leases (the
/// watchdog makes it again from its mapping; after junk it rebuilds from
/// the kernel's sessions, of which there are none here).
fn heal_round(junk: bool, round: u64) -> Duration {
    let tag = if junk {
        "bench-heal-junk"
    } else {
        "bench-heal-rm"
    };
    let (dir, pool) = fresh(tag, "10.51.0.0/24");
    let mut wd = start_watchdog(&dir);
    let info = SessionInfo::default();
    let hs: Vec<Holder> = (0..10)
        .map(|_| fork_holder(&dir, &pool, &info, None, true))
        .collect();
    // Spread the moment of the damage over the watchdog's 1 s check.
    std::thread::sleep(Duration::from_millis(200 + round * 53 % 1000));
    let path = dir.join("default.table");
    let t0 = Instant::now();
    if junk {
        use std::os::unix::fs::FileExt;
        let len = std::fs::metadata(&path).unwrap().len() as usize;
        let f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        f.write_all_at(&vec![0xa5; len], 0).unwrap();
    } else {
        std::fs::remove_file(&path).unwrap();
    }
    let healed = loop {
        let done = match Table::open_existing(&dir, "default") {
            Ok(t) => junk || t.live_leases() == 10,
            Err(_) => false,
        };
        if done && (!junk || dir.join("default.table.damaged").exists()) {
            break t0.elapsed();
        }
        assert!(t0.elapsed() < Duration::from_secs(10), "not healed in 10 s");
        std::thread::sleep(Duration::from_micros(200));
    };
    for h in &hs {
        kill(h.pid);
        reap_child(h.pid);
    }
    // SAFETY: signalling our own child.
    unsafe { libc::kill(wd.id() as i32, libc::SIGTERM) };
    let _ = wd.wait();
    let _ = std::fs::remove_dir_all(&dir);
    healed
}

fn heal() {
    println!(
        "\n| the table, with 10 live leases and a watchdog | rounds | healed median | p90 | max |"
    );
    println!("|---|---|---|---|---|");
    for (what, junk) in [
        ("deleted: made again with every live lease", false),
        ("overwritten in place: moved aside and rebuilt", true),
    ] {
        let mut d: Vec<Duration> = (0..20).map(|i| heal_round(junk, i)).collect();
        d.sort();
        println!(
            "| {what} | 20 | {} ms | {} ms | {} ms |",
            ms(percentile(&d, 0.5)),
            ms(percentile(&d, 0.9)),
            ms(*d.last().unwrap())
        );
    }
}

fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1000.0)
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    if std::env::var_os("RASSTATIC_BENCH_HEAL_ONLY").is_some() {
        heal();
        return;
    }
    println!("| simultaneous SIGKILLs | rounds | leases | freed median | freed p99 | freed max | exited median | exited max |");
    println!("|---|---|---|---|---|---|---|---|");
    for (n, rounds) in [(1usize, 50usize), (100, 10), (1000, 3)] {
        let mut freed = Vec::new();
        let mut gone = Vec::new();
        for _ in 0..rounds {
            for (f, g) in round(n) {
                freed.push(f);
                gone.push(g);
            }
        }
        freed.sort();
        gone.sort();
        println!(
            "| {n} | {rounds} | {} | {} ms | {} ms | {} ms | {} ms | {} ms |",
            freed.len(),
            ms(percentile(&freed, 0.5)),
            ms(percentile(&freed, 0.99)),
            ms(*freed.last().unwrap()),
            ms(percentile(&gone, 0.5)),
            ms(*gone.last().unwrap()),
        );
    }
    heal();
}
