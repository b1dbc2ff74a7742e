//! Table files: creation, concurrent creation, resets, and every kind of
//! bad file being refused with a message that names the path and reason.

use std::fs;
use std::os::unix::fs::{symlink, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use rasstatic::owner::Owner;
use rasstatic::pool::Pool;
use rasstatic::protocol::{ClaimOpts, EndedBy};
use rasstatic::table::{Opened, Policy, SessionInfo, Table, TableError};

struct TempDir(PathBuf);
impl TempDir {
    fn new(tag: &str) -> TempDir {
        let d = std::env::temp_dir().join(format!("rasstatic-tf-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        TempDir(d)
    }
}
impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn pool(s: &str) -> Pool {
    Pool::parse(s, "").unwrap()
}

fn open(dir: &Path, spec: &str) -> Result<(Table, Opened), TableError> {
    Table::open(dir, "t", &pool(spec), spec)
}

/// A damaged table: refused (the admin path says why), never trusted:
/// `open` moves it aside untouched and builds a fresh table in its place.
fn refused(dir: &Path, spec: &str) -> String {
    let why = Table::open_existing(dir, "t")
        .err()
        .expect("the admin path refuses it")
        .to_string();
    let before = fs::read(dir.join("t.table")).unwrap();
    match open(dir, spec) {
        Ok((t, Opened::Rebuilt { why: w, aside })) => {
            assert_eq!(w, why);
            assert_eq!(aside, dir.join("t.table.damaged"));
            assert_eq!(fs::read(&aside).unwrap(), before, "moved aside untouched");
            assert_eq!((t.size(), t.live_leases()), (pool(spec).size(), 0));
            assert!(Table::open_existing(dir, "t").is_ok());
        }
        Ok((_, how)) => panic!("a damaged table was accepted: {how:?}"),
        Err(e) => panic!("not rebuilt: {e}"),
    }
    why
}

/// A file this build must not touch (another layout version, not ours,
/// not a regular file): refused by both paths with one message, and left
/// where it is.
fn refused_kept(dir: &Path, spec: &str) -> String {
    let md = |p: &Path| fs::symlink_metadata(p).map(|m| (m.len(), m.mode())).ok();
    let before = md(&dir.join("t.table"));
    let e = match open(dir, spec) {
        Ok(_) => panic!("a bad table was accepted"),
        Err(e) => e.to_string(),
    };
    let e2 = Table::open_existing(dir, "t").err().map(|e| e.to_string());
    assert_eq!(Some(e.clone()), e2);
    assert_eq!(md(&dir.join("t.table")), before);
    assert!(!dir.join("t.table.damaged").exists());
    e
}

/// Create a good table, then let `spoil` damage the file.
fn spoiled(tag: &str, spoil: impl FnOnce(&Path)) -> (TempDir, PathBuf) {
    let d = TempDir::new(tag);
    drop(open(&d.0, "10.1.0.0/24").unwrap());
    let p = d.0.join("t.table");
    spoil(&p);
    (d, p)
}

#[test]
fn created_0600_in_a_0700_directory() {
    let d = TempDir::new("create");
    let (t, how) = open(&d.0, "10.1.0.0/24").unwrap();
    assert_eq!(how, Opened::Created);
    assert_eq!(t.size(), 254);
    let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o7777;
    assert_eq!(mode(&d.0), 0o700);
    assert_eq!(mode(&d.0.join("t.table")), 0o600);
    assert!(
        t.file_size() as f64 / 254.0 < 100.0,
        "a tiny pool still pays the header"
    );
    let (_, how) = open(&d.0, "10.1.0.0/24").unwrap();
    assert_eq!(how, Opened::Existing);
    // No temporary files are left behind.
    assert_eq!(fs::read_dir(&d.0).unwrap().count(), 1);
}

#[test]
fn concurrent_creation_yields_one_table() {
    let d = TempDir::new("race");
    let pids: Vec<_> = (0..8)
        .map(|_| {
            // SAFETY: the child only opens the table, claims and exits.
            let pid = unsafe { libc::fork() };
            if pid == 0 {
                let code = match open(&d.0, "10.2.0.0/28") {
                    Ok((t, _)) => {
                        let me = Owner::current().unwrap();
                        match t.claim(
                            me,
                            ClaimOpts::default(),
                            Policy::RoundRobin,
                            &SessionInfo::default(),
                        ) {
                            // Hold it: exit without releasing.
                            Ok(Some(_)) => 0,
                            _ => 3,
                        }
                    }
                    Err(_) => 2,
                };
                // SAFETY: end the child without the test harness.
                unsafe { libc::_exit(code) };
            }
            pid
        })
        .collect();
    for pid in pids {
        let mut st = 0;
        // SAFETY: waiting for our own child.
        unsafe { libc::waitpid(pid, &mut st, 0) };
        assert!(
            libc::WIFEXITED(st) && libc::WEXITSTATUS(st) == 0,
            "child failed: {st:#x}"
        );
    }
    let t = Table::open_existing(&d.0, "t").unwrap();
    // All eight claims landed in the one table that everyone shares.
    assert_eq!(t.slots().leased(), 8);
    assert_eq!(t.reap_all(EndedBy::ReapAdmin).len(), 8);
    assert_eq!(fs::read_dir(&d.0).unwrap().count(), 1);
}

fn claim_at(t: &Table, who: Owner, addr: &str) -> u32 {
    let slot = t.slot_of(addr.parse().unwrap()).unwrap();
    let c = t
        .claim(
            who,
            ClaimOpts {
                prefer: Some(slot),
                avoid: None,
            },
            Policy::RoundRobin,
            &SessionInfo::default(),
        )
        .unwrap()
        .unwrap();
    assert_eq!(c.slot, slot);
    slot
}

/// The test runner's parent (cargo): alive for the whole test, and not
/// this process.
fn parent() -> Owner {
    // SAFETY: getppid has no preconditions.
    Owner::of_pid(unsafe { libc::getppid() } as u32)
        .unwrap()
        .unwrap()
}

#[test]
fn pool_change_with_calls_up_keeps_live_leases_drains_removed_addresses_and_newest_wins() {
    let d = TempDir::new("poolchange");
    let (t, _) = open(&d.0, "10.3.0.1-10.3.0.9").unwrap();
    let me = Owner::current().unwrap();
    claim_at(&t, me, "10.3.0.1");
    claim_at(&t, parent(), "10.3.0.9");
    // Shrink: 10.3.0.9 leaves the pool while its call is up. (Each new
    // definition a few ms later: on a tie the table's definition wins.)
    std::thread::sleep(std::time::Duration::from_millis(3));
    let (t2, how) = open(&d.0, "10.3.0.1-10.3.0.5").unwrap();
    assert_eq!(
        how,
        Opened::ResetPool {
            old: "10.3.0.1-10.3.0.9".into(),
            kept: 1,
            draining: 1
        }
    );
    assert_eq!((t2.size(), t2.total()), (5, 6));
    let kept = t2.slot_of("10.3.0.1".parse().unwrap()).unwrap();
    assert_eq!(t2.word(kept), me.word(), "the kept lease is still ours");
    let drain = t2.any_slot_of("10.3.0.9".parse().unwrap()).unwrap();
    assert_eq!(drain, 5);
    assert_eq!(t2.word(drain), parent().word());
    assert!(t2.lease(drain).draining);
    assert_eq!(
        t2.draining().collect::<Vec<_>>(),
        ["10.3.0.9".parse::<std::net::Ipv4Addr>().unwrap()]
    );
    // New callers get the four free addresses of the new pool, never the
    // draining one, and then are refused.
    let mut got = Vec::new();
    for pid in 0..6 {
        let o = Owner::new(4_000_000 + pid, 1);
        match t2
            .claim(
                o,
                ClaimOpts::default(),
                Policy::RoundRobin,
                &SessionInfo::default(),
            )
            .unwrap()
        {
            Some(c) => got.push(t2.addr(c.slot).to_string()),
            None => break,
        }
    }
    // (The test owners are dead, so a claim on the full pool may reap
    // one and hand its address out again.)
    got.sort();
    got.dedup();
    assert_eq!(got, ["10.3.0.2", "10.3.0.3", "10.3.0.4", "10.3.0.5"]);
    // The old mapping learns it was replaced, and a claim there steps back.
    assert!(t.is_retired());
    let r = t.claim(
        Owner::new(4_100_000, 1),
        ClaimOpts::default(),
        Policy::RoundRobin,
        &SessionInfo::default(),
    );
    assert!(r.is_err(), "a claim in a retired table must be refused");
    // The draining call ends; the pool grows. The dead test owners are not
    // carried over, the live one is.
    assert!(t2.release(drain, parent(), EndedBy::Api));
    std::thread::sleep(std::time::Duration::from_millis(3));
    let (t3, how) = open(&d.0, "10.3.0.1-10.3.0.12").unwrap();
    assert_eq!(
        how,
        Opened::ResetPool {
            old: "10.3.0.1-10.3.0.5".into(),
            kept: 1,
            draining: 0
        }
    );
    assert_eq!((t3.size(), t3.total()), (12, 12));
    assert_eq!(t3.live_leases(), 1);
    // A pppd that read an older definition follows the table's.
    let old = pool("10.3.0.1-10.3.0.9");
    let def = rasstatic::table::Definition {
        pool: &old,
        spec: "10.3.0.1-10.3.0.9",
        defined_ms: t3.defined_ms() - 1,
        cluster: false,
    };
    let (t4, how) = Table::open_as(&d.0, "t", &def).unwrap();
    assert!(matches!(how, Opened::Following { .. }), "{how:?}");
    assert_eq!(t4.size(), 12);
    assert!(!t3.is_retired());
}

#[test]
fn earlier_boot_resets_the_table() {
    let (d, p) = spoiled("boot", |p| {
        use std::os::unix::fs::FileExt;
        let f = fs::OpenOptions::new().write(true).open(p).unwrap();
        // Overwrite the recorded boot id (offset of Fixed::boot_id: 48).
        f.write_all_at(b"00000000-0000-0000-0000-000000000000", 48)
            .unwrap();
    });
    let before = fs::metadata(&p).unwrap();
    let (_, how) = open(&d.0, "10.1.0.0/24").unwrap();
    assert_eq!(how, Opened::ResetBoot);
    use std::os::unix::fs::MetadataExt;
    assert_ne!(
        before.ino(),
        fs::metadata(&p).unwrap().ino(),
        "a fresh file replaced it"
    );
}

#[test]
fn truncated_tables_are_refused() {
    let (d, _) = spoiled("trunc", |p| {
        fs::OpenOptions::new()
            .write(true)
            .open(p)
            .unwrap()
            .set_len(8192)
            .unwrap();
    });
    let e = refused(&d.0, "10.1.0.0/24");
    assert!(
        e.contains("t.table: refused: truncated (8192 bytes, its header needs"),
        "{e}"
    );
    let (d, _) = spoiled("trunc2", |p| {
        fs::OpenOptions::new()
            .write(true)
            .open(p)
            .unwrap()
            .set_len(100)
            .unwrap();
    });
    let e = refused(&d.0, "10.1.0.0/24");
    assert!(e.contains("refused: truncated (100 bytes"), "{e}");
    let (d, _) = spoiled("trunc3", |p| {
        fs::OpenOptions::new()
            .write(true)
            .open(p)
            .unwrap()
            .set_len(0)
            .unwrap();
    });
    assert!(refused(&d.0, "10.1.0.0/24").contains("truncated (0 bytes"));
}

#[test]
fn foreign_and_corrupt_files_are_refused() {
    let (d, _) = spoiled("foreign", |p| {
        fs::write(p, vec![b'x'; 10000]).unwrap();
    });
    assert!(refused(&d.0, "10.1.0.0/24").contains("not a rasstatic table (bad magic)"));
    let (d, _) = spoiled("foreign-small", |p| {
        fs::write(p, b"hello world\n").unwrap();
    });
    assert!(refused(&d.0, "10.1.0.0/24").contains("not a rasstatic table"));
    let patch = |off: u64, bytes: &[u8]| {
        let bytes = bytes.to_vec();
        move |p: &Path| {
            use std::os::unix::fs::FileExt;
            let f = fs::OpenOptions::new().write(true).open(p).unwrap();
            f.write_all_at(&bytes, off).unwrap();
        }
    };
    let (d, _) = spoiled("version", patch(8, &99u32.to_ne_bytes()));
    assert!(refused_kept(&d.0, "10.1.0.0/24").contains("layout version 99"));
    let (d, _) = spoiled("slots", patch(16, &1_000_000u32.to_ne_bytes()));
    assert!(refused(&d.0, "10.1.0.0/24").contains("corrupt header"));
    let (d, _) = spoiled("slots0", patch(16, &0u32.to_ne_bytes()));
    assert!(refused(&d.0, "10.1.0.0/24").contains("corrupt header: 0 slots"));
    // Ranges that do not add up to the slot count.
    let (d, _) = spoiled(
        "ranges",
        patch(4096 + 4, &u32::from_be_bytes([10, 1, 0, 9]).to_ne_bytes()),
    );
    assert!(refused(&d.0, "10.1.0.0/24").contains("corrupt header"));
}

#[test]
fn wrongly_owned_or_writable_or_odd_files_are_refused() {
    let (d, p) = spoiled("mode", |p| {
        fs::set_permissions(p, fs::Permissions::from_mode(0o666)).unwrap();
    });
    let e = refused_kept(&d.0, "10.1.0.0/24");
    assert!(
        e.contains(&format!("{}: refused: mode 0666", p.display())),
        "{e}"
    );
    let (d, p) = spoiled("owner", |p| {
        std::os::unix::fs::chown(p, Some(12345), None).unwrap();
    });
    let e = refused_kept(&d.0, "10.1.0.0/24");
    assert!(
        e.contains(&format!("{}: refused: owned by uid 12345", p.display())),
        "{e}"
    );
    let (d, _) = spoiled("symlink", |p| {
        fs::rename(p, p.with_extension("real")).unwrap();
        symlink(p.with_extension("real"), p).unwrap();
    });
    assert!(refused_kept(&d.0, "10.1.0.0/24").contains("not a regular file"));
    let (d, _) = spoiled("dir", |p| {
        fs::remove_file(p).unwrap();
        fs::create_dir(p).unwrap();
    });
    assert!(refused_kept(&d.0, "10.1.0.0/24").contains("not a regular file"));
    let (d, _) = spoiled("fifo", |p| {
        fs::remove_file(p).unwrap();
        let c = std::ffi::CString::new(p.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: mkfifo with a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    });
    assert!(refused_kept(&d.0, "10.1.0.0/24").contains("not a regular file"));
    // A world-writable directory is refused too.
    let d = TempDir::new("dirmode");
    fs::create_dir(&d.0).unwrap();
    fs::set_permissions(&d.0, fs::Permissions::from_mode(0o777)).unwrap();
    let e = open(&d.0, "10.1.0.0/24").err().unwrap().to_string();
    assert!(e.contains("refused: mode 0777"), "{e}");
}

#[test]
fn bad_names_are_refused() {
    let d = TempDir::new("names");
    for bad in ["", "Upper", "../x", "a b", "x.table", &"a".repeat(65)] {
        let e = Table::open(&d.0, bad, &pool("10.1.0.1"), "10.1.0.1")
            .err()
            .unwrap();
        assert!(e.to_string().contains("is not allowed"), "{bad}: {e}");
    }
}

#[test]
fn sticky_policy_returns_a_peers_last_address() {
    let d = TempDir::new("sticky");
    let (t, _) = open(&d.0, "10.5.0.1-10.5.0.20").unwrap();
    let info = |peer: &str| SessionInfo {
        peer: peer.into(),
        ..SessionInfo::default()
    };
    let o = |k: u64| Owner::new(std::process::id(), 10_000 + k);
    let a = t
        .claim(o(1), ClaimOpts::default(), Policy::Sticky, &info("alice"))
        .unwrap()
        .unwrap();
    let b = t
        .claim(o(2), ClaimOpts::default(), Policy::Sticky, &info("bob"))
        .unwrap()
        .unwrap();
    assert!(t.release(a.slot, o(1), EndedBy::Api));
    assert!(t.release(b.slot, o(2), EndedBy::Api));
    // Round-robin would move on; sticky gives alice her address back.
    let a2 = t
        .claim(o(3), ClaimOpts::default(), Policy::Sticky, &info("alice"))
        .unwrap()
        .unwrap();
    assert_eq!(a2.slot, a.slot);
    let c = t
        .claim(
            o(4),
            ClaimOpts::default(),
            Policy::RoundRobin,
            &info("carol"),
        )
        .unwrap()
        .unwrap();
    assert_ne!(
        c.slot, b.slot,
        "round-robin does not reuse the freshest address"
    );
    // While bob's old address is taken by someone else, bob gets another.
    let x = t
        .claim(
            o(5),
            ClaimOpts {
                prefer: Some(b.slot),
                avoid: None,
            },
            Policy::RoundRobin,
            &info("x"),
        )
        .unwrap()
        .unwrap();
    assert_eq!(x.slot, b.slot);
    let b2 = t
        .claim(o(6), ClaimOpts::default(), Policy::Sticky, &info("bob"))
        .unwrap()
        .unwrap();
    assert_ne!(b2.slot, b.slot);
}

#[test]
fn metadata_and_counters_survive_in_the_table() {
    let d = TempDir::new("meta");
    let (t, _) = open(&d.0, "10.6.0.1-10.6.0.4").unwrap();
    let me = Owner::current().unwrap();
    let info = SessionInfo {
        peer: "dialer".into(),
        ifname: "ppp3".into(),
        device: "/dev/ttyS1".into(),
        proxyarp: true,
    };
    let c = t
        .claim(me, ClaimOpts::default(), Policy::RoundRobin, &info)
        .unwrap()
        .unwrap();
    let l = t.lease(c.slot);
    let m = l.meta.unwrap();
    assert_eq!(
        (
            m.peer.as_str(),
            m.ifname.as_str(),
            m.device.as_str(),
            m.proxyarp
        ),
        ("dialer", "ppp3", "ttyS1", true)
    );
    assert!(t.release(c.slot, me, EndedBy::IpDown));
    let l = t.lease(c.slot);
    match l.state {
        rasstatic::table::LeaseState::Free(f) => {
            assert_eq!(f.path, EndedBy::IpDown);
            assert_eq!(f.last_pid, me.pid());
        }
        _ => panic!("not free"),
    }
    assert_eq!(
        l.meta.unwrap().peer,
        "dialer",
        "a free slot keeps its last holder"
    );
    let n = t.counters();
    assert_eq!((n.assigned, n.ended_by(EndedBy::IpDown)), (1, 1));
}

#[test]
fn a_second_claim_by_the_same_process_returns_its_lease() {
    let d = TempDir::new("again");
    let (t, _) = open(&d.0, "10.7.0.1-10.7.0.9").unwrap();
    let me = Owner::current().unwrap();
    let i = SessionInfo::default();
    let a = t
        .claim(me, ClaimOpts::default(), Policy::RoundRobin, &i)
        .unwrap()
        .unwrap();
    let b = t
        .claim(me, ClaimOpts::default(), Policy::RoundRobin, &i)
        .unwrap()
        .unwrap();
    assert_eq!((b.slot, b.existing), (a.slot, true));
    assert_eq!(t.slots().leased(), 1);
    // Once released, the next claim is a new lease.
    assert!(t.release(a.slot, me, EndedBy::Api));
    let c = t
        .claim(me, ClaimOpts::default(), Policy::RoundRobin, &i)
        .unwrap()
        .unwrap();
    assert!(!c.existing);
}

fn wait_child(pid: libc::pid_t) -> i32 {
    let mut st = 0;
    // SAFETY: waiting for our own child.
    assert_eq!(unsafe { libc::waitpid(pid, &mut st, 0) }, pid);
    st
}

/// Fork a child that runs `f` and exits with its status, without the test
/// harness.
fn fork_child(f: impl FnOnce() -> i32) -> libc::pid_t {
    // SAFETY: the child runs `f` and leaves with _exit; it never returns
    // into the harness.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        let code = f();
        // SAFETY: end the child at once.
        unsafe { libc::_exit(code) };
    }
    pid
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

struct AllAlive;
impl rasstatic::protocol::Liveness for AllAlive {
    fn is_alive(&self, _: Owner) -> bool {
        true
    }
}

/// Processes SIGKILLed at random points of a table reset (a rebuild for
/// another pool), round after round: the table must always open again,
/// with either pool, and in the end every address must be claimable and
/// no temporary file be left.
#[test]
fn sigkill_during_resets_never_poisons_the_table() {
    let d = TempDir::new("killreset");
    // Big enough that a reset takes a few milliseconds to write.
    let pools = ["10.64.0.0/14", "10.68.0.0/14"];
    drop(open(&d.0, pools[0]).unwrap());
    // (A later definition: on a tie the table's wins.)
    std::thread::sleep(std::time::Duration::from_millis(3));
    // How long an undisturbed reset takes.
    let t0 = std::time::Instant::now();
    let pid = fork_child(|| match open(&d.0, pools[1]) {
        Ok((_, Opened::ResetPool { .. })) => 0,
        _ => 1,
    });
    assert_eq!(wait_child(pid), 0, "the timing reset failed");
    let span = t0.elapsed().as_micros() as u64;
    eprintln!("one reset: {span} µs");
    let mut rng = Rng(0x853c_49e6_748f_ea9b ^ u64::from(std::process::id()));
    let (mut abandoned, mut rounds) = (0, 0);
    let mut current = 1;
    while rounds < 60 || (abandoned < 5 && rounds < 400) {
        rounds += 1;
        let next = 1 - current;
        let spec = pools[next];
        let pid = fork_child(|| match open(&d.0, spec) {
            Ok(_) => 0,
            Err(_) => 1,
        });
        let delay = rng.next() % (span + span / 4);
        std::thread::sleep(std::time::Duration::from_micros(delay));
        // SAFETY: signalling our own child.
        unsafe { libc::kill(pid, libc::SIGKILL) };
        wait_child(pid);
        // The read-only path never calls such a table healthy.
        match Table::open_existing(&d.0, "t") {
            Err(TableError::ResetAbandoned { .. }) => abandoned += 1,
            Err(e) => panic!("round {rounds}: {e}"),
            Ok(_) => {}
        }
        // Whatever the kill left, the next open succeeds, and resets to
        // the pool it asks for.
        let (t, _) = open(&d.0, pools[next])
            .unwrap_or_else(|e| panic!("round {rounds}: the table stayed unusable: {e}"));
        assert!(!t.is_retired());
        assert_eq!(t.spec(), pools[next]);
        current = next;
    }
    eprintln!("{rounds} rounds, {abandoned} kills inside the retired window");
    assert!(
        abandoned >= 5,
        "only {abandoned} kills landed inside a reset; the test proves nothing"
    );
    // One more reset, undisturbed, then every address is claimable.
    std::thread::sleep(std::time::Duration::from_millis(3));
    let (t, _) = open(&d.0, pools[1 - current]).unwrap();
    let n = t.size();
    let mut seen = std::collections::HashSet::new();
    for k in 0..=n {
        let c = t
            .slots()
            .claim(
                Owner::new(1, 1_000_000 + u64::from(k)),
                ClaimOpts::default(),
                &AllAlive,
                0,
            )
            .claimed;
        match c {
            Some(c) => assert!(seen.insert(c.slot)),
            None => assert_eq!(k, n, "refused before the pool was full"),
        }
    }
    assert_eq!(seen.len() as u32, n);
    let names: Vec<String> = fs::read_dir(&d.0)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, vec!["t.table".to_string()], "files left behind");
}

/// In a private mount namespace, an 8 MiB tmpfs: a table that does not
/// fit is refused at creation with the size it needs, leaving no file
/// behind; one that fits is created whole and used.
#[test]
fn a_table_that_does_not_fit_is_refused_at_creation() {
    let d = TempDir::new("tmpfs");
    fs::create_dir_all(&d.0).unwrap();
    let mnt = d.0.clone();
    let big = pool("10.64.0.0/14");
    let need = rasstatic::table::table_size(&big);
    assert!(need > 8 << 20, "the big pool must not fit in 8 MiB");
    let pid = fork_child(|| {
        let fail = |m: String| {
            eprintln!("{m}");
            1
        };
        let c = |s: &str| std::ffi::CString::new(s).unwrap();
        let target = c(mnt.to_str().unwrap());
        // SAFETY: unshare and mount with valid NUL-terminated strings, in
        // a single-threaded child.
        unsafe {
            if libc::unshare(libc::CLONE_NEWNS) != 0 {
                return fail(format!("unshare: {}", std::io::Error::last_os_error()));
            }
            let root = c("/");
            if libc::mount(
                std::ptr::null(),
                root.as_ptr(),
                std::ptr::null(),
                libc::MS_REC | libc::MS_PRIVATE,
                std::ptr::null(),
            ) != 0
            {
                return fail(format!(
                    "mount --make-rprivate: {}",
                    std::io::Error::last_os_error()
                ));
            }
            let (fs_, opts) = (c("tmpfs"), c("size=8m,mode=0700"));
            if libc::mount(
                fs_.as_ptr(),
                target.as_ptr(),
                fs_.as_ptr(),
                0,
                opts.as_ptr().cast(),
            ) != 0
            {
                return fail(format!("mount tmpfs: {}", std::io::Error::last_os_error()));
            }
        }
        let dir = mnt.join("tables");
        match Table::open(&dir, "t", &big, "10.64.0.0/14") {
            Ok(_) => return fail("a table bigger than its tmpfs was created".into()),
            Err(e @ TableError::NoSpace { .. }) => {
                let m = e.to_string();
                if !m.contains(&format!("needs a table of {need} bytes")) {
                    return fail(format!("unclear message: {m}"));
                }
            }
            Err(e) => return fail(format!("wrong error: {e}")),
        }
        let left: Vec<_> = fs::read_dir(&dir).unwrap().collect();
        if !left.is_empty() {
            return fail(format!("left behind: {left:?}"));
        }
        // One that fits is allocated whole: tmpfs use grows by its size
        // at creation, not as it is touched.
        let small = pool("10.1.0.0/22");
        let used = |p: &Path| {
            let cp = c(p.to_str().unwrap());
            // SAFETY: statvfs into a struct we own, from a valid path.
            let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
            // SAFETY: as above.
            assert_eq!(unsafe { libc::statvfs(cp.as_ptr(), &mut st) }, 0);
            (st.f_blocks - st.f_bfree) * st.f_frsize
        };
        let before = used(&mnt);
        let (t, _) = match Table::open(&dir, "s", &small, "10.1.0.0/22") {
            Ok(t) => t,
            Err(e) => return fail(format!("a table that fits was refused: {e}")),
        };
        let grown = used(&mnt) - before;
        if grown < rasstatic::table::table_size(&small) {
            return fail(format!("only {grown} bytes allocated"));
        }
        let me = Owner::current().unwrap();
        match t.claim(
            me,
            ClaimOpts::default(),
            Policy::RoundRobin,
            &SessionInfo::default(),
        ) {
            Ok(Some(_)) => 0,
            other => fail(format!("claim: {other:?}")),
        }
    });
    let st = wait_child(pid);
    assert!(
        libc::WIFEXITED(st) && libc::WEXITSTATUS(st) == 0,
        "the child failed or died by a signal: {st:#x}"
    );
}

/// The read-only path reads with pread, a chunk at a time: what it reads
/// matches the mapped table, and a truncation in place while it iterates
/// is a clear error, never SIGBUS.
#[test]
fn a_reader_survives_truncation_in_place() {
    use rasstatic::table::{LeaseState, Reader};
    let d = TempDir::new("reader");
    let (t, _) = open(&d.0, "10.1.0.0/16").unwrap();
    let me = Owner::current().unwrap();
    let info = SessionInfo {
        peer: "reader".into(),
        ifname: "ppp9".into(),
        device: "/dev/ttyS9".into(),
        proxyarp: false,
    };
    let c = t
        .claim(me, ClaimOpts::default(), Policy::RoundRobin, &info)
        .unwrap()
        .unwrap();
    let r = Reader::open(&d.0, "t").unwrap();
    assert_eq!(r.size(), t.size());
    assert_eq!(r.counters().unwrap().assigned, 1);
    let all: Vec<_> = r.leases().map(|l| l.unwrap()).collect();
    assert_eq!(all.len() as u32, t.size());
    let mine = &all[c.slot as usize];
    assert_eq!(mine.state, LeaseState::Leased(me));
    assert_eq!(mine.meta.as_ref().unwrap().peer, "reader");
    assert_eq!(mine.word(), me.word());
    assert!(all
        .iter()
        .filter(|l| l.slot != c.slot)
        .all(|l| matches!(l.state, LeaseState::Free(_))));
    // Truncate while a reader is part-way through.
    let mut it = r.leases();
    for _ in 0..5000 {
        it.next().unwrap().unwrap();
    }
    let f = fs::OpenOptions::new()
        .write(true)
        .open(d.0.join("t.table"))
        .unwrap();
    f.set_len(8192).unwrap();
    let mut errors = vec![];
    for x in it.by_ref() {
        if let Err(e) = x {
            errors.push(e.to_string());
        }
    }
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].contains("changed while it was read: truncated to 8192 bytes"),
        "{}",
        errors[0]
    );
    assert!(it.next().is_none());
    assert!(r.counters().is_err());
    // Opening it again refuses it, as the mapped path does.
    assert!(Reader::open(&d.0, "t")
        .err()
        .unwrap()
        .to_string()
        .contains("truncated"));
}

/// I6: a process that maps a deleted table finds a table another process
/// made at the name meanwhile, and enters its live leases into it. A
/// session that had moved to that table and released its address there
/// since keeps it released: its release is newer than the deleted file.
/// (Seen with real pppd: the lease came back to life for a pppd that had
/// ended its call, and stayed until that pppd exited.)
#[test]
fn a_lease_released_in_the_new_table_is_not_carried_back_from_the_deleted_one() {
    let d = TempDir::new("carried-back");
    let spec = "10.7.8.1-10.7.8.4";
    let (old, _) = open(&d.0, spec).unwrap();
    let me = Owner::current().unwrap();
    let mine = claim_at(&old, me, "10.7.8.1");
    let theirs = claim_at(&old, parent(), "10.7.8.2");
    // Deleted; another process makes the table again from nothing (it
    // maps no earlier one), and this session moves there: it re-enters
    // its lease, then its call ends.
    fs::remove_file(d.0.join("t.table")).unwrap();
    let (new, _) = open(&d.0, spec).unwrap();
    assert_eq!(new.reassert(mine, me, None), Ok(true));
    assert!(new.release(mine, me, EndedBy::IpDown));
    // A process still mapping the deleted table now makes it again: the
    // name leads to the new one, so it enters the live leases there.
    assert!(old.recreate().unwrap().is_none(), "entered, not made");
    assert!(
        Owner::from_word(new.word(mine)).is_none(),
        "the released lease came back: {:#x}",
        new.word(mine)
    );
    assert_eq!(
        new.word(theirs),
        parent().word(),
        "a live lease the new table lacked is entered"
    );
}
