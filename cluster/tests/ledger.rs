//! The block ledger against a real 3-member etcd cluster (Debian's
//! etcd-server, on loopback): the transactions that move blocks between
//! servers keep every block with at most one holder, and a dead server's
//! blocks come back only after its registration ended and a grace period
//! passed.

mod etcd;

use std::collections::HashSet;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use etcd::Etcd;
use etcd_client::{Client, ConnectOptions};
use rasstatic::pool::Pool;
use rasstatic_cluster::deadline::Renewer;
use rasstatic_cluster::ledger::{GiveBack, Ledger, LedgerError, Record};
use rasstatic_cluster::spec::Spec;

/// One etcd cluster at a time: three members per test on two cores.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn spec(pool: &str, block: u32) -> Spec {
    Spec::new("test", &Pool::parse(pool, "").unwrap(), block, 3).unwrap()
}

async fn ledger(e: &Etcd, spec: &Spec, sid: &str) -> Ledger {
    let opts = ConnectOptions::new()
        .with_timeout(Duration::from_secs(2))
        .with_connect_timeout(Duration::from_secs(2))
        .with_require_leader(true);
    let client = Client::connect(e.endpoints(), Some(opts)).await.unwrap();
    let mut l = Ledger::new(client, spec.clone(), sid).unwrap();
    l.ensure_config().await.unwrap();
    l
}

#[test]
fn the_pool_definition_is_stored_once_and_every_server_must_match_it() {
    let _g = serial();
    let e = Etcd::start();
    rt().block_on(async {
        let a = spec("10.20.0.0/24", 16);
        ledger(&e, &a, "bras-1").await;
        // The same definition: accepted.
        ledger(&e, &a, "bras-2").await;
        // Another pool, or another block size: refused, naming both.
        for other in [spec("10.20.0.0/25", 16), spec("10.20.0.0/24", 32)] {
            let client = Client::connect(e.endpoints(), None).await.unwrap();
            let mut l = Ledger::new(client, other.clone(), "bras-3").unwrap();
            let err = l.ensure_config().await.unwrap_err();
            assert!(matches!(err, LedgerError::ConfigMismatch { .. }), "{err}");
            let msg = err.to_string();
            assert!(
                msg.contains(&a.record()) && msg.contains(&other.record()),
                "{msg}"
            );
        }
        // A bad server id never reaches etcd.
        let client = Client::connect(e.endpoints(), None).await.unwrap();
        let err = Ledger::new(client, a, "bras 4").err().unwrap();
        assert!(err.to_string().contains("server id \"bras 4\""), "{err}");
    });
}

#[test]
fn a_server_id_is_registered_once_while_its_registration_lives() {
    let _g = serial();
    let e = Etcd::start();
    rt().block_on(async {
        let s = spec("10.20.0.0/24", 16);
        let mut first = ledger(&e, &s, "bras-1").await;
        let reg = first.register(5, "host-a").await.unwrap();
        let mut second = ledger(&e, &s, "bras-1").await;
        let err = second.register(5, "host-b").await.unwrap_err();
        assert!(matches!(err, LedgerError::DuplicateServer { .. }), "{err}");
        assert!(err.to_string().contains("host-a"), "{err}");
        // The first ends (its lease revoked, as when it expires): the id is
        // free, and the new registration has a later token.
        first.client().lease_revoke(reg.lease).await.unwrap();
        let again = second.register(5, "host-b").await.unwrap();
        assert!(again.token > reg.token);
        // The old registration can do nothing any more.
        assert!(matches!(
            first.verify(&reg).await,
            Err(LedgerError::Lost { .. })
        ));
        assert!(matches!(
            first.acquire(&reg).await,
            Err(LedgerError::Lost { .. })
        ));
    });
}

/// Three servers, each on its own thread with its own etcd connection,
/// take blocks as fast as they can until none is free, give some back and
/// take again. No block ever has two holders, and every block is held by
/// exactly the server its record names.
#[test]
fn racing_servers_never_share_a_block() {
    let _g = serial();
    let e = Etcd::start();
    let s = spec("10.20.0.0/22", 8); // 1024 addresses, 128 blocks
    let results: Vec<(String, Vec<u32>, Vec<u32>)> = std::thread::scope(|sc| {
        let hs: Vec<_> = (1..=3)
            .map(|i| {
                let s = s.clone();
                let e = &e;
                sc.spawn(move || {
                    rt().block_on(async move {
                        let sid = format!("bras-{i}");
                        let mut l = ledger(e, &s, &sid).await;
                        let reg = l.register(10, &sid).await.unwrap();
                        let mut got = Vec::new();
                        while let Some(b) = l.acquire(&reg).await.unwrap() {
                            got.push(b);
                        }
                        // Give back every other block, then race for the
                        // freed ones again.
                        let mut back = Vec::new();
                        for b in got.iter().step_by(2) {
                            assert_eq!(l.give_back(&reg, *b).await.unwrap(), GiveBack::Returned);
                            back.push(*b);
                        }
                        let mut again = Vec::new();
                        while let Some(b) = l.acquire(&reg).await.unwrap() {
                            again.push(b);
                        }
                        let held = l.held(&reg).await.unwrap();
                        let mut expect: Vec<u32> = got
                            .iter()
                            .filter(|b| !back.contains(b))
                            .chain(again.iter())
                            .copied()
                            .collect();
                        expect.sort();
                        assert_eq!(held, expect, "{sid}: the records differ from what it took");
                        (sid, held, got)
                    })
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut all = HashSet::new();
    for (sid, held, got) in &results {
        assert!(!got.is_empty(), "{sid} took nothing in the first race");
        for b in held {
            assert!(all.insert(*b), "block {b} held twice");
        }
    }
    assert_eq!(all.len() as u32, s.blocks(), "blocks neither free nor held");
}

/// A server stops renewing (as when it dies with its agent): nothing of it
/// is reclaimed while its registration lives, nor during the grace period
/// after it; then all its blocks come back free, once.
#[test]
fn a_dead_servers_blocks_come_back_after_its_lease_and_the_grace_period() {
    let _g = serial();
    let e = Etcd::start();
    rt().block_on(async {
        let s = spec("10.20.0.0/24", 16);
        let mut dead = ledger(&e, &s, "bras-1").await;
        let reg = dead.register(3, "dies").await.unwrap();
        let mut taken = Vec::new();
        for _ in 0..3 {
            taken.push(dead.acquire(&reg).await.unwrap().unwrap());
        }
        taken.sort();
        let t_renewed = Instant::now();
        Renewer::new(&dead, &reg)
            .await
            .unwrap()
            .renew(&mut dead, &reg)
            .await
            .unwrap();
        // From here on bras-1 never renews.
        let mut other = ledger(&e, &s, "bras-2").await;
        let mut freed = Vec::new();
        let mut first_free = None;
        while t_renewed.elapsed() < Duration::from_secs(20) && freed.len() < 3 {
            let f = other.reclaim().await.unwrap();
            if !f.is_empty() && first_free.is_none() {
                first_free = Some(t_renewed.elapsed());
            }
            freed.extend(f);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        freed.sort();
        assert_eq!(
            freed, taken,
            "not all of the dead server's blocks came back"
        );
        let after = first_free.unwrap();
        // Not before ttl + grace after the last renewal (etcd may add an
        // election's worth).
        assert!(
            after >= Duration::from_secs(3 + 2),
            "reclaimed after {after:?}"
        );
        for b in other.blocks().await.unwrap() {
            if taken.contains(&b.index) {
                assert_eq!(
                    b.record,
                    Record::Free {
                        last: Some("bras-1".into())
                    }
                );
            }
        }
        // Nothing more to reclaim; the markers can go.
        assert!(other.reclaim().await.unwrap().is_empty());
        assert_eq!(other.collect_markers().await.unwrap(), 1);
        // The dead registration takes nothing; a new one of bras-1 finds
        // nothing of its own to re-adopt.
        assert!(matches!(
            dead.acquire(&reg).await,
            Err(LedgerError::Lost { .. })
        ));
        let reg2 = dead.register(3, "back").await.unwrap();
        assert!(dead.readopt(&reg2).await.unwrap().is_empty());
        eprintln!("first reclaim {after:?} after the last renewal (ttl 3 s, grace 3 s)");
    });
}

/// A server whose registration ended comes back within the grace period:
/// it re-adopts its blocks (its sessions in them may still be up), and the
/// grace period another server started for it is void.
#[test]
fn a_server_back_within_the_grace_period_keeps_its_blocks() {
    let _g = serial();
    let e = Etcd::start();
    rt().block_on(async {
        let s = spec("10.20.0.0/24", 16);
        let mut a = ledger(&e, &s, "bras-1").await;
        let reg = a.register(3, "a").await.unwrap();
        let mine = [
            a.acquire(&reg).await.unwrap().unwrap(),
            a.acquire(&reg).await.unwrap().unwrap(),
        ];
        // Its registration ends (revoked: as if it expired).
        a.client().lease_revoke(reg.lease).await.unwrap();
        let mut b = ledger(&e, &s, "bras-2").await;
        // The grace period starts; nothing is freed yet.
        assert!(b.reclaim().await.unwrap().is_empty());
        // bras-1 registers again and takes its blocks back.
        let reg2 = a.register(3, "a").await.unwrap();
        let mut back = a.readopt(&reg2).await.unwrap();
        back.sort();
        let mut mine = mine.to_vec();
        mine.sort();
        assert_eq!(back, mine);
        let mut renewer = Renewer::new(&a, &reg2).await.unwrap();
        // Well past the grace period, with bras-1 renewing: nothing of it
        // is reclaimed.
        let t0 = Instant::now();
        while t0.elapsed() < Duration::from_secs(5) {
            renewer.renew(&mut a, &reg2).await.unwrap();
            assert!(b.reclaim().await.unwrap().is_empty());
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        assert_eq!(a.held(&reg2).await.unwrap(), mine);
        // bras-1 dies for good now: nothing is freed before ttl + grace
        // after its last renewal.
        let t_last = Instant::now();
        renewer.renew(&mut a, &reg2).await.unwrap();
        drop(renewer);
        let mut freed = Vec::new();
        while freed.len() < 2 && t_last.elapsed() < Duration::from_secs(20) {
            let f = b.reclaim().await.unwrap();
            assert!(
                f.is_empty() || t_last.elapsed() >= Duration::from_secs(6),
                "reclaimed {f:?} {:?} after the last renewal",
                t_last.elapsed()
            );
            freed.extend(f);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        freed.sort();
        assert_eq!(freed, mine);
    });
}

/// The grace marker of an earlier registration is void once the server
/// registers again: bras-1's registration ends, bras-2 starts its grace
/// period, bras-1 registers again (without re-adopting its blocks yet),
/// renews for longer than that grace period, then dies. Its blocks must
/// wait a full grace period after the *new* registration ended: the old
/// marker, had it been kept, would have let them go at once.
#[test]
fn a_new_registration_voids_the_old_grace_period() {
    let _g = serial();
    let e = Etcd::start();
    rt().block_on(async {
        let s = spec("10.20.0.0/24", 16);
        let mut a = ledger(&e, &s, "bras-1").await;
        let reg = a.register(3, "a").await.unwrap();
        let mine = a.acquire(&reg).await.unwrap().unwrap();
        a.client().lease_revoke(reg.lease).await.unwrap();
        let mut b = ledger(&e, &s, "bras-2").await;
        assert!(
            b.reclaim().await.unwrap().is_empty(),
            "grace started, nothing freed"
        );
        let reg2 = a.register(3, "a").await.unwrap();
        let mut renewer = Renewer::new(&a, &reg2).await.unwrap();
        // Longer than the old grace period (3 s).
        let t0 = Instant::now();
        while t0.elapsed() < Duration::from_secs(4) {
            renewer.renew(&mut a, &reg2).await.unwrap();
            assert!(b.reclaim().await.unwrap().is_empty());
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        let t_last = Instant::now();
        renewer.renew(&mut a, &reg2).await.unwrap();
        drop(renewer);
        // The record still names the first registration (no readopt).
        let mut freed = Vec::new();
        while freed.is_empty() && t_last.elapsed() < Duration::from_secs(20) {
            freed = b.reclaim().await.unwrap();
            assert!(
                freed.is_empty() || t_last.elapsed() >= Duration::from_secs(6),
                "freed {:?} after the new registration's last renewal",
                t_last.elapsed()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(freed, vec![mine]);
    });
}

/// A reclaiming server that stalls between granting a grace period's lease
/// and writing it, while the holder registers again and dies again in that
/// gap, starts no grace period then: the holder's blocks come back only a
/// full grace period after its *latest* registration ended (E2, the epoch
/// key). Without the epoch, the grace period would run from the stalled
/// grant, before that registration even began.
#[test]
fn a_stalled_reclaimer_starts_no_grace_period_across_a_new_registration() {
    let _g = serial();
    let e = Etcd::start();
    rt().block_on(async {
        let s = spec("10.21.0.0/24", 16);
        let mut a = ledger(&e, &s, "bras-1").await;
        let reg = a.register(3, "a").await.unwrap();
        let mine = a.acquire(&reg).await.unwrap().unwrap();
        a.client().lease_revoke(reg.lease).await.unwrap();
        let mut b = ledger(&e, &s, "bras-2").await;
        // b reads bras-1 gone, grants a grace lease, and stalls 2 s before
        // writing it. Meanwhile bras-1 registers again, and that
        // registration ends too.
        let again = async {
            tokio::time::sleep(Duration::from_millis(700)).await;
            let reg2 = a.register(3, "a").await.unwrap();
            a.client().lease_revoke(reg2.lease).await.unwrap();
            Instant::now()
        };
        let (r, ended) = tokio::join!(b.reclaim_stalling(Duration::from_secs(2)), again);
        assert!(r.unwrap().is_empty());
        let mut freed = Vec::new();
        while freed.is_empty() && ended.elapsed() < Duration::from_secs(20) {
            freed = b.reclaim().await.unwrap();
            assert!(
                freed.is_empty() || ended.elapsed() >= Duration::from_secs(3),
                "freed {:?} after the latest registration ended, within the grace period (3 s)",
                ended.elapsed()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(freed, vec![mine]);
    });
}

/// The registration survives the loss of the etcd leader: the remaining
/// two members elect another, renewals go on, and the claim deadline is
/// never reached.
#[test]
fn renewals_survive_the_loss_of_the_leader() {
    let _g = serial();
    let mut e = Etcd::start();
    rt().block_on(async {
        let s = spec("10.20.0.0/24", 16);
        let mut a = ledger(&e, &s, "bras-1").await;
        // ttl 5 s: the claim deadline is 4 s after a renewal (a 1 s margin).
        let reg = a.register(5, "a").await.unwrap();
        let mut renewer = Renewer::new(&a, &reg).await.unwrap();
        let leader = e.leader().expect("a leader");
        let mut last_ok = Instant::now();
        let mut longest = Duration::ZERO;
        let t0 = Instant::now();
        let mut killed = false;
        while t0.elapsed() < Duration::from_secs(8) {
            if !killed && t0.elapsed() > Duration::from_secs(1) {
                e.kill(leader);
                killed = true;
            }
            match renewer.renew(&mut a, &reg).await {
                Ok(_) => {
                    longest = longest.max(last_ok.elapsed());
                    last_ok = Instant::now();
                }
                Err(LedgerError::Lost { .. }) => panic!("registration lost"),
                Err(_) => {
                    // The stream went with the member: open another.
                    if let Ok(r) = Renewer::new(&a, &reg).await {
                        renewer = r;
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        let now = e.leader().expect("a new leader");
        assert_ne!(now, leader);
        // Still registered. A request may go to the dead member's endpoint
        // first (refused): the agent retries, and so does this.
        let mut verified = false;
        for _ in 0..20 {
            match a.verify(&reg).await {
                Ok(()) => {
                    verified = true;
                    break;
                }
                Err(LedgerError::Lost { .. }) => panic!("registration lost"),
                Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
            }
        }
        assert!(verified, "etcd unreachable after the leader's loss");
        // The claim deadline (ttl 5 s less a 1 s margin) was never reached.
        assert!(
            longest < Duration::from_secs(4),
            "{longest:?} without a renewal"
        );
        eprintln!("longest gap between renewals across the leader's loss: {longest:?}");
    });
}
