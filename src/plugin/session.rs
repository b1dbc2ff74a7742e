//! The plugin's session logic, as a state machine with no pppd in it: the
//! FFI shims in `mod.rs` gather pppd's inputs (the session's names, our
//! own address, the last signal, which notifier fired) and pass them in as
//! values; what must be done through pppd (schedule or cancel the
//! deferred release) comes back as [`Effect`]s for the shims to carry out.
//! So every down path is unit-tested here without pppd.

use std::ffi::c_int;
use std::net::Ipv4Addr;

use crate::config::Config;
use crate::owner::Owner;
use crate::pool::Pool;
use crate::protocol::{ClaimOpts, EndedBy};
use crate::table::{SessionInfo, Table};

/// What the shims do through pppd on the state machine's behalf.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Effect {
    /// Run [`Plugin::release_scheduled`] from pppd's main loop once the
    /// current event is handled.
    ScheduleRelease,
    /// Drop that callout.
    CancelRelease,
}

/// The plugin's state in one pppd process.
pub struct Plugin {
    pub cfg: Config,
    /// Set once the options are in and the table is open.
    ready: Option<Ready>,
    /// The identity under which `lease` is held.
    me: Option<Owner>,
    /// The slot this session holds.
    lease: Option<u32>,
    /// The slot this connection held before an IPCP down, preferred if IPCP
    /// comes up again in the same connection.
    prev: Option<u32>,
    /// A release scheduled from ip_down / link_down.
    pending: Option<EndedBy>,
    /// A child of pppd (scripts, helpers): never touches leases.
    helper: bool,
    /// Fault injection for tests: panic in the named hook.
    pub fault: Option<String>,
    /// The last signal pppd received, for the log (0: none).
    pub last_signal: c_int,
    /// Runs first in a watchdog this process starts.
    detached: fn(),
    /// What the shims must do once the current call returns.
    effects: Vec<Effect>,
}

pub struct Ready {
    pool: Pool,
    table: Table,
    avoid: Option<u32>,
    /// Our own address (`local:remote`), never handed out.
    local: Option<Ipv4Addr>,
}

fn fault(p: &Plugin, hook: &str) {
    if p.fault.as_deref() == Some(hook) {
        panic!("fault injected in {hook} (RASSTATIC_FAULT)");
    }
}

impl Plugin {
    /// A plugin before any option; `detached` runs first in a watchdog it
    /// starts.
    pub fn new(detached: fn()) -> Plugin {
        Plugin {
            cfg: Config::default(),
            ready: None,
            me: None,
            lease: None,
            prev: None,
            pending: None,
            helper: false,
            fault: None,
            last_signal: 0,
            detached,
            effects: Vec::new(),
        }
    }

    /// The effects the last calls asked for, in order.
    pub fn take_effects(&mut self) -> Vec<Effect> {
        std::mem::take(&mut self.effects)
    }

    /// Options are all in (pppd left its initialize phase): check them and
    /// open the table now, so a misconfiguration stops pppd before any
    /// caller is answered.
    pub fn configured(&mut self, local: Option<Ipv4Addr>) -> Result<(), String> {
        self.start(local).map(|_| ())
    }

    /// IP is up (ip-up notifier): record the session's names with the
    /// lease, and replace a watchdog killed since this pppd started (off
    /// the negotiation path).
    pub fn ip_up(&mut self, info: &SessionInfo) {
        fault(self, "ip_up");
        let Some(me) = self.identity() else { return };
        let (Some(slot), Some(r)) = (self.lease, self.ready.as_ref()) else {
            return;
        };
        r.table.update_meta(slot, me, info);
        log::info!("{} is up on {}", r.pool.addr(slot), who(info));
        self.ensure_watchdog();
    }

    /// IP or the link went down (ip-down, link-down notifiers): release
    /// from pppd's main loop right after this event, once pppd has taken
    /// the address off the interface, unless IPCP renegotiates within it.
    pub fn down(&mut self, path: EndedBy) {
        if self.lease.is_some() && self.pending.is_none() && !self.helper {
            self.pending = Some(path);
            self.effects.push(Effect::ScheduleRelease);
        }
    }

    /// The callout [`Effect::ScheduleRelease`] asked for.
    pub fn release_scheduled(&mut self) {
        if let Some(path) = self.pending.take() {
            self.release(path);
        }
    }

    /// The phase changed to dead: the connection is over (this covers IPCP
    /// never opening after the hook). A new connection starts afresh.
    pub fn dead(&mut self) {
        self.release(EndedBy::PhaseDead);
        self.prev = None;
        self.last_signal = 0;
    }

    /// pppd is exiting (exit notifier).
    pub fn exiting(&mut self) {
        self.release(EndedBy::Exit);
    }

    /// In the detaching parent, with the child's PID: move the lease to
    /// the child in one step (the child also adopts it at its first call).
    pub fn pid_changed(&mut self, pid: u32) {
        let (Some(slot), Some(me)) = (self.lease, self.me) else {
            return;
        };
        let Some(r) = self.ready.as_ref() else { return };
        match Owner::of_pid(pid) {
            Ok(Some(child)) if r.table.transfer(slot, me, child) => {
                log::info!("lease on {} follows pppd to pid {pid}", r.pool.addr(slot));
            }
            // The child adopts it at its first call.
            _ => {}
        }
    }

    /// This process is a child pppd forked for a script or helper: it
    /// never touches the lease.
    pub fn forked(&mut self) {
        self.helper = true;
    }

    /// Resolve the options and open the table, once. A problem here is a
    /// configuration error: pppd stops (fatal) with the reason.
    fn start(&mut self, local: Option<Ipv4Addr>) -> Result<&mut Ready, String> {
        if self.ready.is_none() {
            let pool = self.cfg.resolve()?;
            if let Some(a) = local {
                Config::check_local(&pool, a)?;
            }
            let avoid = local.and_then(|a| pool.index(a));
            if let Some(a) = local.filter(|_| avoid.is_some()) {
                log::info!("our own address {a} is in the pool; it is never handed out");
            }
            // What happened to the file (created, reset, rebuilt) the table
            // logs itself, once; this says which pool and table are in use.
            let (table, _) = Table::open(&self.cfg.dir, &self.cfg.name, &pool, &self.cfg.spec())
                .map_err(|e| e.to_string())?;
            log::info!(
                "pool {} ({} addresses), table {}",
                pool,
                pool.size(),
                table.path().display()
            );
            self.ready = Some(Ready {
                pool,
                table,
                avoid,
                local,
            });
            self.ensure_watchdog();
        }
        Ok(self.ready.as_mut().expect("just set"))
    }

    /// Start a watchdog for the table unless one runs (or the
    /// administrator opted out). Checked at start and when each call's IP
    /// comes up, so a watchdog killed meanwhile is replaced.
    fn ensure_watchdog(&self) {
        if !self.cfg.watchdog || self.helper {
            return;
        }
        match crate::watchdog::spawn::spawn(&self.cfg.dir, &self.cfg.name, self.detached) {
            Ok(Some(pid)) => log::info!(
                "started the watchdog (pid {pid}) for table \"{}\"",
                self.cfg.name
            ),
            Ok(None) => {}
            Err(e) => log::warn!(
                "cannot start the watchdog: {e}; a dead session's lease will be freed by the next claim or by rasstatic reap"
            ),
        }
    }

    /// Reopen the table after a reset replaced it.
    fn reopen(&mut self) -> Result<(), String> {
        let local = self.ready.take().and_then(|r| r.local);
        self.start(local).map(|_| ())
    }

    /// This process's identity. After pppd's detach fork the PID differs
    /// from the one the lease was taken under: adopt the lease (the
    /// parent's pidchange may have moved it already).
    fn identity(&mut self) -> Option<Owner> {
        // SAFETY: getpid has no preconditions.
        let pid = unsafe { libc::getpid() } as u32;
        if let Some(me) = self.me.filter(|m| m.pid() == pid) {
            return Some(me);
        }
        let now = match Owner::current() {
            Ok(o) => o,
            Err(e) => {
                log::error!("cannot read this process's identity: {e}");
                return None;
            }
        };
        // A helper child (fork notifier) never takes its parent's lease.
        let adopting = if self.helper { None } else { self.lease };
        if let (Some(old), Some(slot), Some(r)) = (self.me, adopting, self.ready.as_ref()) {
            let word = r.table.slots().word(slot);
            if word == now.word() {
                log::debug!(
                    "lease on {} already moved to pid {}",
                    r.pool.addr(slot),
                    now.pid()
                );
            } else if r.table.transfer(slot, old, now) {
                log::info!(
                    "lease on {} now held by pid {} (was pid {})",
                    r.pool.addr(slot),
                    now.pid(),
                    old.pid()
                );
            } else {
                log::warn!(
                    "lease on {} was lost across the pid change",
                    r.pool.addr(slot)
                );
                self.lease = None;
            }
        }
        self.me = Some(now);
        Some(now)
    }

    /// The address to hand out, or `None` to refuse the caller.
    pub fn choose(&mut self, info: &SessionInfo, local: Option<Ipv4Addr>) -> Option<Ipv4Addr> {
        fault(self, "ip_choose_hook");
        if self.helper {
            return None;
        }
        if let Err(e) = self.start(local) {
            log::error!("{e}; refusing the caller");
            return None;
        }
        let me = self.identity()?;
        // IPCP renegotiation in the same event as ip_down: keep the address.
        if self.pending.take().is_some() {
            self.effects.push(Effect::CancelRelease);
        }
        let policy = self.cfg.policy;
        let prefer = self.lease.or(self.prev);
        for _attempt in 0..3 {
            let r = self.ready.as_ref().expect("started");
            let opts = ClaimOpts {
                prefer,
                avoid: r.avoid,
            };
            match r.table.claim(me, opts, policy, info) {
                Ok(Some(c)) => {
                    let addr = r.pool.addr(c.slot);
                    self.lease = Some(c.slot);
                    if c.existing {
                        log::info!("{} keeps {addr}", who(info));
                    } else {
                        log::info!("assigned {addr} to {}", who(info));
                    }
                    return Some(addr);
                }
                Ok(None) => {
                    self.lease = None;
                    log::error!(
                        "pool exhausted: {} of {} addresses leased; refusing {}",
                        r.table.slots().leased(),
                        r.pool.size(),
                        who(info)
                    );
                    return None;
                }
                Err(crate::table::Retired) => {
                    log::info!("table was reset by another process; reopening");
                    if let Err(e) = self.reopen() {
                        log::error!("{e}; refusing the caller");
                        return None;
                    }
                }
            }
        }
        log::error!("table keeps being reset; refusing the caller");
        None
    }

    /// Whether pppd may give the peer `addr`: exactly our lease.
    pub fn allowed(&mut self, addr: Ipv4Addr) -> bool {
        fault(self, "allowed_address_hook");
        let me = self.identity();
        let (Some(slot), Some(r), Some(me)) = (self.lease, self.ready.as_ref(), me) else {
            log::warn!("refusing {addr}: this session holds no lease");
            return false;
        };
        let ours = r.pool.addr(slot);
        if ours == addr && r.table.slots().word(slot) == me.word() {
            true
        } else {
            log::warn!("refusing {addr}: this session's lease is {ours}");
            false
        }
    }

    /// Release the lease now, if held. A release already scheduled by
    /// ip_down / link_down keeps its path: that is what ended the session.
    fn release(&mut self, path: EndedBy) {
        let path = match self.pending.take() {
            Some(p) => {
                self.effects.push(Effect::CancelRelease);
                p
            }
            None => path,
        };
        if self.helper {
            return;
        }
        // Identity first: a detached child adopts the lease before freeing it.
        let me = self.identity();
        let Some(slot) = self.lease.take() else {
            return;
        };
        let Some(r) = self.ready.as_ref() else { return };
        let addr = r.pool.addr(slot);
        let sig = match self.last_signal {
            0 => String::new(),
            s => format!(", after signal {}", signal_name(s)),
        };
        match me {
            Some(me) if r.table.release(slot, me, path) => {
                log::info!("released {addr} ({}{sig})", path.name());
            }
            _ => log::warn!("lease on {addr} was already gone ({}{sig})", path.name()),
        }
        self.prev = Some(slot);
    }
}

pub fn who(info: &SessionInfo) -> String {
    let peer = if info.peer.is_empty() {
        "peer"
    } else {
        &info.peer
    };
    let dev = info.device.strip_prefix("/dev/").unwrap_or(&info.device);
    if info.ifname.is_empty() {
        format!("{peer} on {dev}")
    } else {
        format!("{peer} on {} ({dev})", info.ifname)
    }
}

fn signal_name(s: c_int) -> String {
    match s {
        libc::SIGHUP => "SIGHUP".into(),
        libc::SIGINT => "SIGINT".into(),
        libc::SIGTERM => "SIGTERM".into(),
        s => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
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
}
