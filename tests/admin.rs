//! The `rasstatic` command against tables written by real processes, some
//! alive and some SIGKILLed.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use rasstatic::owner::Owner;
use rasstatic::pool::Pool;
use rasstatic::protocol::ClaimOpts;
use rasstatic::table::{Policy, SessionInfo, Table};

struct Fixture {
    dir: PathBuf,
    /// (pid, address) of holders still alive.
    alive: Vec<(i32, String)>,
    /// (pid, address) of holders killed with SIGKILL.
    dead: Vec<(u32, String)>,
}

impl Drop for Fixture {
    fn drop(&mut self) {
        for (pid, _) in &self.alive {
            // SAFETY: ending and reaping our own children.
            unsafe {
                libc::kill(*pid, libc::SIGKILL);
                libc::waitpid(*pid, std::ptr::null_mut(), 0);
            }
        }
        let _ = fs::remove_dir_all(&self.dir);
    }
}

const POOL: &str = "10.20.0.1-10.20.0.8";

/// Four holders: two stay alive (sleeping), two are SIGKILLed.
fn fixture(tag: &str) -> Fixture {
    let dir = std::env::temp_dir().join(format!("rasstatic-admin-{tag}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    let pool = Pool::parse(POOL, "").unwrap();
    drop(Table::open(&dir, "default", &pool, POOL).unwrap());
    let mut f = Fixture {
        dir,
        alive: vec![],
        dead: vec![],
    };
    for k in 0..4 {
        let mut fds = [0; 2];
        // SAFETY: a pipe for the child to report its address.
        assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
        // SAFETY: the child claims, reports and sleeps; it never returns.
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            let (t, _) = Table::open(&f.dir, "default", &pool, POOL).unwrap();
            let me = Owner::current().unwrap();
            let info = SessionInfo {
                peer: format!("user{k}"),
                ifname: format!("ppp{k}"),
                device: format!("/dev/ttyS{k}"),
                proxyarp: false,
            };
            let c = t
                .claim(me, ClaimOpts::default(), Policy::RoundRobin, &info)
                .unwrap()
                .unwrap();
            let a = pool.addr(c.slot).to_string();
            // SAFETY: writing to our pipe, then sleeping until killed.
            unsafe {
                libc::write(fds[1], a.as_ptr().cast(), a.len());
                libc::close(fds[1]);
                loop {
                    libc::pause();
                }
            }
        }
        let mut buf = [0u8; 32];
        // SAFETY: reading the child's report from our end of the pipe.
        let n = unsafe {
            libc::close(fds[1]);
            let n = libc::read(fds[0], buf.as_mut_ptr().cast(), buf.len());
            libc::close(fds[0]);
            n
        };
        let addr = String::from_utf8_lossy(&buf[..n as usize]).into_owned();
        if k % 2 == 0 {
            f.alive.push((pid, addr));
        } else {
            // SAFETY: killing and reaping our own child.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
                libc::waitpid(pid, std::ptr::null_mut(), 0);
            }
            f.dead.push((pid as u32, addr));
        }
    }
    f
}

fn rasstatic(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rasstatic"))
        .args(args)
        .arg("--dir")
        .arg(dir)
        .output()
        .unwrap()
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn show_json_reports_live_stale_and_free_with_the_documented_keys() {
    let f = fixture("json");
    let table = f.dir.join("default.table");
    let before = fs::read(&table).unwrap();
    let o = rasstatic(&f.dir, &["show", "--json"]);
    assert!(o.status.success(), "{:?}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        (
            v["size"].as_u64(),
            v["leased"].as_u64(),
            v["stale"].as_u64(),
            v["free"].as_u64()
        ),
        (Some(8), Some(2), Some(2), Some(4))
    );
    let leases = v["leases"].as_array().unwrap();
    assert_eq!(leases.len(), 8);
    for l in leases {
        for key in [
            "address",
            "state",
            "pid",
            "peer",
            "interface",
            "device",
            "since",
            "since_local",
            "duration_s",
            "last",
        ] {
            assert!(l.get(key).is_some(), "key {key} missing in {l}");
        }
        let a = l["address"].as_str().unwrap();
        let alive = f.alive.iter().find(|x| x.1 == a);
        let dead = f.dead.iter().find(|x| x.1 == a);
        match (alive, dead) {
            (Some((pid, _)), None) => {
                assert_eq!(l["state"], "leased");
                assert_eq!(l["pid"].as_i64(), Some(i64::from(*pid)));
                assert!(l["peer"].as_str().unwrap().starts_with("user"));
                assert!(l["interface"].as_str().unwrap().starts_with("ppp"));
                assert!(l["device"].as_str().unwrap().starts_with("ttyS"));
            }
            (None, Some((pid, _))) => {
                assert_eq!(l["state"], "stale");
                assert_eq!(l["pid"].as_u64(), Some(u64::from(*pid)));
            }
            _ => {
                assert_eq!(l["state"], "free");
                assert!(l["pid"].is_null());
                assert!(l["peer"].is_null());
            }
        }
    }
    // show and stats never change the table.
    let human = rasstatic(&f.dir, &["show"]);
    let (out, _) = text(&human);
    assert!(out.starts_with("ADDRESS"), "{out}");
    assert!(
        out.contains("8 addresses: 2 leased, 2 stale, 4 free"),
        "{out}"
    );
    assert!(rasstatic(&f.dir, &["stats"]).status.success());
    assert!(rasstatic(&f.dir, &["stats", "--prometheus"])
        .status
        .success());
    assert_eq!(
        before,
        fs::read(&table).unwrap(),
        "show/stats changed the table"
    );
}

#[test]
fn prometheus_output_parses() {
    let f = fixture("prom");
    let o = rasstatic(&f.dir, &["stats", "--prometheus"]);
    let (out, _) = text(&o);
    assert!(o.status.success());
    let mut samples = std::collections::HashMap::new();
    let mut typed = std::collections::HashSet::new();
    for line in out.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut w = rest.split(' ');
            let name = w.next().unwrap();
            assert!(matches!(w.next(), Some("gauge" | "counter")), "{line}");
            typed.insert(name.to_string());
            continue;
        }
        if line.starts_with("# HELP ") {
            continue;
        }
        // name{label="v",...} value
        let (series, value) = line
            .rsplit_once(' ')
            .unwrap_or_else(|| panic!("bad line {line:?}"));
        value
            .parse::<f64>()
            .unwrap_or_else(|_| panic!("bad value in {line:?}"));
        let (name, labels) = series
            .split_once('{')
            .unwrap_or_else(|| panic!("no labels: {line:?}"));
        assert!(
            name.starts_with("rasstatic_")
                && name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
        );
        assert!(typed.contains(name), "{name} has no TYPE line before it");
        let labels = labels.strip_suffix('}').unwrap();
        assert!(labels.starts_with("pool=\"default\""), "{line}");
        for l in labels.split(',') {
            let (k, v) = l.split_once('=').unwrap();
            assert!(
                k.bytes().all(|b| b.is_ascii_lowercase()) && v.starts_with('"') && v.ends_with('"'),
                "{line}"
            );
        }
        samples.insert(series.to_string(), value.to_string());
    }
    let get = |s: &str| {
        samples
            .get(s)
            .unwrap_or_else(|| panic!("no {s} in {out}"))
            .as_str()
    };
    assert_eq!(get("rasstatic_pool_addresses{pool=\"default\"}"), "8");
    assert_eq!(
        get("rasstatic_leases{pool=\"default\",state=\"leased\"}"),
        "2"
    );
    assert_eq!(
        get("rasstatic_leases{pool=\"default\",state=\"stale\"}"),
        "2"
    );
    assert_eq!(
        get("rasstatic_leases{pool=\"default\",state=\"free\"}"),
        "4"
    );
    assert_eq!(get("rasstatic_assigned_total{pool=\"default\"}"), "4");
    assert_eq!(get("rasstatic_refused_total{pool=\"default\"}"), "0");
}

#[test]
fn release_refuses_a_live_lease_force_frees_it_and_reap_frees_stale_ones() {
    let f = fixture("release");
    let (pid, live) = f.alive[0].clone();
    let o = rasstatic(&f.dir, &["release", &live]);
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        err.contains(&format!("{live} is leased to live pid {pid}")),
        "{err}"
    );
    let o = rasstatic(&f.dir, &["release", &live, "--force"]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    assert!(out.contains(&format!("released {live}")));
    assert!(
        err.contains(&format!(
            "forced release of {live}, leased to live pid {pid}"
        )),
        "{err}"
    );
    // A stale one needs no force.
    let (dpid, stale) = f.dead[0].clone();
    let o = rasstatic(&f.dir, &["release", &stale]);
    assert!(o.status.success());
    assert!(text(&o)
        .0
        .contains(&format!("released {stale} (pid {dpid} was dead)")));
    // reap frees the other stale lease and names it.
    let o = rasstatic(&f.dir, &["reap"]);
    let (out, _) = text(&o);
    assert!(o.status.success());
    assert!(
        out.contains(&format!(
            "reaped {} (pid {} is dead)",
            f.dead[1].1, f.dead[1].0
        )),
        "{out}"
    );
    assert!(out.contains("1 stale lease(s) freed"));
    let v: serde_json::Value =
        serde_json::from_slice(&rasstatic(&f.dir, &["show", "--json"]).stdout).unwrap();
    assert_eq!(
        (v["leased"].as_u64(), v["stale"].as_u64()),
        (Some(1), Some(0))
    );
    // Errors: an address outside the pool, and not an address.
    let o = rasstatic(&f.dir, &["release", "10.21.0.1"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o)
        .1
        .contains("10.21.0.1 is not in pool 10.20.0.1-10.20.0.8"));
    assert_eq!(
        rasstatic(&f.dir, &["release", "nonsense"]).status.code(),
        Some(1)
    );
}

#[test]
fn usage_errors_exit_2_and_bad_tables_are_refused_like_the_plugin_does() {
    let o = Command::new(env!("CARGO_BIN_EXE_rasstatic"))
        .arg("bogus")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let o = Command::new(env!("CARGO_BIN_EXE_rasstatic"))
        .args(["show", "--nope"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let f = fixture("bad");
    let table = f.dir.join("default.table");
    fs::write(&table, vec![0u8; 100]).unwrap();
    let want = Table::open_existing(&f.dir, "default")
        .err()
        .unwrap()
        .to_string();
    for sub in ["show", "stats", "reap"] {
        let o = rasstatic(&f.dir, &[sub]);
        assert_eq!(o.status.code(), Some(1));
        assert_eq!(text(&o).1.trim(), format!("rasstatic: {want}"));
    }
}

#[test]
fn check_reports_each_pool_and_errors_with_file_and_line() {
    let d = std::env::temp_dir().join(format!("rasstatic-check-{}", std::process::id()));
    let _ = fs::remove_dir_all(&d);
    fs::create_dir_all(&d).unwrap();
    let good = d.join("options.ttyS0");
    fs::write(&good, "# modem line\nplugin rasstatic.so\nrasstatic-pool 10.30.0.0/29\nrasstatic-exclude 10.30.0.1\nrasstatic-dir /nonexistent/x\n").unwrap();
    let bad = d.join("dialin");
    fs::write(
        &bad,
        "plugin rasstatic.so\nauth\nrasstatic-pool 10.30.0.9-10.30.0.1\nrasstatic-policy random\n",
    )
    .unwrap();
    let early = d.join("early");
    fs::write(&early, "rasstatic-pool 10.30.0.1\nplugin rasstatic.so\n").unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_rasstatic"))
        .arg("check")
        .args([&good, &bad, &early])
        .output()
        .unwrap();
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}{err}");
    assert!(
        out.contains(&format!(
            "{}: ok: pool 10.30.0.2-10.30.0.6 (5 addresses)",
            good.display()
        )),
        "{out}"
    );
    assert!(
        out.contains("table /nonexistent/x/default.table (not created yet)"),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "{}:3: rasstatic-pool \"10.30.0.9-10.30.0.1\"",
            bad.display()
        )),
        "{out}"
    );
    assert!(
        out.contains(&format!("{}:4: rasstatic-policy \"random\"", bad.display())),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "{}:1: rasstatic-pool comes before \"plugin rasstatic.so\"",
            early.display()
        )),
        "{out}"
    );
    assert!(err.contains("2 of 3 file(s) have problems"), "{err}");
    let o = Command::new(env!("CARGO_BIN_EXE_rasstatic"))
        .arg("check")
        .arg(&good)
        .output()
        .unwrap();
    assert!(o.status.success());
    let _ = fs::remove_dir_all(&d);
}
