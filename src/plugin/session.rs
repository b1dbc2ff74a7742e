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
    /// Run [`Plugin::tick`] in this many seconds, and again after as many
    /// seconds as it returns, while it returns some.
    ScheduleTick(u32),
    /// Hang this session up (pppd's SIGTERM).
    HangUp,
}

/// How often a pppd checks that its table is still the file at the
/// table's path and still records its lease.
pub const TICK_SECS: u32 = 3;

/// In cluster mode, how often a pppd checks the hang deadline (the
/// cluster's hang margin must be longer: `Timing::problem`).
pub const CLUSTER_TICK_SECS: u32 = 1;

/// Cluster mode: how many re-asserts in a row (one per [`TICK_SECS`]) may
/// find this session's lost lease sealed before it hangs up. The agent
/// unseals the blocks its server holds within a renewal period (2 s by
/// default); a slot still sealed after this long is in a block this
/// server does not hold.
pub const SEALED_HANG_TRIES: u32 = 10;

/// Cluster mode: how long a caller refused for want of addresses in the
/// server's blocks waits, once the agent has been woken for a block,
/// before it is refused. The agent's step that takes a block lasts about
/// 12 ms (p99 21 ms, BENCHMARKS.md); pppd is blocked meanwhile, in this
/// caller's negotiation only.
pub const AGENT_WAIT: std::time::Duration = std::time::Duration::from_secs(1);

/// How often a waiting caller tries to claim again.
const AGENT_POLL: std::time::Duration = std::time::Duration::from_millis(10);

/// The plugin's state in one pppd process.
pub struct Plugin {
    pub cfg: Config,
    /// Set once the options are in and the table is open.
    ready: Option<Ready>,
    /// The identity under which `lease` is held.
    me: Option<Owner>,
    /// The address this session holds (its slot is looked up in the table
    /// each time: a rebuilt table numbers slots anew).
    lease: Option<Ipv4Addr>,
    /// The address this connection held before an IPCP down, preferred if
    /// IPCP comes up again in the same connection.
    prev: Option<Ipv4Addr>,
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
    /// When this pppd read its options (unix milliseconds): its pool
    /// definition's age, against the table's.
    defined_ms: u64,
    /// Whether the tick is scheduled.
    ticking: bool,
    /// Ticks so far (in cluster mode, the table checks run every
    /// [`TICK_SECS`] / [`CLUSTER_TICK_SECS`] ticks).
    ticks: u32,
    /// Cluster mode: this session was hung up at the hang deadline.
    fenced_off: bool,
    /// Cluster mode: the latest hang deadline seen in any table this pppd
    /// used (a table made anew may carry none until the agent follows it).
    seen_hang: u64,
    /// Cluster mode: re-asserts in a row that found this session's slot
    /// sealed (its lease lost, its block not unsealed by the agent).
    sealed_seen: u32,
    /// The table's definition, when it is newer than this pppd's own and
    /// followed: (pool, as written, when read).
    followed: Option<(Pool, String, u64)>,
    /// This session's interface (from ip-up), to tell its own interface
    /// lease from another's.
    ifname: Option<String>,
    /// A holder of this session's address that is not a pppd, seen at the
    /// last tick: acted on only if still there at the next (the watchdog
    /// holds a dead session's address for a moment while it cleans up).
    suspect: Option<Owner>,
}

pub struct Ready {
    /// The table's pool: this pppd's own, or a newer definition it
    /// follows.
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
            defined_ms: crate::table::now_ms(),
            ticking: false,
            ticks: 0,
            fenced_off: false,
            seen_hang: 0,
            sealed_seen: 0,
            followed: None,
            ifname: None,
            suspect: None,
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
        self.start(local)?;
        if !self.ticking && !self.helper {
            self.ticking = true;
            let secs = self.tick_secs();
            self.effects.push(Effect::ScheduleTick(secs));
        }
        Ok(())
    }

    /// Whether this pppd runs in cluster mode: by its option, or because
    /// its table is a cluster's (rasstatic-agent manages it).
    fn cluster(&self) -> bool {
        self.cfg.cluster || self.ready.as_ref().is_some_and(|r| r.table.is_cluster())
    }

    fn tick_secs(&self) -> u32 {
        if self.cluster() {
            CLUSTER_TICK_SECS
        } else {
            TICK_SECS
        }
    }

    /// Every [`TICK_SECS`]: if the table was replaced, deleted or damaged,
    /// open (or rebuild) the current one; and if this session holds an
    /// address, make sure the table records it (re-entering it if not).
    /// In cluster mode, every [`CLUSTER_TICK_SECS`] besides: hang up once
    /// the hang deadline has passed. Returns in how many seconds to tick
    /// again (none in a helper child).
    pub fn tick(&mut self) -> Option<u32> {
        if self.helper {
            self.ticking = false;
            return None;
        }
        fault(self, "tick");
        if self.ready.is_none() {
            return Some(TICK_SECS);
        }
        self.ticks = self.ticks.wrapping_add(1);
        self.hang_up_if_due();
        let every = TICK_SECS / self.tick_secs();
        if self.ticks % every == 0 {
            if let Err(e) = self.refresh() {
                log::error!("{e}");
            } else {
                self.reassert();
            }
        }
        Some(self.tick_secs())
    }

    /// Cluster mode: once the hang deadline has passed, this server's
    /// registration in etcd may have ended and its blocks may go to
    /// another server after the grace period: the session hangs up now,
    /// before its address can be handed out there.
    fn hang_up_if_due(&mut self) {
        let Some(r) = self.ready.as_ref() else {
            return;
        };
        // Every hang deadline comes from a verified renewal: the latest
        // seen holds, whichever table showed it.
        self.seen_hang = self.seen_hang.max(r.table.deadlines().1);
        // A session: a lease, or an interface up (a lease lost meanwhile,
        // e.g. across a detach, still has its address on it).
        let in_session = self.lease.is_some() || self.ifname.is_some();
        let now = crate::table::boot_ns();
        if self.fenced_off || !in_session || self.seen_hang == 0 || now < self.seen_hang {
            return;
        }
        let late = now.saturating_sub(self.seen_hang) / 1_000_000;
        let what = match (self.lease, &self.ifname) {
            (Some(a), _) => a.to_string(),
            (None, Some(i)) => format!("the session on {i}"),
            (None, None) => "the session".into(),
        };
        log::error!(
            "cluster: hanging up {what}: this server's registration in etcd was not renewed in time (hang deadline passed {late} ms ago); its address may go to another server after the grace period"
        );
        self.fenced_off = true;
        self.effects.push(Effect::HangUp);
    }

    /// IP is up (ip-up notifier): record the session's names with the
    /// lease, and replace a watchdog killed since this pppd started (off
    /// the negotiation path).
    pub fn ip_up(&mut self, info: &SessionInfo) {
        fault(self, "ip_up");
        let Some(me) = self.identity() else { return };
        let (Some(addr), Some(r)) = (self.lease, self.ready.as_ref()) else {
            return;
        };
        if let Some(slot) = r.table.any_slot_of(addr) {
            r.table.update_meta(slot, me, info);
        }
        log::info!("{addr} is up on {}", who(info));
        self.ifname = (!info.ifname.is_empty()).then(|| info.ifname.clone());
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
        self.ifname = None;
        self.last_signal = 0;
    }

    /// pppd is exiting (exit notifier).
    pub fn exiting(&mut self) {
        self.release(EndedBy::Exit);
    }

    /// In the detaching parent, with the child's PID: move the lease to
    /// the child in one step (the child also adopts it at its first call).
    pub fn pid_changed(&mut self, pid: u32) {
        let (Some(addr), Some(me)) = (self.lease, self.me) else {
            return;
        };
        let Some(r) = self.ready.as_ref() else { return };
        let Some(slot) = r.table.any_slot_of(addr) else {
            return;
        };
        match Owner::of_pid(pid) {
            Ok(Some(child)) if r.table.transfer(slot, me, child) => {
                log::info!("lease on {addr} follows pppd to pid {pid}");
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
            let ours = self.cfg.resolve()?;
            if let Some(a) = local {
                Config::check_local(&ours, a)?;
            }
            // What happened to the file (created, reset, rebuilt, followed)
            // the table logs itself, once; `install` says which pool and
            // table are in use.
            let (pool, spec, defined_ms) = self.definition()?;
            let def = crate::table::Definition {
                pool: &pool,
                spec: &spec,
                defined_ms,
                cluster: self.cfg.cluster,
            };
            let (table, _) =
                Table::open_as(&self.cfg.dir, &self.cfg.name, &def).map_err(|e| e.to_string())?;
            self.install(table, local);
        }
        Ok(self.ready.as_mut().expect("just set"))
    }

    /// Use `table` from now on.
    fn install(&mut self, table: Table, local: Option<Ipv4Addr>) {
        let pool = table.pool().clone();
        // Following a newer definition: open with it from now on.
        self.followed = match self.cfg.resolve() {
            Ok(ours) if ours != pool => Some((pool.clone(), table.spec(), table.defined_ms())),
            _ => None,
        };
        if self.cfg.cluster {
            // A table made before (standalone) is fenced from now on; the
            // agent seals and unseals its blocks.
            table.enter_cluster_mode();
        }
        let avoid = local.and_then(|a| pool.index(a));
        if let Some(a) = local.filter(|_| avoid.is_some()) {
            log::info!("our own address {a} is in the pool; it is never handed out");
        }
        log::info!(
            "pool {} ({} addresses), table {}{}",
            pool,
            pool.size(),
            table.path().display(),
            match (table.is_cluster(), self.cfg.cluster) {
                (false, _) => "",
                (true, true) => ", cluster mode (blocks from rasstatic-agent)",
                (true, false) => ", in cluster mode though this pppd has no rasstatic-cluster option: it follows the table (blocks from rasstatic-agent)",
            }
        );
        self.ready = Some(Ready {
            pool,
            table,
            avoid,
            local,
        });
        self.ensure_watchdog();
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

    /// Reopen the table if its file was replaced, deleted or damaged in
    /// place since it was opened (rebuilding it where needed: see
    /// `Table::open_as`).
    fn refresh(&mut self) -> Result<(), String> {
        let Some(r) = self.ready.as_ref() else {
            return Ok(());
        };
        // The file first, by fstat and pread: touching the mapping of a
        // file truncated in place would raise SIGBUS.
        if let Err(e) = r.table.verify() {
            log::error!("{e}");
            return self.reopen();
        }
        if !r.table.replaced() {
            return Ok(());
        }
        log::warn!(
            "table {} was replaced or removed; opening the current one",
            r.table.path().display()
        );
        // Waits for whoever replaces it, or, if it was deleted, makes it
        // again from this mapping with every live lease it held (protocol
        // I6), before opening what the name leads to.
        let (pool, spec, defined_ms) = self.definition()?;
        let def = crate::table::Definition {
            pool: &pool,
            spec: &spec,
            defined_ms,
            cluster: self.cfg.cluster,
        };
        let local = r.local;
        match r.table.current(&self.cfg.dir, &self.cfg.name, &def) {
            Ok(Some((t, _))) => self.install(t, local),
            Ok(None) => {}
            Err(e) => return Err(e.to_string()),
        }
        Ok(())
    }

    /// The pool definition this pppd opens tables with: its own, or the
    /// newer one it follows (so that a table it makes again is not of the
    /// pool the administrator replaced).
    fn definition(&self) -> Result<(Pool, String, u64), String> {
        match &self.followed {
            Some(f) => Ok(f.clone()),
            None => Ok((self.cfg.resolve()?, self.cfg.spec(), self.defined_ms)),
        }
    }

    /// Make sure the table records this session's lease; re-enter it if
    /// the table lost it. Where another live session holds the address,
    /// the younger of the two hangs up.
    fn reassert(&mut self) {
        let Some(addr) = self.lease else { return };
        let Some(me) = self.identity() else { return };
        let own_if = self.ifname.as_deref().and_then(crate::kernel::ifindex);
        // A table replaced around the re-entry may not have carried it:
        // enter it again in the new one (as a release is repeated).
        for _ in 0..3 {
            let Some(r) = self.ready.as_ref() else { return };
            let Some(slot) = r.table.any_slot_of(addr) else {
                log::warn!(
                    "{addr} is outside the pool of table {}; it stays with this session until it ends",
                    r.table.path().display()
                );
                return;
            };
            let word = r.table.word(slot);
            if crate::protocol::Free::from_word(word)
                .is_some_and(|f| f.path == EndedBy::Forced && f.last_pid == me.pid())
            {
                log::warn!(
                    "the administrator released this session's lease on {addr} (rasstatic release --force); hanging up"
                );
                self.lease = None;
                self.effects.push(Effect::HangUp);
                return;
            }
            match r.table.reassert(slot, me, own_if) {
                Ok(false) => {
                    self.suspect = None;
                    self.sealed_seen = 0;
                    return;
                }
                Err(None) => {
                    self.sealed_seen += 1;
                    if self.sealed_seen == 1 {
                        log::warn!(
                            "cluster: the table lost this session's lease on {addr}, and its slot is sealed; waiting for rasstatic-agent to open its block"
                        );
                    }
                    if self.sealed_seen >= SEALED_HANG_TRIES {
                        log::error!(
                            "cluster: {addr} stays sealed: its block is not this server's; hanging up"
                        );
                        self.lease = None;
                        self.effects.push(Effect::HangUp);
                    }
                    return;
                }
                Ok(true) => {
                    log::warn!("the table had lost this session's lease on {addr}; re-entered it");
                    self.suspect = None;
                    self.sealed_seen = 0;
                    if !r.table.replaced() {
                        return;
                    }
                    if let Err(e) = self.refresh() {
                        log::error!("{e}");
                        return;
                    }
                }
                Err(Some(other)) => {
                    self.conflict(addr, me, other);
                    return;
                }
            }
        }
    }

    /// Another live holder has this session's address in the table.
    fn conflict(&mut self, addr: Ipv4Addr, me: Owner, other: Owner) {
        let pppd = other.iface().is_none() && crate::kernel::is_pppd(other.pid());
        if !pppd && self.suspect != Some(other) {
            // Perhaps the watchdog, for the moment it cleans up after a
            // dead session: look again at the next tick.
            self.suspect = Some(other);
            return;
        }
        self.suspect = None;
        if let Some((ifindex, _)) = other.iface() {
            log::error!(
                "address conflict: {addr} is on another interface (index {ifindex}) too, whose pppd cannot be named; hanging up this call"
            );
        } else if pppd && crate::protocol::conflict_loser(me, other) == other {
            log::error!(
                "address conflict: {addr} is leased to pid {} too, a younger call; hanging it up",
                other.pid()
            );
            if let Err(e) = other.signal(libc::SIGTERM) {
                log::error!("cannot hang up pid {}: {e}", other.pid());
            }
            return;
        } else if pppd {
            log::error!(
                "address conflict: {addr} is leased to pid {} too, a call up longer than this one; hanging up this one",
                other.pid()
            );
        } else {
            // It cannot be hung up: rather than keep a duplicate, this
            // call goes.
            log::error!(
                "address conflict: {addr} is leased to pid {} too, which is not a pppd and cannot be hung up; hanging up this call",
                other.pid()
            );
        }
        self.lease = None;
        self.effects.push(Effect::HangUp);
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
        if let (Some(old), Some(addr), Some(r)) = (self.me, adopting, self.ready.as_ref()) {
            let slot = r.table.any_slot_of(addr);
            let word = slot.map(|s| r.table.word(s));
            if word == Some(now.word()) {
                log::debug!("lease on {addr} already moved to pid {}", now.pid());
            } else if slot.is_some_and(|s| r.table.transfer(s, old, now)) {
                log::info!(
                    "lease on {addr} now held by pid {} (was pid {})",
                    now.pid(),
                    old.pid()
                );
            } else {
                log::warn!("lease on {addr} was lost across the pid change");
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
        // No look at the file before the claim: the check of its name
        // right after the claim (I6) and the reset word (I5) catch a
        // replaced table; damage in place is the tick's and the
        // watchdog's to find.
        let policy = self.cfg.policy;
        // Cluster mode: when the agent was woken for a block, since when
        // this caller waits for it.
        let mut waiting: Option<std::time::Instant> = None;
        let mut attempts = 0;
        while attempts < 3 {
            attempts += 1;
            let r = self.ready.as_ref().expect("started");
            let opts = ClaimOpts {
                prefer: self.lease.or(self.prev).and_then(|a| r.table.slot_of(a)),
                avoid: r.avoid,
            };
            match r.table.claim(me, opts, policy, info) {
                Ok(Some(c)) if !c.existing && !r.table.still_named() => {
                    // The file was deleted or replaced around the claim:
                    // a table made from it since may not hold this lease
                    // (protocol I6). Give it back and claim in the current
                    // table.
                    r.table.release(c.slot, me, EndedBy::Api);
                    if let Err(e) = self.refresh() {
                        log::error!("{e}; refusing the caller");
                        return None;
                    }
                }
                Ok(Some(c)) => {
                    let addr = r.pool.addr(c.slot);
                    self.lease = Some(addr);
                    if let Some(since) = waiting {
                        log::info!(
                            "cluster: the agent took a block for {} in {} ms",
                            who(info),
                            since.elapsed().as_millis()
                        );
                    }
                    if c.existing {
                        log::info!("{} keeps {addr}", who(info));
                    } else {
                        log::info!("assigned {addr} to {}", who(info));
                    }
                    return Some(addr);
                }
                Ok(None) if r.table.is_fenced() => {
                    self.lease = None;
                    let (claim, _, _) = r.table.deadlines();
                    let since = crate::table::boot_ns().saturating_sub(claim) / 1_000_000;
                    log::error!(
                        "cluster: refusing {}: this server is fenced: no renewal of its etcd registration verified in time (claim deadline passed {since} ms ago; is rasstatic-agent running, and etcd reachable?)",
                        who(info)
                    );
                    return None;
                }
                Ok(None) if r.table.is_cluster() => {
                    self.lease = None;
                    // Ask the agent for a block now rather than at its
                    // next step, and wait for it a moment.
                    if waiting.is_none() && crate::agent_state::wake(&self.cfg.dir, &self.cfg.name)
                    {
                        waiting = Some(std::time::Instant::now());
                    }
                    if waiting.is_some_and(|since| since.elapsed() < AGENT_WAIT) {
                        std::thread::sleep(AGENT_POLL);
                        attempts -= 1;
                        continue;
                    }
                    log::error!(
                        "cluster: no free address in the blocks this server holds ({} of the pool's {} leased here); refusing {}; {}",
                        r.table.slots().leased(),
                        r.pool.size(),
                        who(info),
                        if waiting.is_some() {
                            format!(
                                "rasstatic-agent, asked for another block, took none in {} ms (has etcd a free block?)",
                                AGENT_WAIT.as_millis()
                            )
                        } else {
                            "no running rasstatic-agent has reported for this table".to_string()
                        }
                    );
                    return None;
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
                    if let Err(e) = self.refresh() {
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
        let (Some(ours), Some(r), Some(me)) = (self.lease, self.ready.as_ref(), me) else {
            log::warn!("refusing {addr}: this session holds no lease");
            return false;
        };
        let slot = r.table.any_slot_of(ours);
        if ours == addr && slot.is_some_and(|s| r.table.word(s) == me.word()) {
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
        let Some(addr) = self.lease.take() else {
            return;
        };
        if let Err(e) = self.refresh() {
            log::error!("{e}");
        }
        let sig = match self.last_signal {
            0 => String::new(),
            s => format!(", after signal {}", signal_name(s)),
        };
        let released = me.is_some_and(|me| self.release_in_table(addr, me, path));
        if released {
            log::info!("released {addr} ({}{sig})", path.name());
        } else {
            log::warn!("lease on {addr} was already gone ({}{sig})", path.name());
        }
        // A rebuild that began before the release may have carried the
        // lease over (the releaser's half of the Dekker pair, I5): release
        // it in the table that replaced this one too.
        if self.ready.as_ref().is_some_and(|r| r.table.replaced()) && self.refresh().is_ok() {
            if let Some(me) = me {
                self.release_in_table(addr, me, path);
            }
        }
        self.prev = Some(addr);
    }

    /// Release `addr` for `me` in the current table, if it records it.
    fn release_in_table(&self, addr: Ipv4Addr, me: Owner, path: EndedBy) -> bool {
        let Some(r) = self.ready.as_ref() else {
            return false;
        };
        r.table
            .any_slot_of(addr)
            .is_some_and(|slot| r.table.release(slot, me, path))
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
mod tests;
