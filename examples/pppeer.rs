//! pppeer: a minimal scripted PPP caller for the real-pppd tests, for what
//! a stock pppd caller cannot be made to do: renegotiate IPCP inside one
//! connection.
//!
//! Usage: pppeer DEVICE [ROUNDS]
//!
//! Speaks async-HDLC PPP on DEVICE: opens LCP (acking whatever the dial-in
//! pppd asks), then negotiates IPCP ROUNDS times (default 2), each time
//! sending a fresh Configure-Request from the OPENED state, which makes
//! pppd take IPCP down and up again. Prints "round N ADDRESS" for the
//! address pppd gave it each round, then terminates LCP.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::net::Ipv4Addr;
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::time::{Duration, Instant};

const LCP: u16 = 0xc021;
const IPCP: u16 = 0x8021;
const CONF_REQ: u8 = 1;
const CONF_ACK: u8 = 2;
const CONF_NAK: u8 = 3;
const TERM_REQ: u8 = 5;
const TERM_ACK: u8 = 6;
const ECHO_REQ: u8 = 9;
const ECHO_REP: u8 = 10;

/// RFC 1662 FCS-16.
fn fcs16(data: &[u8]) -> u16 {
    let mut fcs: u16 = 0xffff;
    for &b in data {
        fcs ^= u16::from(b);
        for _ in 0..8 {
            fcs = if fcs & 1 != 0 {
                (fcs >> 1) ^ 0x8408
            } else {
                fcs >> 1
            };
        }
    }
    !fcs
}

struct Link {
    dev: File,
    buf: Vec<u8>,
    frame: Vec<u8>,
    escaped: bool,
}

impl Link {
    fn send(&mut self, proto: u16, code: u8, id: u8, data: &[u8]) {
        let mut f = vec![0xff, 0x03, (proto >> 8) as u8, proto as u8, code, id];
        f.extend_from_slice(&((data.len() as u16 + 4).to_be_bytes()));
        f.extend_from_slice(data);
        let fcs = fcs16(&f);
        f.extend_from_slice(&fcs.to_le_bytes());
        let mut out = vec![0x7e];
        for b in f {
            if b < 0x20 || b == 0x7e || b == 0x7d {
                out.extend_from_slice(&[0x7d, b ^ 0x20]);
            } else {
                out.push(b);
            }
        }
        out.push(0x7e);
        self.dev.write_all(&out).expect("write");
    }

    /// The next good frame as (protocol, code, id, data), or None on timeout.
    fn recv(&mut self, until: Instant) -> Option<(u16, u8, u8, Vec<u8>)> {
        loop {
            while let Some(b) = (!self.buf.is_empty()).then(|| self.buf.remove(0)) {
                match b {
                    0x7e => {
                        let f = std::mem::take(&mut self.frame);
                        if let Some(p) = parse(&f) {
                            return Some(p);
                        }
                    }
                    0x7d => self.escaped = true,
                    b => {
                        self.frame.push(if self.escaped { b ^ 0x20 } else { b });
                        self.escaped = false;
                    }
                }
            }
            if Instant::now() >= until {
                return None;
            }
            let mut pfd = libc::pollfd {
                fd: self.dev.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: polling one descriptor we own.
            unsafe { libc::poll(&mut pfd, 1, 100) };
            let mut tmp = [0u8; 2048];
            match self.dev.read(&mut tmp) {
                Ok(0) => return None,
                Ok(n) => self.buf.extend_from_slice(&tmp[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(_) => return None,
            }
        }
    }
}

fn parse(f: &[u8]) -> Option<(u16, u8, u8, Vec<u8>)> {
    if f.len() < 4
        || fcs16(&f[..f.len() - 2]) != u16::from_le_bytes([f[f.len() - 2], f[f.len() - 1]])
    {
        return None;
    }
    let mut p = &f[..f.len() - 2];
    if p.starts_with(&[0xff, 0x03]) {
        p = &p[2..];
    }
    let (proto, rest) = if p.first()? & 1 == 1 {
        (u16::from(p[0]), &p[1..])
    } else {
        (u16::from_be_bytes([p[0], *p.get(1)?]), &p[2..])
    };
    if rest.len() < 4 {
        return None;
    }
    let len = usize::from(u16::from_be_bytes([rest[2], rest[3]])).min(rest.len());
    Some((proto, rest[0], rest[1], rest[4..len.max(4)].to_vec()))
}

fn addr_option(data: &[u8]) -> Option<Ipv4Addr> {
    let mut d = data;
    while d.len() >= 2 {
        let (t, l) = (d[0], usize::from(d[1]));
        if l < 2 || l > d.len() {
            break;
        }
        if t == 3 && l == 6 {
            return Some(Ipv4Addr::new(d[2], d[3], d[4], d[5]));
        }
        d = &d[l..];
    }
    None
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let dev_path = args.get(1).expect("usage: pppeer DEVICE [ROUNDS]");
    let rounds: u32 = args.get(2).and_then(|r| r.parse().ok()).unwrap_or(2);
    let dev = OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NOCTTY | libc::O_NONBLOCK)
        .open(dev_path)
        .expect("open device");
    // SAFETY: termios calls on a tty descriptor we own.
    unsafe {
        let mut t: libc::termios = std::mem::zeroed();
        if libc::tcgetattr(dev.as_raw_fd(), &mut t) == 0 {
            libc::cfmakeraw(&mut t);
            libc::tcsetattr(dev.as_raw_fd(), libc::TCSANOW, &t);
        }
    }
    let mut link = Link {
        dev,
        buf: Vec::new(),
        frame: Vec::new(),
        escaped: false,
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut id = 1u8;
    // LCP: our empty request, retransmitted; ack theirs.
    let (mut acked, mut opened_theirs) = (false, false);
    let mut next = Instant::now();
    while !(acked && opened_theirs) {
        assert!(Instant::now() < deadline, "LCP did not open");
        if !acked && Instant::now() >= next {
            link.send(LCP, CONF_REQ, id, &[]);
            next = Instant::now() + Duration::from_millis(700);
        }
        let Some((proto, code, rid, data)) = link.recv(next) else {
            continue;
        };
        match (proto, code) {
            (LCP, CONF_REQ) => {
                link.send(LCP, CONF_ACK, rid, &data);
                opened_theirs = true;
            }
            (LCP, CONF_ACK) if rid == id => acked = true,
            (LCP, ECHO_REQ) => link.send(LCP, ECHO_REP, rid, &[0, 0, 0, 0]),
            _ => {}
        }
    }
    eprintln!("pppeer: LCP open");
    let mut ours = Ipv4Addr::UNSPECIFIED;
    for round in 1..=rounds {
        id = id.wrapping_add(1);
        let (mut acked, mut theirs) = (false, false);
        let mut next = Instant::now();
        while !(acked && theirs) {
            assert!(Instant::now() < deadline, "IPCP round {round} did not open");
            if !acked && Instant::now() >= next {
                let o = ours.octets();
                link.send(IPCP, CONF_REQ, id, &[3, 6, o[0], o[1], o[2], o[3]]);
                next = Instant::now() + Duration::from_millis(700);
            }
            let Some((proto, code, rid, data)) = link.recv(next) else {
                continue;
            };
            match (proto, code) {
                (IPCP, CONF_REQ) => {
                    link.send(IPCP, CONF_ACK, rid, &data);
                    theirs = true;
                }
                (IPCP, CONF_NAK) if rid == id => {
                    if let Some(a) = addr_option(&data) {
                        ours = a;
                    }
                    id = id.wrapping_add(1);
                    next = Instant::now();
                }
                (IPCP, CONF_ACK) if rid == id => acked = true,
                (LCP, ECHO_REQ) => link.send(LCP, ECHO_REP, rid, &[0, 0, 0, 0]),
                (LCP, TERM_REQ) => {
                    link.send(LCP, TERM_ACK, rid, &[]);
                    panic!("pppd terminated the link in round {round}");
                }
                _ => {}
            }
        }
        println!("round {round} {ours}");
        // Let pppd run its ip-up before the next round.
        let settle = Instant::now() + Duration::from_millis(1500);
        while let Some((proto, code, rid, _)) = link.recv(settle) {
            if (proto, code) == (LCP, ECHO_REQ) {
                link.send(LCP, ECHO_REP, rid, &[0, 0, 0, 0]);
            }
        }
    }
    id = id.wrapping_add(1);
    link.send(LCP, TERM_REQ, id, &[]);
    let until = Instant::now() + Duration::from_secs(3);
    while let Some((proto, code, _, _)) = link.recv(until) {
        if (proto, code) == (LCP, TERM_ACK) {
            break;
        }
    }
    eprintln!("pppeer: done");
}
