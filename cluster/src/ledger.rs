//! The block ledger in etcd: which server holds which block of the pool.
//!
//! Keys, under `/rasstatic/v1/pools/<pool>/`:
//!
//! | key | value | etcd lease |
//! |---|---|---|
//! | `config` | [`Spec::record`] | none; created once, never changed |
//! | `servers/<sid>` | what the agent says of itself | the server's lease |
//! | `blocks/<n>` | `held <sid> <token>` or `free <last sid or ->` | none |
//! | `graced/<sid>/<token>` | marker: a grace period was started | none |
//! | `grace/<sid>/<token>` | the grace period itself | a lease of the grace time |
//! | `epoch/<sid>` | written by each registration of `sid` | none |
//!
//! A server's **token** is the `create_revision` of its `servers/<sid>`
//! key: etcd's revision counter is cluster-wide and only grows, so each
//! registration has its own, and a record naming an older one can be told
//! apart from the current holder's.
//!
//! Every change of a block record is one etcd transaction that compares
//! the record's `mod_revision` with the one the writer read and, for a
//! record the writer will hold, that the writer's own registration is
//! still the one it made (E1 below). Block records carry no etcd lease:
//! a dead server's blocks stay named until the others have waited out
//! its lease *and* a grace period after it, during which the dead (or cut
//! off) server's own deadlines have hung its sessions up.
//!
//! # Invariants
//!
//! - **E1.** A block record names at most one (server, token). It changes
//!   only by a transaction that compares its `mod_revision` with the
//!   value read, so of two writers who read the same record only one
//!   succeeds.
//! - **E2.** A record naming (X, S) stops naming it only by X's own
//!   return ([`Ledger::give_back`], with X's registration S alive), by X's
//!   re-adoption after it registered again ([`Ledger::readopt`]), or by a
//!   reclaim ([`Ledger::reclaim`]), which requires `servers/X` absent, a
//!   grace marker for (X, S) written after that was seen, and the grace
//!   key it started gone (its lease expired on the etcd leader). A new
//!   registration of X deletes X's markers in the transaction that
//!   creates its key, so a grace period always starts after X's latest
//!   registration ended. A grace period starts (T4) only if `epoch/X`,
//!   read before X's key was seen absent, is unchanged when it is
//!   written: no registration of X came between, so its lease, granted
//!   after that read, runs out at least `grace` after X's latest
//!   registration ended, however long the reclaiming server stalled.
//! - **E3.** A server takes a block ([`Ledger::acquire`]) only in a
//!   transaction that also checks its registration is the one it holds:
//!   a server whose lease expired can take nothing.
//!
//! The time-based part (no claims after the claim deadline, sessions
//! hung up by the hang deadline, both before a reclaim can succeed) is
//! the agent's ([`crate::deadline`]).

use std::collections::HashMap;
use std::fmt;

use etcd_client::{
    Client, Compare, CompareOp, DeleteOptions, GetOptions, PutOptions, Txn, TxnOp, TxnOpResponse,
};

use crate::spec::{fnv1a, Spec};

/// A block record, as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Record {
    /// Never written: no server has held the block.
    Absent,
    /// Free; `last` held it before (None when reclaimed from nobody).
    Free { last: Option<String> },
    /// Held by server `sid` under registration `token`.
    Held { sid: String, token: i64 },
}

impl Record {
    fn value(&self) -> String {
        match self {
            Record::Absent => String::new(),
            Record::Free { last } => format!("free {}", last.as_deref().unwrap_or("-")),
            Record::Held { sid, token } => format!("held {sid} {token}"),
        }
    }

    fn parse(v: &str) -> Option<Record> {
        let w: Vec<&str> = v.split(' ').collect();
        match w.as_slice() {
            ["free", "-"] => Some(Record::Free { last: None }),
            ["free", sid] if valid_sid(sid) => Some(Record::Free {
                last: Some(sid.to_string()),
            }),
            ["held", sid, token] if valid_sid(sid) => Some(Record::Held {
                sid: sid.to_string(),
                token: token.parse().ok().filter(|t| *t > 0)?,
            }),
            _ => None,
        }
    }
}

/// One block as read: its record and the record's `mod_revision` (0 when
/// absent).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Block {
    pub index: u32,
    pub record: Record,
    pub rev: i64,
}

/// What became of a give-back ([`Ledger::give_back`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GiveBack {
    /// The block is free in the ledger now.
    Returned,
    /// The record does not name this registration (any more): the block
    /// is not ours, whatever the table thinks. Keep it sealed.
    NotOurs,
    /// The record changed between the read and the write while still
    /// ours: still held by us.
    Raced,
}

/// A server's registration: its etcd lease and its token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Registration {
    pub lease: i64,
    pub token: i64,
    /// The lease's TTL as granted, in seconds.
    pub ttl: i64,
}

#[derive(Debug)]
pub enum LedgerError {
    Etcd(etcd_client::Error),
    /// The pool stored in etcd is not the one configured here.
    ConfigMismatch {
        stored: String,
        local: String,
    },
    /// Another live registration holds this server id.
    DuplicateServer {
        sid: String,
        holder: String,
    },
    /// This server's registration is gone (its lease expired or was
    /// revoked): it may take nothing and must register again.
    Lost {
        sid: String,
    },
    /// A record etcd holds that this version cannot read.
    BadRecord {
        key: String,
        value: String,
    },
    BadServerId(String),
}

impl fmt::Display for LedgerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LedgerError::Etcd(e) => write!(f, "etcd: {e}"),
            LedgerError::ConfigMismatch { stored, local } => write!(
                f,
                "the cluster's pool differs from this server's: etcd has \"{stored}\", this server \"{local}\"; every server must configure the same pool and block size"
            ),
            LedgerError::DuplicateServer { sid, holder } => write!(
                f,
                "server id {sid} is registered by another live agent ({holder}); give each server its own id (if that agent is gone, its registration ends when its lease expires)"
            ),
            LedgerError::Lost { sid } => write!(
                f,
                "server {sid}: registration lost (its etcd lease expired or was revoked)"
            ),
            LedgerError::BadRecord { key, value } => {
                write!(f, "unreadable record in etcd: {key} = {value:?}")
            }
            LedgerError::BadServerId(s) => write!(
                f,
                "server id {s:?}: use 1 to 64 of the characters A-Z a-z 0-9 _ . -"
            ),
        }
    }
}

impl std::error::Error for LedgerError {}

impl From<etcd_client::Error> for LedgerError {
    fn from(e: etcd_client::Error) -> Self {
        LedgerError::Etcd(e)
    }
}

pub type Result<T> = std::result::Result<T, LedgerError>;

pub fn valid_sid(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'.'))
}

/// One server's view of one pool's ledger.
pub struct Ledger {
    client: Client,
    spec: Spec,
    sid: String,
    prefix: String,
    /// Free blocks (free or never written) at the last read of every
    /// block record ([`Ledger::blocks`]).
    free_seen: Option<u32>,
}

impl Ledger {
    pub fn new(client: Client, spec: Spec, sid: &str) -> Result<Ledger> {
        if !valid_sid(sid) {
            return Err(LedgerError::BadServerId(sid.to_string()));
        }
        let prefix = format!("/rasstatic/v1/pools/{}/", spec.name);
        Ok(Ledger {
            client,
            spec,
            sid: sid.to_string(),
            prefix,
            free_seen: None,
        })
    }

    pub fn spec(&self) -> &Spec {
        &self.spec
    }

    pub fn sid(&self) -> &str {
        &self.sid
    }

    pub fn client(&self) -> Client {
        self.client.clone()
    }

    fn key(&self, rest: &str) -> String {
        format!("{}{rest}", self.prefix)
    }

    fn server_key(&self, sid: &str) -> String {
        self.key(&format!("servers/{sid}"))
    }

    /// The keys under `prefix` (relative to the pool's), without it, with
    /// their `create_revision` and `mod_revision`.
    async fn under(&mut self, prefix: &str) -> Result<Vec<(String, i64, i64)>> {
        let prefix = self.key(prefix);
        let r = self
            .client
            .get(
                prefix.clone(),
                Some(GetOptions::new().with_prefix().with_keys_only()),
            )
            .await?;
        Ok(r.kvs()
            .iter()
            .map(|kv| {
                (
                    String::from_utf8_lossy(&kv.key()[prefix.len()..]).into_owned(),
                    kv.create_revision(),
                    kv.mod_revision(),
                )
            })
            .collect())
    }

    /// The keys under `prefix`, without it.
    async fn keys_under(&mut self, prefix: &str) -> Result<std::collections::HashSet<String>> {
        Ok(self.under(prefix).await?.into_iter().map(|k| k.0).collect())
    }

    fn epoch_key(&self, sid: &str) -> String {
        self.key(&format!("epoch/{sid}"))
    }

    /// Each server's `epoch/<sid>` `mod_revision` (absent: 0).
    async fn epochs(&mut self) -> Result<HashMap<String, i64>> {
        Ok(self
            .under("epoch/")
            .await?
            .into_iter()
            .map(|(k, _, m)| (k, m))
            .collect())
    }

    fn block_key(&self, b: u32) -> String {
        self.key(&format!("blocks/{b:06}"))
    }

    /// The compare that every write of a holder carries: our registration
    /// is still the one with `token`.
    fn mine(&self, reg: &Registration) -> Compare {
        Compare::create_revision(self.server_key(&self.sid), CompareOp::Equal, reg.token)
    }

    /// T0: store the pool definition, or check that the stored one is ours.
    pub async fn ensure_config(&mut self) -> Result<()> {
        let key = self.key("config");
        let local = self.spec.record();
        let txn = Txn::new()
            .when([Compare::create_revision(key.clone(), CompareOp::Equal, 0)])
            .and_then([TxnOp::put(key.clone(), local.clone(), None)])
            .or_else([TxnOp::get(key, None)]);
        let r = self.client.txn(txn).await?;
        if r.succeeded() {
            return Ok(());
        }
        let stored = first_value(&r.op_responses()).unwrap_or_default();
        if stored == local {
            Ok(())
        } else {
            Err(LedgerError::ConfigMismatch { stored, local })
        }
    }

    /// T1: register this server under a new lease of `ttl` seconds. Fails
    /// with [`LedgerError::DuplicateServer`] while another registration
    /// of the same id lives.
    pub async fn register(&mut self, ttl: i64, about: &str) -> Result<Registration> {
        let lease = self.client.lease_grant(ttl, None).await?;
        let key = self.server_key(&self.sid);
        let txn = Txn::new()
            .when([Compare::create_revision(key.clone(), CompareOp::Equal, 0)])
            .and_then([
                TxnOp::put(
                    key.clone(),
                    about,
                    Some(PutOptions::new().with_lease(lease.id())),
                ),
                // A grace period started for an earlier registration of
                // ours is void: were this one to end too, the others must
                // wait a grace period after *its* end (its renewals move
                // our sessions' hang deadline on).
                TxnOp::delete(
                    self.key(&format!("graced/{}/", self.sid)),
                    Some(DeleteOptions::new().with_prefix()),
                ),
                TxnOp::delete(
                    self.key(&format!("grace/{}/", self.sid)),
                    Some(DeleteOptions::new().with_prefix()),
                ),
                // A reclaimer that read the old epoch cannot start a grace
                // period now (E2, T4).
                TxnOp::put(self.epoch_key(&self.sid), about, None),
            ])
            .or_else([TxnOp::get(key, None)]);
        let r = self.client.txn(txn).await?;
        if !r.succeeded() {
            let holder = first_value(&r.op_responses()).unwrap_or_default();
            let _ = self.client.lease_revoke(lease.id()).await;
            return Err(LedgerError::DuplicateServer {
                sid: self.sid.clone(),
                holder,
            });
        }
        // The key was created by this transaction: its create_revision is
        // the transaction's revision. Without one, nothing can be proved
        // about our registration (a token of 0 would match an absent key).
        let token = r.header().map(|h| h.revision()).filter(|&t| t > 0);
        let Some(token) = token else {
            let _ = self.client.lease_revoke(lease.id()).await;
            return Err(LedgerError::Lost {
                sid: self.sid.clone(),
            });
        };
        Ok(Registration {
            lease: lease.id(),
            token,
            ttl: lease.ttl(),
        })
    }

    /// T10: resume the registration `token` on `lease`, made by an earlier
    /// agent of this server on this machine (its state file names both),
    /// instead of waiting out its lease as a duplicate. Only if etcd still
    /// has that very registration (key created at `token`, on `lease`)
    /// and the lease was granted `ttl` seconds: the deadlines this agent
    /// sets assume its own TTL, and a lease's TTL cannot change. The
    /// transaction rewrites what the registration says of its agent
    /// (`about`); its token, lease and the epoch stay, so for the others
    /// nothing ended and no grace period starts. `Ok(Err(why))`: not
    /// resumable (gone, another registration, another TTL); register.
    pub async fn resume(
        &mut self,
        lease: i64,
        token: i64,
        ttl: i64,
        about: &str,
    ) -> Result<std::result::Result<Registration, String>> {
        if lease == 0 || token <= 0 {
            return Ok(Err("no registration named".into()));
        }
        let live = self.client.lease_time_to_live(lease, None).await?;
        // An expired or unknown lease has a TTL of -1.
        if live.ttl() <= 0 {
            return Ok(Err("its lease has expired".into()));
        }
        if live.granted_ttl() != ttl {
            return Ok(Err(format!(
                "its lease was granted a TTL of {} s, and this agent's is {ttl} s",
                live.granted_ttl()
            )));
        }
        let key = self.server_key(&self.sid);
        let txn = Txn::new()
            .when([
                Compare::create_revision(key.clone(), CompareOp::Equal, token),
                Compare::lease(key.clone(), CompareOp::Equal, lease),
            ])
            .and_then([TxnOp::put(
                key,
                about,
                Some(PutOptions::new().with_lease(lease)),
            )]);
        if !self.client.txn(txn).await?.succeeded() {
            return Ok(Err(format!(
                "etcd holds no registration of {} with that token on that lease",
                self.sid
            )));
        }
        Ok(Ok(Registration { lease, token, ttl }))
    }

    /// T8: our registration is still the one we made, on the lease we
    /// hold. Linearizable: a stale leader, or a renewal etcd acknowledged
    /// for a lease it was revoking, cannot pass it.
    pub async fn verify(&mut self, reg: &Registration) -> Result<()> {
        let key = self.server_key(&self.sid);
        let txn = Txn::new().when([
            self.mine(reg),
            Compare::lease(key, CompareOp::Equal, reg.lease),
        ]);
        if self.client.txn(txn).await?.succeeded() {
            Ok(())
        } else {
            Err(LedgerError::Lost {
                sid: self.sid.clone(),
            })
        }
    }

    /// Every block, in index order, with absent ones filled in.
    pub async fn blocks(&mut self) -> Result<Vec<Block>> {
        let prefix = self.key("blocks/");
        let r = self
            .client
            .get(prefix.clone(), Some(GetOptions::new().with_prefix()))
            .await?;
        let mut out: Vec<Block> = (0..self.spec.blocks())
            .map(|index| Block {
                index,
                record: Record::Absent,
                rev: 0,
            })
            .collect();
        for kv in r.kvs() {
            let key = String::from_utf8_lossy(kv.key()).into_owned();
            let value = String::from_utf8_lossy(kv.value()).into_owned();
            let bad = || LedgerError::BadRecord {
                key: key.clone(),
                value: value.clone(),
            };
            let index: u32 = key[prefix.len()..].parse().map_err(|_| bad())?;
            let record = Record::parse(&value).ok_or_else(bad)?;
            let slot = out.get_mut(index as usize).ok_or_else(bad)?;
            slot.record = record;
            slot.rev = kv.mod_revision();
        }
        let free = out
            .iter()
            .filter(|b| matches!(b.record, Record::Absent | Record::Free { .. }))
            .count();
        self.free_seen = Some(free as u32);
        Ok(out)
    }

    /// How many blocks were free at the last read of every block record
    /// (each step's reclaim reads them; `None` before the first).
    pub fn free_seen(&self) -> Option<u32> {
        self.free_seen
    }

    /// The servers registered now, with their tokens.
    pub async fn servers(&mut self) -> Result<HashMap<String, i64>> {
        Ok(self
            .under("servers/")
            .await?
            .into_iter()
            .map(|(k, c, _)| (k, c))
            .collect())
    }

    /// The blocks this registration holds, in index order.
    pub async fn held(&mut self, reg: &Registration) -> Result<Vec<u32>> {
        let sid = self.sid.clone();
        Ok(self
            .blocks()
            .await?
            .into_iter()
            .filter(|b| {
                b.record
                    == Record::Held {
                        sid: sid.clone(),
                        token: reg.token,
                    }
            })
            .map(|b| b.index)
            .collect())
    }

    /// T2/T3: take one free (or never used) block. Candidates are tried
    /// from a place that depends on the server id, so that servers do not
    /// all race for the same block. `None`: no free block.
    pub async fn acquire(&mut self, reg: &Registration) -> Result<Option<u32>> {
        let blocks = self.blocks().await?;
        let n = blocks.len();
        if n == 0 {
            return Ok(None);
        }
        let start = (fnv1a(self.sid.as_bytes()) % n as u64) as usize;
        for i in 0..n {
            let b = &blocks[(start + i) % n];
            let held = Record::Held {
                sid: self.sid.clone(),
                token: reg.token,
            };
            let key = self.block_key(b.index);
            let cmp = match b.record {
                Record::Absent => Compare::create_revision(key.clone(), CompareOp::Equal, 0),
                Record::Free { .. } => Compare::mod_revision(key.clone(), CompareOp::Equal, b.rev),
                Record::Held { .. } => continue,
            };
            let txn = Txn::new().when([cmp, self.mine(reg)]).and_then([TxnOp::put(
                key,
                held.value(),
                None,
            )]);
            if self.client.txn(txn).await?.succeeded() {
                return Ok(Some(b.index));
            }
            // Either another server took this block first (go on), or our
            // registration is gone (stop).
            self.verify(reg).await?;
        }
        Ok(None)
    }

    /// T7: give block `b` back. Only the holder's live registration can;
    /// the caller must have sealed the block's slots first (nothing of it
    /// may be leased when it leaves this server).
    pub async fn give_back(&mut self, reg: &Registration, b: u32) -> Result<GiveBack> {
        let key = self.block_key(b);
        let r = self.client.get(key.clone(), None).await?;
        let mine = Record::Held {
            sid: self.sid.clone(),
            token: reg.token,
        };
        let Some(kv) = r.kvs().first() else {
            return Ok(GiveBack::NotOurs);
        };
        if Record::parse(&String::from_utf8_lossy(kv.value())) != Some(mine) {
            return Ok(GiveBack::NotOurs);
        }
        let free = Record::Free {
            last: Some(self.sid.clone()),
        };
        let txn = Txn::new()
            .when([
                Compare::mod_revision(key.clone(), CompareOp::Equal, kv.mod_revision()),
                self.mine(reg),
            ])
            .and_then([TxnOp::put(key, free.value(), None)]);
        if self.client.txn(txn).await?.succeeded() {
            Ok(GiveBack::Returned)
        } else {
            self.verify(reg).await?;
            Ok(GiveBack::Raced)
        }
    }

    /// T6: after registering again (a new token), take back the blocks an
    /// earlier registration of this server still holds: nobody reclaimed
    /// them, so the sessions in them may still be up. Returns the blocks
    /// re-adopted.
    pub async fn readopt(&mut self, reg: &Registration) -> Result<Vec<u32>> {
        let mut out = Vec::new();
        for b in self.blocks().await? {
            let Record::Held { sid, token } = &b.record else {
                continue;
            };
            if *sid != self.sid || *token == reg.token {
                continue;
            }
            let key = self.block_key(b.index);
            let held = Record::Held {
                sid: self.sid.clone(),
                token: reg.token,
            };
            let txn = Txn::new()
                .when([
                    Compare::mod_revision(key.clone(), CompareOp::Equal, b.rev),
                    self.mine(reg),
                ])
                .and_then([TxnOp::put(key, held.value(), None)]);
            if self.client.txn(txn).await?.succeeded() {
                out.push(b.index);
            } else {
                self.verify(reg).await?;
            }
        }
        Ok(out)
    }

    /// T4 and T5: for blocks held by registrations that are gone, start a
    /// grace period (the cluster's, [`Spec::grace`]) once per dead registration, and
    /// free the blocks of those whose grace period has ended. A server
    /// that registered again under the same id re-adopts its blocks
    /// itself; while its key exists nothing of it is reclaimed. Returns
    /// the blocks freed.
    pub async fn reclaim(&mut self) -> Result<Vec<u32>> {
        self.reclaim_stalling(std::time::Duration::ZERO).await
    }

    /// [`Ledger::reclaim`], stalling `stall` between granting a grace
    /// period's lease and writing it (T4): for the tests, which make a
    /// server register again and die in that gap.
    #[doc(hidden)]
    pub async fn reclaim_stalling(&mut self, stall: std::time::Duration) -> Result<Vec<u32>> {
        let grace = self.spec.grace as i64;
        // The epochs first, then the servers (E2).
        let epochs = self.epochs().await?;
        let servers = self.servers().await?;
        let blocks = self.blocks().await?;
        // Which grace periods were started, and which still run: no
        // transaction is tried that these say would fail (each still
        // checks for itself: they are only read once per call).
        let marked = self.keys_under("graced/").await?;
        let running = self.keys_under("grace/").await?;
        let mut freed = Vec::new();
        let mut started: Vec<(String, i64)> = Vec::new();
        for b in &blocks {
            let Record::Held { sid, token } = &b.record else {
                continue;
            };
            if servers.contains_key(sid) {
                continue;
            }
            let which = format!("{sid}/{token}");
            let is_marked = marked.contains(&which);
            if is_marked && running.contains(&which) {
                continue; // its grace period runs
            }
            let skey = self.server_key(sid);
            let marker = self.key(&format!("graced/{sid}/{token}"));
            let timer = self.key(&format!("grace/{sid}/{token}"));
            // T5: the holder's key absent, its grace period started and
            // over, and the record unchanged since read.
            let key = self.block_key(b.index);
            let free = Record::Free {
                last: Some(sid.clone()),
            };
            let txn = Txn::new()
                .when([
                    Compare::mod_revision(key.clone(), CompareOp::Equal, b.rev),
                    Compare::create_revision(skey.clone(), CompareOp::Equal, 0),
                    Compare::create_revision(marker.clone(), CompareOp::NotEqual, 0),
                    Compare::create_revision(timer.clone(), CompareOp::Equal, 0),
                ])
                .and_then([TxnOp::put(key, free.value(), None)]);
            if is_marked && self.client.txn(txn).await?.succeeded() {
                freed.push(b.index);
                continue;
            }
            if is_marked || started.contains(&(sid.clone(), *token)) {
                continue;
            }
            // T4: start the grace period, once. Its lease is granted now,
            // after the holder's key was seen absent, so it runs out no
            // earlier than `grace` seconds after the holder's lease did.
            let lease = self.client.lease_grant(grace, None).await?;
            if !stall.is_zero() {
                tokio::time::sleep(stall).await;
            }
            let epoch = epochs.get(sid).copied().unwrap_or(0);
            let txn = Txn::new()
                .when([
                    Compare::create_revision(skey, CompareOp::Equal, 0),
                    Compare::create_revision(marker.clone(), CompareOp::Equal, 0),
                    Compare::mod_revision(self.epoch_key(sid), CompareOp::Equal, epoch),
                ])
                .and_then([
                    TxnOp::put(marker, "", None),
                    TxnOp::put(timer, "", Some(PutOptions::new().with_lease(lease.id()))),
                ]);
            if !self.client.txn(txn).await?.succeeded() {
                let _ = self.client.lease_revoke(lease.id()).await;
            }
            started.push((sid.clone(), *token));
        }
        Ok(freed)
    }

    /// T9: delete grace markers no block needs any more (their grace
    /// period over, and no record naming their registration). Returns
    /// how many were deleted.
    pub async fn collect_markers(&mut self) -> Result<usize> {
        let prefix = self.key("graced/");
        let r = self
            .client
            .get(prefix.clone(), Some(GetOptions::new().with_prefix()))
            .await?;
        let blocks = self.blocks().await?;
        let mut n = 0;
        for kv in r.kvs() {
            let rest = String::from_utf8_lossy(&kv.key()[prefix.len()..]).into_owned();
            let Some((sid, token)) = rest.split_once('/') else {
                continue;
            };
            let token: i64 = token.parse().unwrap_or(0);
            let named = blocks.iter().any(
                |b| matches!(&b.record, Record::Held { sid: s, token: t } if s == sid && *t == token),
            );
            if named {
                continue;
            }
            let timer = self.key(&format!("grace/{rest}"));
            let txn = Txn::new()
                .when([
                    Compare::create_revision(timer, CompareOp::Equal, 0),
                    Compare::mod_revision(
                        String::from_utf8_lossy(kv.key()).into_owned(),
                        CompareOp::Equal,
                        kv.mod_revision(),
                    ),
                ])
                .and_then([TxnOp::delete(kv.key().to_vec(), None)]);
            if self.client.txn(txn).await?.succeeded() {
                n += 1;
            }
        }
        Ok(n)
    }
}

fn first_value(ops: &[TxnOpResponse]) -> Option<String> {
    ops.iter().find_map(|op| match op {
        TxnOpResponse::Get(g) => g
            .kvs()
            .first()
            .map(|kv| String::from_utf8_lossy(kv.value()).into_owned()),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip() {
        for r in [
            Record::Free { last: None },
            Record::Free {
                last: Some("bras-1".into()),
            },
            Record::Held {
                sid: "bras-2".into(),
                token: 42,
            },
        ] {
            assert_eq!(Record::parse(&r.value()), Some(r));
        }
    }

    #[test]
    fn foreign_records_are_not_read() {
        for v in [
            "",
            "held a",
            "held a 0",
            "held a -3",
            "held a/b 3",
            "free",
            "taken a 1",
            "held a 1 x",
        ] {
            assert_eq!(Record::parse(v), None, "{v:?}");
        }
    }

    #[test]
    fn server_ids() {
        assert!(valid_sid("bras-1.example"));
        assert!(!valid_sid(""));
        assert!(!valid_sid("a b"));
        assert!(!valid_sid("a/b"));
        assert!(!valid_sid(&"x".repeat(65)));
    }
}
