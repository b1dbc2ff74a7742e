//! The pppd plugin: `plugin rasstatic.so`.
//!
//! Every function pppd calls is a small `extern "C"` shim that runs the
//! real work inside [`guard`], which catches any panic, logs it through
//! pppd and returns the fail-safe answer (refuse the address). Only
//! [`sys`] touches pppd itself.
//!
//! # Release paths
//! - ip_down / link_down: released from pppd's main loop right after the
//!   current event, i.e. after pppd has removed the address from the
//!   interface. If IPCP renegotiates within that event (ip_down, then
//!   ip_choose_hook), the release is cancelled and the caller keeps its
//!   address.
//! - phase change to dead, and exit: released at once (the address is off
//!   the interface by then). These cover IPCP never opening after the hook.
//! - pid change (detach, updetach): the lease moves to the child in one
//!   step; the child also adopts it itself at its first call.
//! - fork (scripts, helpers): the child never touches the lease.
//! - SIGKILL, crash: nothing runs here; the watchdog (started on demand,
//!   see [`crate::watchdog`]) reaps the dead owner within milliseconds, and
//!   without it the next claim that finds the pool looking full does.

mod sys;

use std::ffi::{c_char, c_int, c_void};
use std::net::Ipv4Addr;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::Mutex;

use once_cell::sync::Lazy;

use crate::config::Config;
use crate::owner::Owner;
use crate::pool::Pool;
use crate::protocol::{ClaimOpts, Path};
use crate::table::{Opened, SessionInfo, Table};

/// The plugin's state in this pppd process. pppd is single-threaded and no
/// signal handler touches this, so the mutex is never contended; it exists
/// to make the static safe.
struct Plugin {
    cfg: Config,
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
    pending: Option<Path>,
    /// A child of pppd (scripts, helpers): never touches leases.
    helper: bool,
    /// Fault injection for tests: panic in the named hook.
    fault: Option<String>,
}

struct Ready {
    pool: Pool,
    table: Table,
    avoid: Option<u32>,
}

static PLUGIN: Lazy<Mutex<Plugin>> = Lazy::new(|| {
    Mutex::new(Plugin {
        cfg: Config::default(),
        ready: None,
        me: None,
        lease: None,
        prev: None,
        pending: None,
        helper: false,
        fault: None,
    })
});

/// The last signal pppd received (set from its signal handler).
static LAST_SIGNAL: AtomicI32 = AtomicI32::new(0);

fn with_plugin<R>(f: impl FnOnce(&mut Plugin) -> R) -> R {
    // A panic while holding the lock poisons it; the state is still the
    // best we have, so keep using it.
    let mut g = PLUGIN.lock().unwrap_or_else(|e| e.into_inner());
    f(&mut g)
}

/// Where the last panic happened, recorded by the panic hook for [`guard`]
/// to log (the hook itself logs nothing, so a panic is logged once).
static PANIC_AT: Mutex<Option<String>> = Mutex::new(None);

/// Run `f`, catching any panic: log it once, with its message and where it
/// happened, and return `fallback`.
fn guard<R>(what: &str, fallback: R, f: impl FnOnce() -> R) -> R {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(p) => {
            let msg = p
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| p.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            let at = PANIC_AT
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .take()
                .map(|l| format!(" (at {l})"))
                .unwrap_or_default();
            sys::log(
                sys::Level::Error,
                &format!("rasstatic: internal error in {what}: {msg}{at}; failing safe"),
            );
            fallback
        }
    }
}

/// An `extern "C"` function pppd calls: its body runs inside [`guard`],
/// which returns `$fallback` if it panics. Every entry point is written
/// with it, so none can let a panic unwind into pppd.
macro_rules! entry {
    ($(#[$m:meta])* fn $name:ident($($arg:ident: $ty:ty),*) $(-> $ret:ty)?, fallback $fallback:expr, $body:block) => {
        entry!($(#[$m])* fn $name($($arg: $ty),*) $(-> $ret)?, as stringify!($name), fallback $fallback, $body);
    };
    ($(#[$m:meta])* fn $name:ident($($arg:ident: $ty:ty),*) $(-> $ret:ty)?, as $what:expr, fallback $fallback:expr, $body:block) => {
        $(#[$m])*
        unsafe extern "C" fn $name($($arg: $ty),*) $(-> $ret)? {
            guard($what, $fallback, || $body)
        }
    };
}

/// The `log` crate backend: pppd's logging, prefixed "rasstatic: ".
/// In a watchdog the plugin started, syslog instead (pppd's log files
/// and descriptors are not the watchdog's).
struct PppdLogger;

static DETACHED: AtomicBool = AtomicBool::new(false);

/// Runs first in a watchdog started from pppd.
fn detached() {
    DETACHED.store(true, Ordering::Relaxed);
}

impl log::Log for PppdLogger {
    fn enabled(&self, _: &log::Metadata) -> bool {
        true
    }
    fn log(&self, r: &log::Record) {
        if DETACHED.load(Ordering::Relaxed) {
            crate::syslog::send(r.level(), &format!("{}", r.args()));
            return;
        }
        let level = match r.level() {
            log::Level::Error => sys::Level::Error,
            log::Level::Warn => sys::Level::Warn,
            log::Level::Info => sys::Level::Info,
            log::Level::Debug | log::Level::Trace => sys::Level::Debug,
        };
        sys::log(level, &format!("rasstatic: {}", r.args()));
    }
    fn flush(&self) {}
}

static LOGGER: PppdLogger = PppdLogger;

fn fault(p: &Plugin, hook: &str) {
    if p.fault.as_deref() == Some(hook) {
        panic!("fault injected in {hook} (RASSTATIC_FAULT)");
    }
}

// ---------------------------------------------------------------------------
// Options

macro_rules! option_parser {
    ($fn:ident, $name:literal) => {
        entry!(fn $fn(argv: *mut *mut c_char) -> c_int, as concat!("option ", $name), fallback 0, {
            // SAFETY: pppd passes its argv pointer to o_special parsers.
            let value = unsafe { sys::option_value(argv) };
            parse_option($name, value)
        });
    };
}

option_parser!(opt_pool, "rasstatic-pool");
option_parser!(opt_exclude, "rasstatic-exclude");
option_parser!(opt_name, "rasstatic-name");
option_parser!(opt_dir, "rasstatic-dir");
option_parser!(opt_policy, "rasstatic-policy");
option_parser!(opt_no_watchdog, "norasstatic-watchdog");

fn parse_option(name: &str, value: Option<String>) -> c_int {
    with_plugin(|p| match p.cfg.apply(name, value.as_deref()) {
        Ok(()) => 1,
        Err(e) => {
            sys::option_error(&format!("rasstatic: {e}"));
            0
        }
    })
}

// ---------------------------------------------------------------------------
// Entry point

entry!(
    /// Called by pppd when it loads the plugin, during option parsing.
    #[no_mangle]
    fn plugin_init(), fallback (), {
        let _ = log::set_logger(&LOGGER);
        log::set_max_level(log::LevelFilter::Debug);
        // Record where a panic happens; `guard` logs it (once).
        std::panic::set_hook(Box::new(|info| {
            let at = info.location().map(|l| l.to_string());
            *PANIC_AT.lock().unwrap_or_else(|e| e.into_inner()) = at;
        }));
        with_plugin(|p| p.fault = std::env::var("RASSTATIC_FAULT").ok());
        use crate::config::OPTIONS;
        let parsers: [sys::OptionSpec; 6] = [
            sys::OptionSpec {
                name: c"rasstatic-pool",
                description: c"rasstatic: address pool",
                takes_value: true,
                parser: opt_pool,
            },
            sys::OptionSpec {
                name: c"rasstatic-exclude",
                description: c"rasstatic: addresses never handed out",
                takes_value: true,
                parser: opt_exclude,
            },
            sys::OptionSpec {
                name: c"rasstatic-name",
                description: c"rasstatic: lease table name",
                takes_value: true,
                parser: opt_name,
            },
            sys::OptionSpec {
                name: c"rasstatic-dir",
                description: c"rasstatic: lease table directory",
                takes_value: true,
                parser: opt_dir,
            },
            sys::OptionSpec {
                name: c"rasstatic-policy",
                description: c"rasstatic: round-robin or sticky",
                takes_value: true,
                parser: opt_policy,
            },
            sys::OptionSpec {
                name: c"norasstatic-watchdog",
                description: c"rasstatic: do not start a watchdog",
                takes_value: false,
                parser: opt_no_watchdog,
            },
        ];
        debug_assert!(
            parsers.len() == OPTIONS.len()
                && parsers
                    .iter()
                    .zip(OPTIONS)
                    .all(|(s, o)| s.name.to_str() == Ok(o.0) && s.takes_value == o.1)
        );
        sys::add_options(&parsers);
        sys::set_address_hooks(ip_choose_hook, allowed_address_hook);
        use sys::Notify::*;
        sys::add_notifier(PhaseChange, on_phase_change);
        sys::add_notifier(IpUp, on_ip_up);
        sys::add_notifier(IpDown, on_ip_down);
        sys::add_notifier(LinkDown, on_link_down);
        sys::add_notifier(Exit, on_exit);
        sys::add_notifier(PidChange, on_pid_change);
        sys::add_notifier(Fork, on_fork);
        sys::add_notifier(Signaled, on_signal);
        log::info!("loaded (pppd {})", sys::VERSION);
    }
);

// ---------------------------------------------------------------------------
// The session logic

impl Plugin {
    /// Resolve the options and open the table, once. A problem here is a
    /// configuration error: pppd stops (fatal) with the reason.
    fn start(&mut self) -> Result<&mut Ready, String> {
        if self.ready.is_none() {
            let pool = self.cfg.resolve()?;
            let local = sys::session().local;
            if let Some(a) = local {
                Config::check_local(&pool, a)?;
            }
            let avoid = local.and_then(|a| pool.index(a));
            if let Some(a) = local.filter(|_| avoid.is_some()) {
                log::info!("our own address {a} is in the pool; it is never handed out");
            }
            let (table, how) = Table::open(&self.cfg.dir, &self.cfg.name, &pool, &self.cfg.spec())
                .map_err(|e| e.to_string())?;
            log::info!(
                "pool {} ({} addresses), table {}{}",
                pool,
                pool.size(),
                table.path().display(),
                match how {
                    Opened::Existing => "",
                    Opened::Created => " (created)",
                    Opened::ResetBoot => " (reset: written in an earlier boot)",
                    Opened::ResetPool { .. } => " (rebuilt for a new pool)",
                }
            );
            self.ready = Some(Ready { pool, table, avoid });
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
        match crate::watchdog::spawn::spawn(&self.cfg.dir, &self.cfg.name, detached) {
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
        self.ready = None;
        self.start().map(|_| ())
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
    fn choose(&mut self) -> Option<Ipv4Addr> {
        fault(self, "ip_choose_hook");
        if self.helper {
            return None;
        }
        if let Err(e) = self.start() {
            log::error!("{e}; refusing the caller");
            return None;
        }
        let me = self.identity()?;
        // IPCP renegotiation in the same event as ip_down: keep the address.
        if self.pending.take().is_some() {
            sys::cancel_call(release_soon);
        }
        let info = session_info();
        let policy = self.cfg.policy;
        let prefer = self.lease.or(self.prev);
        for _attempt in 0..3 {
            let r = self.ready.as_ref().expect("started");
            let opts = ClaimOpts {
                prefer,
                avoid: r.avoid,
            };
            match r.table.claim(me, opts, policy, &info) {
                Ok(Some(c)) => {
                    let addr = r.pool.addr(c.slot);
                    self.lease = Some(c.slot);
                    if c.existing {
                        log::info!("{} keeps {addr}", who(&info));
                    } else {
                        log::info!("assigned {addr} to {}", who(&info));
                    }
                    return Some(addr);
                }
                Ok(None) => {
                    self.lease = None;
                    log::error!(
                        "pool exhausted: {} of {} addresses leased; refusing {}",
                        r.table.slots().leased(),
                        r.pool.size(),
                        who(&info)
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
    fn allowed(&mut self, addr: Ipv4Addr) -> bool {
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
    fn release(&mut self, path: Path) {
        let path = match self.pending.take() {
            Some(p) => {
                sys::cancel_call(release_soon);
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
        let sig = match LAST_SIGNAL.load(Ordering::Relaxed) {
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

/// What the table records about this session, from pppd.
fn session_info() -> SessionInfo {
    let s = sys::session();
    SessionInfo {
        peer: s.peer,
        ifname: s.ifname,
        device: s.device,
        proxyarp: s.proxyarp,
    }
}

fn who(info: &SessionInfo) -> String {
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

// ---------------------------------------------------------------------------
// The shims pppd calls

entry!(
    /// pppd's `ip_choose_hook`: write the peer's address (network byte
    /// order), or 0 to refuse (also when anything panics).
    fn ip_choose_hook(addr: *mut u32), fallback (), {
        let v = with_plugin(|p| p.choose())
            .map(|a| u32::from(a).to_be())
            .unwrap_or(0);
        if !addr.is_null() {
            // SAFETY: pppd passes a pointer to its wanted options' hisaddr.
            unsafe { *addr = v };
        }
    }
);

entry!(
    /// pppd's `allowed_address_hook` (network byte order): 1 allows, 0
    /// denies.
    fn allowed_address_hook(addr: u32) -> c_int, fallback 0, {
        let a = Ipv4Addr::from(u32::from_be(addr));
        c_int::from(with_plugin(|p| p.allowed(a)))
    }
);

entry!(
    /// Deferred release after ip_down / link_down (pppd callout).
    fn release_soon(_arg: *mut c_void), fallback (), {
        with_plugin(|p| {
            if let Some(path) = p.pending.take() {
                p.release(path);
            }
        })
    }
);

fn schedule_release(path: Path) {
    with_plugin(|p| {
        if p.lease.is_some() && p.pending.is_none() && !p.helper {
            p.pending = Some(path);
            sys::call_soon(release_soon);
        }
    })
}

entry!(
    fn on_phase_change(_data: *mut c_void, phase: c_int), as "phase_change", fallback (), {
        log::debug!("notified: phase change to {phase}");
        if phase == sys::PHASE_DEAD {
            with_plugin(|p| {
                p.release(Path::PhaseDead);
                // A new connection starts afresh (round-robin).
                p.prev = None;
            });
            LAST_SIGNAL.store(0, Ordering::Relaxed);
        } else if phase != sys::PHASE_INITIALIZE {
            // Options are all in: check them and open the table now, so a
            // misconfiguration stops pppd before any caller is answered.
            let r = with_plugin(|p| p.start().map(|_| ()));
            if let Err(e) = r {
                fatal(&e);
            }
        }
    }
);

/// Stop pppd with a configuration error (pppd's fatal: cleanup, exit 1).
fn fatal(msg: &str) -> ! {
    sys::fatal(&format!("rasstatic: {msg}"))
}

entry!(
    fn on_ip_up(_data: *mut c_void, _arg: c_int), as "ip_up", fallback (), {
        log::debug!("notified: ip up");
        with_plugin(|p| {
            fault(p, "ip_up");
            let Some(me) = p.identity() else { return };
            let (Some(slot), Some(r)) = (p.lease, p.ready.as_ref()) else {
                return;
            };
            let info = session_info();
            r.table.update_meta(slot, me, &info);
            log::info!("{} is up on {}", r.pool.addr(slot), who(&info));
            // Off the negotiation path: replace a watchdog killed since
            // this pppd started.
            p.ensure_watchdog();
        })
    }
);

entry!(
    fn on_ip_down(_data: *mut c_void, _arg: c_int), as "ip_down", fallback (), {
        log::debug!("notified: ip down");
        schedule_release(Path::IpDown)
    }
);

entry!(
    fn on_link_down(_data: *mut c_void, _arg: c_int), as "link_down", fallback (), {
        log::debug!("notified: link down");
        schedule_release(Path::LinkDown)
    }
);

entry!(
    fn on_exit(_data: *mut c_void, status: c_int), as "exit", fallback (), {
        log::debug!("notified: exit (status {status})");
        with_plugin(|p| p.release(Path::Exit))
    }
);

entry!(
    /// In the detaching parent, with the child's PID: move the lease.
    fn on_pid_change(_data: *mut c_void, pid: c_int), as "pid_change", fallback (), {
        log::debug!("notified: pid change to {pid}");
        with_plugin(|p| {
            let (Some(slot), Some(me)) = (p.lease, p.me) else {
                return;
            };
            let Some(r) = p.ready.as_ref() else { return };
            match Owner::of_pid(pid as u32) {
                Ok(Some(child)) if r.table.transfer(slot, me, child) => {
                    log::info!("lease on {} follows pppd to pid {pid}", r.pool.addr(slot));
                }
                // The child adopts it at its first call.
                _ => {}
            }
        })
    }
);

entry!(
    fn on_fork(_data: *mut c_void, _arg: c_int), as "fork", fallback (), {
        log::debug!("notified: fork (this is a helper child)");
        with_plugin(|p| p.helper = true)
    }
);

/// Runs in a signal handler: only an atomic store, which cannot panic, so
/// the one entry point without a guard (a guard's lock has no place in a
/// signal handler).
unsafe extern "C" fn on_signal(_: *mut c_void, sig: c_int) {
    LAST_SIGNAL.store(sig, Ordering::Relaxed);
}
