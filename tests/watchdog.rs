//! The watchdog with real processes: holders forked here are SIGKILLed and
//! the watchdog (the built `rasstatic watchdog`) must free their leases
//! within the bounds (100 ms median, 500 ms worst), with nobody claiming;
//! it cleans up proxy-ARP entries and host routes in a network namespace;
//! one watchdog per table; the detached one keeps nothing of its starter.

mod holders;

use std::collections::HashSet;
use std::fs;
use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use holders::*;
use rasstatic::protocol::EndedBy;
use rasstatic::table::{SessionInfo, Table};

const MEDIAN_BOUND: Duration = Duration::from_millis(100);
const WORST_BOUND: Duration = Duration::from_millis(500);

fn info(k: usize) -> SessionInfo {
    SessionInfo {
        peer: format!("user{k}"),
        ifname: format!("ppp{k}"),
        device: format!("/dev/ttyS{k}"),
        proxyarp: false,
    }
}

fn stop(mut wd: Watchdog) -> String {
    // SAFETY: signalling our own child.
    unsafe { libc::kill(wd.id() as i32, libc::SIGTERM) };
    let status = wd.wait().unwrap();
    let mut err = String::new();
    wd.stderr.take().unwrap().read_to_string(&mut err).unwrap();
    assert!(status.success(), "watchdog ended with {status}: {err}");
    err
}

fn check_bounds(what: &str, mut lat: Vec<Duration>) {
    lat.sort();
    let median = percentile(&lat, 0.5);
    let worst = *lat.last().unwrap();
    eprintln!(
        "{what}: {} kills, median {median:?}, worst {worst:?}",
        lat.len()
    );
    assert!(
        median <= MEDIAN_BOUND,
        "{what}: median {median:?} > {MEDIAN_BOUND:?}"
    );
    assert!(
        worst <= WORST_BOUND,
        "{what}: worst {worst:?} > {WORST_BOUND:?}"
    );
}

#[test]
fn killed_holders_are_freed_within_the_bounds_without_any_claim() {
    let (dir, pool) = fresh("wd-bounds", "10.40.0.0/25");
    let wd = start_watchdog(&dir);
    let t = Table::open_existing(&dir, "default").unwrap();

    // One at a time: each holder has been watched for a while.
    let hs: Vec<Holder> = (0..20)
        .map(|k| fork_holder(&dir, &pool, &info(k), None, true))
        .collect();
    std::thread::sleep(Duration::from_millis(200));
    let mut lat = Vec::new();
    for h in &hs {
        let t0 = Instant::now();
        kill(h.pid);
        let d = wait_free(&t, h.slot, t0, Duration::from_secs(5))
            .unwrap_or_else(|| panic!("{} not freed within 5 s", h.addr));
        lat.push(d);
        assert_eq!(freed_by(&t, h.slot), Some(EndedBy::ReapWatchdog));
        reap_child(h.pid);
    }
    check_bounds("one at a time", lat);

    // All at once, with one signal to their process group.
    let first = fork_holder(&dir, &pool, &info(100), Some(0), true);
    let mut hs = vec![first];
    let pg = hs[0].pid;
    for k in 1..60 {
        hs.push(fork_holder(&dir, &pool, &info(100 + k), Some(pg), true));
    }
    std::thread::sleep(Duration::from_millis(200));
    let t0 = Instant::now();
    kill(-pg);
    let mut lat = Vec::new();
    for h in &hs {
        let d = wait_free(&t, h.slot, t0, Duration::from_secs(5))
            .unwrap_or_else(|| panic!("{} not freed within 5 s", h.addr));
        lat.push(d);
        assert_eq!(freed_by(&t, h.slot), Some(EndedBy::ReapWatchdog));
    }
    for h in &hs {
        reap_child(h.pid);
    }
    check_bounds("all at once", lat);
    assert_eq!(t.slots().leased(), 0);
    assert_eq!(t.counters().ended_by(EndedBy::ReapWatchdog), 80);
    // Nobody claimed: the table counted 80 claims (the holders') only.
    assert_eq!(t.counters().assigned, 80);

    let err = stop(wd);
    assert!(err.is_empty(), "unexpected warnings: {err}");
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn holders_dying_before_any_scan_are_freed_too() {
    let (dir, pool) = fresh("wd-early", "10.41.0.0/26");
    let wd = start_watchdog(&dir);
    let t = Table::open_existing(&dir, "default").unwrap();
    let mut lat = Vec::new();
    for k in 0..30 {
        // Claims and exits at once: most die before a scan sees them.
        let h = fork_holder(&dir, &pool, &info(k), None, false);
        let t0 = Instant::now();
        reap_child(h.pid);
        let d = wait_free(&t, h.slot, t0, Duration::from_secs(5))
            .unwrap_or_else(|| panic!("{} not freed within 5 s", h.addr));
        assert_eq!(freed_by(&t, h.slot), Some(EndedBy::ReapWatchdog));
        lat.push(d);
    }
    lat.sort();
    // Found by the scan, so bounded by one scan interval plus work.
    assert!(*lat.last().unwrap() <= WORST_BOUND, "{lat:?}");
    stop(wd);
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn a_live_holder_is_never_reaped() {
    let (dir, pool) = fresh("wd-live", "10.42.0.0/28");
    let wd = start_watchdog(&dir);
    let t = Table::open_existing(&dir, "default").unwrap();
    let hs: Vec<Holder> = (0..5)
        .map(|k| fork_holder(&dir, &pool, &info(k), None, true))
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    for h in &hs {
        let o = rasstatic::owner::Owner::from_word(t.slots().word(h.slot)).expect("still leased");
        assert_eq!(o.pid(), h.pid as u32);
    }
    for h in &hs {
        kill(h.pid);
        reap_child(h.pid);
    }
    stop(wd);
    let _ = fs::remove_dir_all(&dir);
}

fn ip(args: &str) -> String {
    let o = Command::new("ip")
        .args(args.split_whitespace())
        .output()
        .expect("run ip (iproute2)");
    assert!(
        o.status.success(),
        "ip {args}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn cleanup_removes_only_the_dead_sessions_entries() {
    // A private network namespace for this thread and what it starts
    // (needs root, as the watchdog does on a real server).
    // SAFETY: unshare affects this thread only.
    let r = unsafe { libc::unshare(libc::CLONE_NEWNET) };
    assert_eq!(
        r,
        0,
        "unshare(CLONE_NEWNET) failed ({}): this test needs root",
        std::io::Error::last_os_error()
    );
    // veth pairs stand for the LAN and the session's ppp interface.
    ip("link add lan0 type veth peer name lan0p");
    ip("link add rs0 type veth peer name rs0p");
    for l in ["lan0", "lan0p", "rs0", "rs0p"] {
        ip(&format!("link set {l} up"));
    }
    ip("addr add 10.43.0.1/24 dev lan0");
    let (dir, pool) = fresh("wd-clean", "10.43.0.100-10.43.0.103");
    let wd = start_watchdog(&dir);
    let t = Table::open_existing(&dir, "default").unwrap();

    let with_arp = SessionInfo {
        peer: "arp".into(),
        ifname: "rs0".into(),
        device: "/dev/ttyS0".into(),
        proxyarp: true,
    };
    let without = SessionInfo {
        peer: "noarp".into(),
        ifname: "rs9".into(),
        device: "/dev/ttyS1".into(),
        proxyarp: false,
    };
    let a = fork_holder(&dir, &pool, &with_arp, None, true);
    let b = fork_holder(&dir, &pool, &without, None, true);
    // What pppd (and an ip-up script) would have left for a, plus entries
    // the watchdog must leave alone: another address's, another table's,
    // and b's proxy entry (b's lease does not record proxyarp).
    ip(&format!("neigh add proxy {} dev lan0", a.addr));
    ip(&format!("route add {}/32 dev rs0", a.addr));
    ip(&format!("route add {}/32 dev rs0 table 100", a.addr));
    ip("neigh add proxy 10.43.0.50 dev lan0");
    ip("route add 10.43.0.51/32 dev rs0");
    ip(&format!("neigh add proxy {} dev lan0", b.addr));
    std::thread::sleep(Duration::from_millis(100));

    for h in [&a, &b] {
        let t0 = Instant::now();
        kill(h.pid);
        wait_free(&t, h.slot, t0, WORST_BOUND).expect("freed within the bound");
        reap_child(h.pid);
    }
    let proxies = ip("neigh show proxy");
    let main = ip("route show table main");
    let other = ip("route show table 100");
    let line_for = |out: &str, addr: &str| {
        out.lines()
            .any(|l| l.split_whitespace().next() == Some(addr))
    };
    assert!(
        !line_for(&proxies, &a.addr.to_string()),
        "proxy entry left: {proxies}"
    );
    assert!(
        !line_for(&main, &a.addr.to_string()),
        "host route left: {main}"
    );
    assert!(
        line_for(&proxies, "10.43.0.50"),
        "another address's entry removed: {proxies}"
    );
    assert!(
        line_for(&main, "10.43.0.51"),
        "another address's route removed: {main}"
    );
    assert!(
        line_for(&other, &a.addr.to_string()),
        "another table's route removed: {other}"
    );
    assert!(
        line_for(&proxies, &b.addr.to_string()),
        "an entry the lease did not record was removed: {proxies}"
    );
    let err = stop(wd);
    assert!(err.is_empty(), "unexpected warnings: {err}");
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn one_watchdog_per_table_and_a_waiting_one_takes_over() {
    let (dir, pool) = fresh("wd-one", "10.44.0.0/28");
    let first = start_watchdog(&dir);
    let mut second = Watchdog(
        Command::new(env!("CARGO_BIN_EXE_rasstatic"))
            .args(["watchdog", "--dir"])
            .arg(&dir)
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        second.try_wait().unwrap().is_none(),
        "the second watchdog exited"
    );
    assert_eq!(
        rasstatic::watchdog::running(&dir, "default"),
        Some(first.id())
    );
    // A detached start does nothing while one runs.
    let o = Command::new(env!("CARGO_BIN_EXE_rasstatic"))
        .args(["watchdog", "--detach", "--dir"])
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("already runs"));

    stop(first);
    let t0 = Instant::now();
    while rasstatic::watchdog::running(&dir, "default") != Some(second.id()) {
        assert!(
            t0.elapsed() < Duration::from_secs(5),
            "the second did not take over"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let t = Table::open_existing(&dir, "default").unwrap();
    let h = fork_holder(&dir, &pool, &info(0), None, true);
    std::thread::sleep(Duration::from_millis(100));
    let t0 = Instant::now();
    kill(h.pid);
    wait_free(&t, h.slot, t0, WORST_BOUND).expect("freed by the second watchdog");
    reap_child(h.pid);
    // SAFETY: signalling our own child.
    unsafe { libc::kill(second.id() as i32, libc::SIGTERM) };
    let mut err = String::new();
    second
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(second.wait().unwrap().success());
    assert!(err.contains("another watchdog (pid"), "{err}");
    let _ = fs::remove_dir_all(&dir);
}

fn proc_stat_fields(pid: u32) -> Vec<String> {
    let s = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let rest = &s[s.rfind(')').unwrap() + 2..];
    rest.split(' ').map(String::from).collect()
}

#[test]
fn a_detached_watchdog_keeps_nothing_of_its_starter() {
    let (dir, pool) = fresh("wd-detach", "10.45.0.0/28");
    // A descriptor the starter leaves open across exec, as pppd leaves its
    // ppp unit and tty open: the watchdog must not have it.
    let (rd, wr) = {
        let mut p = [0; 2];
        // SAFETY: a pipe without close-on-exec.
        assert_eq!(unsafe { libc::pipe(p.as_mut_ptr()) }, 0);
        (p[0], p[1])
    };
    let o = Command::new(env!("CARGO_BIN_EXE_rasstatic"))
        .args(["watchdog", "--detach", "--dir"])
        .arg(&dir)
        .output()
        .unwrap();
    // SAFETY: closing our own descriptors.
    unsafe {
        libc::close(rd);
        libc::close(wr);
    }
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let pid: u32 = String::from_utf8_lossy(&o.stdout).trim().parse().unwrap();
    let t0 = Instant::now();
    while rasstatic::watchdog::running(&dir, "default") != Some(pid) {
        assert!(t0.elapsed() < Duration::from_secs(5), "no pid recorded");
        std::thread::sleep(Duration::from_millis(5));
    }
    // Not our child, not in our process group or session.
    let st = proc_stat_fields(pid);
    let (ppid, pgrp, sid): (i32, i32, i32) = (
        st[1].parse().unwrap(),
        st[2].parse().unwrap(),
        st[3].parse().unwrap(),
    );
    // SAFETY: getters without preconditions.
    let (me, my_pgrp, my_sid) = unsafe { (libc::getpid(), libc::getpgrp(), libc::getsid(0)) };
    assert_ne!(ppid, me);
    assert_ne!(pgrp, my_pgrp);
    assert_ne!(sid, my_sid);
    assert_eq!(
        fs::read_to_string(format!("/proc/{pid}/comm"))
            .unwrap()
            .trim(),
        "rasstatic-wd"
    );
    // Its command line is the watchdog's: a new one where the kernel lets
    // it (CAP_SYS_RESOURCE), else the starter's, overwritten in place and
    // cut to its length ("<dir>/target/debug/rasstatic watchdog --detach
    // --dir <dir>" here, so at least "rasstatic watchdog --dir <dir>").
    let cmdline = fs::read(format!("/proc/{pid}/cmdline")).unwrap();
    let want = format!("rasstatic\0watchdog\0--dir\0{}\0", dir.display());
    assert!(
        cmdline.starts_with(want.as_bytes()),
        "{:?}",
        String::from_utf8_lossy(&cmdline)
    );
    // Descriptors: /dev/null on 0-2, the lock on 3, then only its own.
    let lock = dir.join("default.watchdog");
    let table = dir.join("default.table");
    let mut targets = HashSet::new();
    for e in fs::read_dir(format!("/proc/{pid}/fd")).unwrap() {
        let e = e.unwrap();
        let n: i32 = e.file_name().to_string_lossy().parse().unwrap();
        let target = fs::read_link(e.path())
            .unwrap()
            .to_string_lossy()
            .into_owned();
        match n {
            0..=2 => assert_eq!(target, "/dev/null", "fd {n}"),
            3 => assert_eq!(target, lock.to_string_lossy(), "fd 3"),
            _ => {
                assert!(
                    target == table.to_string_lossy()
                        || target.starts_with("anon_inode:")
                        || target.starts_with("socket:"),
                    "fd {n} -> {target}"
                );
            }
        }
        targets.insert(target);
    }
    assert!(
        !targets.iter().any(|t| t.starts_with("pipe:")),
        "{targets:?}"
    );

    // It works: a killed holder is freed.
    let t = Table::open_existing(&dir, "default").unwrap();
    let h = fork_holder(&dir, &pool, &info(0), None, true);
    std::thread::sleep(Duration::from_millis(100));
    let t0 = Instant::now();
    kill(h.pid);
    wait_free(&t, h.slot, t0, WORST_BOUND).expect("freed by the detached watchdog");
    reap_child(h.pid);

    // SIGTERM stops it and frees the lock.
    // SAFETY: signalling the watchdog we started.
    unsafe { libc::kill(pid as i32, libc::SIGTERM) };
    let t0 = Instant::now();
    while rasstatic::watchdog::running(&dir, "default").is_some() {
        assert!(t0.elapsed() < Duration::from_secs(5), "it did not stop");
        std::thread::sleep(Duration::from_millis(5));
    }
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn a_bad_table_is_refused_and_the_watchdog_exits() {
    let (dir, _) = fresh("wd-bad", "10.46.0.0/28");
    let table = dir.join("default.table");
    let mut bytes = fs::read(&table).unwrap();
    bytes[..8].copy_from_slice(b"NOTMINE!");
    fs::write(&table, &bytes).unwrap();
    let t0 = Instant::now();
    let o = Command::new(env!("CARGO_BIN_EXE_rasstatic"))
        .args(["watchdog", "--dir"])
        .arg(&dir)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(3), "{err}");
    assert!(t0.elapsed() < Duration::from_secs(5));
    assert!(
        err.contains(&format!(
            "{}: refused: not a rasstatic table",
            table.display()
        )),
        "{err}"
    );
    assert_eq!(rasstatic::watchdog::running(&dir, "default"), None);
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn show_and_stats_report_the_watchdog() {
    let (dir, _) = fresh("wd-show", "10.47.0.0/28");
    let run = |args: &[&str]| {
        let o = Command::new(env!("CARGO_BIN_EXE_rasstatic"))
            .args(args)
            .arg("--dir")
            .arg(&dir)
            .output()
            .unwrap();
        assert!(o.status.success());
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    assert!(run(&["show"]).contains("watchdog: not running"));
    assert!(run(&["stats", "--prometheus"]).contains("rasstatic_watchdog_up{pool=\"default\"} 0"));
    let v: serde_json::Value = serde_json::from_str(&run(&["show", "--json"])).unwrap();
    assert!(v["watchdog"].is_null());
    let wd = start_watchdog(&dir);
    let pid = wd.id();
    assert!(run(&["show"]).contains(&format!("watchdog: running, pid {pid}")));
    assert!(run(&["stats"]).contains(&format!("watchdog: running, pid {pid}")));
    assert!(run(&["stats", "--prometheus"]).contains("rasstatic_watchdog_up{pool=\"default\"} 1"));
    let v: serde_json::Value = serde_json::from_str(&run(&["show", "--json"])).unwrap();
    assert_eq!(v["watchdog"].as_u64(), Some(u64::from(pid)));
    stop(wd);
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn the_lock_file_must_be_ours() {
    let (dir, _) = fresh("wd-lockfile", "10.48.0.0/28");
    let lock = dir.join("default.watchdog");
    std::os::unix::fs::symlink("/etc/passwd", &lock).unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_rasstatic"))
        .args(["watchdog", "--dir"])
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("default.watchdog"));
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn a_table_damaged_in_place_is_moved_aside_and_rebuilt_and_a_writable_one_stops_the_watchdog() {
    for (tag, spoil) in [
        ("foreign", 0),
        ("truncated", 1),
        ("header", 2),
        ("writable", 3),
    ] {
        let (dir, pool) = fresh(&format!("wd-spoil-{tag}"), "10.49.0.0/24");
        let h = fork_holder(&dir, &pool, &info(0), None, true);
        let mut wd = start_watchdog(&dir);
        std::thread::sleep(Duration::from_millis(100));
        let table = dir.join("default.table");
        let len = fs::metadata(&table).unwrap().len() as usize;
        let junk: Vec<u8> = (0..len as u64)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 7) as u8 | 0x80)
            .collect();
        {
            use std::os::unix::fs::{FileExt, PermissionsExt};
            let f = fs::OpenOptions::new().write(true).open(&table).unwrap();
            match spoil {
                // Random-looking bytes over the whole file, same inode.
                0 => f.write_all_at(&junk, 0).unwrap(),
                1 => f.set_len(6000).unwrap(),
                2 => f.write_all_at(&[0xff; 4], 16).unwrap(),
                _ => fs::set_permissions(&table, fs::Permissions::from_mode(0o666)).unwrap(),
            }
        }
        if spoil == 3 {
            // Not ours to judge: the watchdog stops and nothing writes it.
            let before = fs::read(&table).unwrap();
            let (status, err) = wd.exit_within(Duration::from_secs(5), tag);
            assert_eq!(status.code(), Some(3), "{tag}: {status}: {err}");
            assert!(err.contains("refused"), "{tag}: {err}");
            kill(h.pid);
            reap_child(h.pid);
            std::thread::sleep(Duration::from_millis(200));
            assert_eq!(
                fs::read(&table).unwrap(),
                before,
                "{tag}: the file was written"
            );
            let _ = fs::remove_dir_all(&dir);
            continue;
        }
        // Damaged: moved aside as it was, a fresh table in its place, and
        // the watchdog goes on with it.
        let aside = dir.join("default.table.damaged");
        let t0 = Instant::now();
        // The file is moved aside first, then the new table is linked in
        // its place: wait for both.
        while !(aside.exists() && dir.join("default.table").exists())
            && t0.elapsed() < Duration::from_secs(5)
        {
            std::thread::sleep(Duration::from_millis(10));
        }
        let got = fs::read(&aside).unwrap_or_else(|e| panic!("{tag}: nothing moved aside: {e}"));
        match spoil {
            0 => assert!(got == junk, "{tag}: the damaged file was changed"),
            1 => assert_eq!(got.len(), 6000, "{tag}"),
            _ => assert_eq!(got[16..20], [0xff; 4], "{tag}"),
        }
        let t = Table::open_existing(&dir, "default").unwrap_or_else(|e| panic!("{tag}: {e}"));
        assert_eq!(t.size(), 254, "{tag}");
        std::thread::sleep(Duration::from_millis(300));
        assert!(
            wd.0.try_wait().unwrap().is_none(),
            "{tag}: the watchdog stopped"
        );
        kill(h.pid);
        reap_child(h.pid);
        let _ = fs::remove_dir_all(&dir);
    }
}

/// `rasstatic` run inside a new PID namespace (with its own /proc), where
/// the holders' PIDs mean nothing.
/// Killed (and failed) if it runs longer than 10 s.
fn in_pid_namespace(args: &[&str], dir: &std::path::Path) -> std::process::Output {
    let mut child = Command::new("unshare")
        .args(["-p", "-f", "--kill-child", "--mount-proc"])
        .arg(env!("CARGO_BIN_EXE_rasstatic"))
        .args(args)
        .arg("--dir")
        .arg(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("unshare (util-linux) must be installed, and this test run as root");
    let t0 = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if t0.elapsed() > Duration::from_secs(10) {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "rasstatic {args:?} in another PID namespace still ran after 10 s: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

#[test]
fn another_pid_namespace_never_frees_live_leases() {
    let (dir, pool) = fresh("wd-pidns", "10.43.0.0/29");
    let t = Table::open_existing(&dir, "default").unwrap();
    let hs: Vec<Holder> = (0..3)
        .map(|k| fork_holder(&dir, &pool, &info(k), None, true))
        .collect();
    let held = |t: &Table| {
        for h in &hs {
            let o = rasstatic::owner::Owner::from_word(t.slots().word(h.slot))
                .unwrap_or_else(|| panic!("{} was freed", h.addr));
            assert_eq!(o.pid(), h.pid as u32, "{} changed hands", h.addr);
        }
    };
    // The PID namespace check itself: this process can judge, the other
    // namespace cannot.
    assert!(t.check_liveness().is_ok());
    let msg = "liveness cannot be known from this PID namespace";

    let out = in_pid_namespace(&["reap"], &dir);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "reap succeeded: {err}");
    assert!(err.contains(msg), "{err}");
    held(&t);

    let addr = hs[0].addr.to_string();
    let out = in_pid_namespace(&["release", &addr], &dir);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "release succeeded: {err}");
    assert!(err.contains(msg), "{err}");
    held(&t);

    // A watchdog there refuses the table (exit 3) instead of reaping.
    let out = in_pid_namespace(&["watchdog"], &dir);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(err.contains(msg), "{err}");
    held(&t);
    assert_eq!(t.counters().ended_by(EndedBy::ReapAdmin), 0);
    assert_eq!(t.counters().ended_by(EndedBy::ReapWatchdog), 0);

    // From the table's own namespace a dead holder is still reaped.
    kill(hs[0].pid);
    reap_child(hs[0].pid);
    assert_eq!(t.reap_all(EndedBy::ReapAdmin).len(), 1);
    for h in &hs[1..] {
        kill(h.pid);
        reap_child(h.pid);
    }
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn a_watchdog_exits_when_its_table_directory_is_removed() {
    let (dir, _) = fresh("wd-gone", "10.44.0.0/29");
    let mut wd = start_watchdog(&dir);
    std::thread::sleep(Duration::from_millis(300));
    assert!(wd.try_wait().unwrap().is_none(), "exited early");
    fs::remove_dir_all(&dir).unwrap();
    let (status, err) = wd.exit_within(Duration::from_secs(5), "directory removed");
    assert!(status.success(), "{status}: {err}");
}

#[test]
fn a_watchdog_exits_when_its_table_stays_gone() {
    let (dir, _) = fresh("wd-tgone", "10.45.0.0/29");
    let mut wd = start_watchdog(&dir);
    std::thread::sleep(Duration::from_millis(300));
    fs::remove_file(dir.join("default.table")).unwrap();
    let t0 = Instant::now();
    let (status, _) = wd.exit_within(
        rasstatic::watchdog::GONE + Duration::from_secs(5),
        "table gone",
    );
    assert!(
        t0.elapsed() >= rasstatic::watchdog::GONE,
        "it did not wait for the table to come back"
    );
    assert!(status.success(), "{status}");
    let _ = fs::remove_dir_all(&dir);
}

/// The table is deleted while a holder is alive: the watchdog, which
/// still maps the deleted file, makes the table again within its 1-second
/// check, with the live lease in it, and goes on watching the new one.
#[test]
fn a_deleted_table_is_made_again_by_the_watchdog_with_its_live_leases() {
    let (dir, pool) = fresh("wd-deleted", "10.46.0.0/29");
    let h = fork_holder(&dir, &pool, &info(0), None, true);
    let mut wd = start_watchdog(&dir);
    std::thread::sleep(Duration::from_millis(300));
    let word = Table::open_existing(&dir, "default").unwrap().word(h.slot);
    assert_eq!(
        rasstatic::owner::Owner::from_word(word).unwrap().pid(),
        h.pid as u32
    );
    fs::remove_file(dir.join("default.table")).unwrap();
    let t0 = Instant::now();
    let t = loop {
        if let Ok(t) = Table::open_existing(&dir, "default") {
            break t;
        }
        assert!(t0.elapsed() < Duration::from_secs(3), "not made again");
        std::thread::sleep(Duration::from_millis(5));
    };
    eprintln!("made again after {} ms", t0.elapsed().as_millis());
    let slot = t.slot_of(h.addr).unwrap();
    assert_eq!(t.word(slot), word, "the live lease was not carried");
    assert_eq!(t.live_leases(), 1);
    // The watchdog watches the new table: the holder's death frees it there.
    kill(h.pid);
    reap_child(h.pid);
    let t1 = Instant::now();
    while rasstatic::owner::Owner::from_word(t.word(slot)).is_some() {
        assert!(
            t1.elapsed() < Duration::from_secs(3),
            "not reaped in the new table"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(wd.0.try_wait().unwrap().is_none(), "the watchdog stopped");
    let _ = fs::remove_dir_all(&dir);
}
