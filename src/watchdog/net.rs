//! Removing what a dead session left in the kernel, over rtnetlink:
//! the proxy-ARP entry pppd's `proxyarp` published for the peer's address,
//! and a host route to that address in the main table.
//!
//! Every request names the one address: nothing else is ever touched.

use std::io;
use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

// The kernel's numbers, from libc, in the widths the messages carry.
const NLMSG_HDRLEN: usize = std::mem::size_of::<libc::nlmsghdr>();
const NLMSG_ERROR: u16 = libc::NLMSG_ERROR as u16;
const NLMSG_DONE: u16 = libc::NLMSG_DONE as u16;
const RTM_NEWNEIGH: u16 = libc::RTM_NEWNEIGH;
const RTM_DELNEIGH: u16 = libc::RTM_DELNEIGH;
const RTM_GETNEIGH: u16 = libc::RTM_GETNEIGH;
const RTM_DELROUTE: u16 = libc::RTM_DELROUTE;
const RTM_NEWLINK: u16 = libc::RTM_NEWLINK;
const RTM_GETLINK: u16 = libc::RTM_GETLINK;
const IFLA_IFNAME: u16 = libc::IFLA_IFNAME;
const NLM_F_REQUEST: u16 = libc::NLM_F_REQUEST as u16;
const NLM_F_ACK: u16 = libc::NLM_F_ACK as u16;
const NLM_F_DUMP: u16 = libc::NLM_F_DUMP as u16;
const NTF_PROXY: u8 = libc::NTF_PROXY;
const NDA_DST: u16 = libc::NDA_DST;
const RTA_DST: u16 = libc::RTA_DST;
const RTA_OIF: u16 = libc::RTA_OIF;
const RTA_TABLE: u16 = libc::RTA_TABLE;
const RT_TABLE_MAIN: u32 = libc::RT_TABLE_MAIN as u32;
const RT_SCOPE_NOWHERE: u8 = libc::RT_SCOPE_NOWHERE;
/// How long to wait for the kernel's answer: it answers at once, so this
/// only bounds a lost reply, which must not hang the watchdog.
const REPLY_TIMEOUT_S: libc::time_t = 2;
/// Enough for any one entry; dumps come in several reads.
const RECV_BUF: usize = 32 * 1024;

/// An rtnetlink socket.
pub struct Netlink {
    fd: OwnedFd,
    seq: u32,
}

fn align4(n: usize) -> usize {
    (n + 3) & !3
}

/// One message under construction: header, fixed part, attributes.
struct Msg(Vec<u8>);

impl Msg {
    fn new(kind: u16, flags: u16, seq: u32, fixed: &[u8]) -> Msg {
        let mut v = Vec::with_capacity(64);
        v.extend_from_slice(&0u32.to_ne_bytes()); // length, set in finish()
        v.extend_from_slice(&kind.to_ne_bytes());
        v.extend_from_slice(&(flags | NLM_F_REQUEST).to_ne_bytes());
        v.extend_from_slice(&seq.to_ne_bytes());
        v.extend_from_slice(&0u32.to_ne_bytes()); // port id: the kernel's
        v.extend_from_slice(fixed);
        v.resize(align4(v.len()), 0);
        Msg(v)
    }

    fn attr(mut self, kind: u16, data: &[u8]) -> Msg {
        self.0
            .extend_from_slice(&((4 + data.len()) as u16).to_ne_bytes());
        self.0.extend_from_slice(&kind.to_ne_bytes());
        self.0.extend_from_slice(data);
        self.0.resize(align4(self.0.len()), 0);
        self
    }

    fn finish(mut self) -> Vec<u8> {
        let n = self.0.len() as u32;
        self.0[..4].copy_from_slice(&n.to_ne_bytes());
        self.0
    }
}

/// A received message: type and payload (after the header).
struct Reply<'a> {
    kind: u16,
    seq: u32,
    payload: &'a [u8],
}

/// Split a datagram into messages; stops at anything malformed.
fn messages(buf: &[u8]) -> Vec<Reply<'_>> {
    let mut out = Vec::new();
    let mut at = 0;
    while at + NLMSG_HDRLEN <= buf.len() {
        let len = u32::from_ne_bytes(buf[at..at + 4].try_into().expect("4 bytes")) as usize;
        if len < NLMSG_HDRLEN || at + len > buf.len() {
            break;
        }
        let kind = u16::from_ne_bytes(buf[at + 4..at + 6].try_into().expect("2 bytes"));
        let seq = u32::from_ne_bytes(buf[at + 8..at + 12].try_into().expect("4 bytes"));
        out.push(Reply {
            kind,
            seq,
            payload: &buf[at + NLMSG_HDRLEN..at + len],
        });
        at += align4(len);
    }
    out
}

/// The attributes after a fixed part of `fixed` bytes: (type, data).
fn attrs(payload: &[u8], fixed: usize) -> Vec<(u16, &[u8])> {
    let mut out = Vec::new();
    let mut at = align4(fixed);
    while at + 4 <= payload.len() {
        let len = u16::from_ne_bytes([payload[at], payload[at + 1]]) as usize;
        let kind = u16::from_ne_bytes([payload[at + 2], payload[at + 3]]) & 0x3fff;
        if len < 4 || at + len > payload.len() {
            break;
        }
        out.push((kind, &payload[at + 4..at + len]));
        at += align4(len);
    }
    out
}

/// The errno of an NLMSG_ERROR payload (0 is an ACK). A value the kernel
/// never sends (`i32::MIN`, which has no negation) is a protocol error.
fn nl_errno(payload: &[u8]) -> i32 {
    payload
        .get(..4)
        .and_then(|b| i32::from_ne_bytes(b.try_into().expect("4 bytes")).checked_neg())
        .unwrap_or(libc::EPROTO)
}

/// The answer to request `seq` (sent with NLM_F_ACK) in one datagram: the
/// kernel's errno (0: done), or `None` if the datagram does not hold it.
fn ack_in(buf: &[u8], seq: u32) -> Option<i32> {
    messages(buf)
        .into_iter()
        .find(|m| m.kind == NLMSG_ERROR && m.seq == seq)
        .map(|m| nl_errno(m.payload))
}

/// The answer to RTM_GETLINK request `seq` in one datagram: the index, no
/// such interface, or an error; `None` if the datagram does not hold it.
fn link_in(buf: &[u8], seq: u32) -> Option<io::Result<Option<i32>>> {
    for m in messages(buf) {
        if m.seq != seq {
            continue;
        }
        match m.kind {
            RTM_NEWLINK if m.payload.len() >= 8 => {
                return Some(Ok(Some(i32::from_ne_bytes(
                    m.payload[4..8].try_into().expect("4"),
                ))));
            }
            NLMSG_ERROR => {
                return Some(match nl_errno(m.payload) {
                    libc::ENODEV => Ok(None),
                    e => Err(io::Error::from_raw_os_error(e)),
                });
            }
            _ => {}
        }
    }
    None
}

/// One datagram of the proxy-neighbour dump `seq`: the interface indexes of
/// entries for `addr` go to `found`; `Some` once the dump is over (done, or
/// an error). Only this dump's parts count: a late answer to an earlier
/// request (one that timed out) is not part of it.
fn neigh_in(buf: &[u8], seq: u32, addr: Ipv4Addr, found: &mut Vec<i32>) -> Option<io::Result<()>> {
    for m in messages(buf).into_iter().filter(|m| m.seq == seq) {
        match m.kind {
            NLMSG_DONE => return Some(Ok(())),
            NLMSG_ERROR => {
                return Some(Err(io::Error::from_raw_os_error(nl_errno(m.payload))));
            }
            RTM_NEWNEIGH if m.payload.len() >= 12 => {
                let family = m.payload[0];
                let ifindex = i32::from_ne_bytes(m.payload[4..8].try_into().expect("4"));
                let flags = m.payload[10];
                let dst = attrs(m.payload, 12)
                    .into_iter()
                    .find(|(k, _)| *k == NDA_DST)
                    .map(|(_, d)| d);
                if family == libc::AF_INET as u8
                    && flags & NTF_PROXY != 0
                    && dst == Some(&addr.octets()[..])
                {
                    found.push(ifindex);
                }
            }
            _ => {}
        }
    }
    None
}

/// Every reading of a received datagram `buf`, as the watchdog reads its
/// replies, for the fuzz targets and their tests: what each reader makes
/// of it as the answer to request `seq` about `addr`. Panics only if a
/// reader breaks its own bounds (more entries than messages).
#[doc(hidden)]
pub fn read_reply(buf: &[u8], seq: u32, addr: Ipv4Addr) -> String {
    let n = messages(buf).len();
    for m in messages(buf) {
        let _ = attrs(m.payload, 12);
        let _ = attrs(m.payload, 16);
    }
    let mut found = Vec::new();
    let dump = neigh_in(buf, seq, addr, &mut found);
    assert!(
        found.len() <= n,
        "{} entries from {n} messages",
        found.len()
    );
    format!(
        "{n} messages, ack {:?}, link {:?}, dump {:?} {found:?}",
        ack_in(buf, seq),
        link_in(buf, seq),
        dump
    )
}

/// struct ndmsg: family, pad, pad, ifindex, state, flags, type.
fn ndmsg(ifindex: i32, flags: u8) -> [u8; 12] {
    let mut b = [0u8; 12];
    b[0] = libc::AF_INET as u8;
    b[4..8].copy_from_slice(&ifindex.to_ne_bytes());
    b[10] = flags;
    b
}

impl Netlink {
    pub fn open() -> io::Result<Netlink> {
        // SAFETY: plain socket(2); the result is checked.
        let fd = unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                libc::NETLINK_ROUTE,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: a descriptor we just opened and own.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        let tv = libc::timeval {
            tv_sec: REPLY_TIMEOUT_S,
            tv_usec: 0,
        };
        // SAFETY: setsockopt reads a timeval of the size given.
        let r = unsafe {
            libc::setsockopt(
                fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVTIMEO,
                (&tv as *const libc::timeval).cast(),
                std::mem::size_of::<libc::timeval>() as u32,
            )
        };
        if r < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(Netlink { fd, seq: 1 })
    }

    fn send(&mut self, msg: Vec<u8>) -> io::Result<u32> {
        let seq = self.seq;
        let mut msg = msg;
        msg[8..12].copy_from_slice(&seq.to_ne_bytes());
        self.seq = self.seq.wrapping_add(1);
        let mut to: libc::sockaddr_nl = zeroed_nl();
        to.nl_family = libc::AF_NETLINK as u16;
        // SAFETY: msg is a valid buffer of its length; `to` a valid
        // sockaddr_nl of the size given.
        let r = unsafe {
            libc::sendto(
                self.fd.as_raw_fd(),
                msg.as_ptr().cast(),
                msg.len(),
                0,
                (&to as *const libc::sockaddr_nl).cast(),
                std::mem::size_of::<libc::sockaddr_nl>() as u32,
            )
        };
        if r < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(seq)
    }

    fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            // SAFETY: buf is writable for its length.
            let r =
                unsafe { libc::recv(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
            if r >= 0 {
                return Ok(r as usize);
            }
            let e = io::Error::last_os_error();
            match e.kind() {
                io::ErrorKind::Interrupted => {}
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => {
                    return Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        format!("no netlink reply within {REPLY_TIMEOUT_S} s"),
                    ))
                }
                _ => return Err(e),
            }
        }
    }

    /// Send a request with NLM_F_ACK and return the kernel's errno (0: done).
    fn call(&mut self, msg: Vec<u8>) -> io::Result<i32> {
        let seq = self.send(msg)?;
        let mut buf = vec![0u8; RECV_BUF];
        loop {
            let n = self.recv(&mut buf)?;
            if let Some(e) = ack_in(&buf[..n], seq) {
                return Ok(e);
            }
        }
    }

    /// The index of interface `name`, if it exists. Asked over netlink:
    /// the SIOCGIFINDEX ioctl behind if_nametoindex(3) makes the kernel
    /// try to load a module "netdev-NAME" for a missing interface (running
    /// modprobe, hundreds of ms), which is exactly the case after a dead
    /// session's pppN went away; sysfs may belong to another namespace.
    pub fn ifindex(&mut self, name: &str) -> io::Result<Option<i32>> {
        if name.is_empty() || name.len() >= libc::IF_NAMESIZE {
            return Ok(None);
        }
        let mut ifname = name.as_bytes().to_vec();
        ifname.push(0);
        let msg = Msg::new(RTM_GETLINK, 0, 0, &[0u8; 16])
            .attr(IFLA_IFNAME, &ifname)
            .finish();
        let seq = self.send(msg)?;
        let mut buf = vec![0u8; RECV_BUF];
        loop {
            let n = self.recv(&mut buf)?;
            if let Some(r) = link_in(&buf[..n], seq) {
                return r;
            }
        }
    }

    /// Every proxy-ARP (proxy neighbour) entry for `addr`: interface indexes.
    pub fn proxy_arp_entries(&mut self, addr: Ipv4Addr) -> io::Result<Vec<i32>> {
        let msg = Msg::new(RTM_GETNEIGH, NLM_F_DUMP, 0, &ndmsg(0, NTF_PROXY)).finish();
        let seq = self.send(msg)?;
        let mut found = Vec::new();
        let mut buf = vec![0u8; RECV_BUF];
        loop {
            let n = self.recv(&mut buf)?;
            if let Some(r) = neigh_in(&buf[..n], seq, addr, &mut found) {
                return r.map(|()| found);
            }
        }
    }

    /// Delete the proxy-ARP entry for `addr` on interface `ifindex`.
    pub fn delete_proxy_arp(&mut self, addr: Ipv4Addr, ifindex: i32) -> io::Result<bool> {
        let msg = Msg::new(RTM_DELNEIGH, NLM_F_ACK, 0, &ndmsg(ifindex, NTF_PROXY))
            .attr(NDA_DST, &addr.octets())
            .finish();
        match self.call(msg)? {
            0 => Ok(true),
            libc::ENOENT => Ok(false),
            e => Err(io::Error::from_raw_os_error(e)),
        }
    }

    /// Delete one route to `addr`/32 through `ifindex` from the main table,
    /// whatever its protocol and scope. `Ok(false)` when there is none.
    pub fn delete_host_route(&mut self, addr: Ipv4Addr, ifindex: i32) -> io::Result<bool> {
        // struct rtmsg: family, dst_len, src_len, tos, table, protocol,
        // scope, type, flags (u32).
        let mut rt = [0u8; 12];
        rt[0] = libc::AF_INET as u8;
        rt[1] = 32;
        rt[4] = RT_TABLE_MAIN as u8;
        rt[6] = RT_SCOPE_NOWHERE;
        let msg = Msg::new(RTM_DELROUTE, NLM_F_ACK, 0, &rt)
            .attr(RTA_DST, &addr.octets())
            .attr(RTA_OIF, &ifindex.to_ne_bytes())
            .attr(RTA_TABLE, &RT_TABLE_MAIN.to_ne_bytes())
            .finish();
        match self.call(msg)? {
            0 => Ok(true),
            libc::ESRCH | libc::ENOENT => Ok(false),
            e => Err(io::Error::from_raw_os_error(e)),
        }
    }
}

fn zeroed_nl() -> libc::sockaddr_nl {
    // SAFETY: sockaddr_nl is plain data; all-zero is valid.
    unsafe { std::mem::zeroed() }
}

/// The name of interface `index`, for messages.
pub fn ifname(index: i32) -> String {
    let mut buf = [0 as libc::c_char; libc::IF_NAMESIZE];
    // SAFETY: buf has IF_NAMESIZE bytes, as if_indextoname requires.
    let p = unsafe { libc::if_indextoname(index as u32, buf.as_mut_ptr()) };
    if p.is_null() {
        return format!("ifindex {index}");
    }
    // SAFETY: on success buf holds a NUL-terminated name.
    unsafe { std::ffi::CStr::from_ptr(buf.as_ptr()) }
        .to_string_lossy()
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_layout() {
        let m = Msg::new(RTM_DELNEIGH, NLM_F_ACK, 7, &ndmsg(3, NTF_PROXY))
            .attr(NDA_DST, &[10, 0, 0, 1])
            .finish();
        assert_eq!(m.len(), 16 + 12 + 8);
        assert_eq!(u32::from_ne_bytes(m[0..4].try_into().unwrap()), 36);
        assert_eq!(
            u16::from_ne_bytes(m[4..6].try_into().unwrap()),
            RTM_DELNEIGH
        );
        assert_eq!(
            u16::from_ne_bytes(m[6..8].try_into().unwrap()),
            NLM_F_ACK | NLM_F_REQUEST
        );
        assert_eq!(i32::from_ne_bytes(m[20..24].try_into().unwrap()), 3);
        assert_eq!(m[26], NTF_PROXY);
        let a = attrs(&m[16..], 12);
        assert_eq!(a, vec![(NDA_DST, &[10u8, 0, 0, 1][..])]);
        let parsed = messages(&m);
        assert_eq!(parsed.len(), 1);
        assert_eq!(parsed[0].kind, RTM_DELNEIGH);
    }

    #[test]
    fn malformed_input_is_cut_short() {
        assert!(messages(&[1, 0, 0]).is_empty());
        let mut m = Msg::new(RTM_NEWNEIGH, 0, 1, &ndmsg(1, 0)).finish();
        m[0] = 200; // claims more than there is
        assert!(messages(&m).is_empty());
        assert!(attrs(&[3, 0, 1, 0], 0).is_empty());
    }

    #[test]
    fn an_errno_without_a_negation_is_a_protocol_error() {
        // i32::MIN has no negation: it must not overflow (a panic in the
        // watchdog's debug builds), only read as EPROTO.
        assert_eq!(nl_errno(&i32::MIN.to_ne_bytes()), libc::EPROTO);
        assert_eq!(nl_errno(&(-libc::ENOENT).to_ne_bytes()), libc::ENOENT);
        assert_eq!(nl_errno(&[1, 2]), libc::EPROTO);
        let mut m = Msg::new(NLMSG_ERROR, 0, 5, &i32::MIN.to_ne_bytes()).finish();
        m[8..12].copy_from_slice(&5u32.to_ne_bytes());
        assert_eq!(ack_in(&m, 5), Some(libc::EPROTO));
        assert!(matches!(link_in(&m, 5), Some(Err(_))));
        assert!(neigh_in(&m, 5, Ipv4Addr::new(10, 0, 0, 1), &mut Vec::new()).is_some());
    }
}
