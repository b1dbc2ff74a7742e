//! The table opener and its header validation, fed hostile files: the
//! bytes are written to a table file on tmpfs and opened through the real
//! openers (`Table::open_existing` as the commands and the watchdog open a
//! table, `Table::open` as pppd does, `Reader::open` as `show` does). A
//! table that opens is then used whole, every slot read and one claimed
//! and released: a mapping trusted beyond what was validated dies of
//! SIGBUS here, which libFuzzer reports as a crash.
//!
//! Input: one flag byte, then the file. Flag bits: 1 stamps this boot's id
//! into the header, 2 this process's PID namespace (so that files from the
//! corpus are judged as from this boot and namespace, reaching the paths
//! past those checks); 4 also opens the table as pppd does, for another
//! pool (a reset); 8 truncates the file after the reader opened it and
//! before it reads the slots, to a length taken from the file's first 4
//! bytes (modulo the file's size plus one).

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::mem::offset_of;
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;
use std::sync::OnceLock;

use rasstatic::owner::{pid_namespace, Owner};
use rasstatic::pool::Pool;
use rasstatic::protocol::{ClaimOpts, EndedBy};
use rasstatic::table::layout::Fixed;
use rasstatic::table::{boot_id, Policy, Reader, SessionInfo, Table};

pub const NAME: &str = "t";

fn dir() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    super::scratch::dir("table", &DIR)
}

/// Put `v` at `at` in `file` if the file is long enough.
fn stamp(file: &mut [u8], at: usize, v: &[u8]) {
    if let Some(d) = file.get_mut(at..at + v.len()) {
        d.copy_from_slice(v);
    }
}

/// The file the input describes, with the stamps its flags ask for.
pub fn file_of(data: &[u8]) -> (u8, Vec<u8>) {
    let (flags, rest) = data.split_first().map_or((0, &[][..]), |(f, r)| (*f, r));
    let mut file = rest.to_vec();
    if flags & 1 != 0 {
        stamp(&mut file, offset_of!(Fixed, boot_id), &boot_id());
    }
    if flags & 2 != 0 {
        if let Some((dev, ino)) = pid_namespace() {
            stamp(&mut file, offset_of!(Fixed, pid_ns_dev), &dev.to_ne_bytes());
            stamp(&mut file, offset_of!(Fixed, pid_ns_ino), &ino.to_ne_bytes());
        }
    }
    (flags, file)
}

fn write_table(bytes: &[u8]) -> PathBuf {
    let path = dir().join(format!("{NAME}.table"));
    let _ = fs::remove_file(&path);
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .expect("create the table file");
    f.write_all(bytes).expect("write the table file");
    path
}

/// Use an opened table whole.
fn exercise(t: &Table) {
    let n = t.size();
    assert_eq!(n, t.pool().size());
    assert!(t.file_size() as u64 >= rasstatic::table::table_size(t.pool()));
    for slot in 0..n {
        let l = t.lease(slot);
        assert_eq!(t.slot_of(l.addr), Some(slot));
        assert!(!l.draining);
    }
    // Draining slots: outside the pool, found by address, never claimed.
    for slot in n..t.total() {
        let l = t.lease(slot);
        assert!(l.draining);
        assert_eq!(t.slot_of(l.addr), None);
        assert_eq!(t.any_slot_of(l.addr), Some(slot));
    }
    let _ = t.counters();
    assert!(t.live_leases() <= t.total());
    let _ = t.verify();
    let me = Owner::current().expect("this process's identity");
    let info = SessionInfo {
        peer: "fuzz".into(),
        ifname: "ppp0".into(),
        device: "/dev/ttyS0".into(),
        proxyarp: false,
    };
    if let Ok(Some(c)) = t.claim(me, ClaimOpts::default(), Policy::RoundRobin, &info) {
        assert!(c.slot < n);
        assert!(t.release(c.slot, me, EndedBy::Api));
    }
}

pub fn run(data: &[u8]) {
    let (flags, file) = file_of(data);
    let path = write_table(&file);
    let dir = dir();
    if let Ok(t) = Table::open_existing(dir, NAME) {
        exercise(&t);
    }
    if let Ok(r) = Reader::open(dir, NAME) {
        if flags & 8 != 0 {
            let mut len = [0u8; 4];
            for (i, b) in len.iter_mut().enumerate() {
                *b = data.get(1 + i).copied().unwrap_or(0);
            }
            let len = u64::from(u32::from_le_bytes(len)) % (file.len() as u64 + 1);
            let f = OpenOptions::new().write(true).open(&path).expect("reopen");
            f.set_len(len).expect("truncate");
        }
        let mut seen = 0u64;
        for l in r.leases() {
            match l {
                Ok(_) => seen += 1,
                Err(_) => break,
            }
        }
        assert!(seen <= u64::from(r.total()));
        let _ = r.counters();
    }
    if flags & 4 != 0 {
        let spec = "10.250.0.1-10.250.0.3";
        let pool = Pool::parse(spec, "").expect("a good pool");
        match Table::open(dir, NAME, &pool, spec) {
            Ok((t, how)) => {
                // Another pool only when the table's definition is newer
                // (and not from the future): followed.
                if t.pool() != &pool {
                    assert!(
                        matches!(how, rasstatic::table::Opened::Following { .. }),
                        "opened a table for another pool: {how:?}"
                    );
                    let now = rasstatic::table::now_ms();
                    assert!(
                        t.defined_ms() <= now + 60_000,
                        "followed a definition from the future"
                    );
                }
                exercise(&t);
            }
            Err(e) => assert!(!e.to_string().is_empty()),
        }
    }
}
