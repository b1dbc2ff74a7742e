//! The `rasstatic` command's output: a closed pipe, a full disk, names
//! that try to talk to the terminal, filters, streaming in constant memory,
//! JSON counts that agree with the rows, and the messages for a missing
//! table or a relative directory.

use std::fs::{self, File};
use std::io::Read;
use std::os::fd::{FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use rasstatic::owner::Owner;
use rasstatic::pool::Pool;
use rasstatic::protocol::ClaimOpts;
use rasstatic::table::{Policy, SessionInfo, Table};

const BIN: &str = env!("CARGO_BIN_EXE_rasstatic");

/// The commands that only write output.
const READ_COMMANDS: [&[&str]; 4] = [
    &["show"],
    &["show", "--json"],
    &["stats"],
    &["stats", "--prometheus"],
];

/// A table directory with processes holding leases; the holders are
/// killed and the directory removed on drop.
struct Fixture {
    dir: PathBuf,
    pool: Pool,
    spec: String,
    holders: Vec<(i32, String)>,
}

impl Fixture {
    fn new(tag: &str, spec: &str) -> Fixture {
        let dir = std::env::temp_dir().join(format!("rasstatic-out-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let pool = Pool::parse(spec, "").unwrap();
        drop(Table::open(&dir, "default", &pool, spec).unwrap());
        Fixture {
            dir,
            pool,
            spec: spec.into(),
            holders: vec![],
        }
    }

    /// Fork a process that claims an address with `info` and sleeps; its
    /// PID and address.
    fn hold(&mut self, info: SessionInfo) -> (i32, String) {
        let mut fds = [0; 2];
        // SAFETY: a pipe for the child to report its address.
        assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
        // SAFETY: the child claims, reports and sleeps; it never returns.
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            // Forked from the multi-threaded harness: a failure here must
            // end this child, never unwind into the harness's copy.
            let claimed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                let (t, _) = Table::open(&self.dir, "default", &self.pool, &self.spec).ok()?;
                let me = Owner::current().ok()?;
                let c = t
                    .claim(me, ClaimOpts::default(), Policy::RoundRobin, &info)
                    .ok()??;
                // The table stays open in this child until it is killed.
                std::mem::forget(t);
                Some(self.pool.addr(c.slot).to_string())
            }));
            let Ok(Some(a)) = claimed else {
                // SAFETY: ends the child; the parent sees an empty report.
                unsafe { libc::_exit(1) }
            };
            // SAFETY: writing to our pipe, then sleeping until killed.
            unsafe {
                libc::write(fds[1], a.as_ptr().cast(), a.len());
                libc::close(fds[1]);
                loop {
                    libc::pause();
                }
            }
        }
        // SAFETY: fds[0] is ours; File owns and closes it.
        let mut r = unsafe {
            libc::close(fds[1]);
            File::from_raw_fd(fds[0])
        };
        let mut a = String::new();
        r.read_to_string(&mut a).unwrap();
        assert!(!a.is_empty(), "holder {pid} claimed nothing");
        self.holders.push((pid, a.clone()));
        (pid, a)
    }

    /// SIGKILL a holder: its lease becomes stale.
    fn kill(&mut self, pid: i32) {
        // SAFETY: killing and reaping our own child.
        unsafe {
            libc::kill(pid, libc::SIGKILL);
            libc::waitpid(pid, std::ptr::null_mut(), 0);
        }
        self.holders.retain(|h| h.0 != pid);
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new(BIN)
            .args(args)
            .arg("--dir")
            .arg(&self.dir)
            .output()
            .unwrap()
    }

    fn json(&self, args: &[&str]) -> serde_json::Value {
        let o = self.run(&[&["show", "--json"], args].concat());
        assert!(o.status.success(), "{}", text(&o.stderr));
        serde_json::from_slice(&o.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", text(&o.stdout)))
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        for (pid, _) in std::mem::take(&mut self.holders) {
            self.kill(pid);
        }
        let _ = fs::remove_dir_all(&self.dir);
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn info(peer: &str, ifname: &str, device: &str) -> SessionInfo {
    SessionInfo {
        peer: peer.into(),
        ifname: ifname.into(),
        device: device.into(),
        proxyarp: false,
    }
}

/// Run with standard output (and, if `err_too`, standard error) on
/// `/dev/full`, or on a pipe whose reader has gone.
fn run_into(dir: &Path, args: &[&str], target: &str, err_too: bool) -> Output {
    let sink = || -> Stdio {
        match target {
            "full" => File::options()
                .write(true)
                .open("/dev/full")
                .unwrap()
                .into(),
            "closed-pipe" => {
                let mut fds = [0; 2];
                // SAFETY: a pipe whose read end we close at once.
                assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
                // SAFETY: both descriptors are fresh and ours.
                unsafe {
                    libc::close(fds[0]);
                    OwnedFd::from_raw_fd(fds[1]).into()
                }
            }
            _ => unreachable!(),
        }
    };
    let mut c = Command::new(BIN);
    c.args(args).arg("--dir").arg(dir).stdout(sink());
    if err_too {
        c.stderr(sink());
    }
    c.output().unwrap()
}

#[test]
fn a_closed_pipe_ends_every_command_quietly_with_status_0() {
    let mut f = Fixture::new("epipe", "10.40.0.1-10.40.0.8");
    let (stale, _) = f.hold(info("bob", "ppp1", "ttyS1"));
    f.hold(info("alice", "ppp0", "ttyS0"));
    f.kill(stale);
    for args in READ_COMMANDS {
        let o = run_into(&f.dir, args, "closed-pipe", false);
        assert_eq!(o.status.code(), Some(0), "{args:?}: {}", text(&o.stderr));
        assert_eq!(text(&o.stderr), "", "{args:?}");
    }
    // reap changes the table before it writes: it still succeeds.
    let o = run_into(&f.dir, &["reap"], "closed-pipe", false);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert_eq!(f.json(&[])["stale"], 0, "reap did its work");
}

#[test]
fn show_piped_into_head_exits_0_without_a_word() {
    // Enough rows to fill the pipe after head has gone.
    let f = Fixture::new("head", "10.41.0.0/18");
    for args in ["show", "show --json"] {
        let o = Command::new("bash")
            .args([
                "-c",
                &format!("set -o pipefail; \"$0\" {args} --dir \"$1\" | head -c 100 >/dev/null"),
                BIN,
            ])
            .arg(&f.dir)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(0), "{args}: {}", text(&o.stderr));
        assert_eq!(text(&o.stderr), "", "{args}");
    }
}

#[test]
fn a_full_disk_is_an_error_with_status_1_and_never_a_panic() {
    let mut f = Fixture::new("full", "10.42.0.1-10.42.0.8");
    let (a, _) = f.hold(info("alice", "ppp0", "ttyS0"));
    let (b, _) = f.hold(info("bob", "ppp1", "ttyS1"));
    let (_, live) = f.hold(info("carol", "ppp2", "ttyS2"));
    f.kill(a);
    f.kill(b);
    for args in READ_COMMANDS {
        let o = run_into(&f.dir, args, "full", false);
        assert_eq!(o.status.code(), Some(1), "{args:?}");
        assert_eq!(
            text(&o.stderr),
            "rasstatic: cannot write the output: No space left on device (os error 28)\n",
            "{args:?}"
        );
    }
    // reap and release change the table, then fail to say so: the message
    // says what was done.
    let o = run_into(&f.dir, &["reap"], "full", false);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        text(&o.stderr),
        "rasstatic: freed 2 stale lease(s), but cannot write the output: No space left on device (os error 28)\n"
    );
    assert_eq!(f.json(&[])["stale"], 0);
    let o = run_into(&f.dir, &["release", &live, "--force"], "full", false);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stderr).contains(&format!(
            "rasstatic: released {live}, but cannot write the output: No space left on device"
        )),
        "{}",
        text(&o.stderr)
    );
    assert_eq!(f.json(&[])["leased"], 0, "the release happened");
    // With standard error full as well: still status 1, not a panic (101).
    let (_, live) = f.hold(info("dave", "ppp3", "ttyS3"));
    for args in [&["show"][..], &["reap"], &["release", &live, "--force"]] {
        let o = run_into(&f.dir, args, "full", true);
        assert_eq!(o.status.code(), Some(1), "{args:?}");
    }
    assert_eq!(f.json(&[])["leased"], 0);
}

#[test]
fn names_cannot_forge_rows_or_reach_the_terminal() {
    let mut f = Fixture::new("inject", "10.43.0.1-10.43.0.4");
    // Stored names are cut to 16 (peer), 8 (interface) and the last 8
    // bytes (device).
    let peer = "\u{1b}[2J\n10.9.9.9 fr";
    let ifname = "p\u{1b}]0;x\u{7}";
    let device = "\r\u{9b}1m\u{202e}";
    let (pid, addr) = f.hold(info(peer, ifname, device));
    let o = f.run(&["show"]);
    assert!(o.status.success());
    let out = text(&o.stdout);
    assert!(
        o.stdout
            .iter()
            .all(|&b| b == b'\n' || (0x20..0x7f).contains(&b) || b >= 0x80),
        "a control byte reached the output: {out:?}"
    );
    assert!(
        !out.contains('\u{9b}') && !out.contains('\u{202e}'),
        "{out:?}"
    );
    // Header, the four addresses, the summary and the watchdog line.
    assert_eq!(out.lines().count(), 7, "{out}");
    assert!(!out.lines().any(|l| l.starts_with("10.9.9.9")), "{out}");
    let row = out
        .lines()
        .find(|l| l.starts_with(&format!("{addr} ")))
        .unwrap();
    assert!(
        row.contains(&format!("leased  {pid}"))
            && row.contains("\\x1b[2J\\n10.9.9.9 fr ")
            && row.contains("p\\x1b]0;x\\x07")
            && row.contains("\\r\\u{9b}1m\\u{202e}"),
        "{row}"
    );
    // JSON keeps the names exact, escaped the JSON way.
    let v = f.json(&[]);
    let l = v["leases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["address"] == addr.as_str())
        .unwrap();
    assert_eq!(l["peer"], peer);
    assert_eq!(l["interface"], ifname);
    assert_eq!(l["device"], device);
    // The last holder's name, once freed, is escaped too.
    f.kill(pid);
    assert!(f.run(&["release", &addr]).status.success());
    let out = text(&f.run(&["show"]).stdout);
    assert_eq!(out.lines().count(), 7, "{out}");
    assert!(out.contains("\\x1b[2J\\n10.9.9.9 fr pid"), "{out}");
}

#[test]
fn show_filters_by_state_and_address() {
    let mut f = Fixture::new("filter", "10.44.0.0/29,10.44.1.1-10.44.1.2");
    let (_, l1) = f.hold(info("alice", "ppp0", "ttyS0"));
    let (dead, s1) = f.hold(info("bob", "ppp1", "ttyS1"));
    let (_, l2) = f.hold(info("carol", "ppp2", "ttyS2"));
    f.kill(dead);
    let addrs = |v: &serde_json::Value| -> Vec<String> {
        v["leases"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["address"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(addrs(&f.json(&["--leased"])), vec![l1.clone(), l2.clone()]);
    assert_eq!(addrs(&f.json(&["--stale"])), vec![s1.clone()]);
    assert_eq!(
        addrs(&f.json(&["--leased", "--stale"])),
        vec![l1.clone(), s1.clone(), l2.clone()]
    );
    assert_eq!(addrs(&f.json(&["--free"])).len(), 8 - 3);
    // Counts cover every address looked at, whatever is listed.
    let v = f.json(&["--stale"]);
    assert_eq!(
        (&v["scanned"], &v["leased"], &v["stale"], &v["free"]),
        (&8.into(), &2.into(), &1.into(), &5.into())
    );
    // An address, a range, a CIDR block (taken whole); outside the pool,
    // nothing.
    assert_eq!(addrs(&f.json(&[&s1])), vec![s1.clone()]);
    let v = f.json(&["10.44.0.0/24"]);
    assert_eq!(addrs(&v).len(), 6);
    assert_eq!(
        (&v["scanned"], &v["select"]),
        (&6.into(), &"10.44.0.0/24".into())
    );
    assert_eq!(
        addrs(&f.json(&["10.44.0.6-10.44.1.1"])),
        vec!["10.44.0.6", "10.44.1.1"]
    );
    assert_eq!(addrs(&f.json(&["10.45.0.1"])).len(), 0);
    // The text output, as scripts read it (address and state first).
    let out = text(&f.run(&["show", "--stale"]).stdout);
    let rows: Vec<&str> = out.lines().filter(|l| l.starts_with("10.")).collect();
    assert_eq!(rows.len(), 1, "{out}");
    assert_eq!(
        rows[0].split_whitespace().take(2).collect::<Vec<_>>(),
        [s1.as_str(), "stale"]
    );
    assert!(
        out.contains("8 addresses: 2 leased, 1 stale, 5 free"),
        "{out}"
    );
    let out = text(&f.run(&["show", "10.44.1.0/24"]).stdout);
    assert!(out.contains("2 of 8 addresses in 10.44.1.0/24: "), "{out}");
    // A bad selection is an error naming it.
    let o = f.run(&["show", "10.44.0.0/024"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stderr).contains("\"10.44.0.0/024\""),
        "{}",
        text(&o.stderr)
    );
}

#[test]
fn json_counts_agree_with_the_rows_while_holders_die() {
    let mut f = Fixture::new("agree", "10.46.0.0/24");
    let pids: Vec<i32> = (0..150)
        .map(|i| f.hold(info(&format!("u{i}"), "ppp", "tty")).0)
        .collect();
    // Kill holders one by one while show --json runs again and again.
    let killer = std::thread::spawn(move || {
        for pid in pids {
            // SAFETY: signalling our own children (reaped by the fixture).
            unsafe { libc::kill(pid, libc::SIGKILL) };
            std::thread::sleep(Duration::from_micros(500));
        }
    });
    let start = Instant::now();
    let mut runs = 0;
    while !killer.is_finished() || runs < 5 {
        let v = f.json(&[]);
        let leases = v["leases"].as_array().unwrap();
        let n = |s: &str| leases.iter().filter(|l| l["state"] == s).count() as u64;
        assert_eq!(
            (n("leased"), n("stale"), n("free"), leases.len() as u64),
            (
                v["leased"].as_u64().unwrap(),
                v["stale"].as_u64().unwrap(),
                v["free"].as_u64().unwrap(),
                v["size"].as_u64().unwrap()
            ),
            "run {runs}: the counts disagree with the leases array"
        );
        assert_eq!(v["scanned"], v["size"]);
        runs += 1;
        assert!(start.elapsed() < Duration::from_secs(60));
    }
    killer.join().unwrap();
}

#[test]
fn json_keys_come_in_the_documented_order() {
    let mut f = Fixture::new("order", "10.47.0.1-10.47.0.3");
    let (pid, _) = f.hold(info("alice", "ppp0", "ttyS0"));
    f.hold(info("bob", "ppp1", "ttyS1"));
    f.kill(pid);
    assert!(f.run(&["reap"]).status.success());
    let o = f.run(&["show", "--json"]);
    let out = text(&o.stdout);
    let at = |k: &str| {
        out.find(&format!("\"{k}\":"))
            .unwrap_or_else(|| panic!("no key {k} in {out}"))
    };
    let top = [
        "table",
        "pool",
        "definition",
        "size",
        "watchdog",
        "cluster",
        "leases",
        "scanned",
        "leased",
        "stale",
        "free",
        "draining",
        "sealed",
    ];
    assert!(top.windows(2).all(|w| at(w[0]) < at(w[1])), "{out}");
    let lease = [
        "address",
        "state",
        "pid",
        "peer",
        "interface",
        "device",
        "proxyarp",
        "since",
        "since_local",
        "duration_s",
        "last",
    ];
    // (A parsed Value sorts its keys: look at the text itself.)
    for obj in out.split("{\"address\":").skip(1) {
        let obj = format!("{{\"address\":{obj}");
        let pos = |k: &str| obj.find(&format!("\"{k}\":")).unwrap();
        assert!(lease.windows(2).all(|w| pos(w[0]) < pos(w[1])), "{obj}");
    }
    // The freed address's "last" object, in order, and one line in all,
    // with the keys the README's greps rely on.
    let last = out.find("\"last\":{\"pid\":").expect("a last holder");
    let tail = &out[last..];
    assert!(
        tail.find("\"peer\":\"alice\"").unwrap()
            < tail.find("\"released_by\":\"reap-admin\"").unwrap()
            && tail.find("\"released_by\"").unwrap() < tail.find("\"released_at\":").unwrap(),
        "{tail}"
    );
    assert_eq!(out.lines().count(), 1);
    assert!(out.contains(",\"watchdog\":null,"), "{out}");
}

#[test]
fn a_missing_table_or_directory_says_what_to_do() {
    let dir = std::env::temp_dir().join(format!("rasstatic-out-missing-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    for d in [dir.join("nonexistent"), dir.clone()] {
        if d == dir {
            fs::create_dir_all(&dir).unwrap();
        }
        for sub in ["show", "stats", "reap"] {
            let o = Command::new(BIN)
                .args([sub, "--dir"])
                .arg(&d)
                .output()
                .unwrap();
            assert_eq!(o.status.code(), Some(1));
            assert_eq!(
                text(&o.stderr),
                format!(
                    "rasstatic: no table {}/default.table: no pppd has created it yet \
                     (is `plugin rasstatic.so` in pppd's options?)\n",
                    d.display()
                ),
                "{sub} --dir {}",
                d.display()
            );
        }
    }
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn a_relative_directory_is_refused_before_anything_is_created() {
    let cwd = std::env::temp_dir().join(format!("rasstatic-out-rel-{}", std::process::id()));
    let _ = fs::remove_dir_all(&cwd);
    fs::create_dir_all(&cwd).unwrap();
    for args in [
        &["show", "--dir", "relative/x"][..],
        &["reap", "--dir", "relative/x"],
        &["watchdog", "--dir", "relative/x"],
        &["watchdog", "--detach", "--dir", "relative/x"],
    ] {
        let mut c = Command::new(BIN);
        c.args(args).current_dir(&cwd).stdin(Stdio::null());
        let mut child = c
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // It must answer at once, not wait for a table.
        let start = Instant::now();
        let status = loop {
            if let Some(s) = child.try_wait().unwrap() {
                break s;
            }
            if start.elapsed() > Duration::from_secs(10) {
                let _ = child.kill();
                let _ = child.wait();
                panic!("{args:?} is still waiting");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let mut err = String::new();
        child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut err)
            .unwrap();
        assert_eq!(status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.contains("\"relative/x\" is not an absolute path"),
            "{args:?}: {err}"
        );
        assert!(
            !cwd.join("relative").exists(),
            "{args:?} created a directory"
        );
    }
    let _ = fs::remove_dir_all(&cwd);
}

/// `show` and `show --json` read a 1,048,576-address table in bounded
/// memory: under an address-space limit of the table's size plus 200 MiB.
/// (Collecting every row first took 695 MB and 2.4 GB.)
#[test]
fn show_streams_a_large_table_in_bounded_memory() {
    let f = Fixture::new("large", "10.0.0.1-10.16.0.0");
    let t = Table::open_existing(&f.dir, "default").unwrap();
    assert_eq!(t.size(), 1 << 20);
    let limit_kib = (t.file_size() >> 10) + 200 * 1024;
    drop(t);
    for args in ["show", "show --json", "stats"] {
        let o = Command::new("bash")
            .args([
                "-c",
                &format!(
                    "set -o pipefail; ulimit -v {limit_kib} && \"$0\" {args} --dir \"$1\" | wc -l"
                ),
                BIN,
            ])
            .arg(&f.dir)
            .output()
            .unwrap();
        assert!(o.status.success(), "{args}: {}", text(&o.stderr));
        assert_eq!(text(&o.stderr), "", "{args}");
        let lines: u64 = text(&o.stdout).trim().parse().unwrap();
        let want = match args {
            "show" => (1 << 20) + 3,
            "show --json" => 1,
            _ => 9,
        };
        assert_eq!(lines, want, "{args}");
    }
}

#[test]
fn watchdog_detach_into_a_full_disk_says_it_started_one() {
    let f = Fixture::new("wdfull", "10.48.0.1-10.48.0.2");
    let o = run_into(&f.dir, &["watchdog", "--detach"], "full", false);
    let err = text(&o.stderr);
    // The PID the command reports (the watchdog writes its lock file only
    // once it runs, which may be after the command has returned).
    let pid = err
        .split_once("started the watchdog (pid ")
        .and_then(|(_, rest)| rest.split_once(')'))
        .and_then(|(pid, _)| pid.parse::<i32>().ok());
    // Stop the watchdog it started, whatever the outcome.
    if let Some(pid) = pid {
        // SAFETY: signalling the watchdog this test started.
        unsafe { libc::kill(pid, libc::SIGTERM) };
    }
    assert_eq!(o.status.code(), Some(1), "{err}");
    let pid = pid.unwrap_or_else(|| panic!("no PID reported: {err}"));
    assert!(
        err.contains(&format!(
            "started the watchdog (pid {pid}), but cannot write the output: No space left on device"
        )),
        "{err}"
    );
}

#[test]
fn show_and_stats_report_a_table_truncated_while_they_read_it_and_never_crash() {
    use std::os::unix::process::ExitStatusExt;
    let f = Fixture::new("truncated", "10.60.0.0/16");
    let table = f.dir.join("default.table");
    let len = fs::metadata(&table).unwrap().len();
    for json in [false, true] {
        // Far more rows than a pipe holds: show blocks on its output with
        // most of the table still to read.
        let mut args = vec!["show", "--dir", f.dir.to_str().unwrap()];
        if json {
            args.push("--json");
        }
        let mut child = Command::new(BIN)
            .args(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdout = child.stdout.take().unwrap();
        let mut first = [0u8; 4096];
        stdout.read_exact(&mut first).unwrap();
        // Root truncates the table in place, under the reader.
        File::options()
            .write(true)
            .open(&table)
            .unwrap()
            .set_len(8192)
            .unwrap();
        let mut rest = Vec::new();
        stdout.read_to_end(&mut rest).unwrap();
        let out = child.wait_with_output().unwrap();
        let err = text(&out.stderr);
        assert_eq!(
            out.status.signal(),
            None,
            "json {json}: killed by a signal: {err}"
        );
        assert_eq!(out.status.code(), Some(1), "json {json}: {err}");
        assert!(err.contains("truncated"), "json {json}: {err}");
        // Put a whole table back for the next round.
        drop(fs::remove_file(&table));
        drop(Table::open(&f.dir, "default", &f.pool, &f.spec).unwrap());
        assert_eq!(fs::metadata(&table).unwrap().len(), len);
    }
    // stats reads every slot too; a truncated table is refused with the
    // reason, not a signal.
    File::options()
        .write(true)
        .open(&table)
        .unwrap()
        .set_len(8192)
        .unwrap();
    let out = Command::new(BIN)
        .args(["stats", "--dir", f.dir.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.signal(), None);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
}

/// Cluster mode's part of the table: `stats` shows the claim and hang
/// deadlines and the claims refused past the first (fenced), in text and
/// for Prometheus; a standalone table shows none of it.
#[test]
fn stats_show_the_cluster_deadlines_and_fenced_refusals() {
    let f = Fixture::new("cluster", "10.77.0.1-10.77.0.8");
    let stats = |args: &[&str]| {
        let o = Command::new(BIN)
            .args(args)
            .arg("--dir")
            .arg(&f.dir)
            .output()
            .unwrap();
        assert!(o.status.success(), "{o:?}");
        text(&o.stdout)
    };
    let plain = stats(&["stats"]);
    assert!(plain.contains("refused   0 (pool exhausted)"), "{plain}");
    assert!(!plain.contains("\ncluster "), "{plain}");
    assert!(!stats(&["stats", "--prometheus"]).contains("rasstatic_cluster_"));
    // As the agent does after a renewal, long ago: the claim deadline has
    // passed (a second ago), the hang deadline is 30 s away.
    let (t, _) = Table::open(&f.dir, "default", &f.pool, &f.spec).unwrap();
    let now = rasstatic::table::boot_ns();
    t.set_deadlines(now - 1_000_000_000, now + 30_000_000_000);
    let me = Owner::current().unwrap();
    let got = t
        .claim(
            me,
            ClaimOpts::default(),
            Policy::RoundRobin,
            &SessionInfo::default(),
        )
        .unwrap();
    assert!(got.is_none(), "claimed past the claim deadline");
    let plain = stats(&["stats"]);
    assert!(
        plain.contains("refused   1 (0 pool exhausted, 1 fenced: past the claim deadline)"),
        "{plain}"
    );
    assert!(
        plain.contains("cluster   claim deadline passed "),
        "{plain}"
    );
    assert!(plain.contains(", hang deadline in "), "{plain}");
    let prom = stats(&["stats", "--prometheus"]);
    assert!(
        prom.contains("rasstatic_cluster_fenced_total{pool=\"default\"} 1"),
        "{prom}"
    );
    let claim: f64 = prom
        .lines()
        .find_map(|l| l.strip_prefix("rasstatic_cluster_claim_deadline_seconds{pool=\"default\"} "))
        .expect(&prom)
        .parse()
        .unwrap();
    let hang: f64 = prom
        .lines()
        .find_map(|l| l.strip_prefix("rasstatic_cluster_hang_deadline_seconds{pool=\"default\"} "))
        .expect(&prom)
        .parse()
        .unwrap();
    assert!(
        claim < 0.0 && (25.0..=30.0).contains(&hang),
        "{claim} {hang}"
    );
    // Deadlines only rise: an older renewal cannot pull them back.
    t.set_deadlines(now - 5_000_000_000, now);
    assert_eq!(t.deadlines().1, now + 30_000_000_000);
}

#[test]
fn show_and_stats_tell_the_blocks_held_the_sealed_addresses_and_the_agents_state() {
    let f = Fixture::new("agentstate", "10.78.0.1-10.78.0.16");
    let run = |args: &[&str]| {
        let o = Command::new(BIN)
            .args(args)
            .arg("--dir")
            .arg(&f.dir)
            .output()
            .unwrap();
        assert!(o.status.success(), "{o:?}");
        text(&o.stdout)
    };
    // A standalone table: nothing of the cluster.
    let plain = run(&["show"]);
    assert!(
        !plain.contains("sealed") && !plain.contains("agent "),
        "{plain}"
    );
    let j: serde_json::Value = serde_json::from_str(&run(&["show", "--json"])).unwrap();
    assert_eq!(j["cluster"], serde_json::Value::Null);
    assert_eq!(j["sealed"], 0);
    // In a cluster, before any agent reported: fenced, every slot sealed.
    let (t, _) = Table::open(&f.dir, "default", &f.pool, &f.spec).unwrap();
    t.enter_cluster_mode();
    assert!(t.seal_free(0, 16).is_empty());
    let plain = run(&["stats"]);
    assert!(plain.contains("sealed    16 (free, in blocks"), "{plain}");
    assert!(
        plain.contains("claim deadline passed (no renewal verified yet)"),
        "{plain}"
    );
    assert!(
        plain.contains("agent     none has reported for this table"),
        "{plain}"
    );
    let prom = run(&["stats", "--prometheus"]);
    assert!(
        prom.contains("rasstatic_cluster_agent_up{pool=\"default\"} 0"),
        "{prom}"
    );
    // The agent holds block 1 (8 addresses) and reported.
    let now = rasstatic::table::boot_ns();
    t.set_deadlines(now + 10_000_000_000, now + 60_000_000_000);
    t.unseal(8, 8);
    let a = rasstatic::agent_state::AgentState {
        agent: Owner::current().unwrap().word(),
        server_id: "bras-7".into(),
        endpoints: "http://127.0.0.1:2379".into(),
        state: "joined".into(),
        token: 42,
        lease: 7_587_882_386_512_343_810,
        block: 8,
        held: vec![1],
        strays: 0,
        renewed_ns: now - 500_000_000,
        updated_ns: now,
        error: String::new(),
    };
    a.write(&f.dir, "default").unwrap();
    let plain = run(&["show"]);
    assert!(
        plain.contains("8 sealed (not this server's to hand out)"),
        "{plain}"
    );
    assert!(
        plain.contains(&format!(
            "agent     server bras-7 (pid {}), joined, token 42, last verified renewal",
            std::process::id()
        )),
        "{plain}"
    );
    assert!(
        plain.contains("blocks    1 held of 8 addresses each: 1 (10.78.0.9-10.78.0.16)"),
        "{plain}"
    );
    assert_eq!(
        run(&["show", "--sealed"])
            .lines()
            .filter(|l| l.split_whitespace().nth(1) == Some("sealed"))
            .count(),
        8
    );
    let j: serde_json::Value = serde_json::from_str(&run(&["show", "--json"])).unwrap();
    assert_eq!(j["sealed"], 8);
    assert_eq!(j["free"], 8);
    let c = &j["cluster"];
    assert_eq!(c["fenced"], false);
    assert_eq!(c["agent"]["server_id"], "bras-7");
    assert_eq!(c["agent"]["running"], true);
    assert_eq!(c["agent"]["blocks"][0]["first"], "10.78.0.9");
    assert_eq!(c["agent"]["blocks"][0]["last"], "10.78.0.16");
    let prom = run(&["stats", "--prometheus"]);
    for want in [
        "rasstatic_leases{pool=\"default\",state=\"sealed\"} 8",
        "rasstatic_cluster_agent_up{pool=\"default\"} 1",
        "rasstatic_cluster_agent_info{pool=\"default\",server_id=\"bras-7\",state=\"joined\"} 1",
        "rasstatic_cluster_blocks_held{pool=\"default\"} 1",
        "rasstatic_cluster_strays{pool=\"default\"} 0",
        "rasstatic_cluster_renewal_age_seconds{pool=\"default\"} ",
    ] {
        assert!(prom.contains(want), "{want}:\n{prom}");
    }
    // A state file someone else could have written is refused, not shown.
    use std::os::unix::fs::PermissionsExt;
    let p = rasstatic::agent_state::path(&f.dir, "default");
    fs::set_permissions(&p, fs::Permissions::from_mode(0o646)).unwrap();
    let plain = run(&["stats"]);
    assert!(plain.contains("refused: writable by others"), "{plain}");
    assert!(!plain.contains("bras-7"), "{plain}");
}
