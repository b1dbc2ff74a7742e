//! A minimal RADIUS client (RFC 2865/2866) for the benchmark: an
//! Access-Request with PAP and Message-Authenticator, answered by an
//! Access-Accept carrying Framed-IP-Address, and an Accounting-Request
//! Stop. One UDP socket per simulated NAS line, one request in flight.

use std::io;
use std::net::{Ipv4Addr, UdpSocket};
use std::time::Duration;

use md5::{Digest, Md5};

pub const ACCESS_REQUEST: u8 = 1;
pub const ACCESS_ACCEPT: u8 = 2;
pub const ACCESS_REJECT: u8 = 3;
pub const ACCOUNTING_REQUEST: u8 = 4;
pub const ACCOUNTING_RESPONSE: u8 = 5;

const USER_NAME: u8 = 1;
const USER_PASSWORD: u8 = 2;
const NAS_IP_ADDRESS: u8 = 4;
const NAS_PORT: u8 = 5;
const SERVICE_TYPE: u8 = 6;
const FRAMED_PROTOCOL: u8 = 7;
const FRAMED_IP_ADDRESS: u8 = 8;
const NAS_IDENTIFIER: u8 = 32;
const ACCT_STATUS_TYPE: u8 = 40;
const ACCT_SESSION_ID: u8 = 44;
const MESSAGE_AUTHENTICATOR: u8 = 80;

fn md5(parts: &[&[u8]]) -> [u8; 16] {
    let mut h = Md5::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

fn hmac_md5(key: &[u8], msg: &[u8]) -> [u8; 16] {
    let mut k = [0u8; 64];
    if key.len() > 64 {
        k[..16].copy_from_slice(&md5(&[key]));
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let ipad: Vec<u8> = k.iter().map(|b| b ^ 0x36).collect();
    let opad: Vec<u8> = k.iter().map(|b| b ^ 0x5c).collect();
    let inner = md5(&[&ipad, msg]);
    md5(&[&opad, &inner])
}

/// What a simulated line sends: its identity in the pool's eyes.
pub struct Line {
    sock: UdpSocket,
    acct: UdpSocket,
    secret: Vec<u8>,
    id: u8,
    pub port: u32,
    pub user: String,
    pub pool: String,
    session: u64,
    rnd: u64,
}

pub enum Outcome {
    /// Framed-IP-Address of the Access-Accept.
    Address(Ipv4Addr),
    /// Access-Reject, or an Accept without an address.
    Refused,
}

impl Line {
    pub fn new(server: Ipv4Addr, auth_port: u16, acct_port: u16, secret: &str, port: u32, pool: &str) -> io::Result<Line> {
        let sock = UdpSocket::bind("127.0.0.1:0")?;
        sock.connect((server, auth_port))?;
        sock.set_read_timeout(Some(Duration::from_secs(5)))?;
        let acct = UdpSocket::bind("127.0.0.1:0")?;
        acct.connect((server, acct_port))?;
        acct.set_read_timeout(Some(Duration::from_secs(5)))?;
        Ok(Line {
            sock,
            acct,
            secret: secret.as_bytes().to_vec(),
            id: (port % 256) as u8,
            port,
            user: format!("user{port}"),
            pool: pool.to_string(),
            session: 0,
            rnd: 0x9e37_79b9_7f4a_7c15 ^ u64::from(port),
        })
    }

    fn random16(&mut self) -> [u8; 16] {
        let mut out = [0u8; 16];
        for c in out.chunks_mut(8) {
            // xorshift64*: request authenticators need only be unpredictable
            // enough not to repeat.
            self.rnd ^= self.rnd >> 12;
            self.rnd ^= self.rnd << 25;
            self.rnd ^= self.rnd >> 27;
            c.copy_from_slice(&self.rnd.wrapping_mul(0x2545_f491_4f6c_dd1d).to_ne_bytes());
        }
        out
    }

    fn common_attrs(&self, a: &mut Vec<u8>) {
        attr(a, USER_NAME, self.user.as_bytes());
        attr(a, NAS_IP_ADDRESS, &[127, 0, 0, 1]);
        attr(a, NAS_PORT, &self.port.to_be_bytes());
        attr(a, NAS_IDENTIFIER, self.pool.as_bytes());
    }

    /// Access-Request; the address granted, if any.
    pub fn authenticate(&mut self) -> io::Result<Outcome> {
        self.id = self.id.wrapping_add(1);
        let ra = self.random16();
        let mut a = Vec::with_capacity(128);
        self.common_attrs(&mut a);
        // PAP: password padded to 16, XORed with MD5(secret + RA).
        let mut pw = [0u8; 16];
        pw[..8].copy_from_slice(b"password");
        let key = md5(&[&self.secret, &ra]);
        let hidden: Vec<u8> = pw.iter().zip(key).map(|(p, k)| p ^ k).collect();
        attr(&mut a, USER_PASSWORD, &hidden);
        attr(&mut a, SERVICE_TYPE, &2u32.to_be_bytes());
        attr(&mut a, FRAMED_PROTOCOL, &1u32.to_be_bytes());
        let ma_at = a.len();
        attr(&mut a, MESSAGE_AUTHENTICATOR, &[0u8; 16]);
        let mut pkt = packet(ACCESS_REQUEST, self.id, &ra, &a);
        let ma = hmac_md5(&self.secret, &pkt);
        pkt[20 + ma_at + 2..20 + ma_at + 18].copy_from_slice(&ma);
        self.sock.send(&pkt)?;
        let reply = recv_for(&self.sock, self.id)?;
        match reply.first() {
            Some(&ACCESS_ACCEPT) => Ok(find_attr(&reply, FRAMED_IP_ADDRESS)
                .filter(|v| v.len() == 4)
                .map(|v| Outcome::Address(Ipv4Addr::new(v[0], v[1], v[2], v[3])))
                .unwrap_or(Outcome::Refused)),
            Some(&ACCESS_REJECT) => Ok(Outcome::Refused),
            other => Err(io::Error::other(format!("unexpected reply code {other:?}"))),
        }
    }

    /// Accounting-Request Stop for `addr`.
    pub fn stop(&mut self, addr: Ipv4Addr) -> io::Result<()> {
        self.id = self.id.wrapping_add(1);
        self.session += 1;
        let mut a = Vec::with_capacity(128);
        self.common_attrs(&mut a);
        attr(&mut a, ACCT_STATUS_TYPE, &2u32.to_be_bytes());
        attr(&mut a, ACCT_SESSION_ID, format!("{:08x}{:08x}", self.port, self.session).as_bytes());
        attr(&mut a, FRAMED_IP_ADDRESS, &addr.octets());
        let mut pkt = packet(ACCOUNTING_REQUEST, self.id, &[0u8; 16], &a);
        let auth = md5(&[&pkt, &self.secret]);
        pkt[4..20].copy_from_slice(&auth);
        self.acct.send(&pkt)?;
        let reply = recv_for(&self.acct, self.id)?;
        if reply.first() != Some(&ACCOUNTING_RESPONSE) {
            return Err(io::Error::other("no Accounting-Response"));
        }
        Ok(())
    }
}

fn attr(a: &mut Vec<u8>, t: u8, v: &[u8]) {
    a.push(t);
    a.push((v.len() + 2) as u8);
    a.extend_from_slice(v);
}

fn packet(code: u8, id: u8, auth: &[u8; 16], attrs: &[u8]) -> Vec<u8> {
    let len = (20 + attrs.len()) as u16;
    let mut p = Vec::with_capacity(len as usize);
    p.push(code);
    p.push(id);
    p.extend_from_slice(&len.to_be_bytes());
    p.extend_from_slice(auth);
    p.extend_from_slice(attrs);
    p
}

fn recv_for(s: &UdpSocket, id: u8) -> io::Result<Vec<u8>> {
    let mut buf = [0u8; 4096];
    loop {
        let n = s.recv(&mut buf)?;
        if n >= 20 && buf[1] == id {
            return Ok(buf[..n].to_vec());
        }
    }
}

fn find_attr(p: &[u8], t: u8) -> Option<&[u8]> {
    let mut at = 20;
    while at + 2 <= p.len() {
        let len = p[at + 1] as usize;
        if len < 2 || at + len > p.len() {
            return None;
        }
        if p[at] == t {
            return Some(&p[at + 2..at + len]);
        }
        at += len;
    }
    None
}

#[cfg(test)]
mod tests {
    #[test]
    fn hmac_md5_matches_rfc_2202() {
        // RFC 2202, test case 2.
        let mac = super::hmac_md5(b"Jefe", b"what do ya want for nothing?");
        let hex: String = mac.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, "750c783e6ab0b503eaa86e310a5db738");
    }
}
