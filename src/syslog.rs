//! A `log` backend for the admin command (and the watchdog): syslog with
//! ident "rasstatic", and warnings and errors on stderr too.

use std::ffi::CString;
use std::sync::Once;

struct Syslog {
    stderr_level: log::Level,
}

static OPEN: Once = Once::new();

impl log::Log for Syslog {
    fn enabled(&self, _: &log::Metadata) -> bool {
        true
    }

    fn log(&self, r: &log::Record) {
        let msg = format!("{}", r.args());
        if r.level() <= self.stderr_level {
            // Not eprintln!, which panics when stderr cannot be written.
            let _ = std::io::Write::write_all(
                &mut std::io::stderr().lock(),
                format!("rasstatic: {msg}\n").as_bytes(),
            );
        }
        send(r.level(), &msg);
    }

    fn flush(&self) {}
}

/// Send one message to syslog (ident "rasstatic", facility daemon).
pub fn send(level: log::Level, msg: &str) {
    let prio = match level {
        log::Level::Error => libc::LOG_ERR,
        log::Level::Warn => libc::LOG_WARNING,
        log::Level::Info => libc::LOG_INFO,
        _ => libc::LOG_DEBUG,
    };
    OPEN.call_once(reopen);
    let c = CString::new(msg.replace('\0', "?")).expect("NULs replaced");
    // SAFETY: "%s" with one NUL-terminated string.
    unsafe { libc::syslog(prio, c"%s".as_ptr(), c.as_ptr()) };
}

/// Name this process's syslog messages "rasstatic" (facility daemon, with
/// the PID). Connects at the first message, not now. Run again in a
/// process forked from pppd after `closelog`, whose ident was pppd's.
pub fn reopen() {
    // SAFETY: openlog keeps the ident pointer; a static C string lives
    // forever.
    unsafe { libc::openlog(c"rasstatic".as_ptr(), libc::LOG_PID, libc::LOG_DAEMON) };
}

/// Install the syslog backend; messages at `stderr_level` or more severe
/// also go to stderr.
pub fn init(stderr_level: log::Level) {
    let logger = Box::leak(Box::new(Syslog { stderr_level }));
    if log::set_logger(logger).is_ok() {
        log::set_max_level(log::LevelFilter::Info);
    }
}
