//! The table file's layout. All of it is `#[repr(C)]`; everything another
//! process may change while we run is an atomic, and code only ever forms
//! shared references to it.
//!
//! ```text
//! offset 0        Header (4096 bytes): immutable description, then live
//!                 atomics (reset word, cursor, sweep state, counters)
//! ranges_off      [RangeRec; range_count]   the pool, canonical
//!                 [u32; drain_count]        draining addresses, ascending
//! owners_off      [AtomicU64; slots]        one owner word per address
//! bitmap_off      [AtomicU64; ceil(slots/64)] free hint
//! meta_off        [Meta; slots]             display data and sticky cells
//! ```
//! Each section starts on a 64-byte boundary. `slots` is `slot_count`
//! (the pool's addresses, in pool order) plus `drain_count`: addresses
//! that live sessions held when the pool was redefined without them. A
//! draining slot is never claimed (claims see only the first
//! `slot_count` slots); its holder releases it and the watchdog reaps it
//! like any other, and once free it stays free until the table is next
//! rebuilt, which leaves it out.

use std::mem::{align_of, size_of};
use std::sync::atomic::{AtomicU32, AtomicU64};

use crate::protocol::EndedBy;

pub const MAGIC: [u8; 8] = *b"RASSTAT\x01";
pub const LAYOUT_VERSION: u32 = 3;
pub const HEADER_SIZE: usize = 4096;
pub const MAX_RANGES: u32 = 65_536;
pub const SPEC_MAX: usize = 1024;
pub const BOOT_ID_LEN: usize = 36;

/// The immutable part: written once before the file gets its name, never
/// changed after. It is read with `pread` into a local copy and validated
/// before anything is mapped.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct Fixed {
    pub magic: [u8; 8],
    pub layout_version: u32,
    pub header_size: u32,
    pub slot_count: u32,
    pub range_count: u32,
    pub meta_size: u32,
    /// Draining addresses after the ranges (see the module doc).
    pub drain_count: u32,
    pub file_size: u64,
    pub created: u64,
    pub boot_id: [u8; BOOT_ID_LEN],
    pub spec_len: u16,
    pub _pad2: u16,
    /// The definition as the administrator wrote it (for messages only;
    /// the ranges section is what counts).
    pub spec: [u8; SPEC_MAX],
    /// The PID namespace of the process that created the table (device and
    /// inode of its `/proc/self/ns/pid`): the namespace whose PIDs the
    /// owner words hold. Only a process in it can tell whether a holder is
    /// alive.
    pub pid_ns_dev: u64,
    pub pid_ns_ino: u64,
    /// When the pool definition this table holds was read (unix
    /// milliseconds; by the pppd that built the table, when it started).
    /// Of two definitions, the newer wins: a pppd whose own is older
    /// follows the table's.
    pub defined_ms: u64,
}

/// The live part of the header: atomics only.
#[repr(C)]
pub struct Live {
    /// 0 while the table is in use. Once a reset starts: the owner word of
    /// the process resetting it, which holds the file's exclusive lock
    /// until the replacement has the table's name (protocol I5). Users of
    /// a table whose word is set must reopen it.
    pub retired: AtomicU64,
    /// Round-robin hint: the slot after the last one handed out.
    pub cursor: AtomicU64,
    /// Leases handed out since the table was created.
    pub assigned: AtomicU64,
    /// Claims refused: the pool was exhausted, or (cluster mode) the claim
    /// deadline had passed (those are also counted in `fenced`).
    pub refused: AtomicU64,
    /// Leases ended, by [`EndedBy`] code (reaps included).
    pub ended: [AtomicU64; 16],
    /// The watchdog's heartbeat: `CLOCK_BOOTTIME` in milliseconds at the
    /// end of its last scan, 0 when none runs. A claim that finds the pool
    /// full trusts a fresh heartbeat for the holders' liveness.
    pub watchdog_beat: AtomicU64,
    /// Where the next bounded liveness sweep of a full pool starts.
    pub sweep_cursor: AtomicU64,
    /// `CLOCK_BOOTTIME` in milliseconds when a sweep last completed a full
    /// round of the owner words.
    pub swept_at: AtomicU64,
    /// 0 until a successor of this table got the table's name: set by a
    /// reset after its rename, and by whoever made a deleted table again
    /// from this one (protocol I6). A table with this set is stale: never
    /// carried from, only left.
    pub superseded: AtomicU64,
    /// Cluster mode; 0 in a standalone table (and in every table written
    /// before cluster mode existed: the fields below were padding, zero).
    /// `CLOCK_BOOTTIME` in nanoseconds from which no claim succeeds: the
    /// agent raises it (never lowers it) after each renewal etcd verified.
    pub claim_deadline_ns: AtomicU64,
    /// Cluster mode: `CLOCK_BOOTTIME` in nanoseconds by which every session
    /// of this server must be down (0: none).
    pub hang_deadline_ns: AtomicU64,
    /// Claims refused because the claim deadline had passed.
    pub fenced: AtomicU64,
}

pub const LIVE_OFFSET: usize = 2048;

/// Where [`Live::claim_deadline_ns`] is in the file, for writing a new
/// table before it is mapped.
pub const CLAIM_DEADLINE_AT: u64 =
    (LIVE_OFFSET + std::mem::offset_of!(Live, claim_deadline_ns)) as u64;

/// Where [`Live::hang_deadline_ns`] is in the file.
pub const HANG_DEADLINE_AT: u64 =
    (LIVE_OFFSET + std::mem::offset_of!(Live, hang_deadline_ns)) as u64;

/// The claim deadline a cluster-mode table is born with, and the least
/// one a pppd in cluster mode leaves a table with: 1 ns after boot, long
/// past, so every claim is fenced until an agent verified a renewal.
/// Deadlines only rise, so an agent's later ones stand.
pub const CLUSTER_BIRTH_DEADLINE_NS: u64 = 1;

#[repr(C)]
pub struct Header {
    pub fixed: Fixed,
    _pad: [u8; LIVE_OFFSET - size_of::<Fixed>()],
    pub live: Live,
    _pad2: [u8; HEADER_SIZE - LIVE_OFFSET - size_of::<Live>()],
}

/// One pool range as stored: inclusive, host byte order.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct RangeRec {
    pub first: u32,
    pub last: u32,
}

/// Per-slot display data, written only by the slot's current owner right
/// after its claim, under a sequence counter so readers never see a torn
/// record. It never decides ownership. A free slot keeps its last holder's
/// record.
#[repr(C)]
pub struct Meta {
    /// Odd while the owner writes. A writer that dies mid-write leaves it
    /// odd; the next owner's write makes it even again.
    pub seq: AtomicU32,
    /// Which owner wrote the record: PID | (start ticks & 0x3ff) << 22.
    pub owner_tag: AtomicU32,
    /// Unix time of the claim.
    pub since: AtomicU32,
    /// `FLAG_*`.
    pub flags: AtomicU32,
    /// A sticky-policy cell (not about this slot): the slot last held by a
    /// peer whose name hashes to this slot's index, as `slot | tag << 24`.
    pub sticky: AtomicU32,
    pub peer: [AtomicU32; 4],
    pub ifname: [AtomicU32; 2],
    pub device: [AtomicU32; 2],
}

pub const FLAG_PROXYARP: u32 = 1;
pub const FLAG_PEER_TRUNCATED: u32 = 2;
pub const PEER_MAX: usize = 16;
pub const IFNAME_MAX: usize = 8;
pub const DEVICE_MAX: usize = 8;

const _: () = {
    assert!(size_of::<Header>() == HEADER_SIZE);
    assert!(size_of::<Fixed>() <= LIVE_OFFSET);
    assert!(LIVE_OFFSET % 64 == 0);
    assert!(size_of::<Meta>() == 52);
    assert!(align_of::<Meta>() == 4);
    assert!(size_of::<RangeRec>() == 8);
    assert!(size_of::<AtomicU64>() == 8 && align_of::<AtomicU64>() == 8);
    assert!(EndedBy::COUNT <= 16);
    // The reader reads the cluster words by index (src/table/reader.rs).
    assert!(std::mem::offset_of!(Live, claim_deadline_ns) == 24 * 8);
    assert!(std::mem::offset_of!(Live, fenced) == 26 * 8);
};

/// Section offsets and the total size, computed from the counts alone, so a
/// file's own claims about them are never trusted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sections {
    pub ranges: usize,
    /// The draining addresses, right after the ranges.
    pub drain: usize,
    pub owners: usize,
    pub bitmap: usize,
    pub meta: usize,
    pub total: usize,
}

fn up64(x: usize) -> usize {
    x.div_ceil(64) * 64
}

impl Sections {
    /// For `slots` pool addresses in `ranges` ranges, and `drain`
    /// draining addresses.
    pub fn new(slots: u32, ranges: u32, drain: u32) -> Sections {
        let slots = slots as usize + drain as usize;
        let r = HEADER_SIZE;
        let d = r + ranges as usize * size_of::<RangeRec>();
        let owners = up64(d + drain as usize * 4);
        let bitmap = up64(owners + slots * 8);
        let meta = up64(bitmap + slots.div_ceil(64) * 8);
        let total = up64(meta + slots * size_of::<Meta>());
        Sections {
            ranges: r,
            drain: d,
            owners,
            bitmap,
            meta,
            total,
        }
    }
}
