//! Writes the seed files of the `table` and `writers` corpora (real table
//! files, made by the real opener, with and without leases), which are
//! binary and so not written by hand: `cargo run --example seeds` in fuzz/.

use std::fs;
use std::path::Path;

use rasstatic::owner::Owner;
use rasstatic::pool::Pool;
use rasstatic::protocol::{ClaimOpts, EndedBy};
use rasstatic::table::{Policy, SessionInfo, Table};

fn table_seed(dir: &Path, out: &Path, name: &str, spec: &str, exclude: &str, leases: u32) {
    let pool = Pool::parse(spec, exclude).expect("a good pool");
    let _ = fs::remove_file(dir.join("s.table"));
    let (t, _) = Table::open(dir, "s", &pool, spec).expect("open");
    let me = Owner::current().expect("identity");
    let info = SessionInfo {
        peer: "alice".into(),
        ifname: "ppp0".into(),
        device: "/dev/ttyS0".into(),
        proxyarp: true,
    };
    for k in 0..leases {
        let o = Owner::new(me.pid(), me.start_ticks() + u64::from(k));
        if let Ok(Some(c)) = t.claim(o, ClaimOpts::default(), Policy::RoundRobin, &info) {
            if k % 2 == 1 {
                t.release(c.slot, o, EndedBy::IpDown);
            }
        }
    }
    let bytes = fs::read(dir.join("s.table")).expect("read");
    // Flag byte 3: judged as a table of this boot and PID namespace.
    for (flag, suffix) in [
        (3u8, ""),
        (0, "-foreign"),
        (7, "-reset"),
        (11, "-truncated"),
    ] {
        let mut v = vec![flag];
        v.extend_from_slice(&bytes);
        fs::write(out.join(format!("{name}{suffix}")), v).expect("write");
    }
}

/// A table with a draining slot: a lease of a live process (this one's
/// parent) on an address the pool was then redefined without.
fn drain_seed(dir: &Path, out: &Path) {
    let _ = fs::remove_file(dir.join("s.table"));
    let a = Pool::parse("10.252.0.1-10.252.0.4", "").expect("a good pool");
    let (t, _) = Table::open(dir, "s", &a, "10.252.0.1-10.252.0.4").expect("open");
    // SAFETY: getppid has no preconditions.
    let parent = Owner::of_pid(unsafe { libc::getppid() } as u32)
        .expect("identity")
        .expect("a parent");
    for (o, slot) in [(Owner::current().expect("identity"), 0), (parent, 3)] {
        let opts = ClaimOpts {
            prefer: Some(slot),
            avoid: None,
        };
        t.claim(o, opts, Policy::RoundRobin, &SessionInfo::default())
            .expect("not retired")
            .expect("a free address");
    }
    let b = Pool::parse("10.252.0.1-10.252.0.2", "").expect("a good pool");
    let (t2, _) = Table::open(dir, "s", &b, "10.252.0.1-10.252.0.2").expect("rebuild");
    assert_eq!(t2.total(), 3, "one draining slot");
    let bytes = fs::read(dir.join("s.table")).expect("read");
    let mut v = vec![3u8];
    v.extend_from_slice(&bytes);
    fs::write(out.join("draining"), v).expect("write");
}

fn main() {
    let dir = Path::new("/dev/shm/rasstatic-fuzz-seeds");
    let _ = fs::remove_dir_all(dir);
    let out = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    let t = out.join("table");
    table_seed(dir, &t, "one", "10.0.0.1", "", 1);
    table_seed(dir, &t, "three", "10.250.0.1-10.250.0.3", "", 2);
    table_seed(dir, &t, "ranges", "10.0.0.0/28,10.1.0.1", "10.0.0.5", 7);
    drain_seed(dir, &t);
    let _ = fs::remove_dir_all(dir);

    // writers: name, selection, then per slot an owner word and a record.
    let w = out.join("writers");
    let rec = |seq: u32, peer: &[u8], ifname: &[u8], device: &[u8], flags: u32| {
        let mut m = Vec::new();
        for v in [seq, 0x1234, 1_795_816_131, flags, 0] {
            m.extend_from_slice(&v.to_ne_bytes());
        }
        for (s, n) in [(peer, 16), (ifname, 8), (device, 8)] {
            let mut b = s.to_vec();
            b.resize(n, 0);
            m.extend_from_slice(&b);
        }
        m
    };
    let me = Owner::current().expect("identity");
    let dead = Owner::new(me.pid(), me.start_ticks() + 1);
    let free = rasstatic::word::Free {
        path: EndedBy::IpDown,
        last_pid: 790,
        when: 1_795_816_100,
    };
    // Seed name, table name, selection, (owner word, record) per slot.
    type Seed<'a> = (&'a str, &'a [u8], &'a [u8], Vec<(u64, Vec<u8>)>);
    let seeds: [Seed; 4] = [
        (
            "plain",
            b"default",
            b"",
            vec![
                (me.word(), rec(2, b"alice", b"ppp0", b"ttyS0", 0)),
                (dead.word(), rec(4, b"bob", b"ppp1", b"ttyS1", 1)),
                (free.word(), rec(2, b"carol", b"ppp2", b"ttyS2", 2)),
                (0, vec![0; 52]),
            ],
        ),
        (
            "escapes",
            b"pool-1",
            b"10.251.0.2-10.251.0.3",
            vec![
                (
                    me.word(),
                    rec(2, b"a\"b\\c\n\x1b[2J", b"\x7f\x00ppp", b"\xe2\x80\xae", 0),
                ),
                (free.word(), rec(2, b"\xff\xfe\"}\n{", b"ppp", b"\xc3", 0)),
            ],
        ),
        (
            "odd_seq",
            b"Bad\"Name",
            b"10.251.0.0/30",
            vec![
                (dead.word(), rec(3, b"mid-write", b"ppp0", b"tty", 0)),
                (u64::MAX, rec(u32::MAX - 1, b"\x00\x00", b"", b"", 3)),
            ],
        ),
        ("counters", b"x", b"", vec![]),
    ];
    for (name, n, sel, slots) in seeds {
        let mut v = n.to_vec();
        v.push(b'\n');
        v.extend_from_slice(sel);
        v.push(b'\n');
        for (o, m) in &slots {
            v.extend_from_slice(&o.to_ne_bytes());
            v.extend_from_slice(m);
        }
        if name == "counters" {
            v.resize(4 * 60, 0);
            for c in 0..18u64 {
                v.extend_from_slice(&(u64::MAX - c).to_ne_bytes());
            }
        }
        fs::write(w.join(name), v).expect("write");
    }
}
