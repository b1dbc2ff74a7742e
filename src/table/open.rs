//! Opening a table: create, validate, reset (for a new boot, pool or PID
//! namespace), roll back a reset a dead process left, and check later
//! that the file is still the one mapped.

use super::*;

/// How long `open` waits for a live resetter that lost its lock.
const RESET_WAIT: std::time::Duration = std::time::Duration::from_secs(10);
/// How far in the future a table's definition time may be and still be
/// followed.
const FUTURE_SLACK_MS: u64 = 60_000;
/// How long a process that finds no table waits, while a watchdog runs
/// for it, for the watchdog to make it again (it looks every second).
const WATCHDOG_WAIT: std::time::Duration = std::time::Duration::from_millis(1500);
/// How long a process whose table was superseded waits, when the name is
/// gone, for a process mapping the successor to make it again (I6),
/// before it makes one from the kernel's sessions: longer than the
/// plugin's check interval.
const STALE_WAIT: std::time::Duration = std::time::Duration::from_secs(4);

/// A pool definition as a pppd read it: the pool, the text as written
/// (for messages) and when it was read (unix milliseconds). Of two
/// definitions, the newer wins.
#[derive(Clone, Copy, Debug)]
pub struct Definition<'a> {
    pub pool: &'a Pool,
    pub spec: &'a str,
    pub defined_ms: u64,
    /// Cluster mode (`rasstatic-cluster`): a table made for this
    /// definition is born fenced and sealed (see [`Table::is_cluster`]).
    pub cluster: bool,
}

/// Unix time in milliseconds.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

impl Table {
    /// Open the table `name` in `dir` for `pool` (`spec` as written), as
    /// a definition read now: see [`Table::open_as`].
    pub fn open(
        dir: &Path,
        name: &str,
        pool: &Pool,
        spec: &str,
    ) -> Result<(Table, Opened), TableError> {
        let def = Definition {
            pool,
            spec,
            defined_ms: now_ms(),
            cluster: false,
        };
        Table::open_as(dir, name, &def)
    }

    /// Open the table `name` in `dir` for the definition `def`.
    ///
    /// - Missing: created, with the leases of the sessions the kernel
    ///   shows ([`crate::kernel`]) entered before anyone can claim.
    /// - Written in an earlier boot, or another PID namespace's with no
    ///   live lease: rebuilt, the same way.
    /// - Damaged (truncated, foreign, corrupt; but ours by owner and
    ///   mode): refused, moved aside to `NAME.table.damaged`, and rebuilt
    ///   the same way. The live sessions re-assert their leases in it.
    /// - Holding another pool: if the table's definition is newer than
    ///   `def`, followed as it is ([`Opened::Following`]); otherwise
    ///   rebuilt for `def`, every live lease carried over: kept where its
    ///   address stays in the pool, draining where it does not.
    ///
    /// A reset that a dead process left half done is rolled back first
    /// (protocol I5).
    pub fn open_as(
        dir: &Path,
        name: &str,
        def: &Definition,
    ) -> Result<(Table, Opened), TableError> {
        Table::open_as_inner(dir, name, def, true).map(|t| t.expect("a missing table is created"))
    }

    /// As [`Table::open_as`], but `Ok(None)` where the table is missing
    /// rather than creating it.
    pub fn open_as_existing(
        dir: &Path,
        name: &str,
        def: &Definition,
    ) -> Result<Option<(Table, Opened)>, TableError> {
        Table::open_as_inner(dir, name, def, false)
    }

    fn open_as_inner(
        dir: &Path,
        name: &str,
        def: &Definition,
        create: bool,
    ) -> Result<Option<(Table, Opened)>, TableError> {
        let (pool, spec) = (def.pool, def.spec);
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
                if !create {
                    return Ok(None);
                }
                // Deleted while a watchdog runs: it maps the table, and
                // makes it again within its check if it held live leases
                // (I6), which a table made here from the kernel alone
                // would miss for calls still negotiating. Give it that
                // long first.
                if started.elapsed() < WATCHDOG_WAIT
                    && crate::watchdog::running(dir, name).is_some()
                {
                    std::thread::sleep(std::time::Duration::from_millis(10));
                    continue;
                }
                let seeds = kernel_seeds(pool, &[]);
                let new = NewTable {
                    pool,
                    spec,
                    defined_ms: def.defined_ms,
                    seeds: &seeds,
                    cluster: def.cluster,
                    hang_deadline_ns: 0,
                };
                if let Some(f) = create_file(&path, &new, false)? {
                    log::info!(
                        "created table {} for pool {} ({} addresses, {} bytes){}",
                        path.display(),
                        pool,
                        pool.size(),
                        table_size(pool),
                        entered(&seeds)
                    );
                    if how == Opened::Existing {
                        how = Opened::Created;
                    }
                    // Mapped from the file made, not reopened by name: the
                    // name may be gone again already.
                    return Table::map_new(f, path).map(|t| Some((t, how)));
                }
                continue;
            };
            flock(&file, libc::LOCK_SH, &path)?;
            let t = match Table::map(file, path.clone()) {
                Ok(t) => t,
                Err(e) if e.is_damage() => {
                    if let Some(aside) = set_aside(&path, &e)? {
                        how = Opened::Rebuilt {
                            why: e.to_string(),
                            aside,
                        };
                    }
                    continue;
                }
                Err(e) => return Err(e),
            };
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
            // The newer definition wins; on a tie, the table's (the first
            // written), so that two pppds cannot take turns.
            // A definition from the future (a clock stepped back, a file
            // not written by a pppd) is not followed.
            let follow = t.pool != *pool
                && t.defined_ms() >= def.defined_ms
                && t.defined_ms() <= now_ms().saturating_add(FUTURE_SLACK_MS);
            let fits = t.pool == *pool || follow;
            if state == ResetState::InUse && !stale_boot && fits && !foreign {
                flock(&t._file, libc::LOCK_UN, &path)?;
                if follow && how == Opened::Existing {
                    log::warn!(
                        "table {} holds pool {} (\"{}\"), defined after this pppd read its own, {} (\"{}\"): following it",
                        path.display(),
                        t.pool,
                        t.spec(),
                        pool,
                        spec
                    );
                    how = Opened::Following {
                        ours: format!("{spec} ({pool})"),
                    };
                }
                return Ok(Some((t, how)));
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
            if !stale_boot && fits && !foreign {
                // Only a roll-back was needed.
                if !protocol::roll_back_reset(reset, seen) {
                    continue;
                }
                flock(&t._file, libc::LOCK_UN, &path)?;
                return Ok(Some((t, how)));
            }
            let me = Owner::current().map_err(io_err(&path, "read this process's identity"))?;
            if !protocol::begin_reset(reset, seen, me) {
                continue;
            }
            let old = t.pool.to_string();
            // After announcing the reset: a claim that lands after this
            // sees it and moves to the new file (I5). An earlier boot's
            // leases are not carried (its processes are gone; the kernel
            // tells what survived).
            let carried = if stale_boot { Vec::new() } else { t.carry() };
            if foreign && !carried.is_empty() {
                protocol::roll_back_reset(reset, me.word());
                return Err(TableError::ForeignPidNs {
                    path,
                    leased: Some(carried.len() as u32),
                });
            }
            let mut seeds = carried;
            let old_addrs = |a: u32| !stale_boot && t.any_slot_of(Ipv4Addr::from(a)).is_some();
            let from_kernel = kernel_seeds_with(pool, &seeds, &old_addrs);
            seeds.extend(from_kernel.iter().cloned());
            // A table once in cluster mode stays so, whoever resets it.
            let new = NewTable {
                pool,
                spec,
                defined_ms: def.defined_ms,
                seeds: &seeds,
                cluster: def.cluster || t.is_cluster(),
                // CLOCK_BOOTTIME of an earlier boot means nothing now.
                hang_deadline_ns: if stale_boot { 0 } else { t.deadlines().1 },
            };
            let f = match create_file(&path, &new, true) {
                Ok(f) => f.expect("a rename replaces"),
                Err(e) => {
                    protocol::roll_back_reset(reset, me.word());
                    return Err(e);
                }
            };
            t.live().superseded.store(1, Ordering::SeqCst);
            let kept = seeds
                .iter()
                .filter(|s| pool.index(Ipv4Addr::from(s.addr)).is_some())
                .count() as u32;
            let draining = seeds.len() as u32 - kept;
            if stale_boot {
                log::warn!(
                    "table {} was written in an earlier boot; reset it{}",
                    path.display(),
                    entered(&from_kernel)
                );
                how = Opened::ResetBoot;
            } else if foreign {
                log::warn!(
                    "table {} belonged to another PID namespace and had no leases; rebuilt it for this one{}",
                    path.display(),
                    entered(&from_kernel)
                );
                how = Opened::ResetPool {
                    old: format!("{old} (another PID namespace's)"),
                    kept,
                    draining,
                };
            } else {
                log::warn!(
                    "table {} held pool {} (\"{}\"); rebuilt it for pool {} (\"{}\"): {} live lease(s) kept, {} draining{}",
                    path.display(),
                    old,
                    t.spec(),
                    pool,
                    spec,
                    kept,
                    draining,
                    entered(&from_kernel)
                );
                how = Opened::ResetPool {
                    old,
                    kept,
                    draining,
                };
            }
            return Table::map_new(f, path).map(|t| Some((t, how)));
        }
        Err(TableError::Busy {
            path,
            resetter: None,
        })
    }

    /// This table's live leases (pool and draining slots), as seeds for
    /// the table that replaces it. Every owner word is read with a
    /// read-modify-write, after the reset word was set: the resetter's
    /// half of the Dekker pair with claims (I5). Where liveness cannot be
    /// judged here (another PID namespace's table) every lease counts as
    /// live, and the caller refuses to replace the table.
    pub(super) fn carry(&self) -> Vec<Seed> {
        let live = self.liveness();
        let mut out = Vec::new();
        for slot in 0..self.total() {
            let w = self.owners()[slot as usize].fetch_or(0, Ordering::SeqCst);
            let Some(o) = Owner::from_word(w).filter(|&o| live.is_alive(o)) else {
                continue;
            };
            let l = self.lease(slot);
            out.push(Seed {
                addr: u32::from(l.addr),
                owner: o,
                record: l.meta.map(|m| {
                    (
                        m.since,
                        SessionInfo {
                            peer: m.peer,
                            ifname: m.ifname,
                            device: m.device,
                            proxyarp: m.proxyarp,
                        },
                    )
                }),
            });
        }
        out
    }

    /// Whether a successor of this table got the table's name (see
    /// [`Live::superseded`]).
    pub fn superseded(&self) -> bool {
        self.live().superseded.load(Ordering::SeqCst) != 0
    }

    /// I6: make this table again at its name, which no longer leads to it
    /// (the file was deleted), from its live leases and the kernel's
    /// sessions. Under this file's exclusive lock: its reset word is set
    /// first (so a claim racing this gives its address back, as with a
    /// reset, I5), then every owner word is read with a read-modify-write,
    /// then the new file is linked to the name; if another process made
    /// one first, the leases are entered into that one where free (a live
    /// holder there is a conflict, settled by the sessions' own checks).
    /// Then this table is marked superseded. Nothing is done when a
    /// successor exists already, a live process is at it, or this process
    /// cannot judge the holders (another PID namespace), or another
    /// process holds the lock (it never waits for it). `Ok(Some(t))`: this
    /// process made the table, mapped as `t`.
    pub fn recreate(&self) -> Result<Option<Table>, TableError> {
        if !self.liveness_known || self.superseded() {
            return Ok(None);
        }
        // Never wait for the lock in pppd's main loop: whoever holds it
        // is at this very work.
        if cutil::flock(&self._file, libc::LOCK_EX | libc::LOCK_NB).is_err() {
            return Ok(None);
        }
        let r = self.recreate_locked();
        flock(&self._file, libc::LOCK_UN, &self.path)?;
        r
    }

    fn recreate_locked(&self) -> Result<Option<Table>, TableError> {
        if self.superseded() || self.still_named() {
            return Ok(None);
        }
        let reset = &self.live().retired;
        let word = reset.load(Ordering::SeqCst);
        // The lock proves an earlier recreator or resetter let go: one
        // that is dead left its word; take it over.
        let seen = match Owner::from_word(word) {
            None => 0,
            Some(o) if !o.is_alive() => word,
            Some(_) => return Ok(None),
        };
        let me = Owner::current().map_err(io_err(&self.path, "read this process's identity"))?;
        if !protocol::begin_reset(reset, seen, me) {
            return Ok(None);
        }
        let mut seeds = self.carry();
        let ours = |a: u32| self.any_slot_of(Ipv4Addr::from(a)).is_some();
        seeds.extend(kernel_seeds_with(&self.pool, &seeds, &ours));
        // Made even with no lease to carry: whoever maps this table now
        // waits for its successor's name (see `current`).
        let made = match self.make_successor(&seeds, self.is_cluster(), self.deadlines().1) {
            Ok(m) => m,
            Err(e) => {
                protocol::roll_back_reset(reset, me.word());
                return Err(e);
            }
        };
        if made.is_none() {
            self.merge_into_named(&seeds);
        }
        // The successor has the name: superseded, before anything else can
        // fail.
        self.live().superseded.store(1, Ordering::SeqCst);
        match made {
            Some(f) => {
                log::warn!(
                    "{} was deleted; made it again with the {} live lease(s) it held and the kernel's sessions",
                    self.path.display(),
                    seeds.len()
                );
                Table::map_new(f, self.path.clone()).map(Some)
            }
            None => Ok(None),
        }
    }

    /// Enter `seeds` into the table the name leads to now, each where its
    /// address is free or held by a dead process (re-assert on the
    /// holder's behalf, I2).
    fn merge_into_named(&self, seeds: &[Seed]) {
        let (Some(dir), Some(name)) = (
            self.path.parent(),
            self.path
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_suffix(".table")),
        ) else {
            return;
        };
        let named = match Table::open_existing(dir, name) {
            Ok(t) => t,
            Err(e) => {
                log::error!(
                    "{} was deleted and made again by another process, but that table cannot be opened ({e}); its sessions re-enter their own leases within seconds",
                    self.path.display()
                );
                return;
            }
        };
        let (mut entered, mut taken, mut sealed, mut ended) = (0, 0, 0, 0);
        for seed in seeds {
            let Some(slot) = named.any_slot_of(Ipv4Addr::from(seed.addr)) else {
                continue;
            };
            let live = named.liveness();
            match named.all_slots().carry_in(slot, seed.owner, |x| {
                x.iface().is_some_and(|(_, p)| p == seed.addr) || !live.is_alive(x)
            }) {
                Ok(Some(true)) => entered += 1,
                Ok(Some(false)) => {}
                // Its session moved to that table and released it there
                // since: not brought back to life.
                Ok(None) => ended += 1,
                // Cluster mode: its session re-enters it once the agent
                // unsealed its block (or hangs up).
                Err(None) => sealed += 1,
                Err(Some(other)) => {
                    taken += 1;
                    log::error!(
                        "{} was deleted and made again by another process; {} is leased there to pid {} but was pid {}'s",
                        self.path.display(),
                        Ipv4Addr::from(seed.addr),
                        other.pid(),
                        seed.owner.pid()
                    );
                }
            }
        }
        log::warn!(
            "{} was deleted and made again by another process; entered {entered} live lease(s) of the deleted file into it ({taken} taken meanwhile{}{})",
            self.path.display(),
            if ended > 0 {
                format!(", {ended} released there since by their own sessions")
            } else {
                String::new()
            },
            if sealed > 0 {
                format!(", {sealed} sealed: left to their sessions")
            } else {
                String::new()
            }
        );
    }

    /// The table a process that maps this one should use now: `None`
    /// while this one's name still leads to it and it is not retired;
    /// otherwise, once whoever replaces it is done (waiting for a live
    /// resetter, making a deleted table again from this mapping, I6), the
    /// table the name leads to, opened for `def`.
    pub fn current(
        &self,
        dir: &Path,
        name: &str,
        def: &Definition,
    ) -> Result<Option<(Table, Opened)>, TableError> {
        let started = std::time::Instant::now();
        while self.replaced() {
            if self.liveness_known && !self.superseded() {
                let word = self.live().retired.load(Ordering::SeqCst);
                match Owner::from_word(word) {
                    // A live process is resetting or making it again.
                    Some(o) if o.is_alive() => {
                        if started.elapsed() > RESET_WAIT {
                            return Err(TableError::Busy {
                                path: self.path.clone(),
                                resetter: Some(o.pid()),
                            });
                        }
                        std::thread::sleep(std::time::Duration::from_millis(5));
                        continue;
                    }
                    // Deleted (or a dead recreator's work to take over):
                    // make it again, and use what was made.
                    _ if !self.still_named() => {
                        if let Some(t) = self.recreate()? {
                            return Ok(Some((t, Opened::Existing)));
                        }
                        if !self.superseded() {
                            // Another process holds the lock, at this work.
                            if started.elapsed() > RESET_WAIT {
                                return Err(TableError::Busy {
                                    path: self.path.clone(),
                                    resetter: None,
                                });
                            }
                            std::thread::sleep(std::time::Duration::from_millis(5));
                            continue;
                        }
                    }
                    // A dead resetter's: `open_as` rolls it back.
                    _ => {}
                }
            }
            if self.superseded() && started.elapsed() < STALE_WAIT {
                // Stale: a successor got the name. If the name is gone, a
                // process mapping that successor makes it again (I6); a
                // table made from nothing meanwhile would miss its leases.
                // So open only what exists, for a while: the watchdog
                // looks every second, a pppd every three.
                match Table::open_as_existing(dir, name, def) {
                    Ok(Some(t)) => return Ok(Some(t)),
                    Ok(None) => {
                        std::thread::sleep(std::time::Duration::from_millis(5));
                        continue;
                    }
                    Err(e) => return Err(e),
                }
            }
            return Table::open_as(dir, name, def).map(Some);
        }
        Ok(None)
    }

    /// Move a table file damaged in place aside and build a new one from
    /// this table's definition and the kernel's sessions. For the
    /// watchdog, whose mapping is the damaged file (its owner words are
    /// not trusted). `Ok(None)` when the name no longer leads to it.
    pub fn rebuild_damaged(&self, why: &TableError) -> Result<Option<PathBuf>, TableError> {
        let Some(aside) = set_aside(&self.path, why)? else {
            return Ok(None);
        };
        // The mapping may be shorter than the header now: read the claim
        // deadline with pread (a failure reads as standalone; the agent's
        // lock file beside the table still makes it cluster, see
        // `create_file`).
        // Nothing of the damaged file is trusted, its deadlines neither: a
        // cluster's table is made in cluster mode by the agent's lock file
        // beside it (see `create_file`), and its pppds keep the latest hang
        // deadline they saw.
        self.make_successor(&kernel_seeds(&self.pool, &[]), false, 0)?;
        Ok(Some(aside))
    }

    /// A new table at this table's name, if the name is free, of this
    /// table's definition and starting with `seeds` (see `create_file`).
    fn make_successor(
        &self,
        seeds: &[Seed],
        cluster: bool,
        hang_deadline_ns: u64,
    ) -> Result<Option<File>, TableError> {
        let spec = self.spec();
        let new = NewTable {
            pool: &self.pool,
            spec: &spec,
            defined_ms: self.defined_ms(),
            seeds,
            cluster,
            hang_deadline_ns,
        };
        create_file(&self.path, &new, false)
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

    /// Map a table file this process just made and named (still locked
    /// exclusively), and let go of the lock.
    fn map_new(file: File, path: PathBuf) -> Result<Table, TableError> {
        let t = Table::map(file, path)?;
        flock(&t._file, libc::LOCK_UN, &t.path)?;
        Ok(t)
    }

    pub(super) fn map(file: File, path: PathBuf) -> Result<Table, TableError> {
        let shape = read_and_validate(&file, &path)?;
        let sec = shape.sections();
        let map = Mapping::new(&file, sec.total, &path)?;
        let Shape { fixed, pool, drain } = shape;
        let liveness_known = namespace_matches(&fixed);
        let md = file.metadata().map_err(io_err(&path, "fstat"))?;
        Ok(Table {
            path,
            id: (md.dev(), md.ino()),
            _file: file,
            map,
            pool,
            drain,
            fixed,
            sec,
            liveness_known,
            held: AtomicU64::new(0),
        })
    }

    /// Whether the table's name still leads to this file (protocol I6: a
    /// claimer checks this after its compare-and-swap).
    pub fn still_named(&self) -> bool {
        fs::symlink_metadata(&self.path).is_ok_and(|m| (m.dev(), m.ino()) == self.id)
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
        let Shape { fixed, pool, drain } = read_and_validate(&self._file, &self.path)?;
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
            && fixed.drain_count == a.drain_count
            && fixed.defined_ms == a.defined_ms
            && pool == self.pool
            && drain == self.drain;
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
        self.is_retired() || !self.still_named()
    }
}

/// " (N session leases entered from the kernel)", or nothing.
fn entered(seeds: &[Seed]) -> String {
    match seeds.len() {
        0 => String::new(),
        n => format!("; entered {n} lease(s) of live sessions found in the kernel"),
    }
}

/// The kernel's sessions whose peer address is in `pool`, as seeds.
fn kernel_seeds(pool: &Pool, have: &[Seed]) -> Vec<Seed> {
    kernel_seeds_with(pool, have, &|_| false)
}

/// The kernel's sessions whose peer address is in `pool` or passes
/// `also` (an old table's addresses, which become draining), except
/// addresses `have` already holds, as seeds. A session whose pppd cannot
/// be named is held by its interface ([`Owner::interface`]).
fn kernel_seeds_with(pool: &Pool, have: &[Seed], also: &dyn Fn(u32) -> bool) -> Vec<Seed> {
    let mut out: Vec<Seed> = Vec::new();
    for p in crate::kernel::peers() {
        let a = u32::from(p.peer);
        if pool.index(p.peer).is_none() && !also(a) {
            continue;
        }
        if let Some(h) = have.iter().find(|s| s.addr == a) {
            if p.pppd.is_some_and(|o| o != h.owner) {
                log::error!(
                    "{} is on {} (pppd pid {}) but the table leases it to pid {}: two sessions with one address",
                    p.peer,
                    p.ifname,
                    p.pppd.map_or(0, |o| o.pid()),
                    h.owner.pid()
                );
            }
            continue;
        }
        if out.iter().any(|s| s.addr == a) {
            continue;
        }
        if p.pppd.is_none() && p.ifindex >= 1 << crate::word::PID_BITS {
            log::warn!(
                "{} is on {} but no live pppd is named by its pid file, and its interface index {} is too large to record: not entered; its pppd re-enters it",
                p.peer,
                p.ifname,
                p.ifindex
            );
            continue;
        }
        if p.pppd.is_none() {
            log::warn!(
                "{} is on {} but no live pppd is named by its pid file; it stays leased to the interface while the interface has it",
                p.peer,
                p.ifname
            );
        }
        out.push(Seed {
            addr: a,
            owner: p.owner(),
            record: Some((
                now(),
                SessionInfo {
                    peer: String::new(),
                    ifname: p.ifname,
                    device: String::new(),
                    proxyarp: false,
                },
            )),
        });
    }
    out
}

/// Where a damaged table file is kept for the administrator.
pub fn aside_path(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(".damaged");
    PathBuf::from(s)
}

/// Move the damaged file at `path` aside (`why` says what is wrong with
/// it), under its exclusive lock and only while the name still leads to a
/// file that fails validation, so a good table another process just
/// made is never moved. `Ok(None)`: nothing to move any more.
fn set_aside(path: &Path, why: &TableError) -> Result<Option<PathBuf>, TableError> {
    let Some(file) = open_path(path)? else {
        return Ok(None);
    };
    flock(&file, libc::LOCK_EX, path)?;
    match read_and_validate(&file, path) {
        Err(e) if e.is_damage() => {}
        Err(e) => return Err(e),
        Ok(_) => return Ok(None),
    }
    if !same_file(&file, path) {
        return Ok(None);
    }
    let aside = aside_path(path);
    fs::rename(path, &aside).map_err(io_err(path, "rename"))?;
    log::error!(
        "{why}; moved it to {} and rebuilt the table from the kernel's sessions (live sessions re-enter their leases)",
        aside.display()
    );
    Ok(Some(aside))
}
