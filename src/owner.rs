//! Process identity: a PID plus its start time, never a bare PID.
//!
//! The start time is field 22 of `/proc/PID/stat`, in clock ticks since boot.
//! Within one boot, no two processes share a (PID, start time) pair unless
//! the PID space wraps within one clock tick, which Linux cannot do
//! (pid_max is at most 2^22; one tick is 1-10 ms). Tables are reset when the
//! boot id changes, so start times from another boot never meet.

use std::fs;
use std::io;
use std::os::fd::FromRawFd;

use crate::word::START_MASK;
pub use crate::word::{Owner, OWNED, PID_BITS};

impl Owner {
    /// The identity of the calling process.
    pub fn current() -> io::Result<Owner> {
        // SAFETY: getpid has no preconditions and cannot fail.
        let pid = unsafe { libc::getpid() } as u32;
        match proc_stat(pid)? {
            Some(st) => Ok(Owner::new(pid, st.start_ticks)),
            None => Err(io::Error::new(
                io::ErrorKind::NotFound,
                "/proc/self/stat is missing: is /proc mounted?",
            )),
        }
    }

    /// The identity of another live process, if it exists.
    pub fn of_pid(pid: u32) -> io::Result<Option<Owner>> {
        Ok(proc_stat(pid)?.map(|st| Owner::new(pid, st.start_ticks)))
    }

    /// Whether this exact process is still alive. A zombie is dead. A PID
    /// now used by another process (a different start time) is dead. When
    /// /proc cannot answer for another reason, the owner is taken as alive:
    /// a lease is never reaped on a guess.
    ///
    /// An [`Owner::interface`] lease is alive while its interface exists
    /// with its peer address.
    pub fn is_alive(self) -> bool {
        if let Some((ifindex, peer)) = self.iface() {
            return crate::kernel::interface_has_peer(ifindex, peer);
        }
        match proc_stat(self.pid()) {
            Ok(Some(st)) => {
                (st.start_ticks & START_MASK) == self.start_ticks()
                    && st.state != b'Z'
                    && st.state != b'X'
            }
            Ok(None) => false,
            Err(_) => true,
        }
    }
}

impl Owner {
    /// Send `sig` to this exact process: through a pidfd opened before its
    /// identity (PID and start time) is checked, so never to a process
    /// that reused the PID.
    pub fn signal(self, sig: libc::c_int) -> io::Result<()> {
        if self.iface().is_some() {
            return Err(io::Error::from(io::ErrorKind::InvalidInput));
        }
        // SAFETY: pidfd_open(pid, 0) takes no pointers; the result is
        // checked.
        let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, self.pid() as libc::pid_t, 0) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: a fresh descriptor that we own.
        let fd = unsafe { std::os::fd::OwnedFd::from_raw_fd(fd as i32) };
        if !self.is_alive() {
            return Err(io::Error::from_raw_os_error(libc::ESRCH));
        }
        use std::os::fd::AsRawFd;
        // SAFETY: pidfd_send_signal(fd, sig, NULL, 0) on our descriptor.
        let r = unsafe {
            libc::syscall(
                libc::SYS_pidfd_send_signal,
                fd.as_raw_fd(),
                sig,
                std::ptr::null::<libc::siginfo_t>(),
                0,
            )
        };
        if r < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }
}

/// The PID namespace whose PIDs this process reads through `/proc`: the
/// device and inode of `/proc/self/ns/pid`. `None` when that cannot be
/// known: no /proc, or a /proc mounted for another PID namespace (where
/// `/proc/self` does not name this process's own PID). Liveness read from
/// /proc is meaningful only for PIDs of this namespace.
pub fn pid_namespace() -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    // SAFETY: getpid has no preconditions and cannot fail.
    let pid = unsafe { libc::getpid() };
    let me = fs::read_link("/proc/self").ok()?;
    if me.to_str()? != pid.to_string() {
        return None;
    }
    let md = fs::metadata("/proc/self/ns/pid").ok()?;
    Some((md.dev(), md.ino()))
}

/// What we read from `/proc/PID/stat`.
#[derive(Debug, Clone, Copy)]
pub struct ProcStat {
    pub state: u8,
    pub start_ticks: u64,
}

/// Read `/proc/PID/stat`. `Ok(None)` when the process does not exist.
pub fn proc_stat(pid: u32) -> io::Result<Option<ProcStat>> {
    let text = match fs::read(format!("/proc/{pid}/stat")) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        // ESRCH: the process went away while we read.
        Err(e) if e.raw_os_error() == Some(libc::ESRCH) => return Ok(None),
        Err(e) => return Err(e),
    };
    parse_stat(&text).map(Some).ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("/proc/{pid}/stat: unexpected format"),
        )
    })
}

/// Parse the state (field 3) and start time (field 22). The command name
/// (field 2) may contain spaces and parentheses, so fields are counted from
/// the last `)`.
pub fn parse_stat(text: &[u8]) -> Option<ProcStat> {
    let close = text.iter().rposition(|&b| b == b')')?;
    let rest = std::str::from_utf8(&text[close + 1..]).ok()?;
    let mut fields = rest.split_ascii_whitespace();
    let state = fields.next()?.as_bytes().first().copied()?;
    // After the state (field 3), field 22 is the 19th more.
    let start_ticks = fields.nth(18)?.parse().ok()?;
    Some(ProcStat { state, start_ticks })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn word_round_trip() {
        let o = Owner::new(4_194_303, 123_456_789_012);
        assert_eq!(o.pid(), 4_194_303);
        assert_eq!(o.start_ticks(), 123_456_789_012);
        assert_eq!(Owner::from_word(o.word()), Some(o));
        assert_eq!(Owner::from_word(0), None);
        assert_eq!(Owner::from_word(0x7fff_ffff_ffff_ffff), None);
    }

    #[test]
    fn parse_stat_with_odd_command_names() {
        let s = b"1234 (pp) d) x) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 987654 20 21";
        let st = parse_stat(s).unwrap();
        assert_eq!(st.state, b'S');
        assert_eq!(st.start_ticks, 987654);
        assert!(parse_stat(b"garbage").is_none());
    }

    #[test]
    #[cfg_attr(miri, ignore)] // reads /proc: no system calls under Miri
    fn current_process_is_alive_and_a_recycled_pid_is_not() {
        let me = Owner::current().unwrap();
        assert!(me.is_alive());
        // Same PID, different start time: a stranger, so dead to us.
        assert!(!Owner::new(me.pid(), me.start_ticks() + 1).is_alive());
    }

    #[test]
    #[cfg_attr(miri, ignore)] // reads /proc: no system calls under Miri
    fn pid_namespace_is_known_here() {
        let a = pid_namespace().expect("this test runs with its own /proc");
        assert_ne!(a.1, 0);
        assert_eq!(pid_namespace(), Some(a));
    }

    #[test]
    #[cfg_attr(miri, ignore)] // forks and reads /proc: no system calls under Miri
    fn zombie_is_dead() {
        // SAFETY: fork in a test; the child only calls _exit.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0);
        if pid == 0 {
            // SAFETY: _exit is async-signal-safe and ends the child at once.
            unsafe { libc::_exit(0) };
        }
        let child = loop {
            // Catch the child before or after it exits; either way, learn
            // its identity while the PID still names it.
            if let Some(o) = Owner::of_pid(pid as u32).unwrap() {
                break o;
            }
        };
        // Wait until it is a zombie (not reaped yet).
        for _ in 0..1000 {
            if proc_stat(pid as u32).unwrap().map(|s| s.state) == Some(b'Z') {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        assert_eq!(proc_stat(pid as u32).unwrap().unwrap().state, b'Z');
        assert!(!child.is_alive(), "a zombie must count as dead");
        // SAFETY: reaping our own child.
        unsafe { libc::waitpid(pid, std::ptr::null_mut(), 0) };
        assert!(!child.is_alive());
    }
}
