//! The watchdog: frees a lease within milliseconds of its holder dying
//! without releasing it (SIGKILL, a crash, the OOM killer), and removes what
//! the dead session left in the kernel: its proxy-ARP entry and a host route
//! to its address.
//!
//! # How it learns of a death
//! Every [`SCAN`] it reads the free-bitmap and the owner word of every slot
//! whose bit is clear (probably leased), so an idle watchdog's cost does
//! not grow with the pool. The protocol keeps a leased slot's bit clear
//! except for a few instructions at a time (a claim clears it right after its
//! compare-and-swap; a release sets it and then looks again; see
//! [`crate::protocol::Slots`]); a process killed inside those instructions
//! can leave a leased slot's bit set, and every [`FULL_SCAN`] the watchdog
//! reads every owner word to find such a holder too. For each holder it
//! has not seen it opens a pidfd (`pidfd_open`, Linux 5.3) and only then
//! checks the holder's (PID, start time) identity: if the identity still
//! matches, the pidfd is the holder's and not a process that reused its
//! PID. A pidfd becomes readable when its process exits, so epoll wakes the
//! watchdog at once. A holder that dies before any scan saw it is found by
//! the next scan (no such process, or another start time). Without pidfds
//! (an older kernel, or out of descriptors) each holder's identity is
//! checked at every scan instead. A bare PID is never acted on.
//!
//! # What it does with a dead holder
//! Frees the slot, and removes from the kernel, for that one address only:
//! the proxy-ARP entries, if the lease records `proxyarp`, and routes to the
//! address/32 in the main table through the interface the lease records.
//! Both only while no live session holds the address: the route is
//! targeted by the dead session's interface index, looked up before the
//! lease is freed; for a proxy-ARP entry (which names only the address and
//! the LAN) the watchdog seizes the lease (protocol I2: a reap and a claim
//! in one step), removes the entry, then frees the lease.
//!
//! # Correctness does not depend on it
//! It only ever calls the protocol's reap. If it is not running, the next
//! claim that finds the pool full reaps, and `rasstatic reap` does too.
//!
//! # Life
//! One per table, by an exclusive flock on `<dir>/<name>.watchdog`
//! ([`lock`]). The plugin starts one on demand ([`spawn`]); `rasstatic
//! watchdog` runs one in the foreground. It does not exit when the table is
//! idle: pppd processes come and go at any time, and a sleeping watchdog
//! costs one wake-up per scan. It exits on SIGTERM or SIGINT, and when it
//! must refuse the table (logged; the plugin refuses it too, so no pppd is
//! running to start it again). SIGHUP makes it reopen the table.

pub mod lock;
pub mod net;
mod os;
pub mod spawn;

use std::collections::HashMap;
use std::io;
use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::cutil::cerr;
use crate::owner::{Owner, OWNED};
use crate::protocol::{EndedBy, ProcLiveness};
use crate::table::{LeaseState, Table, TableError};
use os::*;

pub use lock::{lock_path, running, Lock};

/// How often the owner words are scanned for new holders. A holder that
/// dies between two scans, before it was seen, is reaped at the next one.
pub const SCAN: Duration = Duration::from_millis(50);
/// How often the watchdog checks that its table file is still the one at
/// its path, and retries a missing table.
const RECHECK: Duration = Duration::from_secs(1);
/// How often every owner word is read, for holders whose free-bitmap bit
/// was left set by a process killed mid-update.
pub const FULL_SCAN: Duration = Duration::from_secs(5);
/// How long a table the watchdog watched may stay missing before it exits.
pub const GONE: Duration = Duration::from_secs(10);
const SIGNAL_TOKEN: u64 = u64::MAX;

/// Which table, and how often to scan it.
#[derive(Clone, Debug)]
pub struct Settings {
    pub dir: PathBuf,
    pub name: String,
    pub scan: Duration,
}

impl Settings {
    pub fn new(dir: &Path, name: &str) -> Settings {
        Settings {
            dir: dir.to_path_buf(),
            name: name.to_string(),
            scan: SCAN,
        }
    }
}

/// One watched holder.
struct Entry {
    owner: u64,
    /// `None`: no pidfd; checked by identity at each scan.
    pidfd: Option<OwnedFd>,
}

/// The watchdog's view of one open table.
struct Watcher {
    table: Table,
    /// This process, as a lease holder (for seizing).
    me: Owner,
    watched: HashMap<u32, Entry>,
    pidfds: bool,
    warned_fds: bool,
    net: Option<net::Netlink>,
    /// When every owner word was last read.
    last_full: Instant,
}

impl Watcher {
    fn new(table: Table, me: Owner) -> Watcher {
        Watcher {
            table,
            me,
            watched: HashMap::new(),
            pidfds: true,
            warned_fds: false,
            net: None,
            // The first scan reads every word.
            last_full: Instant::now() - FULL_SCAN,
        }
    }

    /// Watch every holder not yet watched; check the pidfd-less ones.
    /// Reads the owner words of slots the free-bitmap calls leased, and
    /// every [`FULL_SCAN`] all of them.
    fn scan(&mut self, ep: &OwnedFd) {
        let full = self.last_full.elapsed() >= FULL_SCAN;
        if full {
            self.last_full = Instant::now();
        }
        let n = self.table.total();
        let words = crate::protocol::bitmap_words(n) as u32;
        for wi in 0..words {
            let free = if full {
                0
            } else {
                self.table.all_slots().bitmap[wi as usize]
                    .load(std::sync::atomic::Ordering::Relaxed)
            };
            let mut leased = !free;
            while leased != 0 {
                let b = leased.trailing_zeros();
                leased &= leased - 1;
                let slot = wi * 64 + b;
                if slot >= n {
                    break;
                }
                let w = self.table.word(slot);
                if w & OWNED == 0 {
                    continue;
                }
                if self.watched.get(&slot).is_some_and(|e| e.owner == w) {
                    continue;
                }
                self.watch(ep, slot, w);
            }
        }
        // Forget released slots; check the holders without a pidfd.
        let mut check = Vec::new();
        self.watched.retain(|&slot, e| {
            let word = self.table.word(slot);
            if word != e.owner {
                return false;
            }
            if e.pidfd.is_none() {
                check.push(slot);
            }
            true
        });
        for slot in check {
            let owner = self.watched[&slot].owner;
            if Owner::from_word(owner).is_some_and(|o| !o.is_alive()) {
                self.watched.remove(&slot);
                self.dead(slot, owner);
            }
        }
    }

    fn watch(&mut self, ep: &OwnedFd, slot: u32, word: u64) {
        let Some(owner) = Owner::from_word(word) else {
            return;
        };
        self.watched.remove(&slot);
        let mut pidfd = None;
        // An interface lease has no process: checked at every scan.
        if self.pidfds && owner.iface().is_none() {
            match pidfd_open(owner.pid()) {
                Ok(fd) => pidfd = Some(fd),
                Err(e) if e.raw_os_error() == Some(libc::ESRCH) => {
                    self.dead(slot, word);
                    return;
                }
                Err(e) if e.raw_os_error() == Some(libc::ENOSYS) => {
                    log::warn!("no pidfds on this kernel (Linux 5.3 or later has them): checking lease holders every {} ms instead", SCAN.as_millis());
                    self.pidfds = false;
                }
                Err(e) => {
                    if !self.warned_fds {
                        log::warn!(
                            "pidfd_open: {e}: checking some lease holders every {} ms instead",
                            SCAN.as_millis()
                        );
                        self.warned_fds = true;
                    }
                }
            }
        }
        // Identity after opening: if it still matches, the pidfd is the
        // holder's (not a process that reused its PID).
        if !owner.is_alive() {
            self.dead(slot, word);
            return;
        }
        if let Some(fd) = &pidfd {
            if let Err(e) = epoll_add(ep, fd.as_raw_fd(), u64::from(slot)) {
                log::warn!(
                    "epoll_ctl: {e}: checking pid {} every scan instead",
                    owner.pid()
                );
                pidfd = None;
            }
        }
        self.watched.insert(slot, Entry { owner: word, pidfd });
    }

    /// A pidfd fired: its process has exited.
    fn exited(&mut self, slot: u32) {
        let Some(e) = self.watched.remove(&slot) else {
            return;
        };
        // Released or moved (pppd's detach) meanwhile: the next scan
        // watches whoever holds it now.
        if self.table.word(slot) == e.owner {
            self.dead(slot, e.owner);
        }
    }

    /// Clean up after and free `slot`, whose holder `word` is dead.
    ///
    /// A host route is removed by the interface index the dead session
    /// had, looked up while its lease still stood, so it can only be that
    /// session's route: the lease is freed first. A proxy-ARP entry names
    /// only the address and the LAN, the same for the next session to get
    /// the address, so the lease is seized while it is removed, and freed
    /// after.
    fn dead(&mut self, slot: u32, word: u64) {
        let lease = self.table.lease(slot);
        let meta = match lease.state {
            LeaseState::Leased(o) if o.word() == word => lease.meta,
            _ => return,
        };
        let Some(owner) = Owner::from_word(word) else {
            return;
        };
        if owner.is_alive() {
            return;
        }
        let addr = lease.addr;
        let route_if = match meta.as_ref().filter(|m| !m.ifname.is_empty()) {
            Some(m) => match netlink(&mut self.net).map(|nl| nl.ifindex(&m.ifname)) {
                Some(Ok(ix)) => ix.map(|ix| (ix, m.ifname.clone())),
                Some(Err(e)) => {
                    log::warn!("cannot look up interface {}: {e}", m.ifname);
                    None
                }
                None => None,
            },
            None => None,
        };
        let proxyarp = meta.as_ref().is_some_and(|m| m.proxyarp);
        let mut cleaned = Vec::new();
        if proxyarp {
            if !self.table.seize(slot, owner, self.me) {
                return; // reaped by someone else meanwhile
            }
            cleaned.extend(self.clean_proxy_arp(slot, addr));
            if !self.table.release_seized(slot, self.me, owner) {
                log::warn!("the lease on {addr} was taken from the watchdog while it cleaned up");
            }
        } else if self
            .table
            .reap(slot, &ProcLiveness, EndedBy::ReapWatchdog)
            .is_none()
        {
            return;
        }
        if let Some((ix, name)) = route_if {
            cleaned.extend(self.clean_routes(addr, ix, &name));
        }
        let who = meta
            .as_ref()
            .map(|m| {
                let parts: Vec<&str> = [m.peer.as_str(), m.ifname.as_str(), m.device.as_str()]
                    .into_iter()
                    .filter(|p| !p.is_empty())
                    .collect();
                if parts.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", parts.join(", "))
                }
            })
            .unwrap_or_default();
        let cleaned = if cleaned.is_empty() {
            String::new()
        } else {
            format!("; removed {}", cleaned.join(", "))
        };
        log::info!(
            "reaped {addr} from pid {}{who}, which died holding it{cleaned}",
            owner.pid()
        );
    }

    /// Remove the proxy-ARP entries for `addr`, each only while the
    /// watchdog still holds the lease on `slot` it seized.
    fn clean_proxy_arp(&mut self, slot: u32, addr: Ipv4Addr) -> Vec<String> {
        let mut done = Vec::new();
        let Some(nl) = netlink(&mut self.net) else {
            return done;
        };
        let ours = || self.table.word(slot) == self.me.word();
        match nl.proxy_arp_entries(addr) {
            Ok(ifs) => {
                for i in ifs {
                    if !ours() {
                        break;
                    }
                    match nl.delete_proxy_arp(addr, i) {
                        Ok(true) => done.push(format!("proxy-ARP entry on {}", net::ifname(i))),
                        Ok(false) => {}
                        Err(e) => log::warn!(
                            "cannot remove the proxy-ARP entry for {addr} on {}: {e}",
                            net::ifname(i)
                        ),
                    }
                }
            }
            Err(e) => log::warn!("cannot list proxy-ARP entries: {e}"),
        }
        done
    }

    /// Remove routes to `addr`/32 through interface `ix` from the main
    /// table.
    fn clean_routes(&mut self, addr: Ipv4Addr, ix: i32, name: &str) -> Vec<String> {
        let mut done = Vec::new();
        let Some(nl) = netlink(&mut self.net) else {
            return done;
        };
        // One route per protocol/metric at most; a few is plenty.
        for _ in 0..8 {
            match nl.delete_host_route(addr, ix) {
                Ok(true) => done.push(format!("host route via {name}")),
                Ok(false) => break,
                Err(e) if e.raw_os_error() == Some(libc::ENODEV) => break,
                Err(e) => {
                    log::warn!("cannot remove the route to {addr} via {name}: {e}");
                    break;
                }
            }
        }
        done
    }
}

/// The watchdog's netlink socket, opened on first use.
fn netlink(net: &mut Option<net::Netlink>) -> Option<&mut net::Netlink> {
    if net.is_none() {
        match net::Netlink::open() {
            Ok(n) => *net = Some(n),
            Err(e) => {
                log::warn!("cannot clean up after dead sessions: netlink: {e}");
                return None;
            }
        }
    }
    net.as_mut()
}

/// Open the table to watch, rolling back a reset a dead process left
/// half done. `Ok(None)`: it does not exist (yet). Refused from another
/// PID namespace than its holders'.
fn open_table(s: &Settings) -> Result<Option<Table>, TableError> {
    match Table::open_recovering(&s.dir, &s.name) {
        Ok(t) => t.check_liveness().map(|()| Some(t)),
        Err(TableError::Io { err, .. }) if err.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Why the watchdog stopped other than by a signal.
#[derive(Debug)]
pub enum Failure {
    /// It had to refuse the table (corrupt, foreign, wrongly owned...):
    /// starting it again will not help until an administrator acts.
    Refused(String),
    /// Anything else (the lock file, the system).
    Other(String),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Refused(m) | Failure::Other(m) => f.write_str(m),
        }
    }
}

/// Run the watchdog for the table in `s` while holding `lock`, until
/// SIGTERM or SIGINT (`Ok`) or a failure.
pub fn run(lock: &mut Lock, s: &Settings) -> Result<(), Failure> {
    let other = Failure::Other;
    lock.record_pid()
        .map_err(|e| other(format!("{}: {e}", lock.path().display())))?;
    raise_nofile();
    let sig = signal_fd().map_err(|e| other(format!("signalfd: {e}")))?;
    // SAFETY: epoll_create1 takes no pointers; the result is checked.
    let ep = cerr(unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) })
        .map_err(|e| other(format!("epoll_create1: {e}")))?;
    // SAFETY: a new descriptor that we own.
    let ep = unsafe { OwnedFd::from_raw_fd(ep) };
    epoll_add(&ep, sig.as_raw_fd(), SIGNAL_TOKEN).map_err(|e| other(format!("epoll_ctl: {e}")))?;
    let me = Owner::current().map_err(|e| other(format!("this process's identity: {e}")))?;
    let table_path = crate::table::table_path(&s.dir, &s.name);
    log::info!(
        "watchdog started for {} (scan every {} ms)",
        table_path.display(),
        s.scan.as_millis()
    );
    let dir_id = |d: &Path| {
        use std::os::unix::fs::MetadataExt;
        std::fs::symlink_metadata(d)
            .ok()
            .map(|m| (m.dev(), m.ino()))
    };
    let dir = dir_id(&s.dir);
    let mut w: Option<Watcher> = None;
    let mut waiting_logged = false;
    // Since when a table this watchdog watched has been missing.
    let mut missing_since: Option<Instant> = None;
    let mut seen_table = false;
    let mut next_scan = Instant::now();
    let mut next_check = Instant::now();
    let mut events = vec![libc::epoll_event { events: 0, u64: 0 }; 256];
    loop {
        let now = Instant::now();
        if now >= next_check || w.is_none() && now >= next_scan {
            next_check = now + RECHECK;
            if dir_id(&s.dir) != dir {
                log::warn!(
                    "watchdog: the table directory {} was removed or replaced; exiting",
                    s.dir.display()
                );
                return Ok(());
            }
            if let Some(old) = w.as_ref().filter(|w| w.table.replaced()) {
                // Deleted: make it again at once from the deleted file,
                // which this process still maps, so that no live
                // session's lease is missing from the new one.
                // A table with no live lease is left for the next pppd,
                // so that one deleted for good lets the watchdog exit.
                if !old.table.is_retired() && !table_path.exists() && old.table.live_leases() > 0 {
                    if let Err(e) = old.table.recreate() {
                        log::error!("cannot make {} again: {e}", table_path.display());
                    }
                }
                log::info!(
                    "{} was replaced or removed; reopening",
                    table_path.display()
                );
                w = None;
            }
            if w.is_none() {
                match open_table(s) {
                    Ok(Some(t)) => {
                        log::info!("watching {} ({} addresses)", table_path.display(), t.size());
                        w = Some(Watcher::new(t, me));
                        waiting_logged = false;
                        seen_table = true;
                        missing_since = None;
                    }
                    Ok(None) if missing_since.is_some_and(|t| now - t >= GONE) => {
                        log::warn!(
                            "watchdog: {} has been gone for {} s; exiting",
                            table_path.display(),
                            GONE.as_secs()
                        );
                        return Ok(());
                    }
                    Ok(None) => {
                        if seen_table && missing_since.is_none() {
                            missing_since = Some(now);
                        }
                        if !waiting_logged {
                            log::info!("waiting for {} to be created", table_path.display());
                            waiting_logged = true;
                        }
                        next_scan = now + RECHECK;
                    }
                    Err(e) => {
                        return Err(Failure::Refused(e.to_string()));
                    }
                }
            }
        }
        if let Some(w) = w.as_mut() {
            if Instant::now() >= next_scan {
                w.scan(&ep);
                w.table.watchdog_beat(crate::table::boot_ms());
                next_scan = Instant::now() + s.scan;
            }
        }
        let timeout = next_scan
            .min(next_check)
            .saturating_duration_since(Instant::now());
        let ms = timeout.as_micros().div_ceil(1000).min(i32::MAX as u128) as i32;
        // SAFETY: events is writable for its length.
        let n = unsafe {
            libc::epoll_wait(ep.as_raw_fd(), events.as_mut_ptr(), events.len() as i32, ms)
        };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(other(format!("epoll_wait: {e}")));
        }
        // Trust the mapping only while the file is still the table it was.
        // One damaged in place is moved aside and the table rebuilt from
        // the kernel's sessions (the live ones re-enter their leases).
        if let Some(e) = w.as_ref().and_then(|w| w.table.verify().err()) {
            log::error!("{e}");
            if e.is_damage() {
                if let Err(e) = w.as_ref().expect("checked").table.rebuild_damaged(&e) {
                    log::error!("cannot rebuild {}: {e}", table_path.display());
                }
            }
            w = None;
            next_check = Instant::now();
            continue;
        }
        for ev in &events[..n as usize] {
            let token = ev.u64;
            if token == SIGNAL_TOKEN {
                while let Some(signo) = read_signal(&sig) {
                    if signo == libc::SIGHUP {
                        log::info!("SIGHUP: reopening {}", table_path.display());
                        w = None;
                        next_check = Instant::now();
                    } else {
                        log::info!("watchdog stopping (signal {signo})");
                        if let Some(w) = &w {
                            w.table.watchdog_beat(0);
                        }
                        return Ok(());
                    }
                }
            } else if let Some(w) = w.as_mut() {
                w.exited(token as u32);
            }
        }
    }
}

/// Run the watchdog in this process, in the foreground, for `rasstatic
/// watchdog`: waits while another watchdog holds the table's lock.
pub fn run_foreground(s: &Settings) -> Result<(), Failure> {
    let other =
        |e: String| Failure::Other(format!("{}: {e}", lock_path(&s.dir, &s.name).display()));
    crate::table::prepare_dir(&s.dir).map_err(|e| Failure::Refused(e.to_string()))?;
    let mut lock = match Lock::try_acquire(&s.dir, &s.name) {
        Ok(Some(l)) => l,
        Ok(None) => {
            log::warn!(
                "another watchdog (pid {}) runs for table \"{}\"; waiting for it to exit",
                running(&s.dir, &s.name).unwrap_or(0),
                s.name
            );
            Lock::acquire(&s.dir, &s.name).map_err(|e| other(e.to_string()))?
        }
        Err(e) => return Err(other(e.to_string())),
    };
    run(&mut lock, s)
}
