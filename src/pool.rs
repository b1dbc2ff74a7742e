//! Pool definitions: parsing the `rasstatic-pool` / `rasstatic-exclude`
//! grammar into a sorted list of disjoint inclusive address ranges.
//!
//! Grammar: a comma-separated list of items, each one of
//! - a single address: `10.8.0.5`
//! - an inclusive range: `10.8.0.10-10.8.0.200`
//! - a CIDR block: `10.8.0.0/24` (blocks shorter than /31 leave out their
//!   network and broadcast addresses)
//!
//! Pure Rust, no pppd types: the plugin, the admin command and the tests all
//! use this code.

use std::fmt;
use std::net::Ipv4Addr;

use ipnet::Ipv4Net;

pub use crate::table::layout::MAX_RANGES;

/// The largest pool a table can hold.
pub const MAX_POOL: u64 = 1 << 24;

/// An inclusive range of IPv4 addresses, as host-order integers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Range {
    pub first: u32,
    pub last: u32,
}

impl Range {
    /// Addresses in the range (never zero: ranges are inclusive).
    pub fn count(&self) -> u64 {
        u64::from(self.last - self.first) + 1
    }
}

impl fmt::Display for Range {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.first == self.last {
            write!(f, "{}", Ipv4Addr::from(self.first))
        } else {
            write!(
                f,
                "{}-{}",
                Ipv4Addr::from(self.first),
                Ipv4Addr::from(self.last)
            )
        }
    }
}

/// Why a pool definition was refused. Every variant quotes the offending item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PoolError {
    Empty,
    EmptyItem {
        spec: String,
    },
    BadAddress {
        item: String,
    },
    BadPrefix {
        item: String,
    },
    Reversed {
        item: String,
    },
    Forbidden {
        item: String,
        addr: Ipv4Addr,
        why: &'static str,
    },
    EmptyAfterExclusions {
        pool: String,
        exclude: String,
    },
    TooLarge {
        size: u64,
    },
    /// More disjoint ranges than a table can record ([`MAX_RANGES`]).
    TooManyRanges {
        ranges: usize,
    },
}

impl fmt::Display for PoolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PoolError::Empty => write!(f, "the pool definition is empty"),
            PoolError::EmptyItem { spec } => {
                write!(f, "empty item in \"{spec}\" (stray comma?)")
            }
            PoolError::BadAddress { item } => {
                write!(f, "\"{item}\": not an IPv4 address, range or CIDR block")
            }
            PoolError::BadPrefix { item } => write!(
                f,
                "\"{item}\": the prefix length must be 0 to 32, in decimal without leading zeros"
            ),
            PoolError::Reversed { item } => {
                write!(f, "\"{item}\": the range ends before it starts")
            }
            PoolError::Forbidden { item, addr, why } => {
                write!(f, "\"{item}\" contains {addr}, which is {why}")
            }
            PoolError::EmptyAfterExclusions { pool, exclude } => {
                write!(f, "pool \"{pool}\" is empty once \"{exclude}\" is excluded")
            }
            PoolError::TooLarge { size } => write!(
                f,
                "the pool has {size} addresses; at most {MAX_POOL} are supported"
            ),
            PoolError::TooManyRanges { ranges } => write!(
                f,
                "the pool is made of {ranges} separate ranges once exclusions are taken out; \
                 a table holds at most {MAX_RANGES}: use fewer, larger ranges or exclude fewer scattered addresses"
            ),
        }
    }
}

impl std::error::Error for PoolError {}

/// A prefix length as written: decimal digits, no sign, no leading zero
/// (as for the address octets, which `Ipv4Addr` refuses with leading
/// zeros), at most 32.
fn prefix_len(s: &str) -> Option<u8> {
    let ok = !s.is_empty()
        && s.len() <= 2
        && s.bytes().all(|b| b.is_ascii_digit())
        && !(s.len() > 1 && s.starts_with('0'));
    ok.then(|| s.parse().ok())
        .flatten()
        .filter(|&n: &u8| n <= 32)
}

/// Parse one item into a range, without checking for forbidden addresses.
fn parse_item(item: &str) -> Result<Range, PoolError> {
    parse_any(item, false)
}

/// One address, range or CIDR block naming addresses to look at (as
/// `rasstatic show` takes): a CIDR block is taken whole, network and
/// broadcast addresses included.
pub fn parse_selection(item: &str) -> Result<Range, PoolError> {
    parse_any(item.trim(), true)
}

fn parse_any(item: &str, whole_block: bool) -> Result<Range, PoolError> {
    let bad = || PoolError::BadAddress {
        item: item.to_string(),
    };
    let addr = |s: &str| s.trim().parse::<Ipv4Addr>().map_err(|_| bad());
    if let Some((net, len)) = item.split_once('/') {
        let base = addr(net)?;
        let len = prefix_len(len.trim()).ok_or_else(|| PoolError::BadPrefix {
            item: item.to_string(),
        })?;
        let net = Ipv4Net::new(base, len).map_err(|_| PoolError::BadPrefix {
            item: item.to_string(),
        })?;
        let (first, last) = (u32::from(net.network()), u32::from(net.broadcast()));
        if len < 31 && !whole_block {
            // Network and broadcast addresses are not usable peer addresses.
            Ok(Range {
                first: first + 1,
                last: last - 1,
            })
        } else {
            Ok(Range { first, last })
        }
    } else if let Some((a, b)) = item.split_once('-') {
        let (first, last) = (u32::from(addr(a)?), u32::from(addr(b)?));
        if last < first {
            return Err(PoolError::Reversed {
                item: item.to_string(),
            });
        }
        Ok(Range { first, last })
    } else {
        let a = u32::from(addr(item)?);
        Ok(Range { first: a, last: a })
    }
}

/// Address blocks pppd refuses for a peer (auth.c:bad_ip_adrs) plus the
/// all-zeros and all-ones addresses.
const FORBIDDEN: &[(u32, u32, &str)] = &[
    (0x0000_0000, 0x0000_0000, "0.0.0.0"),
    (
        0x0000_0001,
        0x00ff_ffff,
        "in 0.0.0.0/8 (\"this network\", never a host's address)",
    ),
    (0x7f00_0000, 0x7fff_ffff, "a loopback address"),
    (0xe000_0000, 0xefff_ffff, "a multicast address"),
    (0xf000_0000, 0xffff_fffe, "a class-E (reserved) address"),
    (
        0xffff_ffff,
        0xffff_ffff,
        "the broadcast address 255.255.255.255",
    ),
];

/// Split a comma-separated list into trimmed items, rejecting empty ones.
fn items(spec: &str) -> Result<Vec<&str>, PoolError> {
    if spec.trim().is_empty() {
        return Err(PoolError::Empty);
    }
    spec.split(',')
        .map(|s| {
            let s = s.trim();
            if s.is_empty() {
                Err(PoolError::EmptyItem {
                    spec: spec.to_string(),
                })
            } else {
                Ok(s)
            }
        })
        .collect()
}

/// Parse a pool list into sorted, merged ranges, refusing any item that
/// contains an address pppd or the kernel would not give a peer.
pub fn pool_ranges(spec: &str) -> Result<Vec<Range>, PoolError> {
    let mut inc = Vec::new();
    for item in items(spec)? {
        let r = parse_item(item)?;
        for &(lo, hi, why) in FORBIDDEN {
            if r.first <= hi && r.last >= lo {
                let addr = Ipv4Addr::from(r.first.max(lo));
                return Err(PoolError::Forbidden {
                    item: item.to_string(),
                    addr,
                    why,
                });
            }
        }
        inc.push(r);
    }
    Ok(normalize(inc))
}

/// Parse an exclusion list (any address may be named) into sorted, merged
/// ranges; an empty list is no exclusion. A CIDR block is taken whole.
pub fn exclude_ranges(spec: &str) -> Result<Vec<Range>, PoolError> {
    if spec.trim().is_empty() {
        return Ok(Vec::new());
    }
    // An excluded block is excluded whole: its network and broadcast
    // addresses too (they may lie inside a longer pool block).
    let ex = items(spec)?
        .into_iter()
        .map(|i| parse_any(i, true))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(normalize(ex))
}

/// Sort and merge overlapping or adjacent ranges.
pub fn normalize(mut v: Vec<Range>) -> Vec<Range> {
    v.sort_unstable();
    let mut out: Vec<Range> = Vec::with_capacity(v.len());
    for r in v {
        match out.last_mut() {
            Some(last) if u64::from(r.first) <= u64::from(last.last) + 1 => {
                last.last = last.last.max(r.last);
            }
            _ => out.push(r),
        }
    }
    out
}

/// Remove `ex` from `pool` (both normalized), in one pass over both.
pub fn subtract(pool: &[Range], ex: &[Range]) -> Vec<Range> {
    let mut out = Vec::with_capacity(pool.len());
    let mut e = 0;
    for &r in pool {
        // Exclusions wholly below this range cannot touch it or any later one.
        while e < ex.len() && ex[e].last < r.first {
            e += 1;
        }
        let mut first = u64::from(r.first);
        let mut j = e;
        while j < ex.len() && ex[j].first <= r.last {
            if u64::from(ex[j].first) > first {
                out.push(Range {
                    first: first as u32,
                    last: ex[j].first - 1,
                });
            }
            first = first.max(u64::from(ex[j].last) + 1);
            j += 1;
        }
        if first <= u64::from(r.last) {
            out.push(Range {
                first: first as u32,
                last: r.last,
            });
        }
    }
    out
}

/// A validated pool: sorted, disjoint, non-adjacent ranges of usable
/// addresses, at most [`MAX_POOL`] addresses in all.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pool {
    ranges: Vec<Range>,
    /// `starts[i]` is the slot index of `ranges[i].first`.
    starts: Vec<u32>,
    size: u32,
}

impl Pool {
    /// Parse a pool and its exclusions (`exclude` may be empty).
    pub fn parse(pool: &str, exclude: &str) -> Result<Pool, PoolError> {
        let inc = pool_ranges(pool)?;
        let ranges = subtract(&inc, &exclude_ranges(exclude)?);
        if ranges.is_empty() {
            return Err(PoolError::EmptyAfterExclusions {
                pool: pool.to_string(),
                exclude: exclude.to_string(),
            });
        }
        Self::from_ranges(ranges)
    }

    /// Build a pool from ranges already in canonical form (as stored in a
    /// table file). Refuses anything not sorted, disjoint and in bounds:
    /// at most [`MAX_POOL`] addresses in at most [`MAX_RANGES`] ranges.
    pub fn from_ranges(ranges: Vec<Range>) -> Result<Pool, PoolError> {
        if ranges.len() > MAX_RANGES as usize {
            return Err(PoolError::TooManyRanges {
                ranges: ranges.len(),
            });
        }
        let mut total: u64 = 0;
        let mut starts = Vec::with_capacity(ranges.len());
        for (i, r) in ranges.iter().enumerate() {
            if r.last < r.first
                || (i > 0 && u64::from(r.first) <= u64::from(ranges[i - 1].last) + 1)
            {
                return Err(PoolError::BadAddress {
                    item: r.to_string(),
                });
            }
            starts.push(total as u32);
            total += r.count();
            if total > MAX_POOL {
                // Keep counting for the message, without overflowing u32.
                let size = ranges.iter().map(Range::count).sum();
                return Err(PoolError::TooLarge { size });
            }
        }
        if total == 0 {
            return Err(PoolError::Empty);
        }
        Ok(Pool {
            ranges,
            starts,
            size: total as u32,
        })
    }

    pub fn size(&self) -> u32 {
        self.size
    }

    pub fn ranges(&self) -> &[Range] {
        &self.ranges
    }

    /// The address at slot `idx`. Panics if `idx >= size()`.
    pub fn addr(&self, idx: u32) -> Ipv4Addr {
        assert!(
            idx < self.size,
            "slot {idx} outside a pool of {}",
            self.size
        );
        let i = self.starts.partition_point(|&s| s <= idx) - 1;
        Ipv4Addr::from(self.ranges[i].first + (idx - self.starts[i]))
    }

    /// The slot index of `addr`, if it is in the pool.
    pub fn index(&self, addr: Ipv4Addr) -> Option<u32> {
        let a = u32::from(addr);
        let i = self
            .ranges
            .partition_point(|r| r.first <= a)
            .checked_sub(1)?;
        let r = self.ranges[i];
        (a <= r.last).then(|| self.starts[i] + (a - r.first))
    }

    pub fn contains(&self, addr: Ipv4Addr) -> bool {
        self.index(addr).is_some()
    }
}

impl fmt::Display for Pool {
    /// The canonical form: normalized ranges, comma-separated.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, r) in self.ranges.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{r}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
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
    fn from_ranges_refuses_unsorted_or_overlapping() {
        let r = |f: u32, l: u32| Range { first: f, last: l };
        assert!(Pool::from_ranges(vec![r(10, 20), r(5, 6)]).is_err());
        assert!(Pool::from_ranges(vec![r(10, 20), r(21, 22)]).is_err());
        assert!(Pool::from_ranges(vec![r(10, 9)]).is_err());
        assert!(Pool::from_ranges(vec![]).is_err());
        assert!(Pool::from_ranges(vec![r(10, 20), r(22, 22)]).is_ok());
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
}
