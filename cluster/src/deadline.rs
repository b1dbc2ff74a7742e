//! Renewing a server's registration, and the deadlines each renewal sets.
//!
//! A renewal counts from the moment its keepalive was *sent* (t_s, on
//! this machine's `CLOCK_BOOTTIME`, which keeps counting through a
//! suspend), and only once etcd answered it with a TTL above zero and a
//! verify transaction ([`Ledger::verify`]) then passed. etcd expires a
//! lease on its leader's clock, no earlier than TTL after the last renewal
//! the leader accepted, which is after t_s; a leader change only extends
//! it. So the registration lives at least until t_s + TTL, and a reclaim
//! of this server's blocks, which waits for the registration's end and
//! then a fresh grace period, cannot succeed before t_s + TTL + grace.
//!
//! - claim deadline = t_s + TTL − claim margin: no new claims after it;
//! - hang deadline = t_s + TTL + grace − hang margin: every session in
//!   this server's blocks is down by then.
//!
//! Only the rates of the two clocks matter, never their readings: no wall
//! clock is compared across machines.

use std::time::Duration;

use etcd_client::{LeaseKeepAliveStream, LeaseKeeper};

use crate::ledger::{Ledger, LedgerError, Registration, Result};

/// The timing of a cluster: the same on every server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timing {
    /// The registration lease's TTL.
    pub ttl: Duration,
    /// The grace period after a registration ends, before its blocks can
    /// be reclaimed.
    pub grace: Duration,
    /// How long before the lease could expire claims stop.
    pub claim_margin: Duration,
    /// How long before a reclaim could succeed sessions are down.
    pub hang_margin: Duration,
    /// How often the agent renews.
    pub renew_every: Duration,
}

impl Timing {
    /// Production defaults: TTL 15 s, renewal every 2 s, claims stop 10 s
    /// after the last renewal, sessions down 65 s after it, a reclaim no
    /// earlier than 75 s after it.
    pub const DEFAULT: Timing = Timing {
        ttl: Duration::from_secs(15),
        grace: Duration::from_secs(60),
        claim_margin: Duration::from_secs(5),
        hang_margin: Duration::from_secs(10),
        renew_every: Duration::from_secs(2),
    };

    /// Why this timing is unsafe or unworkable, if it is.
    pub fn problem(&self) -> Option<String> {
        if self.ttl.as_secs() < 2 || self.ttl.subsec_nanos() != 0 {
            return Some(format!("ttl {:?}: whole seconds, at least 2", self.ttl));
        }
        if self.grace.subsec_nanos() != 0 || self.grace.as_secs() < 1 {
            return Some(format!("grace {:?}: whole seconds, at least 1", self.grace));
        }
        if self.claim_margin >= self.ttl {
            return Some("the claim margin must be shorter than the ttl".into());
        }
        if self.hang_margin >= self.ttl + self.grace {
            return Some("the hang margin must be shorter than ttl + grace".into());
        }
        if self.hang_margin < Duration::from_secs(2) {
            return Some(
                "the hang margin must be 2 s at least (pppd checks the deadline each second, and needs a moment to hang up)"
                    .into(),
            );
        }
        if self.grace <= self.hang_margin.saturating_sub(self.claim_margin) {
            return Some("the hang deadline must come after the claim deadline".into());
        }
        if self.renew_every < Duration::from_millis(100) {
            return Some("renewals at least 100 ms apart".into());
        }
        if self.renew_every * 2 > self.ttl - self.claim_margin {
            return Some("renewals must come at least twice before the claim deadline".into());
        }
        None
    }

    pub fn claim_deadline(&self, sent_ns: u64) -> u64 {
        sent_ns + (self.ttl - self.claim_margin).as_nanos() as u64
    }

    pub fn hang_deadline(&self, sent_ns: u64) -> u64 {
        sent_ns + (self.ttl + self.grace - self.hang_margin).as_nanos() as u64
    }
}

/// Nanoseconds on `CLOCK_BOOTTIME`.
pub fn boottime_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; CLOCK_BOOTTIME exists on
    // every Linux this runs on (2.6.39 and later), so the call cannot fail.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_BOOTTIME, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_BOOTTIME)");
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// A registration's keepalive stream.
pub struct Renewer {
    keeper: LeaseKeeper,
    stream: LeaseKeepAliveStream,
}

impl Renewer {
    pub async fn new(ledger: &Ledger, reg: &Registration) -> Result<Renewer> {
        let (keeper, stream) = ledger.client().lease_keep_alive(reg.lease).await?;
        Ok(Renewer { keeper, stream })
    }

    /// Renew once and verify. Returns t_s (see the module's text) on
    /// success; [`LedgerError::Lost`] when etcd says the lease is gone.
    pub async fn renew(&mut self, ledger: &mut Ledger, reg: &Registration) -> Result<u64> {
        let sent = boottime_ns();
        self.keeper.keep_alive().await?;
        let lost = || LedgerError::Lost {
            sid: ledger.sid().to_string(),
        };
        match self.stream.message().await? {
            Some(r) if r.ttl() > 0 => {}
            _ => return Err(lost()),
        }
        ledger.verify(reg).await?;
        Ok(sent)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_workable_and_ordered() {
        let t = Timing::DEFAULT;
        assert_eq!(t.problem(), None);
        let s = 1_000_000_000;
        assert_eq!(t.claim_deadline(s) - s, 10_000_000_000);
        assert_eq!(t.hang_deadline(s) - s, 65_000_000_000);
        // Sessions are down before a reclaim can succeed (t_s + ttl + grace).
        assert!(t.hang_deadline(s) < s + (t.ttl + t.grace).as_nanos() as u64);
    }

    #[test]
    fn unworkable_timings_are_named() {
        let mut t = Timing::DEFAULT;
        t.claim_margin = t.ttl;
        assert!(t.problem().unwrap().contains("claim margin"));
        let mut t = Timing::DEFAULT;
        t.renew_every = Duration::from_secs(6);
        assert!(t.problem().unwrap().contains("twice"));
        let mut t = Timing::DEFAULT;
        t.hang_margin = Duration::ZERO;
        assert!(t.problem().unwrap().contains("hang margin"));
        let mut t = Timing::DEFAULT;
        t.grace = Duration::from_secs(4);
        t.claim_margin = Duration::from_secs(1);
        assert!(t.problem().unwrap().contains("after the claim deadline"));
    }

    #[test]
    fn boottime_moves_forward() {
        let a = boottime_ns();
        std::thread::sleep(Duration::from_millis(2));
        assert!(boottime_ns() >= a + 2_000_000);
    }
}
