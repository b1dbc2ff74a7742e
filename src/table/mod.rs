//! The lease table: one file per pool, mapped `MAP_SHARED` by every process
//! that uses the pool. See [`crate::protocol`] for the lease protocol and
//! its invariant, and [`layout`] for the file format.
//!
//! Why Rust atomics work here: the file is mapped shared, so every process
//! sees the same physical pages, and the x86-64/aarch64 atomic instructions
//! that `AtomicU64` compiles to are coherent across address spaces exactly
//! as across threads. The mapping is page-aligned and every atomic is
//! naturally aligned (checked at compile time in `layout`).

pub mod layout;
mod meta;

use std::ffi::CString;
use std::fmt;
use std::fs::{self, File};
use std::io;
use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, FromRawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::cutil::{self, cerr, NotOurs};
use crate::owner::Owner;
use crate::pool::{Pool, Range};
use crate::protocol::{
    self, ClaimOpts, Claimed, EndedBy, Free, Liveness, Reaped, ResetState, Slots, Sweep,
};
use layout::*;
pub use meta::{MetaRecord, SessionInfo};

mod reader;
pub use reader::{Reader, ReaderLeases};

/// The default directory for tables: tmpfs, so tables are shared memory and
/// vanish at reboot.
pub const DEFAULT_DIR: &str = "/run/rasstatic";
pub const DEFAULT_NAME: &str = "default";

/// Why a table could not be used. Every variant names the file.
#[derive(Debug)]
pub enum TableError {
    BadName {
        name: String,
    },
    Io {
        path: PathBuf,
        op: &'static str,
        err: io::Error,
    },
    NotRegular {
        path: PathBuf,
    },
    NotDir {
        path: PathBuf,
    },
    WrongOwner {
        path: PathBuf,
        uid: u32,
        euid: u32,
    },
    Writable {
        path: PathBuf,
        mode: u32,
    },
    Truncated {
        path: PathBuf,
        size: u64,
        need: u64,
    },
    Foreign {
        path: PathBuf,
    },
    Version {
        path: PathBuf,
        found: u32,
    },
    Corrupt {
        path: PathBuf,
        why: String,
    },
    PoolChanged {
        path: PathBuf,
        table: String,
        ours: String,
        live: u32,
    },
    Busy {
        path: PathBuf,
        /// The live process whose reset is waited for, if known.
        resetter: Option<u32>,
    },
    /// The filesystem has no room for the whole table.
    NoSpace {
        path: PathBuf,
        need: u64,
        slots: u32,
        free: Option<u64>,
    },
    /// The table's lease holders live in another PID namespace.
    ForeignPidNs {
        path: PathBuf,
        leased: Option<u32>,
    },
    /// A reset of the table did not finish (its process died); the next
    /// `Table::open` rolls it back.
    ResetAbandoned {
        path: PathBuf,
        pid: u32,
    },
    /// The file changed under a reader (truncated or rewritten in place).
    Changed {
        path: PathBuf,
        why: String,
    },
}

impl fmt::Display for TableError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use TableError::*;
        match self {
            BadName { name } => write!(
                f,
                "table name \"{name}\" is not allowed: use 1 to 64 characters from a-z, 0-9, _ and -"
            ),
            Io { path, op, err } => write!(f, "{}: {op}: {err}", path.display()),
            NotRegular { path } => {
                write!(f, "{}: refused: not a regular file (a symlink, device or directory?)", path.display())
            }
            NotDir { path } => write!(f, "{}: refused: not a directory", path.display()),
            WrongOwner { path, uid, euid } => write!(
                f,
                "{}: refused: owned by uid {uid}, not by this process's effective uid {euid}",
                path.display()
            ),
            Writable { path, mode } => write!(
                f,
                "{}: refused: mode {mode:04o} lets group or others write it",
                path.display()
            ),
            Truncated { path, size, need } => write!(
                f,
                "{}: refused: truncated ({size} bytes, its header needs {need})",
                path.display()
            ),
            Foreign { path } => write!(f, "{}: refused: not a rasstatic table (bad magic)", path.display()),
            Version { path, found } => write!(
                f,
                "{}: refused: table layout version {found}, this build reads version {LAYOUT_VERSION}",
                path.display()
            ),
            Corrupt { path, why } => write!(f, "{}: refused: corrupt header: {why}", path.display()),
            PoolChanged { path, table, ours, live } => write!(
                f,
                "{}: refused: the table holds pool \"{table}\" with {live} live lease(s), \
                 but this process was configured with pool \"{ours}\"; use another rasstatic-name \
                 for a different pool, or hang up those sessions first",
                path.display()
            ),
            Busy { path, resetter: Some(pid) } => write!(
                f,
                "{}: a reset of the table by pid {pid} has not finished; try again once it has",
                path.display()
            ),
            Busy { path, resetter: None } => {
                write!(f, "{}: the table kept changing while opening it", path.display())
            }
            NoSpace { path, need, slots, free } => {
                write!(
                    f,
                    "{}: cannot create the table: no room on its filesystem: a pool of {slots} \
                     addresses needs a table of {need} bytes ({:.1} MiB)",
                    path.display(),
                    *need as f64 / (1024.0 * 1024.0)
                )?;
                if let Some(free) = free {
                    write!(f, ", and {free} bytes are free")?;
                }
                write!(f, "; make room (a tmpfs's size=) or use a smaller pool")
            }
            ForeignPidNs { path, leased } => {
                write!(
                    f,
                    "{}: refused: the table belongs to another PID namespace, and liveness \
                     cannot be known from this PID namespace",
                    path.display()
                )?;
                if let Some(n) = leased {
                    write!(f, " ({n} address(es) leased there)")?;
                }
                write!(
                    f,
                    "; act on it from the namespace that created it, or give this one its own \
                     rasstatic-name or rasstatic-dir"
                )
            }
            ResetAbandoned { path, pid } => write!(
                f,
                "{}: a reset of the table by pid {pid} did not finish (the process died); \
                 the next pppd to open it rolls the reset back",
                path.display()
            ),
            Changed { path, why } => write!(f, "{}: the table changed while it was read: {why}", path.display()),
        }
    }
}

impl std::error::Error for TableError {}

fn io_err<'a>(path: &'a Path, op: &'static str) -> impl FnOnce(io::Error) -> TableError + 'a {
    move |err| TableError::Io {
        path: path.to_path_buf(),
        op,
        err,
    }
}

pub fn now() -> u32 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as u32)
        .unwrap_or(0)
}

/// `[a-z0-9_-]{1,64}`.
pub fn check_name(name: &str) -> Result<(), TableError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(TableError::BadName {
            name: name.to_string(),
        })
    }
}

pub fn table_path(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("{name}.table"))
}

/// The machine's boot id, or zeros if the kernel does not tell.
pub fn boot_id() -> [u8; BOOT_ID_LEN] {
    let mut id = [0u8; BOOT_ID_LEN];
    if let Ok(s) = fs::read("/proc/sys/kernel/random/boot_id") {
        let s = s.trim_ascii();
        let n = s.len().min(BOOT_ID_LEN);
        id[..n].copy_from_slice(&s[..n]);
    }
    id
}

/// Check a file or directory's type, owner and mode.
fn check_meta(path: &Path, md: &fs::Metadata, want_dir: bool) -> Result<(), TableError> {
    let path = path.into();
    cutil::check_ours(md, want_dir).map_err(|n| match n {
        NotOurs::NotDir => TableError::NotDir { path },
        NotOurs::NotRegular => TableError::NotRegular { path },
        NotOurs::Owner { uid, euid } => TableError::WrongOwner { path, uid, euid },
        NotOurs::Writable { mode } => TableError::Writable { path, mode },
    })
}

/// Create the table directory if missing (0700) and check it is safe.
pub fn prepare_dir(dir: &Path) -> Result<(), TableError> {
    ensure_dir(dir, true)
}

/// Make sure the table directory exists (0700 when created) and is safe.
fn ensure_dir(dir: &Path, create: bool) -> Result<(), TableError> {
    if create && fs::symlink_metadata(dir).is_err() {
        // Missing parents are created too (0700, like the directory).
        match fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
        {
            Ok(()) => log::info!("created table directory {}", dir.display()),
            Err(e) => return Err(io_err(dir, "create directory")(e)),
        }
    }
    let md = fs::symlink_metadata(dir).map_err(io_err(dir, "stat"))?;
    check_meta(dir, &md, true)
}

/// A shared mapping of the whole table file.
struct Mapping {
    ptr: *mut u8,
    len: usize,
}

// SAFETY: the mapping is only accessed through atomics (and the immutable
// ranges/header, which we copy before use), so sharing it between threads
// is as safe as sharing the atomics themselves.
unsafe impl Send for Mapping {}
// SAFETY: as above.
unsafe impl Sync for Mapping {}

impl Mapping {
    fn new(file: &File, len: usize, path: &Path) -> Result<Mapping, TableError> {
        // SAFETY: a fresh mapping of a file we hold open, with a length we
        // checked against the file's size; the kernel picks the address.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                file.as_raw_fd(),
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(io_err(path, "mmap")(io::Error::last_os_error()));
        }
        Ok(Mapping {
            ptr: ptr.cast(),
            len,
        })
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: unmapping exactly what `new` mapped; no references into it
        // outlive the Table that owns this Mapping.
        unsafe { libc::munmap(self.ptr.cast(), self.len) };
    }
}

/// Read the immutable header and the ranges with `pread`, and check every
/// claim they make against the file's real size. Nothing is mapped yet, so
/// a short or hostile file cannot SIGBUS us.
fn read_and_validate(file: &File, path: &Path) -> Result<(Fixed, Pool), TableError> {
    use std::os::unix::fs::FileExt;
    let md = file.metadata().map_err(io_err(path, "fstat"))?;
    check_meta(path, &md, false)?;
    let size = md.len();
    if size < HEADER_SIZE as u64 {
        // Distinguish a foreign file from a truncated table when we can.
        let mut head = [0u8; 8];
        let n = file.read_at(&mut head, 0).unwrap_or(0);
        if n == 8 && head != MAGIC {
            return Err(TableError::Foreign { path: path.into() });
        }
        return Err(TableError::Truncated {
            path: path.into(),
            size,
            need: HEADER_SIZE as u64,
        });
    }
    let mut buf = vec![0u8; std::mem::size_of::<Fixed>()];
    file.read_exact_at(&mut buf, 0)
        .map_err(io_err(path, "read header"))?;
    // SAFETY: Fixed is repr(C), Copy, made only of integers and byte arrays,
    // so any bit pattern is a valid value; the buffer has exactly its size.
    let fixed: Fixed = unsafe { std::ptr::read_unaligned(buf.as_ptr().cast()) };
    let corrupt = |why: String| TableError::Corrupt {
        path: path.into(),
        why,
    };
    if fixed.magic != MAGIC {
        return Err(TableError::Foreign { path: path.into() });
    }
    if fixed.layout_version != LAYOUT_VERSION {
        return Err(TableError::Version {
            path: path.into(),
            found: fixed.layout_version,
        });
    }
    if fixed.header_size as usize != HEADER_SIZE
        || fixed.meta_size as usize != std::mem::size_of::<Meta>()
    {
        return Err(corrupt(format!(
            "header size {} / record size {} do not match this layout",
            fixed.header_size, fixed.meta_size
        )));
    }
    if fixed.slot_count == 0 || u64::from(fixed.slot_count) > crate::pool::MAX_POOL {
        return Err(corrupt(format!("{} slots", fixed.slot_count)));
    }
    if fixed.range_count == 0 || fixed.range_count > MAX_RANGES {
        return Err(corrupt(format!("{} ranges", fixed.range_count)));
    }
    if fixed.spec_len as usize > SPEC_MAX {
        return Err(corrupt(format!("definition length {}", fixed.spec_len)));
    }
    let sec = Sections::new(fixed.slot_count, fixed.range_count);
    if fixed.file_size != sec.total as u64 {
        return Err(corrupt(format!(
            "declared size {} but {} slots need {}",
            fixed.file_size, fixed.slot_count, sec.total
        )));
    }
    if size < fixed.file_size {
        return Err(TableError::Truncated {
            path: path.into(),
            size,
            need: fixed.file_size,
        });
    }
    let mut rbuf = vec![0u8; fixed.range_count as usize * 8];
    file.read_exact_at(&mut rbuf, sec.ranges as u64)
        .map_err(io_err(path, "read ranges"))?;
    let ranges: Vec<Range> = rbuf
        .chunks_exact(8)
        .map(|c| Range {
            first: u32::from_ne_bytes(c[..4].try_into().unwrap()),
            last: u32::from_ne_bytes(c[4..].try_into().unwrap()),
        })
        .collect();
    let pool = Pool::from_ranges(ranges).map_err(|e| corrupt(format!("pool ranges: {e}")))?;
    if pool.size() != fixed.slot_count {
        return Err(corrupt(format!(
            "{} slots but the ranges hold {} addresses",
            fixed.slot_count,
            pool.size()
        )));
    }
    Ok((fixed, pool))
}

/// Whether `path` leads to the open file `file`.
fn same_file(file: &File, path: &Path) -> bool {
    let (Ok(ours), Ok(now)) = (file.metadata(), fs::symlink_metadata(path)) else {
        return false;
    };
    (ours.dev(), ours.ino()) == (now.dev(), now.ino())
}

/// Whether this process's /proc speaks of the PID namespace recorded in
/// the table (the one its owner words' PIDs belong to).
fn namespace_matches(fixed: &Fixed) -> bool {
    crate::owner::pid_namespace().is_some_and(|ns| {
        (fixed.pid_ns_ino, fixed.pid_ns_dev) != (0, 0) && ns == (fixed.pid_ns_dev, fixed.pid_ns_ino)
    })
}

fn flock(file: &File, op: libc::c_int, path: &Path) -> Result<(), TableError> {
    cutil::flock(file, op).map_err(io_err(path, "flock"))
}

fn open_file(path: &Path) -> io::Result<File> {
    let c = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL in path"))?;
    // SAFETY: a plain open(2) of a NUL-terminated path; the descriptor is
    // handed to File, which owns it from here.
    let fd = cerr(unsafe {
        libc::open(
            c.as_ptr(),
            libc::O_RDWR | libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_NONBLOCK,
        )
    })?;
    // SAFETY: fd is a fresh descriptor nobody else owns.
    Ok(unsafe { File::from_raw_fd(fd) })
}

/// The size in bytes of the table file for `pool`: what `Table::open`
/// allocates on the filesystem when it creates the table.
pub fn table_size(pool: &Pool) -> u64 {
    Sections::new(pool.size(), pool.ranges().len() as u32).total as u64
}

/// Free bytes on the filesystem holding `dir`, for messages.
fn free_bytes(dir: &Path) -> Option<u64> {
    let c = CString::new(dir.as_os_str().as_bytes()).ok()?;
    // SAFETY: statvfs is plain data, filled by statvfs from a valid path.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: as above; the result is checked.
    if unsafe { libc::statvfs(c.as_ptr(), &mut st) } != 0 {
        return None;
    }
    Some(st.f_bavail as u64 * st.f_frsize as u64)
}

/// The prefix of the temporary names of `path`'s new versions.
fn temp_prefix(path: &Path) -> String {
    format!(
        ".{}.",
        path.file_name().unwrap_or_default().to_string_lossy()
    )
}

/// Remove the temporary files of `path` that a process creating or
/// resetting the table left when it died. Each is locked by its writer
/// from before it has a name until it is renamed or removed, so one whose
/// lock can be taken is abandoned. (A `.tmp` file, from a filesystem
/// without unnamed temporary files, is named an instant before its writer
/// locks it: it must also be a few seconds old.)
fn remove_abandoned_temps(path: &Path) {
    let dir = path.parent().unwrap_or(Path::new("."));
    let prefix = temp_prefix(path);
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let name = name.to_string_lossy();
        let named_tmp = name.ends_with(".tmp");
        if !name.starts_with(&prefix) || !(named_tmp || name.ends_with(".new")) {
            continue;
        }
        let p = e.path();
        let Ok(f) = open_file(&p) else { continue };
        let Ok(md) = f.metadata() else { continue };
        if !md.is_file() || md.uid() != cutil::euid() {
            continue;
        }
        let age = now().saturating_sub(md.ctime().max(0) as u32);
        if named_tmp && age < 5 {
            continue;
        }
        if cutil::flock(&f, libc::LOCK_EX | libc::LOCK_NB).is_err() {
            continue; // its writer is at work
        }
        let same =
            fs::symlink_metadata(&p).is_ok_and(|n| (n.dev(), n.ino()) == (md.dev(), md.ino()));
        if same && fs::remove_file(&p).is_ok() {
            log::warn!(
                "removed {}, left by a process that died while writing a table",
                p.display()
            );
        }
    }
}

/// A new, unnamed (`O_TMPFILE`) or temporarily named file in `dir`,
/// locked exclusively before it has a name. Returns the file and its
/// temporary name, if it has one.
fn new_temp(path: &Path, me: Owner) -> Result<(File, Option<PathBuf>), TableError> {
    use std::os::unix::fs::OpenOptionsExt;
    let dir = path.parent().unwrap_or(Path::new("."));
    let c = CString::new(dir.as_os_str().as_bytes())
        .map_err(|_| io_err(dir, "open")(io::Error::from(io::ErrorKind::InvalidInput)))?;
    // SAFETY: open(2) of a NUL-terminated path with a mode; the result is
    // checked and owned by File from here.
    let fd = unsafe {
        libc::open(
            c.as_ptr(),
            libc::O_TMPFILE | libc::O_RDWR | libc::O_CLOEXEC,
            0o600 as libc::c_uint,
        )
    };
    let (file, name) = if fd >= 0 {
        // SAFETY: a fresh descriptor nobody else owns.
        (unsafe { File::from_raw_fd(fd) }, None)
    } else {
        let tmp = dir.join(format!(
            "{}{}.{}.tmp",
            temp_prefix(path),
            me.pid(),
            me.start_ticks()
        ));
        let _ = fs::remove_file(&tmp);
        let f = fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(&tmp)
            .map_err(io_err(&tmp, "create"))?;
        (f, Some(tmp))
    };
    flock(&file, libc::LOCK_EX, path)?;
    Ok((file, name))
}

/// Give the unnamed file `file` the name `to` (fails if it exists).
fn link_unnamed(file: &File, to: &Path) -> io::Result<()> {
    let from = CString::new(format!("/proc/self/fd/{}", file.as_raw_fd())).expect("no NUL");
    let to = CString::new(to.as_os_str().as_bytes())
        .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: linkat with two NUL-terminated paths; the result is checked.
    cerr(unsafe {
        libc::linkat(
            libc::AT_FDCWD,
            from.as_ptr(),
            libc::AT_FDCWD,
            to.as_ptr(),
            libc::AT_SYMLINK_FOLLOW,
        )
    })
    .map(|_| ())
}

/// Write a complete new table, with all its space allocated, in a file
/// that has no name yet (or a temporary one), then give it its name:
/// a link (fails if another process got there first) for a new table, a
/// rename (atomic replace) for a reset. No process can ever open a
/// half-written table, and a table never runs out of room once in place
/// (tmpfs allocates pages on first touch, reads included; a full one would
/// raise SIGBUS). A process that dies while writing leaves nothing, or a
/// temporary name that the next creation or reset removes.
fn create_file(path: &Path, pool: &Pool, spec: &str, replace: bool) -> Result<bool, TableError> {
    use std::os::unix::fs::{FileExt, PermissionsExt};
    let me = Owner::current().map_err(io_err(path, "read this process's identity"))?;
    remove_abandoned_temps(path);
    let dir = path.parent().unwrap_or(Path::new("."));
    let (file, tmp) = new_temp(path, me)?;
    let shown = tmp.clone().unwrap_or_else(|| path.to_path_buf());
    let result = (|| {
        file.set_permissions(fs::Permissions::from_mode(0o600))
            .map_err(io_err(&shown, "chmod"))?;
        let n = pool.size();
        let sec = Sections::new(n, pool.ranges().len() as u32);
        // SAFETY: posix_fallocate on a descriptor we own; it returns an
        // error number rather than setting errno.
        let r = unsafe { libc::posix_fallocate(file.as_raw_fd(), 0, sec.total as libc::off_t) };
        match r {
            0 => {}
            libc::ENOSPC | libc::EFBIG | libc::EDQUOT => {
                return Err(TableError::NoSpace {
                    path: path.to_path_buf(),
                    need: sec.total as u64,
                    slots: n,
                    free: free_bytes(dir),
                })
            }
            e => return Err(io_err(&shown, "allocate")(io::Error::from_raw_os_error(e))),
        }
        let (ns_dev, ns_ino) = crate::owner::pid_namespace().unwrap_or((0, 0));
        let mut fixed = Fixed {
            magic: MAGIC,
            layout_version: LAYOUT_VERSION,
            header_size: HEADER_SIZE as u32,
            slot_count: n,
            range_count: pool.ranges().len() as u32,
            meta_size: std::mem::size_of::<Meta>() as u32,
            _pad: 0,
            file_size: sec.total as u64,
            created: u64::from(now()),
            boot_id: boot_id(),
            spec_len: 0,
            _pad2: 0,
            spec: [0; SPEC_MAX],
            pid_ns_dev: ns_dev,
            pid_ns_ino: ns_ino,
        };
        let s = spec.as_bytes();
        let len = s.len().min(SPEC_MAX);
        fixed.spec[..len].copy_from_slice(&s[..len]);
        fixed.spec_len = len as u16;
        // SAFETY: Fixed is repr(C) plain data; viewing it as bytes is sound.
        let bytes = unsafe {
            std::slice::from_raw_parts(
                (&fixed as *const Fixed).cast::<u8>(),
                std::mem::size_of::<Fixed>(),
            )
        };
        file.write_all_at(bytes, 0)
            .map_err(io_err(&shown, "write"))?;
        let ranges: Vec<u8> = pool
            .ranges()
            .iter()
            .flat_map(|r| [r.first.to_ne_bytes(), r.last.to_ne_bytes()].concat())
            .collect();
        file.write_all_at(&ranges, sec.ranges as u64)
            .map_err(io_err(&shown, "write"))?;
        let bitmap: Vec<u8> = (0..crate::protocol::bitmap_words(n))
            .flat_map(|w| crate::protocol::initial_hint(w, n).to_ne_bytes())
            .collect();
        file.write_all_at(&bitmap, sec.bitmap as u64)
            .map_err(io_err(&shown, "write"))?;
        // An unnamed file gets a temporary name first if it is to replace
        // the table; that name exists only while this process holds the
        // lock, between two system calls.
        let named = match &tmp {
            Some(t) => t.clone(),
            None if replace => {
                let t = dir.join(format!(
                    "{}{}.{}.new",
                    temp_prefix(path),
                    me.pid(),
                    me.start_ticks()
                ));
                let _ = fs::remove_file(&t);
                link_unnamed(&file, &t).map_err(io_err(&t, "link"))?;
                t
            }
            None => {
                return match link_unnamed(&file, path) {
                    Ok(()) => Ok(true),
                    Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(false),
                    Err(e) => Err(io_err(path, "link")(e)),
                };
            }
        };
        let r = if replace {
            fs::rename(&named, path).map_err(io_err(path, "rename"))
        } else {
            match fs::hard_link(&named, path) {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    let _ = fs::remove_file(&named);
                    return Ok(false);
                }
                Err(e) => Err(io_err(path, "link")(e)),
            }
        };
        let _ = fs::remove_file(&named);
        r.map(|()| true)
    })();
    if result.is_err() {
        if let Some(t) = &tmp {
            let _ = fs::remove_file(t);
        }
    }
    result
}

/// Liveness as a table may judge it: from /proc, and only where /proc
/// speaks of the PID namespace the table's owner words come from. Where
/// it cannot be known, every holder counts as alive: a lease is never
/// reaped on a guess.
#[derive(Clone, Copy, Debug)]
pub struct TableLiveness {
    known: bool,
}

impl Liveness for TableLiveness {
    fn is_alive(&self, owner: Owner) -> bool {
        !self.known || owner.is_alive()
    }
}

/// An open, validated, mapped table.
pub struct Table {
    path: PathBuf,
    _file: File,
    map: Mapping,
    pool: Pool,
    fixed: Fixed,
    sec: Sections,
    /// Whether this process can judge the holders' liveness (its /proc
    /// speaks of the table's PID namespace).
    liveness_known: bool,
    /// The slot this process last claimed through this handle, plus one (0:
    /// none): a second claim by the same process finds its lease at once.
    /// Process-local; a hint checked against the owner word.
    held: AtomicU64,
}

/// How `open` found the table, for the caller to log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Opened {
    Existing,
    Created,
    /// Reset because it was written in an earlier boot.
    ResetBoot,
    /// Rebuilt for a new pool definition, or for this PID namespace when
    /// it was another's (it had no live leases).
    ResetPool {
        old: String,
    },
}

/// Milliseconds of `CLOCK_BOOTTIME`: one clock for every process of this
/// boot, suspend included.
pub fn boot_ms() -> u64 {
    // SAFETY: timespec is plain data, filled by clock_gettime.
    let mut ts: libc::timespec = unsafe { std::mem::zeroed() };
    // SAFETY: as above; CLOCK_BOOTTIME always exists on Linux.
    unsafe { libc::clock_gettime(libc::CLOCK_BOOTTIME, &mut ts) };
    ts.tv_sec as u64 * 1000 + ts.tv_nsec as u64 / 1_000_000
}

/// How long `open` waits for a live resetter that lost its lock.
const RESET_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

fn open_path(path: &Path) -> Result<Option<File>, TableError> {
    match open_file(path) {
        Ok(f) => Ok(Some(f)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e)
            if matches!(
                e.raw_os_error(),
                Some(libc::ELOOP | libc::ENXIO | libc::EISDIR)
            ) =>
        {
            Err(TableError::NotRegular { path: path.into() })
        }
        Err(e) => Err(io_err(path, "open")(e)),
    }
}

impl Table {
    /// Open the table `name` in `dir` for `pool`, creating it if missing and
    /// resetting it if it was written in an earlier boot, or for another
    /// pool or PID namespace with no live leases. `spec` is the definition
    /// as written, for messages. A reset that a dead process left half done
    /// is rolled back first (protocol I5).
    pub fn open(
        dir: &Path,
        name: &str,
        pool: &Pool,
        spec: &str,
    ) -> Result<(Table, Opened), TableError> {
        check_name(name)?;
        ensure_dir(dir, true)?;
        let path = table_path(dir, name);
        let mut how = Opened::Existing;
        let started = std::time::Instant::now();
        let mut waiting_for = None;
        for _ in 0..1000 {
            if let Some(pid) = waiting_for.take() {
                if started.elapsed() > RESET_WAIT {
                    return Err(TableError::Busy {
                        path,
                        resetter: Some(pid),
                    });
                }
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            let Some(file) = open_path(&path)? else {
                if create_file(&path, pool, spec, false)? {
                    log::info!(
                        "created table {} for pool {} ({} addresses, {} bytes)",
                        path.display(),
                        pool,
                        pool.size(),
                        table_size(pool)
                    );
                    if how == Opened::Existing {
                        how = Opened::Created;
                    }
                }
                continue;
            };
            flock(&file, libc::LOCK_SH, &path)?;
            let t = Table::map(file, path.clone())?;
            let stale_boot = t.fixed.boot_id != boot_id();
            let state = t.reset_state(stale_boot);
            match state {
                ResetState::Replaced => continue,
                ResetState::Resetting(o) => {
                    waiting_for = Some(o.pid());
                    continue;
                }
                ResetState::InUse | ResetState::Abandoned(_) => {}
            }
            let foreign = !t.liveness_known;
            if state == ResetState::InUse && !stale_boot && t.pool == *pool && !foreign {
                flock(&t._file, libc::LOCK_UN, &path)?;
                return Ok((t, how));
            }
            // A reset or a roll-back: take the file exclusively, look again.
            flock(&t._file, libc::LOCK_UN, &path)?;
            flock(&t._file, libc::LOCK_EX, &path)?;
            let seen = match t.reset_state(stale_boot) {
                ResetState::Replaced => continue,
                ResetState::Resetting(o) => {
                    waiting_for = Some(o.pid());
                    continue;
                }
                ResetState::InUse => 0,
                ResetState::Abandoned(w) => {
                    log::warn!(
                        "table {}: a reset by pid {} did not finish (the process died); rolling it back",
                        path.display(),
                        Owner::from_word(w).map_or(0, |o| o.pid())
                    );
                    w
                }
            };
            let reset = &t.live().retired;
            if !stale_boot && t.pool == *pool && !foreign {
                // Only a roll-back was needed.
                if !protocol::roll_back_reset(reset, seen) {
                    continue;
                }
                flock(&t._file, libc::LOCK_UN, &path)?;
                return Ok((t, how));
            }
            let me = Owner::current().map_err(io_err(&path, "read this process's identity"))?;
            if !protocol::begin_reset(reset, seen, me) {
                continue;
            }
            let old = t.pool.to_string();
            if !stale_boot {
                // Count after announcing the reset: a claim that lands
                // after this sees it and moves to the new file. From
                // another PID namespace every lease counts as live.
                let live = protocol::live_leases(t.owners(), &t.liveness());
                if live > 0 {
                    protocol::roll_back_reset(reset, me.word());
                    return Err(if foreign {
                        TableError::ForeignPidNs {
                            path,
                            leased: Some(live),
                        }
                    } else {
                        TableError::PoolChanged {
                            path,
                            table: format!("{} ({})", t.spec(), old),
                            ours: format!("{} ({})", spec, pool),
                            live,
                        }
                    });
                }
            }
            if let Err(e) = create_file(&path, pool, spec, true) {
                protocol::roll_back_reset(reset, me.word());
                return Err(e);
            }
            if stale_boot {
                log::warn!(
                    "table {} was written in an earlier boot; reset it",
                    path.display()
                );
                how = Opened::ResetBoot;
            } else if foreign {
                log::warn!(
                    "table {} belonged to another PID namespace and had no leases; rebuilt it for this one",
                    path.display()
                );
                how = Opened::ResetPool {
                    old: format!("{old} (another PID namespace's)"),
                };
            } else {
                log::warn!(
                    "table {} held pool {} with no live leases; rebuilt it for pool {}",
                    path.display(),
                    old,
                    pool
                );
                how = Opened::ResetPool { old };
            }
        }
        Err(TableError::Busy {
            path,
            resetter: None,
        })
    }

    /// Open an existing table as it is, for inspection and administration.
    /// Never creates, resets or rebuilds; refuses exactly what `open` does,
    /// and a table whose reset a dead process abandoned (`open` rolls that
    /// back; [`Table::open_recovering`] too).
    pub fn open_existing(dir: &Path, name: &str) -> Result<Table, TableError> {
        Table::open_inspect(dir, name, false)
    }

    /// As [`Table::open_existing`], but roll back a reset a dead process
    /// abandoned (protocol I5), as `open` would. For the watchdog.
    pub fn open_recovering(dir: &Path, name: &str) -> Result<Table, TableError> {
        Table::open_inspect(dir, name, true)
    }

    fn open_inspect(dir: &Path, name: &str, recover: bool) -> Result<Table, TableError> {
        check_name(name)?;
        ensure_dir(dir, false)?;
        let path = table_path(dir, name);
        let started = std::time::Instant::now();
        loop {
            let file = open_path(&path)?
                .ok_or_else(|| io_err(&path, "open")(io::Error::from(io::ErrorKind::NotFound)))?;
            flock(&file, libc::LOCK_SH, &path)?;
            let t = Table::map(file, path.clone())?;
            let stale_boot = t.fixed.boot_id != boot_id();
            match t.reset_state(stale_boot) {
                ResetState::InUse => {}
                ResetState::Replaced => continue,
                ResetState::Resetting(o) => {
                    if started.elapsed() > RESET_WAIT {
                        return Err(TableError::Busy {
                            path,
                            resetter: Some(o.pid()),
                        });
                    }
                    drop(t);
                    std::thread::sleep(std::time::Duration::from_millis(10));
                    continue;
                }
                ResetState::Abandoned(w) if recover => {
                    flock(&t._file, libc::LOCK_UN, &path)?;
                    flock(&t._file, libc::LOCK_EX, &path)?;
                    if t.reset_state(stale_boot) == ResetState::Abandoned(w)
                        && protocol::roll_back_reset(&t.live().retired, w)
                    {
                        log::warn!(
                            "table {}: a reset by pid {} did not finish (the process died); rolled it back",
                            path.display(),
                            Owner::from_word(w).map_or(0, |o| o.pid())
                        );
                    }
                    continue;
                }
                ResetState::Abandoned(w) => {
                    return Err(TableError::ResetAbandoned {
                        path,
                        pid: Owner::from_word(w).map_or(0, |o| o.pid()),
                    })
                }
            }
            flock(&t._file, libc::LOCK_UN, &path)?;
            return Ok(t);
        }
    }

    fn map(file: File, path: PathBuf) -> Result<Table, TableError> {
        let (fixed, pool) = read_and_validate(&file, &path)?;
        let sec = Sections::new(fixed.slot_count, fixed.range_count);
        let map = Mapping::new(&file, sec.total, &path)?;
        let liveness_known = namespace_matches(&fixed);
        Ok(Table {
            path,
            _file: file,
            map,
            pool,
            fixed,
            sec,
            liveness_known,
            held: AtomicU64::new(0),
        })
    }

    /// Whether the table's name still leads to this file.
    fn still_named(&self) -> bool {
        same_file(&self._file, &self.path)
    }

    /// The reset word as judged under the file's lock (I5). A resetter
    /// from an earlier boot, or one whose liveness this process cannot
    /// judge, is taken as gone: the lock already proves it let go.
    fn reset_state(&self, stale_boot: bool) -> ResetState {
        let word = self.live().retired.load(Ordering::SeqCst);
        if word == 0 {
            return ResetState::InUse;
        }
        let live = TableLiveness {
            known: self.liveness_known && !stale_boot,
        };
        struct Resetter(TableLiveness);
        impl Liveness for Resetter {
            fn is_alive(&self, o: Owner) -> bool {
                self.0.known && o.is_alive()
            }
        }
        protocol::judge_reset(word, self.still_named(), &Resetter(live))
    }

    /// How this process may judge the holders' liveness.
    pub fn liveness(&self) -> TableLiveness {
        TableLiveness {
            known: self.liveness_known,
        }
    }

    /// `Ok` when this process can tell whether the table's holders are
    /// alive; otherwise the reason, for a command that would act on it.
    pub fn check_liveness(&self) -> Result<(), TableError> {
        if self.liveness_known {
            Ok(())
        } else {
            Err(TableError::ForeignPidNs {
                path: self.path.clone(),
                leased: None,
            })
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// The definition as the administrator wrote it when the table was made.
    pub fn spec(&self) -> String {
        String::from_utf8_lossy(&self.fixed.spec[..self.fixed.spec_len as usize]).into_owned()
    }

    pub fn created(&self) -> u64 {
        self.fixed.created
    }

    pub fn size(&self) -> u32 {
        self.fixed.slot_count
    }

    /// Bytes of the file.
    pub fn file_size(&self) -> usize {
        self.sec.total
    }

    /// Whether a reset has replaced this file since it was opened.
    /// Check that the file under this mapping is still the table that was
    /// validated at open: the same ownership and mode rules, the same
    /// immutable header and pool, and long enough for the mapping. A
    /// long-lived user (the watchdog) calls this before trusting the
    /// mapping again, since root can overwrite or truncate the file in
    /// place. (A truncation between this check and the next access would
    /// still raise SIGBUS; this narrows that to microseconds.)
    pub fn verify(&self) -> Result<(), TableError> {
        let (fixed, pool) = read_and_validate(&self._file, &self.path)?;
        let a = &self.fixed;
        let same = fixed.magic == a.magic
            && fixed.layout_version == a.layout_version
            && fixed.slot_count == a.slot_count
            && fixed.range_count == a.range_count
            && fixed.file_size == a.file_size
            && fixed.created == a.created
            && fixed.boot_id == a.boot_id
            && fixed.spec_len == a.spec_len
            && fixed.spec == a.spec
            && pool == self.pool;
        if !same {
            return Err(TableError::Corrupt {
                path: self.path.clone(),
                why: "its header was rewritten while in use".into(),
            });
        }
        Ok(())
    }

    /// Whether this table was reset, or its path now names another file
    /// or none: a long-lived user (the watchdog) must reopen it.
    pub fn replaced(&self) -> bool {
        if self.is_retired() {
            return true;
        }
        let (Ok(ours), Ok(now)) = (self._file.metadata(), fs::symlink_metadata(&self.path)) else {
            return true;
        };
        (ours.dev(), ours.ino()) != (now.dev(), now.ino())
    }

    pub fn is_retired(&self) -> bool {
        self.live().retired.load(Ordering::SeqCst) != 0
    }

    pub fn live(&self) -> &Live {
        // SAFETY: the mapping is at least HEADER_SIZE long (validated), page
        // aligned, and Live sits at a 64-aligned offset inside the header; it
        // is made of atomics only, so a shared reference is sound while other
        // processes change it.
        unsafe { &*self.map.ptr.add(LIVE_OFFSET).cast::<Live>() }
    }

    fn owners(&self) -> &[AtomicU64] {
        // SAFETY: the owners section lies inside the mapping (its bounds come
        // from Sections::new over validated counts), is 64-aligned and holds
        // slot_count atomics.
        unsafe {
            std::slice::from_raw_parts(
                self.map.ptr.add(self.sec.owners).cast::<AtomicU64>(),
                self.fixed.slot_count as usize,
            )
        }
    }

    fn bitmap(&self) -> &[AtomicU64] {
        // SAFETY: as for owners(), for the bitmap section.
        unsafe {
            std::slice::from_raw_parts(
                self.map.ptr.add(self.sec.bitmap).cast::<AtomicU64>(),
                crate::protocol::bitmap_words(self.fixed.slot_count),
            )
        }
    }

    fn metas(&self) -> &[Meta] {
        // SAFETY: as for owners(), for the meta section; Meta is made of
        // AtomicU32 only and needs 4-byte alignment.
        unsafe {
            std::slice::from_raw_parts(
                self.map.ptr.add(self.sec.meta).cast::<Meta>(),
                self.fixed.slot_count as usize,
            )
        }
    }

    /// The protocol's view of this table.
    pub fn slots(&self) -> Slots<'_, AtomicU64> {
        Slots {
            owners: self.owners(),
            bitmap: self.bitmap(),
            cursor: &self.live().cursor,
            sweep: &self.live().sweep_cursor,
        }
    }

    /// The sweep a claim on a full pool may make: holders are checked by
    /// the claim only while no watchdog vouches for them (a heartbeat
    /// younger than [`protocol::WATCHDOG_TRUSTED_MS`]), and never from
    /// another PID namespace.
    fn sweep_budget(&self) -> Sweep {
        if !self.liveness_known || self.watchdog_fresh() {
            Sweep::TRUSTING
        } else {
            Sweep::CHECKING
        }
    }

    /// Whether a watchdog reported in within [`protocol::WATCHDOG_TRUSTED_MS`].
    pub fn watchdog_fresh(&self) -> bool {
        let beat = self.live().watchdog_beat.load(Ordering::Relaxed);
        beat != 0 && boot_ms().saturating_sub(beat) < protocol::WATCHDOG_TRUSTED_MS
    }

    /// The watchdog's heartbeat (see [`Live::watchdog_beat`]); 0 to say
    /// it stopped.
    pub fn watchdog_beat(&self, ms: u64) {
        self.live().watchdog_beat.store(ms, Ordering::Relaxed);
    }

    fn count(&self, path: EndedBy) {
        self.live().ended[path as usize].fetch_add(1, Ordering::Relaxed);
    }

    fn count_reaps(&self, reaped: &[Reaped], path: EndedBy) {
        for r in reaped {
            self.count(path);
            if path == EndedBy::ReapWatchdog {
                continue; // the watchdog logs its own, fuller line
            }
            log::info!(
                "reaped {} from dead pid {}",
                self.pool.addr(r.slot),
                r.owner.pid()
            );
        }
    }

    /// Claim an address for `me`. See [`crate::protocol::Slots::claim`].
    /// Returns `Ok(None)` when the pool is exhausted, or `Err` when the table
    /// was replaced by a reset meanwhile (reopen and retry).
    pub fn claim(
        &self,
        me: Owner,
        mut opts: ClaimOpts,
        policy: Policy,
        info: &SessionInfo,
    ) -> Result<Option<Claimed>, Retired> {
        let held = self.held.load(Ordering::Relaxed);
        if held != 0 && self.slots().word(held as u32 - 1) == me.word() {
            return Ok(Some(Claimed {
                slot: held as u32 - 1,
                existing: true,
            }));
        }
        if opts.prefer.is_none() && policy == Policy::Sticky && !info.peer.is_empty() {
            opts.prefer = self.sticky_lookup(&info.peer);
        }
        let out = self
            .slots()
            .claim_with(me, opts, &self.liveness(), now(), self.sweep_budget());
        self.count_reaps(&out.reaped, EndedBy::ReapClaim);
        if out.swept {
            self.live().swept_at.store(boot_ms(), Ordering::Relaxed);
        }
        let Some(c) = out.claimed else {
            self.live().refused.fetch_add(1, Ordering::Relaxed);
            return Ok(None);
        };
        if c.existing {
            return Ok(Some(c));
        }
        // Dekker with Table::open's reset (I5): our CAS came first, so
        // either the resetter counts our lease, or we see its word and step
        // back.
        if protocol::claimed_in_retired(&self.live().retired) {
            self.slots().release(c.slot, me, EndedBy::Api, now());
            return Err(Retired);
        }
        self.live().assigned.fetch_add(1, Ordering::Relaxed);
        self.held.store(u64::from(c.slot) + 1, Ordering::Relaxed);
        self.write_meta(c.slot, me, info);
        if !info.peer.is_empty() {
            self.sticky_remember(&info.peer, c.slot);
        }
        Ok(Some(c))
    }

    /// Release `slot` if `me` holds it. Idempotent.
    pub fn release(&self, slot: u32, me: Owner, path: EndedBy) -> bool {
        let done = self.slots().release(slot, me, path, now());
        if done {
            self.count(path);
        }
        done
    }

    /// Free a lease whatever holds it (administrators only).
    pub fn force_release(&self, slot: u32, path: EndedBy) -> Option<Owner> {
        let o = self.slots().force_release(slot, path, now());
        if o.is_some() {
            self.count(path);
        }
        o
    }

    /// Free one slot if its owner is dead. Never from another PID
    /// namespace (see [`Table::check_liveness`]).
    pub fn reap(&self, slot: u32, live: &impl Liveness, path: EndedBy) -> Option<Reaped> {
        if !self.liveness_known {
            return None;
        }
        let r = self.slots().reap(slot, live, path, now());
        if let Some(r) = r {
            self.count_reaps(&[r], path);
        }
        r
    }

    /// The watchdog: take over the lease of `dead` (observed dead) for
    /// `me`, to clean up after it while nobody else can lease the address.
    pub fn seize(&self, slot: u32, dead: Owner, me: Owner) -> bool {
        self.slots().seize(slot, dead, me, &self.liveness())
    }

    /// Free a lease `me` seized from `dead`, as a watchdog reap of `dead`.
    pub fn release_seized(&self, slot: u32, me: Owner, dead: Owner) -> bool {
        let done =
            self.slots()
                .release_recording(slot, me, EndedBy::ReapWatchdog, dead.pid(), now());
        if done {
            self.count(EndedBy::ReapWatchdog);
        }
        done
    }

    /// Free every lease whose owner is dead (none from another PID
    /// namespace: see [`Table::check_liveness`]).
    pub fn reap_all(&self, path: EndedBy) -> Vec<Reaped> {
        let r = self.slots().reap_all(&self.liveness(), path, now());
        self.count_reaps(&r, path);
        r
    }

    /// Move `me`'s lease on `slot` to `to` (pppd's detach), atomically.
    pub fn transfer(&self, slot: u32, from: Owner, to: Owner) -> bool {
        let ok = self.slots().transfer(slot, from, to);
        if ok {
            // Keep the display record's owner tag in step.
            self.metas()[slot as usize]
                .owner_tag
                .store(meta::owner_tag(to), Ordering::Relaxed);
        }
        ok
    }

    /// Leases whose owner is alive.
    /// (From another PID namespace every lease counts as live.)
    pub fn live_leases(&self) -> u32 {
        let live = self.liveness();
        (0..self.size())
            .filter(|&s| Owner::from_word(self.slots().word(s)).is_some_and(|o| live.is_alive(o)))
            .count() as u32
    }

    /// A consistent snapshot of one slot, for display.
    pub fn lease(&self, slot: u32) -> Lease {
        let word = self.slots().word(slot);
        let meta = meta::read(&self.metas()[slot as usize]);
        Lease::new(slot, self.pool.addr(slot), word, meta)
    }

    pub fn leases(&self) -> impl Iterator<Item = Lease> + '_ {
        (0..self.size()).map(|s| self.lease(s))
    }

    pub fn counters(&self) -> Counters {
        let l = self.live();
        Counters {
            assigned: l.assigned.load(Ordering::Relaxed),
            refused: l.refused.load(Ordering::Relaxed),
            ended: std::array::from_fn(|i| l.ended[i].load(Ordering::Relaxed)),
        }
    }

    fn write_meta(&self, slot: u32, me: Owner, info: &SessionInfo) {
        meta::write(&self.metas()[slot as usize], me, now(), info);
    }

    /// Update the display record of a lease `me` holds (for example the
    /// interface name, known only once IPCP is up).
    pub fn update_meta(&self, slot: u32, me: Owner, info: &SessionInfo) {
        if self.slots().word(slot) == me.word() {
            let since = self.lease(slot).meta.map(|m| m.since).unwrap_or_else(now);
            meta::write(&self.metas()[slot as usize], me, since, info);
        }
    }

    fn sticky_cell(&self, peer: &str) -> (&AtomicU32, u32) {
        let h = meta::hash(peer.as_bytes());
        let cell = &self.metas()[(h % u64::from(self.size())) as usize].sticky;
        let tag = ((h >> 56) as u32 | 1) << 24;
        (cell, tag)
    }

    fn sticky_remember(&self, peer: &str, slot: u32) {
        let (cell, tag) = self.sticky_cell(peer);
        cell.store(slot | tag, Ordering::Relaxed);
    }

    /// The slot `peer` held last, if the hint still names it.
    fn sticky_lookup(&self, peer: &str) -> Option<u32> {
        let (cell, tag) = self.sticky_cell(peer);
        let v = cell.load(Ordering::Relaxed);
        if v & 0xff00_0000 != tag {
            return None;
        }
        let slot = v & 0x00ff_ffff;
        if slot >= self.size() {
            return None;
        }
        let m = meta::read(&self.metas()[slot as usize])?;
        (m.peer_matches(peer)).then_some(slot)
    }

    /// The slot for `addr`, if it is in this table's pool.
    pub fn slot_of(&self, addr: Ipv4Addr) -> Option<u32> {
        self.pool.index(addr)
    }
}

/// The table was replaced by a reset after this process opened it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retired;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Policy {
    /// The next free address after the last one handed out.
    #[default]
    RoundRobin,
    /// The address the same peer held last when it is free, otherwise
    /// round-robin.
    Sticky,
}

impl Policy {
    pub fn parse(s: &str) -> Option<Policy> {
        match s {
            "round-robin" => Some(Policy::RoundRobin),
            "sticky" => Some(Policy::Sticky),
            _ => None,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LeaseState {
    Leased(Owner),
    Free(Free),
}

/// One slot as seen at one moment.
#[derive(Clone, Debug)]
pub struct Lease {
    pub slot: u32,
    pub addr: Ipv4Addr,
    pub state: LeaseState,
    pub meta: Option<MetaRecord>,
}

impl Lease {
    /// A slot's owner word and display record; the record is kept only if
    /// its tag says it belongs to this lease (or, for a free slot, to its
    /// last holder).
    fn new(slot: u32, addr: Ipv4Addr, word: u64, meta: Option<MetaRecord>) -> Lease {
        let state = match Owner::from_word(word) {
            Some(o) => LeaseState::Leased(o),
            None => LeaseState::Free(Free::from_word(word).expect("free word")),
        };
        let meta = meta.filter(|m| match state {
            LeaseState::Leased(o) => m.owner_tag == meta::owner_tag(o),
            LeaseState::Free(f) => {
                f.path != EndedBy::Never && m.owner_tag & 0x3f_ffff == f.last_pid
            }
        });
        Lease {
            slot,
            addr,
            state,
            meta,
        }
    }

    /// The owner word this snapshot was made from.
    pub fn word(&self) -> u64 {
        match self.state {
            LeaseState::Leased(o) => o.word(),
            LeaseState::Free(f) => f.word(),
        }
    }
}

#[derive(Clone, Copy, Debug)]
pub struct Counters {
    pub assigned: u64,
    pub refused: u64,
    pub ended: [u64; 16],
}

impl Counters {
    pub fn ended_by(&self, p: EndedBy) -> u64 {
        self.ended[p as usize]
    }
}
