//! One home for the libc helpers the table and the watchdog share: a `-1`
//! return turned into `io::Error`, `flock` that survives signals, and the
//! check that a file or directory is ours alone.

use std::fs::{File, Metadata};
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::MetadataExt;

/// Turn a libc `-1` return into `io::Error` (errno).
pub fn cerr(r: libc::c_int) -> io::Result<libc::c_int> {
    if r == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

/// `flock(2)` on `file`, again when a signal interrupts it.
pub fn flock(file: &File, op: libc::c_int) -> io::Result<()> {
    loop {
        // SAFETY: flock on a descriptor the File owns.
        match cerr(unsafe { libc::flock(file.as_raw_fd(), op) }) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            r => return r.map(|_| ()),
        }
    }
}

/// This process's effective user id.
pub fn euid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

/// Why a file or directory may not be trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotOurs {
    NotDir,
    NotRegular,
    /// Owned by `uid`, not by us (`euid`).
    Owner {
        uid: u32,
        euid: u32,
    },
    /// Writable by its group or by others (`mode`: the permission bits).
    Writable {
        mode: u32,
    },
}

/// Whether `md` is a directory (`want_dir`) or a regular file, owned by
/// this process's effective user and writable by it alone.
pub fn check_ours(md: &Metadata, want_dir: bool) -> Result<(), NotOurs> {
    let ft = md.file_type();
    if want_dir && !ft.is_dir() {
        return Err(NotOurs::NotDir);
    }
    if !want_dir && !ft.is_file() {
        return Err(NotOurs::NotRegular);
    }
    if md.uid() != euid() {
        return Err(NotOurs::Owner {
            uid: md.uid(),
            euid: euid(),
        });
    }
    if md.mode() & 0o022 != 0 {
        return Err(NotOurs::Writable {
            mode: md.mode() & 0o7777,
        });
    }
    Ok(())
}
