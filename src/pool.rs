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
            PoolError::BadPrefix { item } => {
                write!(f, "\"{item}\": the prefix length must be 0 to 32")
            }
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
        }
    }
}

impl std::error::Error for PoolError {}

/// Parse one item into a range, without checking for forbidden addresses.
fn parse_item(item: &str) -> Result<Range, PoolError> {
    let bad = || PoolError::BadAddress {
        item: item.to_string(),
    };
    let addr = |s: &str| s.trim().parse::<Ipv4Addr>().map_err(|_| bad());
    if let Some((net, len)) = item.split_once('/') {
        let base = addr(net)?;
        let len: u8 = len.trim().parse().map_err(|_| PoolError::BadPrefix {
            item: item.to_string(),
        })?;
        let net = Ipv4Net::new(base, len).map_err(|_| PoolError::BadPrefix {
            item: item.to_string(),
        })?;
        let (first, last) = (u32::from(net.network()), u32::from(net.broadcast()));
        if len < 31 {
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

/// Check the grammar of a list (an exclusion list may name any address).
pub fn check_syntax(spec: &str) -> Result<(), PoolError> {
    for item in items(spec)? {
        parse_item(item)?;
    }
    Ok(())
}

/// Sort and merge overlapping or adjacent ranges.
fn normalize(mut v: Vec<Range>) -> Vec<Range> {
    v.sort();
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

/// Remove `ex` (normalized) from `pool` (normalized).
fn subtract(pool: &[Range], ex: &[Range]) -> Vec<Range> {
    let mut out = Vec::new();
    for &r in pool {
        let mut cur = Some(r);
        for e in ex {
            let Some(c) = cur else { break };
            if e.last < c.first || e.first > c.last {
                continue;
            }
            if e.first > c.first {
                out.push(Range {
                    first: c.first,
                    last: e.first - 1,
                });
            }
            cur = if e.last < c.last {
                Some(Range {
                    first: e.last + 1,
                    last: c.last,
                })
            } else {
                None
            };
        }
        if let Some(c) = cur {
            out.push(c);
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
        let mut inc = Vec::new();
        for item in items(pool)? {
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
        let mut exc = Vec::new();
        if !exclude.trim().is_empty() {
            for item in items(exclude)? {
                exc.push(parse_item(item)?);
            }
        }
        let ranges = subtract(&normalize(inc), &normalize(exc));
        if ranges.is_empty() {
            return Err(PoolError::EmptyAfterExclusions {
                pool: pool.to_string(),
                exclude: exclude.to_string(),
            });
        }
        Self::from_ranges(ranges)
    }

    /// Build a pool from ranges already in canonical form (as stored in a
    /// table file). Refuses anything not sorted, disjoint and in bounds.
    pub fn from_ranges(ranges: Vec<Range>) -> Result<Pool, PoolError> {
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
            "\"10.0.0.0/33\": the prefix length must be 0 to 32"
        );
        assert_eq!(
            e("10.0.0.0/x", ""),
            "\"10.0.0.0/x\": the prefix length must be 0 to 32"
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
}
