//! The 64-bit slot word, both halves of one format. Bit 63 tells them
//! apart:
//! - set: leased, to an [`Owner`] (a process's PID and start time);
//! - clear: [`Free`], recording how the last lease ended ([`EndedBy`]),
//!   the PID that held it and when; and, in cluster mode, whether the
//!   slot is [`SEALED`]: free, but not this server's to hand out.
//!
//! The lease protocol ([`crate::protocol`]) changes a word only by
//! compare-and-swap from one of these values to another.

/// Bits of the PID in an owner word. Linux's `PID_MAX_LIMIT` is 2^22.
pub const PID_BITS: u32 = 22;
pub(crate) const PID_MASK: u64 = (1 << PID_BITS) - 1;
/// Bits of the start time kept in an owner word (2^41 ticks at 100 Hz is
/// about 697 years of uptime).
const START_BITS: u32 = 41;
pub(crate) const START_MASK: u64 = (1 << START_BITS) - 1;
/// Bit 63 of a slot word: set while the slot is leased.
pub const OWNED: u64 = 1 << 63;
/// Bit 62, the top bit of the start-time field, which no process reaches
/// (2^40 ticks is 349 years of uptime): set in an [`Owner::interface`]
/// word, a lease held by a ppp interface whose pppd could not be named.
const IFACE: u64 = 1 << 62;
/// Bit 62 of a *free* word (the top bit of the path field, which no path
/// code reaches): the slot is sealed. A sealed slot is free but cannot be
/// claimed: in cluster mode, its block is not held by this server (or is
/// being given back). Only the agent seals and unseals, each by one
/// compare-and-swap from a free word; a leased word is never sealed.
pub const SEALED: u64 = 1 << 62;

/// A process identity, packed as a leased slot word: bit 63 set, start time
/// in bits 22..63, PID in bits 0..22.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Owner(u64);

impl Owner {
    pub fn new(pid: u32, start_ticks: u64) -> Owner {
        Owner(OWNED | ((start_ticks & START_MASK) << PID_BITS) | (u64::from(pid) & PID_MASK))
    }

    /// Decode a slot word; `None` for a free word.
    pub fn from_word(w: u64) -> Option<Owner> {
        (w & OWNED != 0).then_some(Owner(w))
    }

    pub fn word(self) -> u64 {
        self.0
    }

    pub fn pid(self) -> u32 {
        (self.0 & PID_MASK) as u32
    }

    pub fn start_ticks(self) -> u64 {
        (self.0 >> PID_BITS) & START_MASK
    }

    /// A lease held by a ppp interface rather than a process: found in
    /// the kernel when a table was built (the interface's peer address is
    /// in the pool) while no live pppd could be named for it (its pid file
    /// missing). Alive while interface `ifindex` exists with peer address
    /// `peer` (Linux does not reuse an interface index until the counter
    /// wraps at 2^31). `ifindex` must be below 2^22.
    pub fn interface(ifindex: u32, peer: u32) -> Owner {
        Owner(OWNED | IFACE | (u64::from(peer) << PID_BITS) | (u64::from(ifindex) & PID_MASK))
    }

    /// For an [`Owner::interface`] word: the interface index and the peer
    /// address (host byte order).
    pub fn iface(self) -> Option<(u32, u32)> {
        (self.0 & IFACE != 0).then_some((self.pid(), (self.0 >> PID_BITS) as u32))
    }
}

/// How a lease ended, recorded in the free word and counted per path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum EndedBy {
    /// Never leased since the table was created.
    Never = 0,
    /// pppd's IPCP went down (ip_down notifier).
    IpDown = 1,
    /// The link went down (link_down notifier).
    LinkDown = 2,
    /// pppd entered the dead phase (phase_change notifier).
    PhaseDead = 3,
    /// pppd exited (exit notifier).
    Exit = 4,
    /// `rasstatic release` of a stale lease.
    Admin = 5,
    /// `rasstatic release --force` of a live lease.
    Forced = 6,
    /// Reaped by a claim that found the pool looking full.
    ReapClaim = 7,
    /// Reaped by the watchdog.
    ReapWatchdog = 8,
    /// Reaped by `rasstatic reap`.
    ReapAdmin = 9,
    /// Released by an API user (tests, benchmarks).
    Api = 10,
}

impl EndedBy {
    pub const COUNT: usize = 11;
    pub const ALL: [EndedBy; EndedBy::COUNT] = [
        EndedBy::Never,
        EndedBy::IpDown,
        EndedBy::LinkDown,
        EndedBy::PhaseDead,
        EndedBy::Exit,
        EndedBy::Admin,
        EndedBy::Forced,
        EndedBy::ReapClaim,
        EndedBy::ReapWatchdog,
        EndedBy::ReapAdmin,
        EndedBy::Api,
    ];

    pub fn from_code(c: u8) -> Option<EndedBy> {
        EndedBy::ALL.get(usize::from(c)).copied()
    }

    pub fn name(self) -> &'static str {
        match self {
            EndedBy::Never => "never",
            EndedBy::IpDown => "ip-down",
            EndedBy::LinkDown => "link-down",
            EndedBy::PhaseDead => "phase-dead",
            EndedBy::Exit => "exit",
            EndedBy::Admin => "admin",
            EndedBy::Forced => "forced",
            EndedBy::ReapClaim => "reap-claim",
            EndedBy::ReapWatchdog => "reap-watchdog",
            EndedBy::ReapAdmin => "reap-admin",
            EndedBy::Api => "api",
        }
    }

    pub fn is_reap(self) -> bool {
        matches!(
            self,
            EndedBy::ReapClaim | EndedBy::ReapWatchdog | EndedBy::ReapAdmin
        )
    }
}

/// A free slot word: bit 63 clear; [`SEALED`] (bit 62); how it was freed
/// (bits 56..62), the PID
/// that held it (bits 32..54) and when (unix seconds, bits 0..32).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Free {
    pub path: EndedBy,
    pub last_pid: u32,
    pub when: u32,
}

impl Free {
    pub fn word(self) -> u64 {
        (u64::from(self.path as u8 & 0x3f) << 56)
            | ((u64::from(self.last_pid) & PID_MASK) << 32)
            | u64::from(self.when)
    }

    pub fn from_word(w: u64) -> Option<Free> {
        if w & OWNED != 0 {
            return None;
        }
        Some(Free {
            // Unknown codes (a newer writer) display as "never".
            path: EndedBy::from_code((w >> 56) as u8 & 0x3f).unwrap_or(EndedBy::Never),
            last_pid: ((w >> 32) & PID_MASK) as u32,
            when: w as u32,
        })
    }
}

#[inline]
pub fn is_free(w: u64) -> bool {
    w & OWNED == 0
}

/// A word a claim may take: free and not sealed.
#[inline]
pub fn is_claimable(w: u64) -> bool {
    w & (OWNED | SEALED) == 0
}

/// A free word that is sealed.
#[inline]
pub fn is_sealed(w: u64) -> bool {
    w & (OWNED | SEALED) == SEALED
}
