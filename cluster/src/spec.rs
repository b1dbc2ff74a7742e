//! What every server of a cluster must agree on: the pool, cut into
//! blocks of a fixed size. Stored once in etcd (`config`, never changed);
//! a server whose local definition differs is refused.

use std::fmt;

use rasstatic::pool::Pool;

/// The smallest and largest block sizes (addresses per block).
pub const MIN_BLOCK: u32 = 8;
pub const MAX_BLOCK: u32 = 256;

/// A cluster pool: its name, its addresses and the block size.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Spec {
    /// The pool's name, part of every etcd key (`[A-Za-z0-9_-]`, 1 to 64).
    pub name: String,
    /// The pool's canonical text (`Pool`'s display form: sorted, merged
    /// ranges, exclusions applied).
    pub canonical: String,
    /// Addresses in the pool.
    pub size: u32,
    /// Addresses per block; the last block may be shorter.
    pub block: u32,
    /// The grace period in seconds: how long after a server's
    /// registration ended its blocks stay its. The reclaiming server's
    /// value decides, and the holder's hang deadline counts on it, so it
    /// is part of what every server must agree on.
    pub grace: u64,
}

#[derive(Debug, PartialEq, Eq)]
pub enum SpecError {
    BadName(String),
    BadBlock(u32),
    BadGrace,
}

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SpecError::BadName(n) => write!(
                f,
                "pool name {n:?}: use 1 to 64 of the characters A-Z a-z 0-9 _ -"
            ),
            SpecError::BadBlock(b) => write!(
                f,
                "block size {b}: use a power of two from {MIN_BLOCK} to {MAX_BLOCK}"
            ),
            SpecError::BadGrace => write!(f, "grace 0: use at least 1 second"),
        }
    }
}

impl std::error::Error for SpecError {}

impl Spec {
    pub fn new(name: &str, pool: &Pool, block: u32, grace: u64) -> Result<Spec, SpecError> {
        let name_ok = !name.is_empty()
            && name.len() <= 64
            && name
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'-');
        if !name_ok {
            return Err(SpecError::BadName(name.to_string()));
        }
        if !block.is_power_of_two() || !(MIN_BLOCK..=MAX_BLOCK).contains(&block) {
            return Err(SpecError::BadBlock(block));
        }
        if grace == 0 {
            return Err(SpecError::BadGrace);
        }
        Ok(Spec {
            name: name.to_string(),
            canonical: pool.to_string(),
            size: pool.size(),
            block,
            grace,
        })
    }

    /// The block size the design rule gives for `servers` servers: the
    /// largest power of two at most size / (16 × servers), clamped to
    /// 8..=256.
    pub fn suggested_block(size: u32, servers: u32) -> u32 {
        let target = size / (16 * servers.max(1));
        let mut b = MIN_BLOCK;
        while b * 2 <= target && b < MAX_BLOCK {
            b *= 2;
        }
        b
    }

    /// Blocks in the pool.
    pub fn blocks(&self) -> u32 {
        self.size.div_ceil(self.block)
    }

    /// Slot indexes (pool order) of block `b`.
    pub fn slots(&self, b: u32) -> std::ops::Range<u32> {
        let first = b * self.block;
        first..(first + self.block).min(self.size)
    }

    /// The `config` record: one line, compared byte for byte.
    pub fn record(&self) -> String {
        format!(
            "rasstatic-cluster v1 pool={} size={} block={} grace={} hash={:016x}",
            self.canonical,
            self.size,
            self.block,
            self.grace,
            fnv1a(format!("{}|{}|{}", self.canonical, self.block, self.grace).as_bytes())
        )
    }
}

/// 64-bit FNV-1a: a stable hash (std's is not stable across releases).
pub fn fnv1a(data: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &c in data {
        h ^= u64::from(c);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool(s: &str) -> Pool {
        Pool::parse(s, "").unwrap()
    }

    #[test]
    fn blocks_cover_the_pool_once() {
        let s = Spec::new("p", &pool("10.0.0.1-10.0.0.100"), 16, 60).unwrap();
        assert_eq!(s.blocks(), 7);
        let mut all: Vec<u32> = (0..s.blocks()).flat_map(|b| s.slots(b)).collect();
        all.dedup();
        assert_eq!(all, (0..100).collect::<Vec<_>>());
        assert_eq!(s.slots(6), 96..100);
    }

    #[test]
    fn bad_names_and_sizes_are_refused() {
        let p = pool("10.0.0.0/24");
        assert!(matches!(
            Spec::new("", &p, 16, 60),
            Err(SpecError::BadName(_))
        ));
        assert!(matches!(
            Spec::new("a/b", &p, 16, 60),
            Err(SpecError::BadName(_))
        ));
        assert!(matches!(
            Spec::new("a", &p, 12, 60),
            Err(SpecError::BadBlock(12))
        ));
        assert!(matches!(
            Spec::new("a", &p, 4, 60),
            Err(SpecError::BadBlock(4))
        ));
        assert!(matches!(
            Spec::new("a", &p, 512, 60),
            Err(SpecError::BadBlock(512))
        ));
        let e = Spec::new("a", &p, 12, 60).unwrap_err().to_string();
        assert!(e.contains("block size 12"), "{e}");
    }

    #[test]
    fn the_record_changes_with_pool_block_and_grace() {
        let a = Spec::new("p", &pool("10.0.0.0/24"), 16, 60).unwrap();
        let b = Spec::new("p", &pool("10.0.0.0/25"), 16, 60).unwrap();
        let c = Spec::new("p", &pool("10.0.0.0/24"), 32, 60).unwrap();
        let d = Spec::new("p", &pool("10.0.0.0/24"), 16, 5).unwrap();
        assert_ne!(a.record(), b.record());
        assert_ne!(a.record(), c.record());
        assert_ne!(a.record(), d.record(), "the grace period is the cluster's");
        assert_eq!(
            a.record(),
            Spec::new("q", &pool("10.0.0.0/24"), 16, 60)
                .unwrap()
                .record()
        );
        assert!(matches!(
            Spec::new("p", &pool("10.0.0.0/24"), 16, 0),
            Err(SpecError::BadGrace)
        ));
    }

    #[test]
    fn suggested_block_follows_the_rule() {
        assert_eq!(Spec::suggested_block(1024, 4), 16);
        assert_eq!(Spec::suggested_block(65536, 8), 256);
        assert_eq!(Spec::suggested_block(100, 4), 8);
    }
}
