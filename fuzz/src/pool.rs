//! The pool and exclusion grammar (`rasstatic-pool`, `rasstatic-exclude`,
//! and `rasstatic show`'s selection). Input: the pool definition, a line
//! break, the exclusions.

use std::net::Ipv4Addr;

use rasstatic::pool::{self, Pool, MAX_POOL};

/// Addresses pppd never gives a peer: no pool may contain them.
const NEVER: [u32; 6] = [
    0,
    0x00ff_ffff,
    0x7f00_0001,
    0xe000_0001,
    0xf000_0001,
    u32::MAX,
];

pub fn run(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let (spec, exclude) = text.split_once('\n').unwrap_or((&text, ""));
    if let Ok(r) = pool::parse_selection(&text) {
        assert!(r.first <= r.last);
    }
    let excluded = pool::exclude_ranges(exclude);
    let Ok(p) = Pool::parse(spec, exclude) else {
        return;
    };
    check_pool(&p);
    for a in NEVER {
        assert!(
            !p.contains(Ipv4Addr::from(a)),
            "{p} holds {}",
            Ipv4Addr::from(a)
        );
    }
    // Nothing excluded is in the pool.
    for r in excluded.expect("the pool parsed with these exclusions") {
        for a in [r.first, r.last, r.first + (r.last - r.first) / 2] {
            assert!(
                !p.contains(Ipv4Addr::from(a)),
                "{p} holds excluded {}",
                Ipv4Addr::from(a)
            );
        }
    }
    // The canonical form reads back as the same pool.
    let again = Pool::parse(&p.to_string(), "").expect("the canonical form parses");
    assert_eq!(again, p);
}

/// What every pool must be: sorted, disjoint, non-adjacent ranges within
/// the size limit, with slot indexes and addresses mapping both ways.
pub fn check_pool(p: &Pool) {
    let r = p.ranges();
    assert!(!r.is_empty());
    assert!(r.iter().all(|r| r.first <= r.last));
    assert!(r
        .windows(2)
        .all(|w| u64::from(w[0].last) + 1 < u64::from(w[1].first)));
    let total: u64 = r.iter().map(|r| r.count()).sum();
    assert_eq!(total, u64::from(p.size()));
    assert!(total <= MAX_POOL);
    let n = p.size();
    for i in [0, n / 3, n / 2, n - 1] {
        let a = p.addr(i);
        assert_eq!(p.index(a), Some(i), "slot {i} of {p} is {a}");
    }
    for r in r {
        for a in [r.first, r.last] {
            let i = p
                .index(Ipv4Addr::from(a))
                .expect("a range's end is in the pool");
            assert_eq!(u32::from(p.addr(i)), a);
        }
        if r.first > 0 {
            assert!(!p.contains(Ipv4Addr::from(r.first - 1)));
        }
        if r.last < u32::MAX {
            assert!(!p.contains(Ipv4Addr::from(r.last + 1)));
        }
    }
}
