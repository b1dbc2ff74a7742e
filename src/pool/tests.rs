use super::*;

fn a(s: &str) -> Ipv4Addr {
    s.parse().unwrap()
}

#[test]
fn single_range_and_cidr() {
    let p = Pool::parse("10.8.0.5, 10.8.0.10-10.8.0.12,10.9.0.0/30", "").unwrap();
    assert_eq!(p.size(), 1 + 3 + 2);
    let all: Vec<_> = (0..p.size()).map(|i| p.addr(i)).collect();
    assert_eq!(
        all,
        vec![
            a("10.8.0.5"),
            a("10.8.0.10"),
            a("10.8.0.11"),
            a("10.8.0.12"),
            a("10.9.0.1"),
            a("10.9.0.2")
        ]
    );
    for (i, ad) in all.iter().enumerate() {
        assert_eq!(p.index(*ad), Some(i as u32));
    }
    assert_eq!(p.index(a("10.8.0.6")), None);
    assert_eq!(p.index(a("10.9.0.0")), None);
    assert_eq!(p.index(a("1.1.1.1")), None);
}

#[test]
fn slash31_and_32_keep_all_addresses() {
    assert_eq!(Pool::parse("10.0.0.0/31", "").unwrap().size(), 2);
    assert_eq!(Pool::parse("10.0.0.7/32", "").unwrap().size(), 1);
    assert_eq!(Pool::parse("10.0.0.0/24", "").unwrap().size(), 254);
    // A host address with a prefix is taken as its block.
    assert_eq!(Pool::parse("10.0.0.77/24", "").unwrap().size(), 254);
}

#[test]
fn exclusions_and_merging() {
    let p = Pool::parse(
        "10.0.0.0/24,10.0.0.100-10.0.1.10",
        "10.0.0.1,10.0.0.50-10.0.0.59",
    )
    .unwrap();
    assert_eq!(p.to_string(), "10.0.0.2-10.0.0.49,10.0.0.60-10.0.1.10");
    assert_eq!(p.size(), 48 + 207);
}

#[test]
fn bad_items_are_quoted_with_the_reason() {
    let e = |p: &str, x: &str| Pool::parse(p, x).unwrap_err().to_string();
    assert_eq!(
        e("10.0.0.256", ""),
        "\"10.0.0.256\": not an IPv4 address, range or CIDR block"
    );
    assert_eq!(
        e("10.0.0.1,bogus", ""),
        "\"bogus\": not an IPv4 address, range or CIDR block"
    );
    assert_eq!(
        e("10.0.0.9-10.0.0.1", ""),
        "\"10.0.0.9-10.0.0.1\": the range ends before it starts"
    );
    assert_eq!(
        e("10.0.0.0/33", ""),
        "\"10.0.0.0/33\": the prefix length must be 0 to 32, in decimal without leading zeros"
    );
    assert_eq!(
        e("10.0.0.0/x", ""),
        "\"10.0.0.0/x\": the prefix length must be 0 to 32, in decimal without leading zeros"
    );
    assert!(e("0.0.0.0", "").contains("0.0.0.0"));
    assert!(e("255.255.255.255", "").contains("broadcast"));
    assert!(e("127.0.0.1", "").contains("loopback"));
    assert!(e("126.255.255.250-127.0.0.2", "").contains("127.0.0.0, which is a loopback"));
    assert!(e("224.0.0.1", "").contains("multicast"));
    assert!(e("240.0.0.1", "").contains("class-E"));
    assert!(e("10.0.0.1", "10.0.0.0/24").contains("empty once"));
    assert!(e("10.0.0.1,,10.0.0.2", "").contains("empty item"));
    assert_eq!(e("  ", ""), "the pool definition is empty");
    assert!(e("10.0.0.1", "nonsense").contains("\"nonsense\""));
    assert_eq!(
        e("10.0.0.0/7", ""),
        "the pool has 33554430 addresses; at most 16777216 are supported"
    );
}

#[test]
fn largest_pool_is_accepted() {
    let p = Pool::parse("10.0.0.0-10.255.255.255", "").unwrap();
    assert_eq!(p.size(), 1 << 24);
    assert_eq!(p.addr((1 << 24) - 1), a("10.255.255.255"));
}

#[test]
fn from_ranges_refuses_unsorted_or_overlapping_or_forbidden() {
    const B: u32 = 0x0a00_0000; // 10.0.0.0
    let r = |f: u32, l: u32| Range {
        first: B + f,
        last: B + l,
    };
    assert!(Pool::from_ranges(vec![r(10, 20), r(5, 6)]).is_err());
    assert!(Pool::from_ranges(vec![r(10, 20), r(21, 22)]).is_err());
    assert!(Pool::from_ranges(vec![r(10, 9)]).is_err());
    assert!(Pool::from_ranges(vec![]).is_err());
    assert!(Pool::from_ranges(vec![r(10, 20), r(22, 22)]).is_ok());
    // What the grammar refuses, a table file cannot bring in either.
    let raw = |f: u32, l: u32| Range { first: f, last: l };
    for bad in [
        raw(0, 0),
        raw(5, 9),
        raw(0x7f00_0001, 0x7f00_0001),
        raw(0xe000_0001, 0xe000_0002),
    ] {
        let e = Pool::from_ranges(vec![bad]).unwrap_err();
        assert!(matches!(e, PoolError::Forbidden { .. }), "{e}");
    }
}

#[test]
fn selections_take_cidr_blocks_whole() {
    let r = |f: &str, l: &str| Range {
        first: u32::from(a(f)),
        last: u32::from(a(l)),
    };
    assert_eq!(
        parse_selection("10.0.0.0/24"),
        Ok(r("10.0.0.0", "10.0.0.255"))
    );
    assert_eq!(parse_selection(" 10.0.0.5 "), Ok(r("10.0.0.5", "10.0.0.5")));
    assert_eq!(
        parse_selection("10.0.0.5-10.0.0.9"),
        Ok(r("10.0.0.5", "10.0.0.9"))
    );
    assert!(parse_selection("10.0.0.9-10.0.0.5").is_err());
    assert!(parse_selection("10.0.0.0/024").is_err());
    assert!(parse_selection("ten").is_err());
}

#[test]
fn this_network_block_is_refused() {
    let e = Pool::parse("0.0.0.1-0.0.0.5", "").unwrap_err().to_string();
    assert_eq!(
        e,
        "\"0.0.0.1-0.0.0.5\" contains 0.0.0.1, which is in 0.0.0.0/8 (\"this network\", never a host's address)"
    );
    assert!(Pool::parse("0.255.255.255", "").is_err());
    assert!(Pool::parse("0.0.0.0/8", "").is_err());
    assert_eq!(Pool::parse("1.0.0.0/31", "").unwrap().size(), 2);
}

#[test]
fn prefix_lengths_are_plain_decimal() {
    for bad in [
        "10.0.0.0/024",
        "10.0.0.0/00",
        "10.0.0.0/+24",
        "10.0.0.0/",
        "10.0.0.0/2 4",
    ] {
        assert_eq!(
            Pool::parse(bad, "").unwrap_err(),
            PoolError::BadPrefix { item: bad.into() },
            "{bad}"
        );
    }
    assert!(exclude_ranges("10.0.0.0/024").is_err());
    assert_eq!(Pool::parse("10.0.0.0/24", "").unwrap().size(), 254);
    assert_eq!(Pool::parse("10.0.0.0/ 24", "").unwrap().size(), 254);
    assert!(
        Pool::parse("10.0.0.0/0", "").is_err(),
        "holds forbidden addresses"
    );
    assert!(prefix_len("0") == Some(0) && prefix_len("32") == Some(32));
    assert!(prefix_len("33").is_none() && prefix_len("100").is_none());
}

/// Every other address of 10.0.0.0/8, `n` of them.
fn scattered(n: u32) -> String {
    (0..n)
        .map(|i| Ipv4Addr::from(0x0a00_0000 + 2 + 2 * i).to_string())
        .collect::<Vec<_>>()
        .join(",")
}

#[test]
fn pools_the_table_cannot_hold_are_refused_when_parsed() {
    let max = MAX_RANGES;
    // As many disjoint ranges as a table holds: accepted.
    let p = Pool::parse(&scattered(max), "").unwrap();
    assert_eq!(p.ranges().len(), max as usize);
    // One more: refused, as configuration, naming the limit.
    let e = Pool::parse(&scattered(max + 1), "").unwrap_err();
    assert_eq!(
        e,
        PoolError::TooManyRanges {
            ranges: max as usize + 1
        }
    );
    let msg = e.to_string();
    assert!(
        msg.contains(&format!("{} separate ranges", max + 1))
            && msg.contains(&format!("at most {max}"))
            && !msg.contains("corrupt"),
        "{msg}"
    );
    // A /8 less MAX_RANGES scattered exclusions is MAX_RANGES + 1 ranges.
    let ex = scattered(max);
    let e = Pool::parse("10.0.0.0/8", &ex).unwrap_err();
    assert_eq!(
        e,
        PoolError::TooManyRanges {
            ranges: max as usize + 1
        }
    );
    let ex = scattered(max - 1);
    assert_eq!(
        Pool::parse("10.0.0.0/8", &ex).unwrap().ranges().len(),
        max as usize
    );
    // from_ranges (the table's own validation) refuses it as well.
    let r: Vec<Range> = (0..=max)
        .map(|i| Range {
            first: 0x0a00_0000 + 2 * i,
            last: 0x0a00_0000 + 2 * i,
        })
        .collect();
    assert!(matches!(
        Pool::from_ranges(r),
        Err(PoolError::TooManyRanges { .. })
    ));
}

#[test]
fn subtract_matches_a_bitmap() {
    // Small universe, pseudo-random ranges: compare with a bitmap.
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut rnd = |n: u32| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % u64::from(n)) as u32
    };
    for _ in 0..500 {
        let (k1, k2) = (rnd(8), rnd(8));
        let mut gen = |k: u32| -> Vec<Range> {
            let v = (0..k)
                .map(|_| {
                    let a = rnd(200);
                    let b = a + rnd(20);
                    Range { first: a, last: b }
                })
                .collect();
            normalize(v)
        };
        let p = gen(k1);
        let e = gen(k2);
        let got = subtract(&p, &e);
        let mut want = vec![false; 256];
        for r in &p {
            (r.first..=r.last).for_each(|i| want[i as usize] = true);
        }
        for r in &e {
            (r.first..=r.last).for_each(|i| want[i as usize] = false);
        }
        let mut have = vec![false; 256];
        for r in &got {
            (r.first..=r.last).for_each(|i| have[i as usize] = true);
        }
        assert_eq!(have, want, "{p:?} - {e:?} = {got:?}");
        assert_eq!(normalize(got.clone()), got, "canonical");
    }
}

#[test]
fn subtract_at_the_ends_of_the_address_space() {
    let r = |f: u32, l: u32| Range { first: f, last: l };
    assert_eq!(
        subtract(&[r(5, u32::MAX)], &[r(u32::MAX, u32::MAX)]),
        vec![r(5, u32::MAX - 1)]
    );
    assert_eq!(subtract(&[r(0, 9)], &[r(0, 0)]), vec![r(1, 9)]);
    assert_eq!(subtract(&[r(3, 9)], &[r(0, u32::MAX)]), vec![]);
}

#[test]
fn an_excluded_block_is_excluded_whole() {
    let p = Pool::parse("10.20.0.0/16", "10.20.5.0/24").unwrap();
    for a in ["10.20.5.0", "10.20.5.1", "10.20.5.254", "10.20.5.255"] {
        assert!(!p.contains(a.parse().unwrap()), "{a} is in {p}");
    }
    assert!(p.contains("10.20.4.255".parse().unwrap()));
    assert!(p.contains("10.20.6.0".parse().unwrap()));
    assert_eq!(p.size(), 65534 - 256);
}
