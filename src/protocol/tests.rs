use super::*;
use std::collections::HashSet;

struct Set(HashSet<u64>);
impl Liveness for Set {
    fn is_alive(&self, o: Owner) -> bool {
        self.0.contains(&o.word())
    }
}

fn table(n: u32) -> (Vec<AtomicU64>, Vec<AtomicU64>, AtomicU64) {
    let owners = (0..n).map(|_| AtomicU64::new(0)).collect();
    let bitmap = (0..bitmap_words(n))
        .map(|w| AtomicU64::new(initial_hint(w, n)))
        .collect();
    (owners, bitmap, AtomicU64::new(0))
}

/// `slots!(s, n)`: `s`, a `Slots` over `n` fresh words, for this test.
macro_rules! slots {
    ($s:ident, $n:expr) => {
        let (o, b, c) = table($n);
        let sweep = AtomicU64::new(0);
        let $s = Slots {
            owners: &o,
            bitmap: &b,
            cursor: &c,
            sweep: &sweep,
        };
    };
}

#[test]
fn round_robin_claims_next_after_last() {
    slots!(s, 130);
    let p = |i| Owner::new(i, 1);
    let live = Set((1..200).map(|i| p(i).word()).collect());
    let mut got = vec![];
    for i in 1..=3 {
        got.push(
            s.claim(p(i), ClaimOpts::default(), &live, 0)
                .claimed
                .unwrap()
                .slot,
        );
    }
    assert_eq!(got, vec![0, 1, 2]);
    assert!(s.release(1, p(2), EndedBy::Api, 0));
    assert!(
        !s.release(1, p(2), EndedBy::Api, 0),
        "release is idempotent"
    );
    assert!(
        !s.release(0, p(2), EndedBy::Api, 0),
        "only the owner releases"
    );
    // Slot 1 was just freed: it is the last to be reused.
    assert_eq!(
        s.claim(p(4), ClaimOpts::default(), &live, 0)
            .claimed
            .unwrap()
            .slot,
        3
    );
    // A second claim by the same process returns its lease.
    let again = s
        .claim(
            p(4),
            ClaimOpts {
                prefer: Some(3),
                avoid: None,
            },
            &live,
            0,
        )
        .claimed
        .unwrap();
    assert_eq!(
        again,
        Claimed {
            slot: 3,
            existing: true,
            prev: p(4).word()
        }
    );
}

#[test]
fn wraps_around_and_avoids() {
    slots!(s, 70);
    let live = Set((1..200).map(|i| Owner::new(i, 1).word()).collect());
    for i in 0..69 {
        let r = s.claim(
            Owner::new(i + 1, 1),
            ClaimOpts {
                prefer: None,
                avoid: Some(5),
            },
            &live,
            0,
        );
        assert_ne!(r.claimed.unwrap().slot, 5);
    }
    let r = s.claim(
        Owner::new(100, 1),
        ClaimOpts {
            prefer: None,
            avoid: Some(5),
        },
        &live,
        0,
    );
    assert_eq!(r.claimed, None, "only the avoided slot is left");
    assert!(s.release(68, Owner::new(68, 1), EndedBy::Api, 0));
    s.cursor.store(69, Ordering::Relaxed);
    let r = s.claim(Owner::new(101, 1), ClaimOpts::default(), &live, 0);
    assert_eq!(r.claimed.unwrap().slot, 5, "wraps to the first free slot");
}

#[test]
fn full_pool_reaps_dead_before_refusing() {
    slots!(s, 3);
    let mut live = Set((1..=4).map(|i| Owner::new(i, 1).word()).collect());
    for i in 1..=3 {
        s.claim(Owner::new(i, 1), ClaimOpts::default(), &live, 0)
            .claimed
            .unwrap();
    }
    assert!(s
        .claim(Owner::new(4, 1), ClaimOpts::default(), &live, 0)
        .claimed
        .is_none());
    live.0.remove(&Owner::new(2, 1).word());
    let r = s.claim(Owner::new(4, 1), ClaimOpts::default(), &live, 7);
    assert_eq!(r.claimed.unwrap().slot, 1);
    assert_eq!(
        r.reaped,
        vec![Reaped {
            slot: 1,
            owner: Owner::new(2, 1)
        }]
    );
}

#[test]
fn stale_hints_never_hide_a_free_slot() {
    slots!(s, 200);
    let live = Set((1..=1000).map(|i| Owner::new(i, 1).word()).collect());
    for i in 0..200 {
        s.claim(Owner::new(i + 1, 1), ClaimOpts::default(), &live, 0)
            .claimed
            .unwrap();
    }
    // Free one slot behind the bitmap's back: the hint still says taken.
    s.owners[123].store(0, Ordering::SeqCst);
    for w in s.bitmap {
        w.store(0, Ordering::Relaxed);
    }
    let r = s.claim(Owner::new(999, 1), ClaimOpts::default(), &live, 0);
    assert_eq!(r.claimed.unwrap().slot, 123);
}

#[test]
fn a_full_pool_sweep_is_bounded_and_resumes() {
    let (o, b, c) = table(300);
    let sw = AtomicU64::new(0);
    let s = Slots {
        owners: &o,
        bitmap: &b,
        cursor: &c,
        sweep: &sw,
    };
    let mut live = Set((1..=400).map(|i| Owner::new(i, 1).word()).collect());
    for i in 0..300 {
        let c = s.claim(Owner::new(i + 1, 1), ClaimOpts::default(), &live, 0);
        assert!(
            !s.hinted_free(c.claimed.unwrap().slot),
            "leased with its bit set"
        );
    }
    // The holder of slot 250 dies.
    live.0.remove(&Owner::new(251, 1).word());
    let me = Owner::new(400, 1);
    let budget = Sweep {
        words: 1000,
        checks: 100,
    };
    // Trusting a watchdog: no holder is checked, nothing reaped.
    let r = s.claim_with(me, ClaimOpts::default(), &live, 0, Sweep::TRUSTING);
    assert!(r.claimed.is_none() && r.reaped.is_empty());
    // 100 checks per claim: slots 0-99, 100-199, then 200-299.
    for k in 0..2 {
        let r = s.claim_with(me, ClaimOpts::default(), &live, 0, budget);
        assert!(r.claimed.is_none() && r.reaped.is_empty(), "claim {k}");
        assert_eq!(sw.load(Ordering::Relaxed), 100 * (k + 1));
    }
    let r = s.claim_with(me, ClaimOpts::default(), &live, 0, budget);
    assert_eq!(r.claimed.unwrap().slot, 250);
    assert_eq!(r.reaped.len(), 1);
    assert!(s.release(250, me, EndedBy::Api, 0));
    assert!(s.hinted_free(250));
}

#[test]
fn transfer_is_one_step_and_only_from_the_owner() {
    slots!(s, 4);
    let (p, q, x) = (Owner::new(10, 5), Owner::new(11, 6), Owner::new(12, 7));
    let live = Set([p, q, x].iter().map(|o| o.word()).collect());
    let slot = s
        .claim(p, ClaimOpts::default(), &live, 0)
        .claimed
        .unwrap()
        .slot;
    assert!(!s.transfer(slot, x, q), "a stranger cannot move a lease");
    assert!(s.transfer(slot, p, q));
    assert!(
        !s.release(slot, p, EndedBy::Api, 0),
        "the old owner no longer holds it"
    );
    assert!(s.release(slot, q, EndedBy::Api, 0));
}

#[test]
fn free_word_round_trip() {
    let f = Free {
        path: EndedBy::ReapWatchdog,
        last_pid: 4_000_000,
        when: 0xdead_beef,
    };
    assert_eq!(Free::from_word(f.word()), Some(f));
    assert_eq!(Free::from_word(0).unwrap().path, EndedBy::Never);
    assert_eq!(Free::from_word(Owner::new(1, 1).word()), None);
}

#[test]
fn sealed_slots_are_never_claimed_and_a_leased_one_stops_a_seal() {
    slots!(s, 8);
    let p = |i| Owner::new(i, 1);
    let live = Set((1..20).map(|i| p(i).word()).collect());
    // Seal the first block of four: claims go to the second.
    assert_eq!(s.seal(0, 4), Ok(()));
    assert_eq!(s.sealed(0, 8), 4);
    for i in 1..=4 {
        let got = s
            .claim(p(i), ClaimOpts::default(), &live, 0)
            .claimed
            .unwrap();
        assert!(got.slot >= 4, "claimed sealed slot {}", got.slot);
    }
    // Full now, although four are free: sealed ones are not this server's.
    assert!(s
        .claim(p(5), ClaimOpts::default(), &live, 0)
        .claimed
        .is_none());
    assert_eq!(s.leased(), 4);
    // A preferred (sticky) sealed slot is not taken either.
    let opts = ClaimOpts {
        prefer: Some(1),
        ..ClaimOpts::default()
    };
    assert!(s.claim(p(5), opts, &live, 0).claimed.is_none());
    // Sealing a block with a lease in it fails, names the slot and leaves
    // nothing of it sealed.
    assert_eq!(s.seal(4, 4), Err(4));
    assert_eq!(s.sealed(4, 4), 0);
    // Released and sealed: the history is kept in the sealed word.
    assert!(s.release(6, p(3), EndedBy::IpDown, 7));
    let before = s.word(6);
    s.unseal(0, 4);
    assert_eq!(s.sealed(0, 8), 0);
    assert_eq!(
        s.claim(p(5), ClaimOpts::default(), &live, 0)
            .claimed
            .unwrap()
            .slot,
        0
    );
    // Re-assert never takes a sealed word, as a claim never does; once
    // unsealed, it does.
    assert_eq!(s.seal(7, 1), Err(7));
    assert_eq!(s.seal(6, 1), Ok(()));
    assert_eq!(Free::from_word(s.word(6)).unwrap().path, EndedBy::IpDown);
    assert_eq!(s.word(6) & !crate::word::SEALED, before);
    assert_eq!(s.reassert(6, p(9), |_| true), Err(None));
    assert!(is_sealed(s.word(6)));
    s.unseal(6, 1);
    assert_eq!(s.reassert(6, p(9), |_| false), Ok(true));
}

#[test]
fn seal_free_closes_every_free_slot_and_names_the_leased_ones() {
    slots!(s, 8);
    let p = |i| Owner::new(i, 1);
    let live = Set((1..20).map(|i| p(i).word()).collect());
    for i in 1..=2 {
        s.claim(p(i), ClaimOpts::default(), &live, 0)
            .claimed
            .unwrap();
    }
    // Slots 0 and 1 leased: seal_free seals 2..8 and names 0 and 1,
    // where seal would have given up.
    assert_eq!(s.seal(0, 8), Err(0));
    assert_eq!(s.sealed(0, 8), 0);
    assert_eq!(s.seal_free(0, 8), vec![0, 1]);
    assert_eq!(s.sealed(0, 8), 6);
    assert!(s
        .claim(p(3), ClaimOpts::default(), &live, 0)
        .claimed
        .is_none());
    // A session in it ends: its slot comes back unsealed, and the next
    // seal_free closes it.
    assert!(s.release(1, p(2), EndedBy::IpDown, 0));
    assert_eq!(s.seal_free(0, 8), vec![0]);
    assert_eq!(s.sealed(0, 8), 7);
    assert!(s
        .claim(p(3), ClaimOpts::default(), &live, 0)
        .claimed
        .is_none());
}

#[test]
fn an_unclaimed_slot_is_as_it_was() {
    slots!(s, 4);
    let p = |i| Owner::new(i, 1);
    let live = Set((1..20).map(|i| p(i).word()).collect());
    let first = s
        .claim(p(1), ClaimOpts::default(), &live, 0)
        .claimed
        .unwrap();
    assert!(s.release(first.slot, p(1), EndedBy::IpDown, 77));
    let before = s.word(first.slot);
    let c = s
        .claim(
            p(2),
            ClaimOpts {
                prefer: Some(first.slot),
                avoid: None,
            },
            &live,
            0,
        )
        .claimed
        .unwrap();
    assert_eq!((c.slot, c.existing, c.prev), (first.slot, false, before));
    assert!(!s.unclaim(c, p(3)), "only the claimer undoes its claim");
    assert!(s.unclaim(c, p(2)));
    assert_eq!(
        s.word(first.slot),
        before,
        "the last holder's record is back"
    );
    assert!(!s.unclaim(c, p(2)), "once");
    let again = s.claim(
        p(2),
        ClaimOpts {
            prefer: Some(first.slot),
            avoid: None,
        },
        &live,
        0,
    );
    assert!(!s.unclaim(
        Claimed {
            existing: true,
            ..again.claimed.unwrap()
        },
        p(2)
    ));
}

#[test]
fn carry_in_never_revives_a_lease_its_owner_released_here() {
    slots!(s, 8);
    let p = |i| Owner::new(i, 1);
    // Never used: entered.
    assert_eq!(s.carry_in(0, p(1), |_| false), Ok(Some(true)));
    assert_eq!(s.carry_in(0, p(1), |_| false), Ok(Some(false)));
    // Released here by its owner: left free, whatever the path.
    assert!(s.release(0, p(1), EndedBy::IpDown, 5));
    assert_eq!(s.carry_in(0, p(1), |_| true), Ok(None));
    assert_eq!(Free::from_word(s.word(0)).unwrap().last_pid, 1);
    // Released here by another process: entered.
    assert_eq!(s.carry_in(0, p(2), |_| false), Ok(Some(true)));
    // Held by a live process that does not yield: named, untouched.
    assert_eq!(s.carry_in(0, p(3), |_| false), Err(Some(p(2))));
    // Sealed: never taken.
    assert!(s.release(0, p(2), EndedBy::IpDown, 6));
    assert_eq!(s.seal(0, 1), Ok(()));
    assert_eq!(s.carry_in(0, p(3), |_| true), Err(None));
    // A re-assert by the owner itself still takes its released word (its
    // own session says it holds the address).
    s.unseal(0, 1);
    assert_eq!(s.reassert(0, p(2), |_| false), Ok(true));
    // An interface lease: its "pid" is an interface index, not compared
    // with the PID of whoever released the word.
    assert!(s.release(0, p(2), EndedBy::IpDown, 7));
    let iface = Owner::interface(2, 0x0a07_0001);
    assert_eq!(iface.pid(), 2);
    assert_eq!(s.carry_in(0, iface, |_| false), Ok(Some(true)));
}
