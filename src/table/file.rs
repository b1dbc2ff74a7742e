//! The table file's life on disk: names, the directory, the checks a file
//! must pass before it is trusted (read with `pread`, never mapped first),
//! creation under a temporary name, locks.

use super::*;

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

/// The lock file of the table's `rasstatic-agent` (cluster mode). The
/// agent makes it and never removes it; while it exists, every table made
/// under the name is born in cluster mode (see `NewTable::cluster`),
/// whichever process makes it.
pub fn agent_lock_path(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("{name}.agent.lock"))
}

/// [`agent_lock_path`] for a table's path.
fn agent_lock_of(table: &Path) -> Option<PathBuf> {
    let name = table.file_name()?.to_str()?.strip_suffix(".table")?;
    Some(agent_lock_path(table.parent()?, name))
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
pub(super) fn check_meta(path: &Path, md: &fs::Metadata, want_dir: bool) -> Result<(), TableError> {
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
pub(super) fn ensure_dir(dir: &Path, create: bool) -> Result<(), TableError> {
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

/// Read the immutable header and the ranges with `pread`, and check every
/// claim they make against the file's real size. Nothing is mapped yet, so
/// a short or hostile file cannot SIGBUS us.
pub(super) fn read_and_validate(file: &File, path: &Path) -> Result<Shape, TableError> {
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
    if u64::from(fixed.drain_count) > crate::pool::MAX_POOL {
        return Err(corrupt(format!("{} draining addresses", fixed.drain_count)));
    }
    let sec = Sections::new(fixed.slot_count, fixed.range_count, fixed.drain_count);
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
    let mut dbuf = vec![0u8; fixed.drain_count as usize * 4];
    file.read_exact_at(&mut dbuf, sec.drain as u64)
        .map_err(io_err(path, "read draining addresses"))?;
    let drain: Vec<u32> = dbuf
        .chunks_exact(4)
        .map(|c| u32::from_ne_bytes(c.try_into().unwrap()))
        .collect();
    if let Some(e) = drain
        .iter()
        .find_map(|&a| crate::pool::forbidden(Range { first: a, last: a }))
    {
        return Err(corrupt(format!("draining address: {e}")));
    }
    if drain.windows(2).any(|w| w[0] >= w[1]) {
        return Err(corrupt("draining addresses out of order".into()));
    }
    if let Some(&a) = drain
        .iter()
        .find(|&&a| pool.index(Ipv4Addr::from(a)).is_some())
    {
        return Err(corrupt(format!(
            "draining address {} is in the pool",
            Ipv4Addr::from(a)
        )));
    }
    Ok(Shape { fixed, pool, drain })
}

/// A table file's validated description: its immutable header, its pool
/// and its draining addresses (host byte order, ascending).
pub(super) struct Shape {
    pub fixed: Fixed,
    pub pool: Pool,
    pub drain: Vec<u32>,
}

impl Shape {
    pub fn sections(&self) -> Sections {
        Sections::new(
            self.fixed.slot_count,
            self.fixed.range_count,
            self.fixed.drain_count,
        )
    }
}

/// Whether `path` leads to the open file `file`.
pub(super) fn same_file(file: &File, path: &Path) -> bool {
    let (Ok(ours), Ok(now)) = (file.metadata(), fs::symlink_metadata(path)) else {
        return false;
    };
    (ours.dev(), ours.ino()) == (now.dev(), now.ino())
}

/// Whether this process's /proc speaks of the PID namespace recorded in
/// the table (the one its owner words' PIDs belong to).
pub(super) fn namespace_matches(fixed: &Fixed) -> bool {
    crate::owner::pid_namespace().is_some_and(|ns| {
        (fixed.pid_ns_ino, fixed.pid_ns_dev) != (0, 0) && ns == (fixed.pid_ns_dev, fixed.pid_ns_ino)
    })
}

pub(super) fn flock(file: &File, op: libc::c_int, path: &Path) -> Result<(), TableError> {
    cutil::flock(file, op).map_err(io_err(path, "flock"))
}

pub(super) fn open_file(path: &Path) -> io::Result<File> {
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
    Sections::new(pool.size(), pool.ranges().len() as u32, 0).total as u64
}

/// Free bytes on the filesystem holding `dir`, for messages.
pub(super) fn free_bytes(dir: &Path) -> Option<u64> {
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
pub(super) fn temp_prefix(path: &Path) -> String {
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
pub(super) fn remove_abandoned_temps(path: &Path) {
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
pub(super) fn new_temp(path: &Path, me: Owner) -> Result<(File, Option<PathBuf>), TableError> {
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
pub(super) fn link_unnamed(file: &File, to: &Path) -> io::Result<()> {
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

/// A lease a new table starts with: carried over from the table it
/// replaces, or found in the kernel ([`crate::kernel`]).
#[derive(Clone, Debug)]
pub struct Seed {
    /// Host byte order.
    pub addr: u32,
    pub owner: Owner,
    /// Its display record: since when, and what the session told.
    pub record: Option<(u32, SessionInfo)>,
}

/// What a new table holds: the pool, its definition as written and when
/// it was read, and the leases it starts with. A seed outside the pool
/// becomes a draining slot.
pub(super) struct NewTable<'a> {
    pub pool: &'a Pool,
    pub spec: &'a str,
    pub defined_ms: u64,
    pub seeds: &'a [Seed],
    /// Cluster mode: the table starts fenced (its claim deadline long
    /// past) with every free slot sealed, so that nothing is claimed in it
    /// until an agent has verified a renewal and unsealed the blocks the
    /// ledger names this server for (protocol I7).
    pub cluster: bool,
    /// Cluster mode: the hang deadline of the table this one replaces (0
    /// if none or unknown), carried so that its sessions still hang up in
    /// time if no agent follows the new table.
    pub hang_deadline_ns: u64,
}

/// Write a complete new table, with all its space allocated, in a file
/// that has no name yet (or a temporary one), then give it its name:
/// a link (fails if another process got there first) for a new table, a
/// rename (atomic replace) for a reset. No process can ever open a
/// half-written table, and a table never runs out of room once in place
/// (tmpfs allocates pages on first touch, reads included; a full one would
/// raise SIGBUS). A process that dies while writing leaves nothing, or a
/// temporary name that the next creation or reset removes.
///
/// Returns the new file, still locked exclusively, once it has the name
/// (`None`: another process made the table first), so that its maker can
/// map it before anyone could delete the name again.
pub(super) fn create_file(
    path: &Path,
    new: &NewTable,
    replace: bool,
) -> Result<Option<File>, TableError> {
    let (pool, spec) = (new.pool, new.spec);
    let cluster = new.cluster || agent_lock_of(path).is_some_and(|p| p.exists());
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
        let mut drain: Vec<u32> = new
            .seeds
            .iter()
            .map(|s| s.addr)
            .filter(|&a| pool.index(Ipv4Addr::from(a)).is_none())
            .collect();
        drain.sort_unstable();
        drain.dedup();
        let d = drain.len() as u32;
        let sec = Sections::new(n, pool.ranges().len() as u32, d);
        // SAFETY: posix_fallocate on a descriptor we own; it returns an
        // error number rather than setting errno.
        let r = unsafe { libc::posix_fallocate(file.as_raw_fd(), 0, sec.total as libc::off_t) };
        match r {
            0 => {}
            libc::ENOSPC | libc::EFBIG | libc::EDQUOT => {
                return Err(TableError::NoSpace {
                    path: path.to_path_buf(),
                    need: sec.total as u64,
                    slots: n + d,
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
            drain_count: d,
            file_size: sec.total as u64,
            created: u64::from(now()),
            boot_id: boot_id(),
            spec_len: 0,
            _pad2: 0,
            spec: [0; SPEC_MAX],
            pid_ns_dev: ns_dev,
            pid_ns_ino: ns_ino,
            defined_ms: new.defined_ms,
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
        let dbytes: Vec<u8> = drain.iter().flat_map(|a| a.to_ne_bytes()).collect();
        file.write_all_at(&dbytes, sec.drain as u64)
            .map_err(io_err(&shown, "write"))?;
        let mut bitmap: Vec<u64> = (0..crate::protocol::bitmap_words(n + d))
            .map(|w| crate::protocol::initial_hint(w, n))
            .collect();
        // Free words are zero (fallocate's zeros), or sealed in cluster
        // mode; the seeds' words are their owners'.
        let free = if cluster { crate::word::SEALED } else { 0 };
        let mut owners = vec![free; (n + d) as usize];
        let mut seeded = std::collections::HashSet::new();
        for seed in new.seeds {
            let slot = match pool.index(Ipv4Addr::from(seed.addr)) {
                Some(s) => s,
                None => n + drain.binary_search(&seed.addr).expect("drained") as u32,
            };
            if !seeded.insert(slot) {
                continue; // the first seed for an address wins
            }
            bitmap[slot as usize / 64] &= !(1 << (slot % 64));
            owners[slot as usize] = seed.owner.word();
            if let Some((since, info)) = &seed.record {
                let rec = meta::record_bytes(seed.owner, *since, info);
                file.write_all_at(&rec, (sec.meta + slot as usize * rec.len()) as u64)
                    .map_err(io_err(&shown, "write"))?;
            }
        }
        let owners: Vec<u8> = owners.iter().flat_map(|w| w.to_ne_bytes()).collect();
        file.write_all_at(&owners, sec.owners as u64)
            .map_err(io_err(&shown, "write"))?;
        if cluster {
            file.write_all_at(&CLUSTER_BIRTH_DEADLINE_NS.to_ne_bytes(), CLAIM_DEADLINE_AT)
                .map_err(io_err(&shown, "write"))?;
            file.write_all_at(&new.hang_deadline_ns.to_ne_bytes(), HANG_DEADLINE_AT)
                .map_err(io_err(&shown, "write"))?;
        }
        let bitmap: Vec<u8> = bitmap.iter().flat_map(|w| w.to_ne_bytes()).collect();
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
    Ok(result?.then_some(file))
}

/// Milliseconds of `CLOCK_BOOTTIME`: one clock for every process of this
/// boot, suspend included.
pub fn boot_ms() -> u64 {
    boot_ns() / 1_000_000
}

/// Nanoseconds of `CLOCK_BOOTTIME` (the cluster mode's deadlines).
pub fn boot_ns() -> u64 {
    // SAFETY: timespec is plain data, filled by clock_gettime.
    let mut ts: libc::timespec = unsafe { std::mem::zeroed() };
    // SAFETY: as above; CLOCK_BOOTTIME always exists on Linux.
    unsafe { libc::clock_gettime(libc::CLOCK_BOOTTIME, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

pub(super) fn open_path(path: &Path) -> Result<Option<File>, TableError> {
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
