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

/// The error for a range that holds an address pppd or the kernel would
/// not give a peer, if it does.
pub fn forbidden(r: Range) -> Option<PoolError> {
    FORBIDDEN.iter().find_map(|&(lo, hi, why)| {
        (r.first <= hi && r.last >= lo).then(|| PoolError::Forbidden {
            item: r.to_string(),
            addr: Ipv4Addr::from(r.first.max(lo)),
            why,
        })
    })
}

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
    /// at most [`MAX_POOL`] addresses in at most [`MAX_RANGES`] ranges,
    /// none of them an address the grammar refuses (a table's pool may be
    /// followed by every pppd, so it is held to the same rules).
    pub fn from_ranges(ranges: Vec<Range>) -> Result<Pool, PoolError> {
        for r in &ranges {
            if let Some(e) = forbidden(*r) {
                return Err(e);
            }
        }
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
mod tests;
