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

mod session;
mod sys;

use std::ffi::{c_char, c_int, c_void};
use std::net::Ipv4Addr;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::{LazyLock, Mutex};

use crate::protocol::EndedBy;
use crate::table::SessionInfo;
use session::{Effect, Plugin};

/// The plugin's state in this pppd process. pppd is single-threaded and no
/// signal handler touches this, so the mutex is never contended; it exists
/// to make the static safe.
static PLUGIN: LazyLock<Mutex<Plugin>> = LazyLock::new(|| Mutex::new(Plugin::new(detached)));

/// The last signal pppd received (set from its signal handler).
static LAST_SIGNAL: AtomicI32 = AtomicI32::new(0);

/// Run one event through the state machine, then carry out the effects it
/// asked for through pppd.
fn with_plugin<R>(f: impl FnOnce(&mut Plugin) -> R) -> R {
    let (r, effects) = {
        // A panic while holding the lock poisons it; the state is still the
        // best we have, so keep using it.
        let mut p = PLUGIN.lock().unwrap_or_else(|e| e.into_inner());
        // Whatever an event that panicked asked for is dropped, not
        // carried out during this one.
        p.take_effects();
        p.last_signal = LAST_SIGNAL.load(Ordering::Relaxed);
        let r = f(&mut p);
        (r, p.take_effects())
    };
    for e in effects {
        match e {
            Effect::ScheduleRelease => sys::call_soon(release_soon),
            Effect::CancelRelease => sys::cancel_call(release_soon),
            Effect::ScheduleTick(secs) => sys::call_in(tick, secs),
            // SAFETY: kill(2) on this very process; pppd's SIGTERM handler
            // makes its main loop hang up and exit.
            Effect::HangUp => unsafe {
                libc::kill(libc::getpid(), libc::SIGTERM);
            },
        }
    }
    r
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
option_parser!(opt_cluster, "rasstatic-cluster");

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
        let parsers: [sys::OptionSpec; 7] = [
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
            sys::OptionSpec {
                name: c"rasstatic-cluster",
                description: c"rasstatic: cluster mode (blocks from rasstatic-agent)",
                takes_value: false,
                parser: opt_cluster,
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

/// What the table records about this session, from pppd, and our own
/// address (`local:remote`), if set.
fn session_info() -> (SessionInfo, Option<Ipv4Addr>) {
    let s = sys::session();
    let info = SessionInfo {
        peer: s.peer,
        ifname: s.ifname,
        device: s.device,
        proxyarp: s.proxyarp,
    };
    (info, s.local)
}

// ---------------------------------------------------------------------------
// The shims pppd calls

entry!(
    /// pppd's `ip_choose_hook`: write the peer's address (network byte
    /// order), or 0 to refuse. pppd passes the address it holds from an
    /// earlier call, which must never stand: 0 is written first, so a
    /// panic also leaves the caller refused.
    fn ip_choose_hook(addr: *mut u32), fallback (), {
        if addr.is_null() {
            return;
        }
        // SAFETY: pppd passes a pointer to its wanted options' hisaddr.
        unsafe { *addr = 0 };
        let (info, local) = session_info();
        if let Some(a) = with_plugin(|p| p.choose(&info, local)) {
            // SAFETY: as above.
            unsafe { *addr = u32::from(a).to_be() };
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
        with_plugin(|p| p.release_scheduled())
    }
);

entry!(
    /// Every few seconds (pppd callout): the table still the one at its
    /// path, and still recording this session's lease.
    fn tick(_arg: *mut c_void), fallback (), {
        // A tick that panics (logged by the inner guard) still ticks again.
        if let Some(secs) = guard("tick", Some(session::TICK_SECS), || with_plugin(|p| p.tick())) {
            sys::call_in(tick, secs);
        }
    }
);

entry!(
    fn on_phase_change(_data: *mut c_void, phase: c_int), as "phase_change", fallback (), {
        log::debug!("notified: phase change to {phase}");
        if phase == sys::PHASE_DEAD {
            with_plugin(|p| p.dead());
            LAST_SIGNAL.store(0, Ordering::Relaxed);
        } else if phase != sys::PHASE_INITIALIZE {
            let local = sys::session().local;
            if let Err(e) = with_plugin(|p| p.configured(local)) {
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
        let (info, _) = session_info();
        with_plugin(|p| p.ip_up(&info))
    }
);

entry!(
    fn on_ip_down(_data: *mut c_void, _arg: c_int), as "ip_down", fallback (), {
        log::debug!("notified: ip down");
        with_plugin(|p| p.down(EndedBy::IpDown))
    }
);

entry!(
    fn on_link_down(_data: *mut c_void, _arg: c_int), as "link_down", fallback (), {
        log::debug!("notified: link down");
        with_plugin(|p| p.down(EndedBy::LinkDown))
    }
);

entry!(
    fn on_exit(_data: *mut c_void, status: c_int), as "exit", fallback (), {
        log::debug!("notified: exit (status {status})");
        with_plugin(|p| p.exiting())
    }
);

entry!(
    /// In the detaching parent, with the child's PID: move the lease.
    fn on_pid_change(_data: *mut c_void, pid: c_int), as "pid_change", fallback (), {
        log::debug!("notified: pid change to {pid}");
        with_plugin(|p| p.pid_changed(pid as u32))
    }
);

entry!(
    fn on_fork(_data: *mut c_void, _arg: c_int), as "fork", fallback (), {
        log::debug!("notified: fork (this is a helper child)");
        with_plugin(|p| p.forked())
    }
);

/// Runs in a signal handler: only an atomic store, which cannot panic, so
/// the one entry point without a guard (a guard's lock has no place in a
/// signal handler).
unsafe extern "C" fn on_signal(_: *mut c_void, sig: c_int) {
    LAST_SIGNAL.store(sig, Ordering::Relaxed);
}
