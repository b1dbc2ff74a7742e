//! Why a table cannot be used: one error type, every variant naming the
//! file.

use super::*;

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

impl TableError {
    /// The file is ours (owner and mode) but not a table this build can
    /// trust: truncated, foreign, or with a header that does not hold
    /// together. Such a file is moved aside and the table rebuilt; a file
    /// of another layout version (an upgrade) or that is not ours is not.
    pub fn is_damage(&self) -> bool {
        matches!(
            self,
            TableError::Truncated { .. } | TableError::Foreign { .. } | TableError::Corrupt { .. }
        )
    }
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

pub(super) fn io_err<'a>(
    path: &'a Path,
    op: &'static str,
) -> impl FnOnce(io::Error) -> TableError + 'a {
    move |err| TableError::Io {
        path: path.to_path_buf(),
        op,
        err,
    }
}
