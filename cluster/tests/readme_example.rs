//! The README's three-server example, run as written: its agent settings
//! and its pppd options are read from README.md ("Three servers on one
//! pool"), not copied here. An etcd cluster listens on the example's own
//! addresses, 10.0.0.11, 10.0.0.12 and 10.0.0.13, port 2379, inside a
//! network namespace the test makes (no traffic leaves it). `bras-1`,
//! `bras-2` and `bras-3` each run `rasstatic-agent --config FILE --name
//! default` (as the unit does), FILE being the example with its own
//! `server-id`, and a table directory of its own (`--dir`, as the three
//! share this machine). `rasstatic check`'s reading accepts the example's
//! options, and the example the package ships (`cluster/default.cluster`)
//! has the same settings.
//! Callers at all three servers then get addresses of 100.64.0.0/20, none
//! twice, each from a block etcd records as its server's, past the first
//! block of each (the agents fetch more as callers come).
//!
//! As root (a network namespace); `./test.sh` runs as root.

mod etcd;
mod support;

use std::collections::{HashMap, HashSet};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use etcd::Etcd;
use rasstatic::owner::Owner;
use rasstatic::table::Table;
use support::{claim, sh, wait_for, Reaped};

/// Callers per server: more than one block of 64.
const CALLERS: usize = 80;

struct Netns(String);

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

/// The README's example: (the agent's settings file, the pppd options).
fn example() -> (String, String) {
    let readme = Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md");
    let text = std::fs::read_to_string(&readme).unwrap();
    let section = text
        .split_once("### Three servers on one pool")
        .expect("README.md has no \"### Three servers on one pool\" section")
        .1;
    let block = section
        .split_once("\n```\n")
        .and_then(|(_, rest)| rest.split_once("\n```\n"))
        .expect("no ``` block in the README's three-server section")
        .0;
    let (settings, options) = block
        .split_once("\n# /etc/ppp/options")
        .expect("the example has no \"# /etc/ppp/options\" part");
    assert!(
        settings.starts_with("# /etc/rasstatic/default.cluster"),
        "the example's settings are not /etc/rasstatic/default.cluster:\n{settings}"
    );
    (
        settings.to_string(),
        format!("# /etc/ppp/options{options}\n"),
    )
}

#[test]
fn the_readme_three_server_example_runs_as_written() {
    assert_eq!(
        // SAFETY: geteuid has no preconditions.
        unsafe { libc::geteuid() },
        0,
        "this test needs root (a network namespace): run it through ./test.sh"
    );
    let (settings, options) = example();
    for want in [
        "endpoints http://10.0.0.11:2379,http://10.0.0.12:2379,http://10.0.0.13:2379\n",
        "server-id bras-1\n",
        "pool 100.64.0.0/20\n",
    ] {
        assert!(
            settings.contains(want),
            "the example changed: no {want:?} in\n{settings}"
        );
    }
    // The example the package ships says the same.
    let settings_of = |text: &str| -> Vec<String> {
        text.lines()
            .map(|l| l.split('#').next().unwrap().trim().to_string())
            .filter(|l| !l.is_empty())
            .collect()
    };
    let shipped =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("default.cluster"))
            .unwrap();
    assert_eq!(
        settings_of(&shipped),
        settings_of(&settings),
        "cluster/default.cluster and the README's example differ"
    );
    let id = std::process::id();
    let work = PathBuf::from(format!("/tmp/rasstatic-readme-{id}"));
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).unwrap();

    // The pppd options, as an administrator would check them.
    let opts = work.join("options");
    std::fs::write(&opts, &options).unwrap();
    let mut notes = Vec::new();
    let said = rasstatic::check::check_file("options", options.as_bytes(), &mut notes)
        .unwrap_or_else(|e| panic!("rasstatic check refuses the example's options: {e:?}"))
        .expect("rasstatic check finds no rasstatic option in the example");
    assert!(said.contains("pool 100.64.0.1-100.64.15.254"), "{said}");

    // etcd on the example's addresses, in a namespace of the test's.
    let ns = Netns(format!("rsx-{id}"));
    // On the namespace's loopback device: local to it, nothing routes
    // there from outside.
    sh(&format!(
        "ip netns add {0} && ip -n {0} link set lo up && \
         ip -n {0} addr add 10.0.0.11/32 dev lo && ip -n {0} addr add 10.0.0.12/32 dev lo && \
         ip -n {0} addr add 10.0.0.13/32 dev lo",
        ns.0
    ));
    let e = Etcd::start_on(&ns.0, ["10.0.0.11", "10.0.0.12", "10.0.0.13"]);

    let mut agents = Vec::new();
    let mut dirs = Vec::new();
    for i in 1..=3 {
        let conf = work.join(format!("bras-{i}.cluster"));
        std::fs::write(
            &conf,
            settings.replace("server-id bras-1\n", &format!("server-id bras-{i}\n")),
        )
        .unwrap();
        let dir = work.join(format!("bras-{i}"));
        let log = work.join(format!("bras-{i}.log"));
        let mut a = Reaped(
            Command::new("ip")
                .args(["netns", "exec", &ns.0])
                .arg(env!("CARGO_BIN_EXE_rasstatic-agent"))
                .arg("--config")
                .arg(&conf)
                .args(["--name", "default", "--dir"])
                .arg(&dir)
                .stdin(Stdio::null())
                .stderr(Stdio::from(std::fs::File::create(&log).unwrap()))
                .spawn()
                .unwrap(),
        );
        wait_for(
            &mut a.0,
            &log,
            &format!("server bras-{i} joined pool default"),
            Duration::from_secs(30),
        );
        agents.push((a, log));
        dirs.push(dir);
    }

    // Callers at each server, claiming as the plugin does (and waking the
    // agent when refused for want of addresses, as the plugin does).
    let in_pool = |a: Ipv4Addr| u32::from(a) >> 12 == u32::from(Ipv4Addr::new(100, 64, 0, 0)) >> 12;
    let mut got: HashMap<Ipv4Addr, usize> = HashMap::new();
    let mut callers = Vec::new();
    let mut slots: Vec<Vec<u32>> = vec![Vec::new(); 3];
    for (i, dir) in dirs.iter().enumerate() {
        let t = Table::open_existing(dir, "default").unwrap();
        for _ in 0..CALLERS {
            let c = Reaped(Command::new("sleep").arg("120").spawn().unwrap());
            let who = Owner::of_pid(c.0.id()).unwrap().unwrap();
            let t0 = Instant::now();
            let claimed = loop {
                if let Some(c) = claim(&t, who) {
                    break c;
                }
                rasstatic::agent_state::wake(dir, "default");
                assert!(
                    t0.elapsed() < Duration::from_secs(10),
                    "bras-{}: refused for 10 s after {} callers",
                    i + 1,
                    slots[i].len()
                );
                std::thread::sleep(Duration::from_millis(50));
            };
            let addr = t.addr(claimed.slot);
            assert!(in_pool(addr), "{addr} is outside 100.64.0.0/20");
            if let Some(other) = got.insert(addr, i) {
                panic!("{addr} handed out by bras-{} and bras-{}", other + 1, i + 1);
            }
            slots[i].push(claimed.slot);
            callers.push(c);
        }
    }

    // Each address from a block etcd records as its server's.
    let records = e.get_prefix("/rasstatic/v1/pools/default/blocks/");
    let holder: HashMap<u32, String> = records
        .iter()
        .filter_map(|(k, v)| {
            let n = k.rsplit('/').next()?.parse().ok()?;
            let sid = v.strip_prefix("held ")?.split(' ').next()?;
            Some((n, sid.to_string()))
        })
        .collect();
    for (i, s) in slots.iter().enumerate() {
        let blocks: HashSet<u32> = s.iter().map(|slot| slot / 64).collect();
        assert!(
            blocks.len() >= 2,
            "bras-{}: {CALLERS} callers from one block",
            i + 1
        );
        for b in blocks {
            assert_eq!(
                holder.get(&b).map(String::as_str),
                Some(format!("bras-{}", i + 1).as_str()),
                "block {b}: etcd has {records:?}"
            );
        }
    }
    assert_eq!(got.len(), 3 * CALLERS);
    for (a, log) in &mut agents {
        assert!(
            a.0.try_wait().unwrap().is_none(),
            "{}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
    }
    drop(callers);
    drop(agents);
    drop(e);
    drop(ns);
    let _ = std::fs::remove_dir_all(&work);
}
