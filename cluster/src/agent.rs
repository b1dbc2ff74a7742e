//! The agent: one per server and pool. It holds the server's registration
//! in etcd, moves blocks between the ledger and the machine's table, and
//! keeps the table's deadlines.
//!
//! The order of its steps is what keeps the invariants across the two
//! stores:
//! - a block is unsealed in the table only **after** the ledger records
//!   it as this registration's (E3, then I7);
//! - a block leaves the ledger only **after** every slot of it is sealed
//!   in the table (I7, then E2): nothing of it is leased here when another
//!   server may take it;
//! - the deadlines are raised only after a renewal etcd verified; a
//!   server cut off stops raising them, and its claims stop on their own;
//! - and only while no lease lives in a block this server does not hold
//!   (a stray: a session whose block was reclaimed while this server was
//!   cut off, or one of a pool changed under it). A stray's release
//!   leaves a free, unsealed word that the next step seals (I7); until
//!   then no claim may succeed, and the claim deadline, which has passed
//!   whenever strays can appear (after a lost registration, or at start),
//!   is not raised. Strays are sent SIGTERM, and SIGKILL
//!   [`STRAY_KILL_AFTER`] later.

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

use rasstatic::table::Table;

use crate::deadline::{Renewer, Timing};
use crate::ledger::{GiveBack, Ledger, LedgerError, Registration, Result};

/// How long a stray session has, after its SIGTERM, before SIGKILL.
pub const STRAY_KILL_AFTER: Duration = Duration::from_secs(10);

/// After joining or following a new table, how long no block is given
/// back. A session whose lease a table made anew lacks (one still
/// negotiating when the old file was deleted or damaged) makes its block
/// look empty until it re-asserts (every 3 s), or, finding its slot
/// sealed, hangs up (after 30 s): longer than both.
pub const SETTLE: Duration = Duration::from_secs(60);

/// How long a block must be seen empty, at every step, before it is given
/// back while the pool has free blocks: a block emptied by a lull is kept
/// for the next burst rather than written back and forth.
pub const HYSTERESIS: Duration = Duration::from_secs(60);

/// What one step did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Step {
    pub acquired: Vec<u32>,
    pub returned: Vec<u32>,
    pub reclaimed: Vec<u32>,
    /// The ledger work after the renewal ran out of its time
    /// ([`Agent::work_budget`]) and was cut short; the next step goes on
    /// from what the ledger says then.
    pub cut_short: bool,
}

pub struct Agent {
    ledger: Ledger,
    table: Table,
    timing: Timing,
    reg: Registration,
    /// The keepalive stream; None after it failed (reopened at the next
    /// step: a stream ends with the member it ran to, or on a timeout).
    renewer: Option<Renewer>,
    held: BTreeSet<u32>,
    /// Claimable addresses below which a block is fetched.
    pub low_water: u32,
    /// Claimable addresses above which an empty block is given back.
    pub high_water: u32,
    /// Live strays (owner words), with when each was first sent SIGTERM.
    strays: HashMap<u64, Instant>,
    /// When the last renewal etcd verified was sent (`CLOCK_BOOTTIME`).
    renewed_ns: u64,
    /// When the agent joined or last followed a new table.
    table_since: Instant,
    /// How long after that no block is given back ([`SETTLE`]; the tests
    /// and the benchmark, which start from nothing, set less).
    pub settle: Duration,
    /// Whether it resumed an earlier agent's registration at start.
    resumed: bool,
    /// How long a step's ledger work (after its renewal) may take before
    /// it is cut short: the renewal period, so a slow etcd or a long
    /// reclaim never holds the next renewal back by more than that.
    pub work_budget: Duration,
    /// How long a block must stay empty before it is given back while
    /// etcd has free blocks ([`HYSTERESIS`]).
    pub hysteresis: Duration,
    /// Held blocks seen empty at every step since.
    empty_since: HashMap<u32, Instant>,
    /// Tests only: a stall at the start of each step's ledger work (a
    /// stand-in for an etcd that answers slowly).
    #[doc(hidden)]
    pub work_stall: Duration,
}

impl Agent {
    /// Join the cluster: check the pool definition, register, renew once,
    /// take back the blocks an earlier registration of this server held,
    /// and seal every other block in the table.
    pub async fn start(ledger: Ledger, table: Table, timing: Timing, about: &str) -> Result<Agent> {
        Self::start_or_resume(ledger, table, timing, about, None).await
    }

    /// [`Agent::start`], but first try to resume the registration
    /// `(lease, token)` an earlier agent of this server left
    /// ([`Ledger::resume`]); register anew if etcd has no such live
    /// registration. See [`Agent::resumed`].
    pub async fn start_or_resume(
        mut ledger: Ledger,
        table: Table,
        timing: Timing,
        about: &str,
        resume: Option<(i64, i64)>,
    ) -> Result<Agent> {
        ledger.ensure_config().await?;
        let ttl = timing.ttl.as_secs() as i64;
        let resumed = match resume {
            Some((lease, token)) => match ledger.resume(lease, token, ttl, about).await? {
                Ok(reg) => Some(reg),
                Err(why) => {
                    log::warn!(
                        "cluster: not resuming the registration the last agent left (token {token}): {why}; registering anew"
                    );
                    None
                }
            },
            None => None,
        };
        let (mut resumed, mut reg) = match resumed {
            Some(reg) => (true, reg),
            None => (false, ledger.register(ttl, about).await?),
        };
        let mut renewer = Renewer::new(&ledger, &reg).await?;
        let sent = match renewer.renew(&mut ledger, &reg).await {
            // The resumed lease ran out between the look and the renewal:
            // register anew.
            Err(LedgerError::Lost { .. }) if resumed => {
                log::warn!(
                    "cluster: the resumed registration (token {}) ended before its first renewal; registering anew",
                    reg.token
                );
                resumed = false;
                reg = ledger.register(ttl, about).await?;
                renewer = Renewer::new(&ledger, &reg).await?;
                renewer.renew(&mut ledger, &reg).await?
            }
            r => r?,
        };
        let mut held: BTreeSet<u32> = ledger.held(&reg).await?.into_iter().collect();
        held.extend(ledger.readopt(&reg).await?);
        let block = ledger.spec().block;
        let mut agent = Agent {
            ledger,
            table,
            timing,
            reg,
            renewer: Some(renewer),
            held,
            low_water: (block / 4).max(4),
            high_water: block * 3,
            strays: HashMap::new(),
            renewed_ns: 0,
            table_since: Instant::now(),
            settle: SETTLE,
            resumed,
            work_budget: timing.renew_every,
            hysteresis: HYSTERESIS,
            empty_since: HashMap::new(),
            work_stall: Duration::ZERO,
        };
        agent.reconcile_and_raise(sent);
        // Ready for callers at once, not one step later.
        agent.fill(&mut Step::default()).await?;
        Ok(agent)
    }

    /// Make the table agree with the blocks held: unsealed exactly where
    /// this server holds the block, every free slot sealed elsewhere. A
    /// lease in a block this server does not hold belongs to a session
    /// that must not be up (its block was reclaimed after this server's
    /// deadlines, or this server runs under another id now): its holder
    /// is sent SIGTERM (pppd then hangs up and releases), SIGKILL
    /// [`STRAY_KILL_AFTER`] later. A dead holder's lease is left to the
    /// table's watchdog, which removes what the session left in the kernel
    /// too, and reaped here if no watchdog runs or it has not within
    /// [`STRAY_KILL_AFTER`] (saying what may be left).
    /// Run at every step: a slot such a session frees is sealed at the
    /// next. Returns the live strays left.
    fn reconcile(&mut self) -> usize {
        let spec = self.ledger.spec().clone();
        let mut live_strays = HashMap::new();
        // The table's watchdog holds a dead session's lease for a moment
        // while it cleans up after it (seize): never signalled.
        let watchdog = self.table.path().parent().zip(
            self.table
                .path()
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_suffix(".table")),
        );
        let watchdog = watchdog.and_then(|(d, n)| rasstatic::watchdog::running(d, n));
        for b in 0..spec.blocks() {
            let r = spec.slots(b);
            if self.held.contains(&b) {
                self.table.unseal(r.start, r.len() as u32);
                continue;
            }
            for slot in self.table.seal_free(r.start, r.len() as u32) {
                let lease = self.table.lease(slot);
                if let rasstatic::table::LeaseState::Leased(owner) = lease.state {
                    let live = self.table.liveness();
                    if rasstatic::protocol::Liveness::is_alive(&live, owner) {
                        let first = self.strays.get(&owner.word()).copied();
                        let since = first.unwrap_or_else(Instant::now);
                        live_strays.insert(owner.word(), since);
                        if Some(owner.pid()) == watchdog && owner.iface().is_none() {
                            // Counted (it holds the slot), left alone.
                        } else if owner.iface().is_some() {
                            // An interface's lease from a rebuild: its
                            // pppd takes it over (re-assert) or it goes
                            // with the interface.
                            if first.is_none() {
                                log::warn!(
                                    "cluster: {} is leased to an interface in block {b}, which this server does not hold; waiting for its session to end",
                                    self.table.addr(slot)
                                );
                            }
                        } else if first.is_none() {
                            log::warn!(
                                "cluster: {} is leased to pid {} in block {b}, which this server does not hold: hanging it up; no claims until it is gone",
                                self.table.addr(slot),
                                owner.pid()
                            );
                            let _ = owner.signal(libc::SIGTERM);
                        } else if since.elapsed() >= STRAY_KILL_AFTER {
                            log::warn!(
                                "cluster: pid {} still holds {} in block {b} {:?} after SIGTERM: SIGKILL",
                                owner.pid(),
                                self.table.addr(slot),
                                STRAY_KILL_AFTER
                            );
                            let _ = owner.signal(libc::SIGKILL);
                        }
                    } else if watchdog.is_some()
                        && self
                            .strays
                            .get(&owner.word())
                            .is_none_or(|t| t.elapsed() < STRAY_KILL_AFTER)
                    {
                        // Dead: the table's watchdog reaps it (it watches
                        // every holder) and removes what the session left
                        // in the kernel (its proxy-ARP entry, its host
                        // route). Counted until then; reaped here if the
                        // watchdog has not, STRAY_KILL_AFTER on.
                        let since = self.strays.get(&owner.word()).copied();
                        live_strays.insert(owner.word(), since.unwrap_or_else(Instant::now));
                    } else if self
                        .table
                        .reap(slot, &live, rasstatic::protocol::EndedBy::ReapWatchdog)
                        .is_some()
                    {
                        // No watchdog cleans up after it.
                        let left = match lease.meta.as_ref() {
                            Some(m) if m.proxyarp => "its proxy-ARP entry and any host route",
                            Some(m) if !m.ifname.is_empty() => "any host route",
                            _ => "",
                        };
                        if left.is_empty() {
                            log::warn!(
                                "cluster: reaped {} in block {b} from pid {}, which died holding it",
                                self.table.addr(slot),
                                owner.pid()
                            );
                        } else {
                            log::warn!(
                                "cluster: reaped {} in block {b} from pid {}, which died holding it; no watchdog cleaned up after it, so {left} it left may stay in the kernel (ip neigh show proxy {addr}; ip route show {addr})",
                                self.table.addr(slot),
                                owner.pid(),
                                addr = self.table.addr(slot)
                            );
                        }
                    }
                }
            }
            // What the reaps freed is sealed now too.
            self.table.seal_free(r.start, r.len() as u32);
        }
        self.strays = live_strays;
        self.strays.len()
    }

    /// Reconcile, then raise the deadlines from the renewal sent at
    /// `sent`, unless a stray lives (see the module's text).
    fn reconcile_and_raise(&mut self, sent: u64) {
        self.renewed_ns = sent;
        let strays = self.reconcile();
        if strays == 0 {
            self.table.set_deadlines(
                self.timing.claim_deadline(sent),
                self.timing.hang_deadline(sent),
            );
        }
    }

    /// When the last renewal etcd verified was sent (`CLOCK_BOOTTIME`
    /// nanoseconds).
    pub fn renewed_ns(&self) -> u64 {
        self.renewed_ns
    }

    /// Live sessions in blocks this server does not hold, at the last
    /// step: while there are any, the deadlines are not raised.
    pub fn strays(&self) -> usize {
        self.strays.len()
    }

    /// After [`crate::ledger::LedgerError::Lost`]: register again (a new
    /// token), take back what the old registration still holds in the
    /// ledger (nobody reclaimed it), and seal the rest. Claims stay
    /// stopped until this succeeds: the deadlines are raised only by a
    /// verified renewal of the new registration.
    pub async fn rejoin(&mut self, about: &str) -> Result<()> {
        let reg = self
            .ledger
            .register(self.timing.ttl.as_secs() as i64, about)
            .await?;
        let mut renewer = Renewer::new(&self.ledger, &reg).await?;
        let sent = renewer.renew(&mut self.ledger, &reg).await?;
        self.reg = reg;
        self.renewer = Some(renewer);
        self.held = self.ledger.readopt(&reg).await?.into_iter().collect();
        self.held.extend(self.ledger.held(&reg).await?);
        self.reconcile_and_raise(sent);
        Ok(())
    }

    /// Renew once, reopening the keepalive stream if the last one failed.
    async fn renew(&mut self) -> Result<u64> {
        let attempt = async {
            let mut renewer = match self.renewer.take() {
                Some(r) => r,
                None => Renewer::new(&self.ledger, &self.reg).await?,
            };
            let sent = renewer.renew(&mut self.ledger, &self.reg).await?;
            self.renewer = Some(renewer);
            Ok(sent)
        };
        match attempt.await {
            Ok(sent) => Ok(sent),
            // etcd reports a lease it no longer has as a keepalive error:
            // ask the ledger (linearizable) whether the registration
            // lives, and say Lost if it does not.
            Err(LedgerError::Etcd(e)) => match self.ledger.verify(&self.reg).await {
                Err(lost @ LedgerError::Lost { .. }) => Err(lost),
                _ => Err(LedgerError::Etcd(e)),
            },
            Err(e) => Err(e),
        }
    }

    /// Follow a table that replaced ours (a reset, or made again under
    /// its name): seal and unseal it as the ledger says, and give it the
    /// last verified deadlines.
    pub fn replace_table(&mut self, table: Table) {
        let (claim, hang, _) = self.table.deadlines();
        self.table = table;
        self.table_since = Instant::now();
        if self.reconcile() == 0 {
            self.table.set_deadlines(claim, hang);
        }
    }

    pub fn timing(&self) -> Timing {
        self.timing
    }

    /// Whether [`Agent::start_or_resume`] resumed the registration it
    /// was given (rather than registering anew).
    pub fn resumed(&self) -> bool {
        self.resumed
    }

    pub fn registration(&self) -> Registration {
        self.reg
    }

    pub fn held(&self) -> Vec<u32> {
        self.held.iter().copied().collect()
    }

    pub fn table(&self) -> &Table {
        &self.table
    }

    pub fn ledger(&mut self) -> &mut Ledger {
        &mut self.ledger
    }

    /// Claimable addresses: free, unsealed slots.
    pub fn claimable(&self) -> u32 {
        let spec = self.ledger.spec();
        self.held
            .iter()
            .map(|&b| {
                let r = spec.slots(b);
                let (sealed, leased) = self.table.block_state(r.start, r.len() as u32);
                r.len() as u32 - sealed - leased
            })
            .sum()
    }

    /// Take free blocks while the claimable addresses are below the low
    /// water mark (and blocks are free), unsealing each once the ledger
    /// records it as this registration's. Not while a stray lives: the
    /// deadlines are held back then, and so is new work.
    async fn fill(&mut self, step: &mut Step) -> Result<()> {
        while self.strays.is_empty() && self.claimable() < self.low_water {
            let Some(b) = self.ledger.acquire(&self.reg).await? else {
                break;
            };
            let r = self.ledger.spec().slots(b);
            self.held.insert(b);
            self.table.unseal(r.start, r.len() as u32);
            step.acquired.push(b);
        }
        Ok(())
    }

    /// One round: renew and raise the deadlines; then, within
    /// [`Agent::work_budget`], the ledger work: fetch a block when the
    /// claimable addresses run low; give an empty block back when there
    /// are plenty; free the blocks of servers that are gone. An error
    /// (etcd unreachable, registration lost) leaves the deadlines where
    /// they were: the table fences itself when they pass.
    ///
    /// The deadlines rise right after the renewal, before any ledger
    /// work, once a reconcile of the table with the blocks this agent
    /// holds finds no stray (see the comment in the body). The ledger work
    /// may be cut short at any await: each transaction is atomic, and one
    /// whose answer was never read is settled by the next step's look at
    /// the ledger, as a lost answer is (a block taken is unsealed then; a
    /// block sealed to be given back left `held` before the give-back was
    /// sent, and stays sealed until the ledger names this server again).
    pub async fn step(&mut self) -> Result<Step> {
        let sent = self.renew().await?;
        // With the blocks held as this agent knows them (no etcd read):
        // they are ones the ledger names this registration for, as only
        // this server moves its blocks while its registration lives (E2),
        // a block leaves `held` before its give-back is sent, and enters
        // it only once the ledger recorded it. So strays are signalled,
        // and the deadlines raised once they are gone, however slow the
        // ledger reads after this are.
        self.reconcile_and_raise(sent);
        let mut step = Step::default();
        let budget = self.work_budget;
        match tokio::time::timeout(budget, self.work(sent, &mut step)).await {
            Ok(r) => r?,
            Err(_) => step.cut_short = true,
        }
        Ok(step)
    }

    /// A step's ledger work, after its renewal (sent at `sent`).
    async fn work(&mut self, sent: u64, step: &mut Step) -> Result<()> {
        if !self.work_stall.is_zero() {
            tokio::time::sleep(self.work_stall).await;
        }
        // What the ledger says this registration holds decides. A block
        // taken or given back by a transaction whose answer was lost is
        // settled here: unsealed only once the ledger names us, and a
        // block the ledger no longer names us for is sealed.
        self.held = self.ledger.held(&self.reg).await?.into_iter().collect();
        self.reconcile_and_raise(sent);
        self.fill(step).await?;
        // One empty block back per step, keeping at least one, once the
        // table has settled: a block seen empty at every step for the
        // hysteresis time, while more than three blocks' worth are
        // claimable. When etcd had no free block at the last look (other
        // servers may be short), at once, down to a block and the low
        // water mark's worth.
        let spec = self.ledger.spec().clone();
        let now = Instant::now();
        let empty: BTreeSet<u32> = self
            .held
            .iter()
            .copied()
            .filter(|&b| {
                let r = spec.slots(b);
                self.table.block_state(r.start, r.len() as u32).1 == 0
            })
            .collect();
        self.empty_since.retain(|b, _| empty.contains(b));
        for &b in &empty {
            self.empty_since.entry(b).or_insert(now);
        }
        let scarce = self.ledger.free_seen() == Some(0);
        let keep = if scarce {
            self.low_water + spec.block
        } else {
            self.high_water
        };
        if self.claimable() > keep
            && self.held.len() > 1
            && self.table_since.elapsed() >= self.settle
        {
            let hysteresis = if scarce {
                Duration::ZERO
            } else {
                self.hysteresis
            };
            let back = self.held.iter().rev().copied().find(|b| {
                self.empty_since
                    .get(b)
                    .is_some_and(|t| t.elapsed() >= hysteresis)
            });
            if let Some(b) = back {
                let r = spec.slots(b);
                if self.table.seal(r.start, r.len() as u32).is_ok() {
                    // Not ours from here until the ledger says it still
                    // is: the give-back may go through and its answer be
                    // lost (an error, or this work cut short at the
                    // await), and nothing may unseal it meanwhile (a
                    // reconcile unseals exactly the blocks in `held`).
                    // The next step's look at the ledger settles it.
                    self.held.remove(&b);
                    match self.ledger.give_back(&self.reg, b).await? {
                        GiveBack::Returned => step.returned.push(b),
                        // Not ours any more: it stays sealed.
                        GiveBack::NotOurs => {}
                        // Still ours.
                        GiveBack::Raced => {
                            self.held.insert(b);
                            self.table.unseal(r.start, r.len() as u32);
                        }
                    }
                }
            }
        }
        step.reclaimed = self.ledger.reclaim().await?;
        Ok(())
    }
}
