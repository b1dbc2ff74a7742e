//! Starting a detached watchdog from a running process: the plugin inside
//! pppd, or `rasstatic watchdog --detach`.
//!
//! The watchdog must not be pppd's child (pppd reaps with `waitpid(-1)`),
//! nor in its process group or session (pppd signals its group), nor hold
//! any of its descriptors (an inherited ppp unit fd keeps pppN alive, an
//! inherited tty keeps the line open). So: the caller takes the lock, forks
//! a child that calls `setsid` and forks the watchdog, then exits at once;
//! the caller waits for that child alone. The watchdog resets signal
//! handling, puts /dev/null on 0-2, moves the lock to descriptor 3 and
//! closes every other descriptor before doing anything else.
//!
//! It does not `exec`: it runs the watchdog code already mapped in the
//! process, so nothing needs installing beside the plugin. It renames
//! itself (`rasstatic-wd`, and its command line where the kernel allows)
//! so that `ps` does not show it as a pppd.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

use super::{run, Lock, Settings};
use crate::cutil::cerr;

/// Threads in this process, from /proc/self/status.
fn threads() -> Option<u32> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    s.lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .and_then(|v| v.trim().parse().ok())
}

/// Start a detached watchdog for table `name` in `dir`, unless one runs.
/// Returns its PID, or `None` if a watchdog already held the lock.
/// `detached` runs first thing in the watchdog (the plugin uses it to stop
/// logging through pppd). Only for single-threaded processes (checked).
pub fn spawn(dir: &Path, name: &str, detached: fn()) -> io::Result<Option<u32>> {
    // The directory exists: the caller opened the table in it, or made it.
    // The common case, a watchdog already running, costs one open and one
    // flock.
    let Some(lock) = Lock::try_acquire(dir, name)? else {
        return Ok(None);
    };
    if threads() != Some(1) {
        return Err(io::Error::other(
            "cannot start a watchdog from a multi-threaded process",
        ));
    }
    let mut p = [0; 2];
    // SAFETY: p has room for the two descriptors.
    cerr(unsafe { libc::pipe2(p.as_mut_ptr(), libc::O_CLOEXEC) })?;
    // SAFETY: two new descriptors that we own.
    let (rd, wr) = unsafe { (OwnedFd::from_raw_fd(p[0]), OwnedFd::from_raw_fd(p[1])) };
    let settings = Settings::new(dir, name);
    // SAFETY: the process is single-threaded (checked above), so the child
    // may run any code, as the parent could.
    let pid = cerr(unsafe { libc::fork() })?;
    if pid == 0 {
        let code = catch_unwind(AssertUnwindSafe(|| {
            intermediate(lock, &wr, settings, detached)
        }))
        .unwrap_or(1);
        // SAFETY: _exit ends the child without running the parent's exit
        // handlers or destructors.
        unsafe { libc::_exit(code) };
    }
    drop(wr);
    drop(lock); // the watchdog holds its own reference to the lock
    let mut status = 0;
    loop {
        // SAFETY: waits for our own child; status is writable.
        if unsafe { libc::waitpid(pid, &mut status, 0) } >= 0 {
            break;
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
    let mut b = [0u8; 4];
    // SAFETY: b is writable for 4 bytes.
    let n = unsafe { libc::read(rd.as_raw_fd(), b.as_mut_ptr().cast(), 4) };
    if n != 4 {
        return Err(io::Error::other("the watchdog did not start"));
    }
    Ok(Some(u32::from_ne_bytes(b)))
}

/// In the first child: leave pppd's session, fork the watchdog, report its
/// PID, exit.
fn intermediate(lock: Lock, wr: &OwnedFd, s: Settings, detached: fn()) -> i32 {
    // SAFETY: setsid has no preconditions; this child is no group leader.
    unsafe { libc::setsid() };
    // SAFETY: still single-threaded.
    match unsafe { libc::fork() } {
        -1 => 1,
        0 => {
            let code = catch_unwind(AssertUnwindSafe(|| daemon(lock, s, detached))).unwrap_or(1);
            // SAFETY: as in spawn.
            unsafe { libc::_exit(code) }
        }
        pid => {
            let b = (pid as u32).to_ne_bytes();
            // SAFETY: b is readable for 4 bytes.
            unsafe { libc::write(wr.as_raw_fd(), b.as_ptr().cast(), 4) };
            0
        }
    }
}

/// Reset what the watchdog inherited from pppd, before touching any
/// descriptor: glibc's syslog connection, log mask and ident, timers,
/// signal handling, directory, umask; then the descriptors themselves.
///
/// glibc's syslog state comes first. pppd opens syslog at once
/// (`LOG_NDELAY`), so on a server with a syslog daemon its socket is
/// usually descriptor 3, and glibc keeps using that number. Had the lock
/// been moved there behind glibc's back, the first log line would fail on
/// it and glibc would close it: the lock gone, and the next pppd starting a
/// second watchdog. `closelog` forgets the connection (and closes it);
/// [`crate::syslog::reopen`] names the process `rasstatic` with a fresh
/// connection made at the first message. pppd's log mask survives
/// `closelog`, so it is reset too. Atexit handlers never run: the
/// watchdog ends with `_exit`.
fn detach(lock: Lock) -> Lock {
    // SAFETY: closelog/setlogmask/alarm take no pointers.
    unsafe {
        libc::closelog();
        libc::setlogmask(0xff); // LOG_UPTO(LOG_DEBUG): every priority
        libc::alarm(0);
    }
    // SAFETY: sigprocmask with a valid, emptied set; signal() with
    // SIG_DFL/SIG_IGN, skipping SIGKILL and SIGSTOP (they cannot be
    // changed); chdir with a NUL-terminated static string; umask.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigprocmask(libc::SIG_SETMASK, &set, std::ptr::null_mut());
        for sig in 1..libc::SIGRTMAX() {
            if sig != libc::SIGKILL && sig != libc::SIGSTOP {
                libc::signal(sig, libc::SIG_DFL);
            }
        }
        libc::signal(libc::SIGPIPE, libc::SIG_IGN);
        libc::chdir(c"/".as_ptr());
        libc::umask(0o022);
    }
    let path = lock.path().to_path_buf();
    let fd = lock.fd();
    // The descriptor moves to 3 below; the File must not close it.
    std::mem::forget(lock);
    // SAFETY: descriptor juggling on our own descriptors; afterwards 0-2
    // are /dev/null, 3 is the lock, and nothing else is open.
    unsafe {
        if fd != 3 {
            libc::dup2(fd, 3);
        }
        let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
        if null >= 0 {
            for t in 0..3 {
                if null != t {
                    libc::dup2(null, t);
                }
            }
        }
        if libc::close_range(4, u32::MAX, 0) != 0 {
            let max = libc::sysconf(libc::_SC_OPEN_MAX).clamp(1024, 1 << 20) as i32;
            for f in 4..max {
                libc::close(f);
            }
        }
        let lock = Lock::from_fd(3, path);
        crate::syslog::reopen();
        lock
    }
}

/// Name the process so `ps` shows a watchdog, not a pppd.
fn set_title(s: &Settings) {
    // SAFETY: PR_SET_NAME copies at most 16 bytes from a NUL-terminated
    // string.
    unsafe { libc::prctl(libc::PR_SET_NAME, c"rasstatic-wd".as_ptr()) };
    let mut args = Vec::new();
    for a in [
        "rasstatic",
        "watchdog",
        "--dir",
        &s.dir.to_string_lossy(),
        "--name",
        &s.name,
    ] {
        args.extend_from_slice(a.as_bytes());
        args.push(0);
    }
    // Fields 48 and 49 of /proc/self/stat: where the kernel reads the
    // command line from.
    let Some((old_start, old_end)) =
        std::fs::read_to_string("/proc/self/stat")
            .ok()
            .and_then(|st| {
                let rest: Vec<&str> = st[st.rfind(')')? + 2..].split(' ').collect();
                Some((
                    rest.get(48 - 3)?.parse::<u64>().ok()?,
                    rest.get(49 - 3)?.parse::<u64>().ok()?,
                ))
            })
    else {
        return;
    };
    // With CAP_SYS_RESOURCE: point the kernel at a new, leaked block.
    let args: &'static [u8] = Box::leak(args.into_boxed_slice());
    let start = args.as_ptr() as libc::c_ulong;
    let end = start + args.len() as libc::c_ulong;
    // SAFETY: prctl(PR_SET_MM) only changes which addresses the kernel
    // reports as the command line; both point into memory we leaked.
    let moved = unsafe {
        if libc::prctl(libc::PR_SET_MM, libc::PR_SET_MM_ARG_START, start, 0, 0) != 0 {
            false
        } else if libc::prctl(libc::PR_SET_MM, libc::PR_SET_MM_ARG_END, end, 0, 0) != 0 {
            libc::prctl(libc::PR_SET_MM, libc::PR_SET_MM_ARG_START, old_start, 0, 0);
            false
        } else {
            true
        }
    };
    if moved || old_end <= old_start {
        return;
    }
    // Without it: overwrite the inherited command line in place, cut to
    // its length and padded with NULs, through /proc/self/mem (the bytes
    // belong to no Rust object).
    let len = (old_end - old_start) as usize;
    let mut block = args[..args.len().min(len - 1)].to_vec();
    block.resize(len, 0);
    if let Ok(mem) = std::fs::OpenOptions::new()
        .write(true)
        .open("/proc/self/mem")
    {
        use std::os::unix::fs::FileExt;
        let _ = mem.write_all_at(&block, old_start);
    }
}

/// The watchdog process.
fn daemon(lock: Lock, s: Settings, detached: fn()) -> i32 {
    let mut lock = detach(lock);
    detached();
    // The starter's panic hook is not the watchdog's (pppd's only records
    // where a panic happened, for the plugin's guard to log): a panic here
    // is logged to syslog, then the watchdog exits with status 1.
    std::panic::set_hook(Box::new(|info| {
        log::error!("watchdog: internal error: {info}; exiting");
    }));
    set_title(&s);
    match run(&mut lock, &s) {
        Ok(()) => 0,
        Err(e) => {
            log::error!("watchdog: {e}; exiting");
            match e {
                super::Failure::Refused(_) => 3,
                super::Failure::Other(_) => 1,
            }
        }
    }
}
