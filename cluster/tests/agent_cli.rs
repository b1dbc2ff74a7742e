//! `rasstatic-agent`'s bad input: each case gets a clear message and a
//! non-zero exit, and joins nothing.

mod etcd;
mod support;

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use etcd::Etcd;
use support::{wait_for, Reaped};

/// How long an agent may take to say what a test waits for.
const LIMIT: Duration = Duration::from_secs(20);

fn agent(endpoints: &str, sid: &str, pool: &str, dir: &str) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_rasstatic-agent"));
    c.args(["--endpoints", endpoints, "--server-id", sid, "--pool", pool])
        .args(["--block", "8", "--dir", dir]);
    c
}

fn dir(tag: &str) -> String {
    let d = format!("/tmp/rasstatic-agent-cli-{}-{tag}", std::process::id());
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn run(mut c: Command) -> (i32, String) {
    let o: Output = c.output().unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn bad_options_are_named() {
    let d = dir("opts");
    for (pool, extra, want) in [
        ("10.0.0.0/33", vec![], "10.0.0.0/33"),
        ("10.50.0.0/24", vec!["--block", "12"], "block size 12"),
        ("10.50.0.0/24", vec!["--ttl", "1"], "ttl"),
        ("10.50.0.0/24", vec!["--grace", "x"], "--grace \"x\""),
    ] {
        let mut c = Command::new(env!("CARGO_BIN_EXE_rasstatic-agent"));
        c.args([
            "--endpoints",
            "http://127.0.0.1:9",
            "--server-id",
            "bras-1",
            "--pool",
            pool,
        ])
        .args(["--dir", &d])
        .args(&extra);
        let (code, err) = run(c);
        assert_eq!(code, 2, "{pool} {extra:?}: {err}");
        assert!(err.contains(want), "{pool} {extra:?}: {err}");
    }
    let (code, err) = run(agent("http://127.0.0.1:9", "bras 1", "10.50.0.0/24", &d));
    assert_eq!(code, 2);
    assert!(err.contains("server id \"bras 1\""), "{err}");
}

#[test]
fn unreachable_etcd_at_start_is_an_error() {
    let d = dir("unreach");
    let t0 = Instant::now();
    let (code, err) = run(agent("http://127.0.0.1:9", "bras-1", "10.50.0.0/24", &d));
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("etcd at http://127.0.0.1:9"), "{err}");
    assert!(
        t0.elapsed() < Duration::from_secs(15),
        "took {:?}",
        t0.elapsed()
    );
}

#[test]
fn another_pool_or_a_server_id_in_use_is_refused() {
    let e = Etcd::start();
    let ep = e.endpoints().join(",");
    let log = format!("/tmp/rasstatic-agent-cli-{}.log", std::process::id());
    let d1 = dir("one");
    let mut first = Reaped(
        agent(&ep, "bras-1", "10.50.0.0/24", &d1)
            .stderr(Stdio::from(std::fs::File::create(&log).unwrap()))
            .spawn()
            .unwrap(),
    );
    wait_for(
        &mut first.0,
        std::path::Path::new(&log),
        "joined pool",
        LIMIT,
    );
    // Another pool under the same name: refused, both definitions named.
    let (code, err) = run(agent(&ep, "bras-2", "10.50.0.0/25", &dir("two")));
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("the cluster's pool differs"), "{err}");
    assert!(
        err.contains("pool=10.50.0.1-10.50.0.254 ") && err.contains("pool=10.50.0.1-10.50.0.126 "),
        "{err}"
    );
    // A second agent on the same table, even under another id: refused.
    let (code, err) = run(agent(&ep, "bras-9", "10.50.0.0/24", &d1));
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("another rasstatic-agent runs for the table"),
        "{err}"
    );
    // The same server id while the first lives: refused.
    let (code, err) = run(agent(&ep, "bras-1", "10.50.0.0/24", &dir("three")));
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("server id bras-1 is registered by another live agent"),
        "{err}"
    );
    drop(first);
    let _ = std::fs::remove_file(&log);
}

#[test]
fn a_config_file_gives_the_settings_and_options_after_it_override_them() {
    let d = dir("config");
    std::fs::create_dir_all(&d).unwrap();
    let conf = format!("{d}/bras.cluster");
    // Port 1 on loopback: nothing listens.
    std::fs::write(
        &conf,
        format!(
            "# bras-1\nendpoints http://127.0.0.1:1\nserver-id bras-1\npool 10.60.0.0/24\nblock 8   # addresses per block\ndir {d}\n"
        ),
    )
    .unwrap();
    let bin = env!("CARGO_BIN_EXE_rasstatic-agent");
    let mut c = Command::new(bin);
    c.args(["--config", &conf]);
    let (code, err) = run(c);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("etcd at http://127.0.0.1:1"), "{err}");
    let mut c = Command::new(bin);
    c.args(["--config", &conf, "--block", "7"]);
    let (code, err) = run(c);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("block size 7"),
        "the option after it wins: {err}"
    );
    std::fs::write(&conf, "endpoints http://127.0.0.1:1\nendpoint x\n").unwrap();
    let mut c = Command::new(bin);
    c.args(["--config", &conf]);
    let (code, err) = run(c);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains(&format!("{conf}:2: \"endpoint\" is not a setting")),
        "{err}"
    );
    let mut c = Command::new(bin);
    c.args(["--config", &format!("{d}/missing.cluster")]);
    let (code, err) = run(c);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("missing.cluster: No such file"), "{err}");
    let _ = std::fs::remove_dir_all(&d);
}

/// A pppd refused for want of addresses wakes the agent (SIGUSR1, as the
/// plugin does): the agent takes a block at once, not at its next step.
#[test]
fn a_refused_caller_wakes_the_agent_for_a_block() {
    let e = Etcd::start();
    let ep = e.endpoints().join(",");
    let log = format!("/tmp/rasstatic-agent-cli-wake-{}.log", std::process::id());
    let d = dir("wake");
    // Steps 5 s apart (TTL 15 s, claims stop 5 s before it).
    let mut a = Reaped(
        agent(&ep, "bras-w", "10.51.0.0/24", &d)
            .args(["--renew-ms", "5000"])
            .stderr(Stdio::from(std::fs::File::create(&log).unwrap()))
            .spawn()
            .unwrap(),
    );
    wait_for(&mut a.0, std::path::Path::new(&log), "joined pool", LIMIT);
    let joined = Instant::now();
    let dir = std::path::Path::new(&d);
    let t = rasstatic::table::Table::open_existing(dir, "default").unwrap();
    let holders: Vec<Reaped> = (0..40)
        .map(|_| Reaped(Command::new("sleep").arg("60").spawn().unwrap()))
        .collect();
    let claim = |h: &Reaped| {
        support::claim(
            &t,
            rasstatic::owner::Owner::of_pid(h.0.id()).unwrap().unwrap(),
        )
    };
    // Joining took one block (8 addresses): claim them all.
    let mut n = 0;
    while claim(&holders[n]).is_some() {
        n += 1;
    }
    assert_eq!(n, 8, "one block at joining");
    assert!(rasstatic::agent_state::wake(dir, "default"));
    let t0 = Instant::now();
    while claim(&holders[n]).is_none() {
        assert!(
            t0.elapsed() < Duration::from_secs(2),
            "no block within 2 s of the wake-up"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        joined.elapsed() < Duration::from_secs(5),
        "the claim came only with the agent's own next step"
    );
    assert!(
        a.0.try_wait().unwrap().is_none(),
        "SIGUSR1 did not end the agent"
    );
    let _ = std::fs::remove_file(&log);
    let _ = std::fs::remove_dir_all(&d);
}

/// An agent that dies (SIGKILL, as in a crash) and is started again on the
/// same table resumes the registration it left in etcd, which lives on
/// for up to a TTL: same token and lease, its blocks and its sessions'
/// leases kept, and the deadlines rise again. Without that, the new agent
/// is refused as a duplicate of the old registration until its lease
/// expires. One started with another TTL may not resume it (the deadlines
/// it sets assume its own TTL) and is refused as a duplicate, saying why.
#[test]
fn a_restarted_agent_resumes_its_registration() {
    use rasstatic::agent_state::AgentState;
    let e = Etcd::start();
    let ep = e.endpoints().join(",");
    let d = dir("resume");
    let dir = std::path::Path::new(&d);
    let log1 = format!(
        "/tmp/rasstatic-agent-cli-resume1-{}.log",
        std::process::id()
    );
    let log2 = format!(
        "/tmp/rasstatic-agent-cli-resume2-{}.log",
        std::process::id()
    );
    let start = |log: &str| {
        Reaped(
            agent(&ep, "bras-r", "10.52.0.0/24", &d)
                .stderr(Stdio::from(std::fs::File::create(log).unwrap()))
                .spawn()
                .unwrap(),
        )
    };
    let mut first = start(&log1);
    wait_for(
        &mut first.0,
        std::path::Path::new(&log1),
        "joined pool",
        LIMIT,
    );
    let before = AgentState::read(dir, "default").unwrap().unwrap();
    assert!(before.token > 0 && before.lease != 0, "{before:?}");
    assert!(!before.held.is_empty(), "{before:?}");
    let t = rasstatic::table::Table::open_existing(dir, "default").unwrap();
    let holders: Vec<Reaped> = (0..2)
        .map(|_| Reaped(Command::new("sleep").arg("60").spawn().unwrap()))
        .collect();
    let owner = |h: &Reaped| rasstatic::owner::Owner::of_pid(h.0.id()).unwrap().unwrap();
    let claim = |h: &Reaped| support::claim(&t, owner(h));
    let slot = claim(&holders[0]).expect("a claim while the first agent runs");
    let (claim_deadline, _, _) = t.deadlines();

    first.0.kill().unwrap();
    first.0.wait().unwrap();
    let mut second = start(&log2);
    wait_for(
        &mut second.0,
        std::path::Path::new(&log2),
        "resumed its registration",
        LIMIT,
    );
    let text = std::fs::read_to_string(&log2).unwrap();
    assert!(
        text.contains(&format!(
            "(token {}, lease {:x})",
            before.token, before.lease
        )),
        "{text}"
    );
    assert!(!text.contains("joined pool"), "registered anew: {text}");
    // Its first report names the same registration and blocks.
    let t0 = Instant::now();
    let after = loop {
        let a = AgentState::read(dir, "default").unwrap().unwrap();
        if a.agent != before.agent {
            break a;
        }
        assert!(t0.elapsed() < Duration::from_secs(10), "no report: {text}");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!((after.token, after.lease), (before.token, before.lease));
    assert_eq!(after.held, before.held);
    assert_eq!(after.state, "joined");
    // The session's lease stayed; the deadlines rose; claims go on.
    assert_eq!(
        t.lease(slot.slot).state,
        rasstatic::table::LeaseState::Leased(owner(&holders[0]))
    );
    assert!(
        t.deadlines().0 > claim_deadline,
        "the claim deadline did not rise after the restart"
    );
    assert!(claim(&holders[1]).is_some(), "no claim after the restart");

    // Another TTL: the lease's cannot change, so no resumption.
    second.0.kill().unwrap();
    second.0.wait().unwrap();
    let mut c = agent(&ep, "bras-r", "10.52.0.0/24", &d);
    c.args(["--ttl", "20"]);
    let (code, err) = run(c);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("not resuming the registration the last agent left")
            && err.contains("granted a TTL of 15 s, and this agent's is 20 s"),
        "{err}"
    );
    assert!(
        err.contains("server id bras-r is registered by another live agent"),
        "{err}"
    );
    let _ = std::fs::remove_file(&log1);
    let _ = std::fs::remove_file(&log2);
    let _ = std::fs::remove_dir_all(&d);
}
