//! One watchdog per table: an exclusive `flock` on `<dir>/<name>.watchdog`,
//! held for the watchdog's whole life. The file also records the holder's
//! PID, for `rasstatic show`.
//!
//! A flock belongs to the open file description, so a process can take the
//! lock and hand it to a child it forks: the plugin takes it first and only
//! then starts a watchdog, so two pppd processes starting at once cannot
//! both start one, and a pppd that finds it taken forks nothing.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, Write};
use std::os::fd::{AsRawFd, FromRawFd, RawFd};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use crate::cutil::{self, flock};

pub fn lock_path(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("{name}.watchdog"))
}

/// The held lock.
pub struct Lock {
    file: File,
    path: PathBuf,
}

fn open(path: &Path) -> io::Result<File> {
    let f = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .mode(0o644)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)?;
    if cutil::check_ours(&f.metadata()?, false).is_err() {
        return Err(io::Error::other(format!(
            "{}: refused: must be a regular file owned by uid {}, writable by it alone",
            path.display(),
            cutil::euid()
        )));
    }
    Ok(f)
}

impl Lock {
    /// Take the lock if nobody holds it; `None` if a watchdog runs.
    pub fn try_acquire(dir: &Path, name: &str) -> io::Result<Option<Lock>> {
        let path = lock_path(dir, name);
        let file = open(&path)?;
        match flock(&file, libc::LOCK_EX | libc::LOCK_NB) {
            Ok(()) => Ok(Some(Lock { file, path })),
            Err(e) if e.raw_os_error() == Some(libc::EWOULDBLOCK) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Wait for the lock.
    pub fn acquire(dir: &Path, name: &str) -> io::Result<Lock> {
        let path = lock_path(dir, name);
        let file = open(&path)?;
        flock(&file, libc::LOCK_EX)?;
        Ok(Lock { file, path })
    }

    /// Write this process's PID into the file.
    pub fn record_pid(&mut self) -> io::Result<()> {
        // SAFETY: getpid has no preconditions.
        let pid = unsafe { libc::getpid() };
        self.file.set_len(0)?;
        self.file.rewind()?;
        self.file.write_all(format!("{pid}\n").as_bytes())
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn fd(&self) -> RawFd {
        self.file.as_raw_fd()
    }

    /// Rebuild the lock from a descriptor that holds it (after fork and
    /// descriptor shuffling).
    ///
    /// # Safety
    /// `fd` must be an open descriptor of the lock file that nothing else
    /// owns.
    pub unsafe fn from_fd(fd: RawFd, path: PathBuf) -> Lock {
        Lock {
            // SAFETY: the caller passes a descriptor it owns.
            file: unsafe { File::from_raw_fd(fd) },
            path,
        }
    }
}

/// The PID of the watchdog running for this table (0 if it has not
/// written it yet), if one runs. Does not
/// touch the lock (taking it even briefly could stop a pppd from starting a
/// watchdog): it looks the file up in /proc/locks.
pub fn running(dir: &Path, name: &str) -> Option<u32> {
    let path = lock_path(dir, name);
    let md = std::fs::symlink_metadata(&path).ok()?;
    let locks = std::fs::read_to_string("/proc/locks").ok()?;
    let want = format!(
        "{:02x}:{:02x}:{}",
        libc::major(md.dev()),
        libc::minor(md.dev()),
        md.ino()
    );
    let held = locks.lines().any(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        // "N: FLOCK ADVISORY WRITE PID MAJ:MIN:INO 0 EOF"; waiters have "->".
        f.get(1) == Some(&"FLOCK") && f.get(5) == Some(&want.as_str())
    });
    if !held {
        return None;
    }
    let mut s = String::new();
    File::open(&path).ok()?.read_to_string(&mut s).ok()?;
    // 0: held, PID not written yet.
    Some(s.trim().parse().unwrap_or(0))
}
