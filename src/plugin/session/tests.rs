//! Every row of the README's "Where addresses go back" table, driven
//! through the state machine the way pppd's notifiers drive it, against
//! a real table in a private directory.

use super::*;
use crate::table::LeaseState;

struct Dir(std::path::PathBuf);
impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn plugin(tag: &str, pool: &str) -> (Plugin, Dir) {
    let d = std::env::temp_dir().join(format!("rasstatic-sm-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    let mut p = Plugin::new(|| {});
    p.cfg.apply("rasstatic-pool", Some(pool)).unwrap();
    p.cfg.apply("rasstatic-dir", d.to_str()).unwrap();
    p.cfg.apply("norasstatic-watchdog", None).unwrap();
    (p, Dir(d))
}

fn info() -> SessionInfo {
    SessionInfo {
        peer: "alice".into(),
        ifname: "ppp0".into(),
        device: "/dev/ttyS0".into(),
        proxyarp: false,
    }
}

fn addr(s: &str) -> Ipv4Addr {
    s.parse().unwrap()
}

/// A call comes up: the hook chooses, pppd allows it, IP comes up.
fn call(p: &mut Plugin) -> Ipv4Addr {
    let a = p.choose(&info(), None).expect("an address");
    assert!(p.allowed(a));
    p.ip_up(&info());
    assert_eq!(p.take_effects(), vec![]);
    a
}

/// Who holds `a` now: `Ok(owner)`, or `Err(how it was last released)`.
fn holder(p: &Plugin, a: Ipv4Addr) -> Result<Owner, EndedBy> {
    let r = p.ready.as_ref().unwrap();
    match r.table.lease(r.pool.index(a).unwrap()).state {
        LeaseState::Leased(o) => Ok(o),
        LeaseState::Free(f) => Err(f.path),
    }
}

fn me() -> Owner {
    Owner::current().unwrap()
}

#[test]
fn ip_down_releases_from_the_main_loop_after_the_event() {
    // Peer hang-up, local hang-up on a signal, carrier loss, idle and
    // maxconnect all end with ip-down.
    let (mut p, _d) = plugin("ipdown", "10.7.0.1-10.7.0.3");
    let a = call(&mut p);
    assert_eq!(a, addr("10.7.0.1"));
    assert_eq!(holder(&p, a), Ok(me()));
    p.down(EndedBy::IpDown);
    assert_eq!(p.take_effects(), vec![Effect::ScheduleRelease]);
    assert_eq!(holder(&p, a), Ok(me()), "released inside the event");
    p.release_scheduled();
    assert_eq!(holder(&p, a), Err(EndedBy::IpDown));
    // The phase change to dead and the exit that follow find nothing.
    p.dead();
    p.exiting();
    assert_eq!(p.take_effects(), vec![]);
    assert_eq!(holder(&p, a), Err(EndedBy::IpDown));
}

#[test]
fn an_authenticated_link_going_down_is_released_as_link_down() {
    let (mut p, _d) = plugin("linkdown", "10.7.0.1-10.7.0.3");
    let a = call(&mut p);
    p.down(EndedBy::LinkDown);
    p.down(EndedBy::IpDown);
    assert_eq!(
        p.take_effects(),
        vec![Effect::ScheduleRelease],
        "scheduled once"
    );
    p.release_scheduled();
    assert_eq!(holder(&p, a), Err(EndedBy::LinkDown));
}

#[test]
fn ipcp_never_opening_is_released_at_the_phase_change_to_dead() {
    let (mut p, _d) = plugin("dead", "10.7.0.1-10.7.0.3");
    let a = p.choose(&info(), None).unwrap();
    p.dead();
    assert_eq!(p.take_effects(), vec![]);
    assert_eq!(holder(&p, a), Err(EndedBy::PhaseDead));
}

#[test]
fn any_other_exit_releases_at_once_and_a_pending_release_keeps_its_path() {
    let (mut p, _d) = plugin("exit", "10.7.0.1-10.7.0.3");
    let a = call(&mut p);
    p.exiting();
    assert_eq!(holder(&p, a), Err(EndedBy::Exit));
    let (mut p, _d2) = plugin("exit2", "10.7.0.1-10.7.0.3");
    let a = call(&mut p);
    p.down(EndedBy::IpDown);
    p.exiting();
    assert_eq!(
        p.take_effects(),
        vec![Effect::ScheduleRelease, Effect::CancelRelease]
    );
    assert_eq!(holder(&p, a), Err(EndedBy::IpDown));
}

#[test]
fn ipcp_renegotiation_in_the_same_event_keeps_the_address() {
    let (mut p, _d) = plugin("reneg", "10.7.0.1-10.7.0.3");
    let a = call(&mut p);
    p.down(EndedBy::IpDown);
    assert_eq!(p.take_effects(), vec![Effect::ScheduleRelease]);
    assert_eq!(p.choose(&info(), None), Some(a));
    assert_eq!(p.take_effects(), vec![Effect::CancelRelease]);
    // Had pppd run the callout anyway, it would find nothing pending.
    p.release_scheduled();
    assert_eq!(holder(&p, a), Ok(me()));
    assert!(p.allowed(a));
}

#[test]
fn ipcp_restarting_later_in_the_connection_prefers_the_same_address() {
    let (mut p, _d) = plugin("restart", "10.7.0.1-10.7.0.3");
    let a = call(&mut p);
    p.down(EndedBy::IpDown);
    p.release_scheduled();
    assert_eq!(holder(&p, a), Err(EndedBy::IpDown));
    assert_eq!(p.choose(&info(), None), Some(a));
}

#[test]
fn persist_claims_anew_for_each_call_round_robin() {
    let (mut p, _d) = plugin("persist", "10.7.0.1-10.7.0.3");
    let mut got = vec![];
    for _ in 0..4 {
        let a = call(&mut p);
        got.push(a);
        p.down(EndedBy::IpDown);
        assert_eq!(p.take_effects(), vec![Effect::ScheduleRelease]);
        p.release_scheduled();
        p.dead();
        assert_eq!(holder(&p, a), Err(EndedBy::IpDown));
    }
    assert_eq!(
        got,
        ["10.7.0.1", "10.7.0.2", "10.7.0.3", "10.7.0.1"].map(addr)
    );
}

#[test]
fn a_helper_child_never_touches_the_lease() {
    let (mut p, _d) = plugin("helper", "10.7.0.1-10.7.0.3");
    let a = call(&mut p);
    p.forked();
    p.down(EndedBy::IpDown);
    p.dead();
    p.exiting();
    assert_eq!(p.take_effects(), vec![]);
    assert_eq!(holder(&p, a), Ok(me()));
    assert_eq!(p.choose(&info(), None), None, "a helper claims nothing");
}

#[test]
fn a_pid_change_moves_the_lease_to_the_detached_child() {
    let (mut p, _d) = plugin("pidchange", "10.7.0.1-10.7.0.3");
    let a = call(&mut p);
    let mut child = std::process::Command::new("sleep")
        .arg("30")
        .spawn()
        .unwrap();
    let c = Owner::of_pid(child.id()).unwrap().unwrap();
    p.pid_changed(child.id());
    let moved = holder(&p, a);
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(moved, Ok(c));
}

#[test]
fn our_own_address_is_never_handed_out_and_only_our_lease_is_allowed() {
    let (mut p, _d) = plugin("local", "10.7.0.1-10.7.0.3");
    p.configured(Some(addr("10.7.0.1"))).unwrap();
    let a = p.choose(&info(), Some(addr("10.7.0.1"))).unwrap();
    assert_eq!(a, addr("10.7.0.2"));
    assert!(p.allowed(a));
    assert!(!p.allowed(addr("10.7.0.3")));
    let (mut q, _d2) = plugin("onlylocal", "10.7.0.9");
    let e = q.configured(Some(addr("10.7.0.9"))).unwrap_err();
    assert!(e.contains("this server's own address"), "{e}");
}

#[test]
fn a_refused_or_unconfigured_plugin_allows_nothing() {
    let mut p = Plugin::new(|| {});
    assert_eq!(p.choose(&info(), None), None, "no pool configured");
    assert!(!p.allowed(addr("10.7.0.1")));
}

#[test]
fn configured_starts_the_tick_once() {
    let (mut p, _d) = plugin("tick", "10.7.0.1-10.7.0.3");
    p.configured(None).unwrap();
    assert_eq!(p.take_effects(), vec![Effect::ScheduleTick(TICK_SECS)]);
    p.configured(None).unwrap();
    assert_eq!(p.take_effects(), vec![]);
    assert_eq!(p.tick(), Some(TICK_SECS));
    p.forked();
    assert_eq!(p.tick(), None, "a helper child stops ticking");
}

#[test]
fn the_tick_re_enters_a_lease_the_table_lost() {
    let (mut p, _d) = plugin("lost", "10.7.0.1-10.7.0.3");
    let a = call(&mut p);
    let slot = p.ready.as_ref().unwrap().table.slot_of(a).unwrap();
    // Lost (a damaged word, a table rebuilt without it): free, not by us.
    assert!(p
        .ready
        .as_ref()
        .unwrap()
        .table
        .release(slot, me(), EndedBy::Api));
    assert_eq!(p.tick(), Some(TICK_SECS));
    assert_eq!(holder(&p, a), Ok(me()));
    assert_eq!(p.take_effects(), vec![]);
}

#[test]
fn the_tick_makes_a_deleted_table_again_with_the_lease() {
    let (mut p, d) = plugin("deleted", "10.7.0.1-10.7.0.3");
    let a = call(&mut p);
    let path = d.0.join("default.table");
    std::fs::remove_file(&path).unwrap();
    assert_eq!(p.tick(), Some(TICK_SECS));
    let t = Table::open_existing(&d.0, "default").unwrap();
    assert_eq!(t.word(t.slot_of(a).unwrap()), me().word());
    // The session goes on in the new table: its release lands there.
    p.exiting();
    assert!(Owner::from_word(t.word(t.slot_of(a).unwrap())).is_none());
}

#[test]
fn a_lease_the_administrator_forced_free_hangs_the_call_up() {
    let (mut p, _d) = plugin("forced", "10.7.0.1-10.7.0.3");
    let a = call(&mut p);
    let slot = p.ready.as_ref().unwrap().table.slot_of(a).unwrap();
    p.ready
        .as_ref()
        .unwrap()
        .table
        .force_release(slot, EndedBy::Forced)
        .unwrap();
    assert_eq!(p.tick(), Some(TICK_SECS));
    assert_eq!(p.take_effects(), vec![Effect::HangUp]);
    assert_eq!(holder(&p, a), Err(EndedBy::Forced), "not re-entered");
}

#[test]
fn a_conflict_hangs_up_the_younger_call() {
    let (mut p, _d) = plugin("conflict", "10.7.0.1-10.7.0.3");
    let a = call(&mut p);
    let r = p.ready.as_ref().unwrap();
    let slot = r.table.slot_of(a).unwrap();
    // Another live session (the test runner's parent, older than this
    // process) holds the address in the table: this call is the younger.
    // SAFETY: getppid has no preconditions.
    let older = Owner::of_pid(unsafe { libc::getppid() } as u32)
        .unwrap()
        .unwrap();
    assert!(r.table.release(slot, me(), EndedBy::Api));
    assert_eq!(r.table.reassert(slot, older, None), Ok(true));
    // Not a pppd: perhaps the watchdog for a moment; looked at again at
    // the next tick, and then this call goes.
    assert_eq!(p.tick(), Some(TICK_SECS));
    assert_eq!(p.take_effects(), vec![]);
    assert_eq!(p.tick(), Some(TICK_SECS));
    assert_eq!(p.take_effects(), vec![Effect::HangUp]);
    assert_eq!(holder(&p, a), Ok(older), "the older call keeps it");
}

#[test]
fn a_newer_pool_definition_is_followed_and_the_call_keeps_its_address() {
    let (mut p, d) = plugin("redefined", "10.7.0.1-10.7.0.3");
    let a = call(&mut p);
    assert_eq!(a, addr("10.7.0.1"));
    // Another pppd starts, later, with a newer definition that drops .1.
    let newer = crate::pool::Pool::parse("10.7.0.2-10.7.0.6", "").unwrap();
    let def = crate::table::Definition {
        pool: &newer,
        spec: "10.7.0.2-10.7.0.6",
        defined_ms: p.defined_ms + 1,
        cluster: false,
    };
    let (t, _) = Table::open_as(&d.0, "default", &def).unwrap();
    let drain = t.any_slot_of(a).unwrap();
    assert!(t.lease(drain).draining);
    assert_eq!(t.word(drain), me().word());
    assert_eq!(p.tick(), Some(TICK_SECS));
    assert_eq!(p.take_effects(), vec![]);
    // This pppd's next claim follows the table's pool.
    p.exiting();
    assert!(
        Owner::from_word(t.word(drain)).is_none(),
        "released in the new table"
    );
    let b = p.choose(&info(), None).unwrap();
    assert!(newer.contains(b), "{b}");
}

#[test]
fn cluster_mode_claims_only_once_an_agent_opened_a_block_and_hangs_up_at_the_deadline() {
    let (mut p, _d) = plugin("cluster", "10.7.0.0/28");
    p.cfg.apply("rasstatic-cluster", None).unwrap();
    p.configured(None).unwrap();
    assert_eq!(
        p.take_effects(),
        vec![Effect::ScheduleTick(CLUSTER_TICK_SECS)],
        "the hang deadline is checked every second"
    );
    let t = &p.ready.as_ref().unwrap().table;
    assert!(t.is_cluster() && t.is_fenced(), "born fenced");
    assert_eq!(p.choose(&info(), None), None, "no agent yet: refused");
    // The agent verified a renewal and opened block 1 (slots 8-15).
    let now = crate::table::boot_ns();
    let t = &p.ready.as_ref().unwrap().table;
    t.set_deadlines(now + 60_000_000_000, now + 300_000_000);
    t.unseal(8, 8);
    let a = call(&mut p);
    assert!(addr("10.7.0.8") <= a && a <= addr("10.7.0.15"), "{a}");
    assert_eq!(p.tick(), Some(CLUSTER_TICK_SECS));
    assert_eq!(p.take_effects(), vec![], "before the hang deadline");
    std::thread::sleep(std::time::Duration::from_millis(350));
    assert_eq!(p.tick(), Some(CLUSTER_TICK_SECS));
    assert_eq!(
        p.take_effects(),
        vec![Effect::HangUp],
        "at the hang deadline"
    );
    assert_eq!(p.tick(), Some(CLUSTER_TICK_SECS));
    assert_eq!(p.take_effects(), vec![], "hung up once");
    // pppd's SIGTERM ends IPCP: the address goes back as on any hang-up.
    p.down(EndedBy::IpDown);
    assert_eq!(p.take_effects(), vec![Effect::ScheduleRelease]);
    p.release_scheduled();
    assert_eq!(holder(&p, a), Err(EndedBy::IpDown));
}

#[test]
fn a_standalone_table_opened_with_rasstatic_cluster_is_fenced_but_keeps_its_leases() {
    let (mut p, d) = plugin("tocluster", "10.7.0.0/28");
    let a = call(&mut p);
    let mut q = Plugin::new(|| {});
    q.cfg.apply("rasstatic-pool", Some("10.7.0.0/28")).unwrap();
    q.cfg.apply("rasstatic-dir", d.0.to_str()).unwrap();
    q.cfg.apply("norasstatic-watchdog", None).unwrap();
    q.cfg.apply("rasstatic-cluster", None).unwrap();
    q.configured(None).unwrap();
    assert_eq!(q.choose(&info(), None), None, "fenced");
    assert_eq!(
        holder(&p, a),
        Ok(me()),
        "the standalone session keeps its lease"
    );
    // The first pppd follows the table: it ticks each second from now on.
    assert_eq!(p.tick(), Some(CLUSTER_TICK_SECS));
}

/// A cluster-mode plugin on 10.7.0.0/28 whose agent has verified a
/// renewal (deadlines 10 and 15 minutes away), no block opened yet.
fn joined(tag: &str) -> (Plugin, Dir) {
    let (mut p, d) = plugin(tag, "10.7.0.0/28");
    p.cfg.apply("rasstatic-cluster", None).unwrap();
    p.configured(None).unwrap();
    p.take_effects();
    let now = crate::table::boot_ns();
    let t = &p.ready.as_ref().unwrap().table;
    t.set_deadlines(now + 600_000_000_000, now + 900_000_000_000);
    (p, d)
}

#[test]
fn cluster_mode_a_lost_lease_is_never_re_entered_into_a_sealed_slot() {
    let (mut p, _d) = joined("sealedlost");
    let t = &p.ready.as_ref().unwrap().table;
    t.unseal(0, 8);
    let a = call(&mut p);
    let slot = p.ready.as_ref().unwrap().table.slot_of(a).unwrap();
    // The table lost the lease, and the block was sealed meanwhile (given
    // back, or a table made anew before the agent opened it).
    let t = &p.ready.as_ref().unwrap().table;
    assert!(t.release(slot, me(), EndedBy::Api));
    assert_eq!(t.seal(0, 8), Ok(()));
    let full_checks = |p: &mut Plugin, n: u32| {
        for _ in 0..n * (TICK_SECS / CLUSTER_TICK_SECS) {
            assert_eq!(p.tick(), Some(CLUSTER_TICK_SECS));
        }
    };
    full_checks(&mut p, 2);
    assert_eq!(p.take_effects(), vec![], "waits for the agent");
    assert!(crate::word::is_sealed(
        p.ready.as_ref().unwrap().table.word(slot)
    ));
    // The agent opens the block (it holds it): re-entered.
    p.ready.as_ref().unwrap().table.unseal(0, 8);
    full_checks(&mut p, 1);
    assert_eq!(holder(&p, a), Ok(me()));
    // Lost and sealed again, and it stays so: the block is not this
    // server's. The session hangs up rather than hold it.
    let t = &p.ready.as_ref().unwrap().table;
    assert!(t.release(slot, me(), EndedBy::Api));
    assert_eq!(t.seal(0, 8), Ok(()));
    full_checks(&mut p, SEALED_HANG_TRIES - 1);
    assert_eq!(p.take_effects(), vec![]);
    full_checks(&mut p, 1);
    assert_eq!(p.take_effects(), vec![Effect::HangUp]);
    assert!(crate::word::is_sealed(
        p.ready.as_ref().unwrap().table.word(slot)
    ));
}

/// A stand-in agent for the wake-up: a process the table's agent state
/// file names (the wake-up's SIGUSR1 ends it).
fn stand_in_agent(dir: &std::path::Path) -> std::process::Child {
    let child = std::process::Command::new("sleep")
        .arg("60")
        .spawn()
        .unwrap();
    crate::agent_state::AgentState {
        agent: Owner::of_pid(child.id()).unwrap().unwrap().word(),
        server_id: "bras-1".into(),
        block: 8,
        ..Default::default()
    }
    .write(dir, "default")
    .unwrap();
    child
}

fn woken(mut agent: std::process::Child) -> bool {
    use std::os::unix::process::ExitStatusExt;
    let _ = agent.kill();
    agent.wait().unwrap().signal() == Some(libc::SIGUSR1)
}

#[test]
fn cluster_mode_a_caller_short_of_addresses_waits_for_the_agents_block() {
    use std::time::{Duration, Instant};
    let (mut p, d) = joined("agentwait");
    // No agent has reported: refused at once.
    let t0 = Instant::now();
    assert_eq!(p.choose(&info(), None), None);
    assert!(t0.elapsed() < AGENT_WAIT / 2, "{:?}", t0.elapsed());
    // The agent, woken, opens block 1 150 ms later (its step): this
    // caller is served, not refused.
    let agent = stand_in_agent(&d.0);
    let dir = d.0.clone();
    let opener = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(150));
        Table::open_existing(&dir, "default").unwrap().unseal(8, 8);
    });
    let t0 = Instant::now();
    let a = p
        .choose(&info(), None)
        .expect("served once the agent took a block");
    let waited = t0.elapsed();
    opener.join().unwrap();
    assert!(addr("10.7.0.8") <= a && a <= addr("10.7.0.15"), "{a}");
    assert!(waited >= Duration::from_millis(150), "{waited:?}");
    assert!(woken(agent), "the agent was not woken");
    // The agent takes no block: refused after waiting AGENT_WAIT.
    assert!(p.allowed(a));
    p.down(EndedBy::IpDown);
    p.release_scheduled();
    let t = &p.ready.as_ref().unwrap().table;
    assert_eq!(t.seal(8, 8), Ok(()));
    let agent = stand_in_agent(&d.0);
    let t0 = Instant::now();
    assert_eq!(p.choose(&info(), None), None);
    let waited = t0.elapsed();
    assert!(
        waited >= AGENT_WAIT && waited < AGENT_WAIT * 2,
        "{waited:?}"
    );
    assert!(woken(agent), "the agent was not woken");
}
