//! Opening a table: create, validate, reset (for a new boot, pool or PID
//! namespace), roll back a reset a dead process left, and check later
//! that the file is still the one mapped.

use super::*;

/// How long `open` waits for a live resetter that lost its lock.
const RESET_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

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

    pub(super) fn open_inspect(dir: &Path, name: &str, recover: bool) -> Result<Table, TableError> {
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

    pub(super) fn map(file: File, path: PathBuf) -> Result<Table, TableError> {
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
    pub(super) fn still_named(&self) -> bool {
        same_file(&self._file, &self.path)
    }

    /// The reset word as judged under the file's lock (I5). A resetter
    /// from an earlier boot, or one whose liveness this process cannot
    /// judge, is taken as gone: the lock already proves it let go.
    pub(super) fn reset_state(&self, stale_boot: bool) -> ResetState {
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
}
