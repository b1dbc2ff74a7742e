//! What the kernel says about the sessions that are up: each
//! point-to-point interface's peer address, and the pppd that runs it.
//!
//! A table that is created or rebuilt starts from this, so an address a
//! live session holds is entered as that session's lease before any claim
//! is served, whatever happened to the old file (deleted, damaged, reset
//! for a new boot id). The interface is the truth: pppd puts the peer
//! address on `pppN` when IPCP comes up and the interface vanishes with
//! the last descriptor of its pppd. Which pppd runs `pppN` comes from the
//! pid file pppd writes for it (`/run/pppN.pid`), checked against /proc:
//! alive and named `pppd`.

use std::ffi::CStr;
use std::fs;
use std::net::Ipv4Addr;

use crate::owner::Owner;

/// One interface with a peer address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerIf {
    pub ifname: String,
    pub ifindex: u32,
    pub peer: Ipv4Addr,
    /// The pppd its pid file names, alive, if any.
    pub pppd: Option<Owner>,
}

impl PeerIf {
    /// Who holds the address: the pppd, or else the interface itself
    /// (alive while it exists with this peer address).
    pub fn owner(&self) -> Owner {
        self.pppd
            .unwrap_or_else(|| Owner::interface(self.ifindex, u32::from(self.peer)))
    }
}

/// Where pppd writes `IFNAME.pid` (2.4.9 and Debian's 2.5 alike).
const PID_DIRS: [&str; 2] = ["/run", "/var/run"];

/// Every point-to-point interface with an IPv4 peer address, each with its
/// pppd when one can be named. Errors reading the interfaces give an
/// empty list (logged): the live sessions re-assert their leases anyway.
pub fn peers() -> Vec<PeerIf> {
    let mut out = Vec::new();
    let mut ifap: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs fills ifap with a list we free below; the result
    // is checked.
    if unsafe { libc::getifaddrs(&mut ifap) } != 0 {
        log::warn!(
            "cannot list the interfaces: {}",
            std::io::Error::last_os_error()
        );
        return out;
    }
    let mut p = ifap;
    while !p.is_null() {
        // SAFETY: p is an element of the list getifaddrs returned, valid
        // until freeifaddrs.
        let ifa = unsafe { &*p };
        p = ifa.ifa_next;
        if ifa.ifa_flags & libc::IFF_POINTOPOINT as u32 == 0
            || ifa.ifa_addr.is_null()
            || ifa.ifa_ifu.is_null()
        {
            continue;
        }
        // SAFETY: both pointers are non-null sockaddrs from getifaddrs;
        // sa_family is read before the cast to sockaddr_in.
        let (fam, dfam) = unsafe { ((*ifa.ifa_addr).sa_family, (*ifa.ifa_ifu).sa_family) };
        if i32::from(fam) != libc::AF_INET || i32::from(dfam) != libc::AF_INET {
            continue;
        }
        // SAFETY: an AF_INET sockaddr is a sockaddr_in.
        let peer = unsafe { (*ifa.ifa_ifu.cast::<libc::sockaddr_in>()).sin_addr.s_addr };
        // SAFETY: ifa_name is a NUL-terminated string from getifaddrs.
        let name = unsafe { CStr::from_ptr(ifa.ifa_name) };
        // SAFETY: as above.
        let ifindex = unsafe { libc::if_nametoindex(ifa.ifa_name) };
        if ifindex == 0 {
            continue;
        }
        let ifname = name.to_string_lossy().into_owned();
        let pppd = pppd_of(&ifname);
        out.push(PeerIf {
            ifname,
            ifindex,
            peer: Ipv4Addr::from(u32::from_be(peer)),
            pppd,
        });
    }
    // SAFETY: the list getifaddrs allocated, freed once.
    unsafe { libc::freeifaddrs(ifap) };
    out
}

/// The live pppd that the pid file of `ifname` names.
fn pppd_of(ifname: &str) -> Option<Owner> {
    PID_DIRS.iter().find_map(|d| {
        let text = fs::read_to_string(format!("{d}/{ifname}.pid")).ok()?;
        let pid: u32 = text.lines().next()?.trim().parse().ok()?;
        is_pppd(pid).then_some(())?;
        Owner::of_pid(pid).ok().flatten()
    })
}

/// The index of interface `name`, if it exists.
pub fn ifindex(name: &str) -> Option<u32> {
    let c = std::ffi::CString::new(name).ok()?;
    // SAFETY: a NUL-terminated name; 0 means no such interface.
    let i = unsafe { libc::if_nametoindex(c.as_ptr()) };
    (i != 0).then_some(i)
}

/// Whether `pid` is a live process named `pppd`.
pub fn is_pppd(pid: u32) -> bool {
    pid != 0 && fs::read(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim_ascii() == b"pppd")
}

/// Whether interface `ifindex` exists with peer address `peer` (host
/// byte order): the liveness of an [`Owner::interface`] lease.
pub fn interface_has_peer(ifindex: u32, peer: u32) -> bool {
    let mut name = [0 as libc::c_char; libc::IF_NAMESIZE];
    // SAFETY: name has IF_NAMESIZE bytes, as if_indextoname requires.
    if unsafe { libc::if_indextoname(ifindex, name.as_mut_ptr()) }.is_null() {
        let e = std::io::Error::last_os_error();
        // No such interface: gone. Anything else: cannot tell, so alive.
        return e.raw_os_error() != Some(libc::ENXIO) && e.raw_os_error() != Some(libc::ENODEV);
    }
    // SAFETY: a plain socket(2); the result is checked and closed below.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return true;
    }
    // SAFETY: ifreq is plain data; zero is a valid value.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    req.ifr_name = name;
    // SAFETY: SIOCGIFDSTADDR fills req's address union; the result is
    // checked.
    let r = unsafe { libc::ioctl(fd, libc::SIOCGIFDSTADDR, &mut req) };
    let err = std::io::Error::last_os_error();
    // SAFETY: closing the socket opened above.
    unsafe { libc::close(fd) };
    if r != 0 {
        // No IPv4 address on it any more: the session is over.
        return !matches!(err.raw_os_error(), Some(libc::EADDRNOTAVAIL | libc::ENODEV));
    }
    // SAFETY: after SIOCGIFDSTADDR the union holds an AF_INET sockaddr.
    let sin = unsafe { *(&req.ifr_ifru as *const _ as *const libc::sockaddr_in) };
    u32::from_be(sin.sin_addr.s_addr) == peer
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_is_not_a_peer_and_a_missing_interface_is_gone() {
        assert!(peers().iter().all(|p| p.ifname != "lo"));
        // Index 0 is never an interface.
        assert!(!interface_has_peer(0, 0x0a00_0001));
        assert!(!is_pppd(0));
        // SAFETY: getpid has no preconditions.
        assert!(!is_pppd(unsafe { libc::getpid() } as u32));
    }
}
