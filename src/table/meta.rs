//! The per-slot display record: written by the slot's owner after its claim,
//! read by anyone without tearing (a sequence counter), never trusted for
//! ownership.

use std::sync::atomic::{fence, AtomicU32, Ordering};

use super::layout::{Meta, DEVICE_MAX, FLAG_PEER_TRUNCATED, FLAG_PROXYARP, IFNAME_MAX, PEER_MAX};
use crate::owner::Owner;

/// What the plugin knows about a session, for the record.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SessionInfo {
    pub peer: String,
    pub ifname: String,
    pub device: String,
    pub proxyarp: bool,
}

/// A consistent copy of a record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MetaRecord {
    pub owner_tag: u32,
    pub since: u32,
    pub peer: String,
    pub peer_truncated: bool,
    pub ifname: String,
    pub device: String,
    pub proxyarp: bool,
}

impl MetaRecord {
    /// Whether this record's (possibly truncated) peer name is `peer`'s.
    pub fn peer_matches(&self, peer: &str) -> bool {
        let p = truncate(peer, PEER_MAX);
        self.peer == p && self.peer_truncated == (peer.len() > PEER_MAX)
    }
}

/// PID | (start ticks & 0x3ff) << 22: enough to tell one lease's record
/// from the next one's for display.
pub fn owner_tag(o: Owner) -> u32 {
    o.pid() | ((o.start_ticks() & 0x3ff) as u32) << 22
}

/// FNV-1a, 64 bits.
pub fn hash(b: &[u8]) -> u64 {
    b.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &c| {
        (h ^ u64::from(c)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The longest prefix of `s` of at most `max` bytes that ends on a char
/// boundary.
fn truncate(s: &str, max: usize) -> &str {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Device names are kept by their end ("/dev/ttyUSB0" -> "ttyUSB0"; a long
/// name keeps its last bytes, which tell lines apart).
fn device_tail(s: &str) -> &str {
    let s = s.strip_prefix("/dev/").unwrap_or(s);
    let mut start = s.len().saturating_sub(DEVICE_MAX);
    while !s.is_char_boundary(start) {
        start += 1;
    }
    &s[start..]
}

fn put(words: &[AtomicU32], s: &str) {
    let mut buf = vec![0u8; words.len() * 4];
    buf[..s.len()].copy_from_slice(s.as_bytes());
    for (w, c) in words.iter().zip(buf.chunks_exact(4)) {
        w.store(u32::from_le_bytes(c.try_into().unwrap()), Ordering::Relaxed);
    }
}

fn get(words: &[AtomicU32]) -> String {
    let bytes: Vec<u8> = words
        .iter()
        .flat_map(|w| w.load(Ordering::Relaxed).to_le_bytes())
        .collect();
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(&bytes[..end]).into_owned()
}

/// Write the record. Only the slot's current owner calls this, so there is
/// one writer at a time; a writer that died mid-write left `seq` odd, and
/// `s | 1` then `(s | 1) + 1` makes it even again.
pub fn write(m: &Meta, me: Owner, since: u32, info: &SessionInfo) {
    let s = m.seq.load(Ordering::Relaxed) | 1;
    m.seq.store(s, Ordering::Relaxed);
    fence(Ordering::Release);
    m.owner_tag.store(owner_tag(me), Ordering::Relaxed);
    m.since.store(since, Ordering::Relaxed);
    let mut flags = 0;
    if info.proxyarp {
        flags |= FLAG_PROXYARP;
    }
    if info.peer.len() > PEER_MAX {
        flags |= FLAG_PEER_TRUNCATED;
    }
    m.flags.store(flags, Ordering::Relaxed);
    put(&m.peer, truncate(&info.peer, PEER_MAX));
    put(&m.ifname, truncate(&info.ifname, IFNAME_MAX));
    put(&m.device, device_tail(&info.device));
    m.seq.store(s.wrapping_add(1), Ordering::Release);
}

/// The bytes of a record `write` would leave, for a table being written
/// (not yet mapped by anyone).
pub fn record_bytes(me: Owner, since: u32, info: &SessionInfo) -> [u8; 52] {
    // SAFETY: Meta is made of AtomicU32 only; all-zero is a valid value.
    let m: Meta = unsafe { std::mem::zeroed() };
    write(&m, me, since, info);
    let mut out = [0u8; 52];
    for (i, c) in out.chunks_exact_mut(4).enumerate() {
        let w = match i {
            0 => m.seq.load(Ordering::Relaxed),
            1 => m.owner_tag.load(Ordering::Relaxed),
            2 => m.since.load(Ordering::Relaxed),
            3 => m.flags.load(Ordering::Relaxed),
            4 => 0, // the sticky cell is not the record's
            5..=8 => m.peer[i - 5].load(Ordering::Relaxed),
            9..=10 => m.ifname[i - 9].load(Ordering::Relaxed),
            _ => m.device[i - 11].load(Ordering::Relaxed),
        };
        c.copy_from_slice(&w.to_ne_bytes());
    }
    out
}

/// Read a consistent record, or `None` if it stays mid-write (its writer
/// died) or was never written.
pub fn read(m: &Meta) -> Option<MetaRecord> {
    for _ in 0..64 {
        let s1 = m.seq.load(Ordering::Acquire);
        if s1 == 0 {
            return None;
        }
        if s1 & 1 == 1 {
            std::hint::spin_loop();
            continue;
        }
        let flags = m.flags.load(Ordering::Relaxed);
        let rec = MetaRecord {
            owner_tag: m.owner_tag.load(Ordering::Relaxed),
            since: m.since.load(Ordering::Relaxed),
            peer: get(&m.peer),
            peer_truncated: flags & FLAG_PEER_TRUNCATED != 0,
            ifname: get(&m.ifname),
            device: get(&m.device),
            proxyarp: flags & FLAG_PROXYARP != 0,
        };
        fence(Ordering::Acquire);
        if m.seq.load(Ordering::Relaxed) == s1 {
            return Some(rec);
        }
    }
    None
}

/// Decode a record from a private copy of its 52 bytes (read with
/// `pread`), or `None` if it was mid-write or never written. The caller
/// compares two copies to rule out a torn one.
pub fn from_bytes(b: &[u8]) -> Option<MetaRecord> {
    let w = |i: usize| u32::from_ne_bytes(b[i * 4..i * 4 + 4].try_into().unwrap());
    let seq = w(0);
    if seq == 0 || seq & 1 == 1 {
        return None;
    }
    let text = |from: usize, n: usize| {
        let bytes: Vec<u8> = (from..from + n).flat_map(|i| w(i).to_le_bytes()).collect();
        let end = bytes.iter().position(|&c| c == 0).unwrap_or(bytes.len());
        String::from_utf8_lossy(&bytes[..end]).into_owned()
    };
    let flags = w(3);
    Some(MetaRecord {
        owner_tag: w(1),
        since: w(2),
        peer: text(5, 4),
        peer_truncated: flags & FLAG_PEER_TRUNCATED != 0,
        ifname: text(9, 2),
        device: text(11, 2),
        proxyarp: flags & FLAG_PROXYARP != 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blank() -> Meta {
        // SAFETY: Meta is made of AtomicU32 only; all-zero is a valid value.
        unsafe { std::mem::zeroed() }
    }

    #[test]
    fn round_trip_and_truncation() {
        let m = blank();
        assert!(read(&m).is_none(), "never written");
        let me = Owner::new(1234, 99);
        let info = SessionInfo {
            peer: "a-very-long-peer-name@example.net".into(),
            ifname: "ppp12".into(),
            device: "/dev/ttyUSB10".into(),
            proxyarp: true,
        };
        write(&m, me, 77, &info);
        let r = read(&m).unwrap();
        assert_eq!(r.owner_tag, owner_tag(me));
        assert_eq!(r.since, 77);
        assert_eq!(r.peer, "a-very-long-peer");
        assert!(r.peer_truncated);
        assert!(r.peer_matches("a-very-long-peer-name@example.net"));
        assert!(!r.peer_matches("a-very-long-peer"));
        assert_eq!(r.ifname, "ppp12");
        assert_eq!(r.device, "ttyUSB10");
        assert!(r.proxyarp);
    }

    #[test]
    fn bytes_decode_as_the_atomics_read() {
        let m = blank();
        let info = SessionInfo {
            peer: "carol".into(),
            ifname: "ppp7".into(),
            device: "/dev/ttyS3".into(),
            proxyarp: true,
        };
        write(&m, Owner::new(77, 5), 1234, &info);
        // SAFETY: Meta is 52 bytes of atomics, readable as plain bytes
        // here (no other thread touches it).
        let b = unsafe { std::slice::from_raw_parts((&m as *const Meta).cast::<u8>(), 52) };
        assert_eq!(from_bytes(b), read(&m));
        m.seq.store(9, Ordering::Relaxed);
        // SAFETY: as above.
        let b = unsafe { std::slice::from_raw_parts((&m as *const Meta).cast::<u8>(), 52) };
        assert_eq!(from_bytes(b), None, "mid-write");
    }

    #[test]
    fn writer_death_mid_write_is_survivable() {
        let m = blank();
        m.seq.store(7, Ordering::Relaxed); // a writer died with seq odd
        assert!(read(&m).is_none());
        write(&m, Owner::new(1, 1), 1, &SessionInfo::default());
        assert_eq!(m.seq.load(Ordering::Relaxed), 8);
        assert!(read(&m).is_some());
    }

    #[test]
    fn truncate_keeps_char_boundaries() {
        assert_eq!(truncate("ééééééééé", 16), "éééééééé");
        assert_eq!(device_tail("/dev/pts/12"), "pts/12");
        assert_eq!(device_tail("/root/umlres/lines/s0"), "lines/s0");
    }
}
