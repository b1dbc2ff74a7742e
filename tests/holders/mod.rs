//! Real lease holders for tests and benchmarks: forked processes that claim
//! an address from a table and sleep until killed, and a watchdog run from
//! the built `rasstatic` binary.
#![allow(dead_code)]

use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rasstatic::owner::Owner;
use rasstatic::pool::Pool;
use rasstatic::protocol::{ClaimOpts, Free};
use rasstatic::table::{Policy, SessionInfo, Table};

/// A forked process holding one lease. Dropping it kills and reaps the
/// process if a test (or its panic) left it running; it does so through a
/// pidfd, so a test that already reaped it cannot make the drop hit
/// another process that reused the PID.
pub struct Holder {
    pub pid: i32,
    pub addr: Ipv4Addr,
    pub slot: u32,
    pidfd: Option<OwnedFd>,
}

impl Drop for Holder {
    fn drop(&mut self) {
        let Some(fd) = self.pidfd.take() else { return };
        // SAFETY: signal and wait through our own pidfd: ESRCH or ECHILD
        // when the process is gone or was reaped already.
        unsafe {
            libc::syscall(
                libc::SYS_pidfd_send_signal,
                fd.as_raw_fd(),
                libc::SIGKILL,
                std::ptr::null::<libc::siginfo_t>(),
                0,
            );
            let mut info: libc::siginfo_t = std::mem::zeroed();
            libc::waitid(
                libc::P_PIDFD,
                fd.as_raw_fd() as libc::id_t,
                &mut info,
                libc::WEXITED,
            );
        }
    }
}

/// Fork a process that claims from table `name` in `dir` with `info`,
/// reports its address and sleeps. With `pgid`, it joins that process
/// group (0: a new group led by itself), so many can be killed with one
/// signal. With `linger` false it exits right after claiming.
pub fn fork_holder(
    dir: &Path,
    pool: &Pool,
    info: &SessionInfo,
    pgid: Option<i32>,
    linger: bool,
) -> Holder {
    let mut fds = [0; 2];
    // SAFETY: a pipe for the child to report its slot.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    // SAFETY: the child claims, reports and sleeps (or exits); it never
    // returns into the test harness.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        if let Some(g) = pgid {
            // SAFETY: setpgid on ourselves.
            unsafe { libc::setpgid(0, g) };
        }
        let (t, _) = Table::open(dir, "default", pool, &pool.to_string()).unwrap();
        let me = Owner::current().unwrap();
        let c = t
            .claim(me, ClaimOpts::default(), Policy::RoundRobin, info)
            .unwrap();
        let slot = c.map(|c| c.slot).unwrap_or(u32::MAX);
        let b = slot.to_ne_bytes();
        // SAFETY: report on our pipe, then sleep until killed or exit.
        unsafe {
            libc::write(fds[1], b.as_ptr().cast(), 4);
            libc::close(fds[1]);
            if !linger {
                libc::_exit(0);
            }
            loop {
                libc::pause();
            }
        }
    }
    let mut b = [0u8; 4];
    // SAFETY: reading the child's report from our end of the pipe.
    let n = unsafe {
        libc::close(fds[1]);
        let n = libc::read(fds[0], b.as_mut_ptr().cast(), 4);
        libc::close(fds[0]);
        n
    };
    assert_eq!(n, 4, "holder {pid} did not report");
    // SAFETY: pidfd_open on our own child, which cannot have been reaped
    // yet (only we reap it); the result is checked.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    // SAFETY: a new descriptor that we own.
    let pidfd = (fd >= 0).then(|| unsafe { OwnedFd::from_raw_fd(fd as i32) });
    let slot = u32::from_ne_bytes(b);
    // Built before the check below, so that a failing check still kills
    // the child (its address is a placeholder then).
    let h = Holder {
        pid,
        addr: pool.addr(slot.min(pool.size() - 1)),
        slot,
        pidfd,
    };
    assert!(slot != u32::MAX, "holder {pid} found the pool exhausted");
    h
}

pub fn kill(pid: i32) {
    // SAFETY: signalling our own child (or group, for negative pid).
    unsafe { libc::kill(pid, libc::SIGKILL) };
}

pub fn reap_child(pid: i32) {
    // SAFETY: waiting for our own child.
    unsafe { libc::waitpid(pid, std::ptr::null_mut(), 0) };
}

/// A fresh table directory with `spec` as the pool.
pub fn fresh(tag: &str, spec: &str) -> (PathBuf, Pool) {
    let dir = std::env::temp_dir().join(format!("rasstatic-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let pool = Pool::parse(spec, "").unwrap();
    drop(Table::open(&dir, "default", &pool, &pool.to_string()).unwrap());
    (dir, pool)
}

/// A foreground watchdog child, killed if a test ends (or panics) with it
/// still running.
pub struct Watchdog(pub Child);

impl std::ops::Deref for Watchdog {
    type Target = Child;
    fn deref(&self) -> &Child {
        &self.0
    }
}

impl std::ops::DerefMut for Watchdog {
    fn deref_mut(&mut self) -> &mut Child {
        &mut self.0
    }
}

impl Watchdog {
    /// Wait for the watchdog to exit: its status and what it wrote on
    /// stderr, or a test failure (naming `what`) if it still runs after
    /// `limit`.
    pub fn exit_within(
        &mut self,
        limit: Duration,
        what: &str,
    ) -> (std::process::ExitStatus, String) {
        use std::io::Read;
        let t0 = Instant::now();
        let status = loop {
            if let Some(st) = self.0.try_wait().unwrap() {
                break st;
            }
            assert!(
                t0.elapsed() < limit,
                "{what}: the watchdog still runs after {limit:?}"
            );
            std::thread::sleep(Duration::from_millis(10));
        };
        let mut err = String::new();
        if let Some(mut e) = self.0.stderr.take() {
            e.read_to_string(&mut err).unwrap();
        }
        (status, err)
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        if matches!(self.0.try_wait(), Ok(None)) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// `rasstatic watchdog --dir DIR` in the foreground, stderr captured.
pub fn start_watchdog(dir: &Path) -> Watchdog {
    let child = Command::new(env!("CARGO_BIN_EXE_rasstatic"))
        .args(["watchdog", "--dir"])
        .arg(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start rasstatic watchdog");
    let t0 = Instant::now();
    while rasstatic::watchdog::running(dir, "default").is_none_or(|p| p != child.id()) {
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "the watchdog did not take its lock"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    Watchdog(child)
}

/// Wait until `slot` is free, polling every 100 µs; the time it took, or
/// `None` after `limit`.
pub fn wait_free(t: &Table, slot: u32, since: Instant, limit: Duration) -> Option<Duration> {
    loop {
        if Owner::from_word(t.slots().word(slot)).is_none() {
            return Some(since.elapsed());
        }
        if since.elapsed() > limit {
            return None;
        }
        std::thread::sleep(Duration::from_micros(100));
    }
}

/// How a free slot was freed.
pub fn freed_by(t: &Table, slot: u32) -> Option<rasstatic::protocol::EndedBy> {
    Free::from_word(t.slots().word(slot)).map(|f| f.path)
}

pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}
