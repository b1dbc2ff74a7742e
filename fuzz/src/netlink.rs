//! The watchdog's rtnetlink reply readers, fed hostile datagrams: the first
//! 4 bytes are the request's sequence number, the next 4 the address asked
//! about, the rest the datagram as received.

use std::net::Ipv4Addr;

use rasstatic::watchdog::net::read_reply;

pub fn run(data: &[u8]) {
    let word = |i: usize| {
        let mut b = [0u8; 4];
        for (k, v) in b.iter_mut().enumerate() {
            *v = data.get(i + k).copied().unwrap_or(0);
        }
        b
    };
    let seq = u32::from_ne_bytes(word(0));
    let addr = Ipv4Addr::from(word(4));
    let _ = read_reply(data.get(8..).unwrap_or(&[]), seq, addr);
}
