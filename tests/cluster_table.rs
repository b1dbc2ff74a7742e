//! Cluster mode in the table: a table made for a cluster is born fenced
//! (claims refused) with every free slot sealed, whoever makes it: the
//! plugin with `rasstatic-cluster`, any process once the agent's lock file
//! exists, and a reset or a remake of a table that was a cluster's. Until
//! an agent verified a renewal and unsealed a block, nothing is claimed.

use std::fs;
use std::path::PathBuf;

use rasstatic::owner::Owner;
use rasstatic::pool::Pool;
use rasstatic::protocol::ClaimOpts;
use rasstatic::table::{agent_lock_path, boot_ns, now_ms, Definition, Policy, SessionInfo, Table};
use rasstatic::word::{is_claimable, is_sealed};

struct TempDir(PathBuf);
impl TempDir {
    fn new(tag: &str) -> TempDir {
        let d = std::env::temp_dir().join(format!("rasstatic-ct-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        TempDir(d)
    }
}
impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

const SPEC: &str = "10.9.0.0/28";

fn open(d: &TempDir, cluster: bool, defined_ms: u64, spec: &str) -> Table {
    let pool = Pool::parse(spec, "").unwrap();
    let def = Definition {
        pool: &pool,
        spec,
        defined_ms,
        cluster,
    };
    Table::open_as(&d.0, "t", &def).unwrap().0
}

fn claim(t: &Table, who: Owner) -> Option<u32> {
    t.claim(
        who,
        ClaimOpts::default(),
        Policy::RoundRobin,
        &SessionInfo::default(),
    )
    .unwrap()
    .map(|c| c.slot)
}

fn me() -> Owner {
    Owner::current().unwrap()
}

/// Every slot sealed, none claimable, claims refused and counted as
/// fenced.
fn assert_born_fenced(t: &Table) {
    assert!(t.is_cluster() && t.is_fenced(), "fenced at birth");
    for s in 0..t.total() {
        assert!(is_sealed(t.word(s)), "slot {s}: {:#x}", t.word(s));
    }
    let (_, _, fenced) = t.deadlines();
    assert_eq!(claim(t, me()), None);
    assert_eq!(t.deadlines().2, fenced + 1, "the refusal counts as fenced");
}

#[test]
fn a_cluster_table_is_born_fenced_and_sealed() {
    let d = TempDir::new("born");
    let t = open(&d, true, now_ms(), SPEC);
    assert_born_fenced(&t);
    assert_eq!(
        t.deadlines().1,
        0,
        "made from nothing: no hang deadline yet"
    );
    // An agent's verified renewal and a block unsealed: claims there only.
    let now = boot_ns();
    t.set_deadlines(now + 60_000_000_000, now + 120_000_000_000);
    assert_eq!(claim(&t, me()), None, "still sealed: nothing claimable");
    t.unseal(4, 4);
    let s = claim(&t, me()).expect("a claim in the unsealed block");
    assert!((4..8).contains(&s), "slot {s}");
    for s in (0..4).chain(8..t.total()) {
        assert!(!is_claimable(t.word(s)), "slot {s} stays sealed");
    }
}

#[test]
fn a_standalone_table_is_unchanged() {
    let d = TempDir::new("standalone");
    let t = open(&d, false, now_ms(), SPEC);
    assert!(!t.is_cluster() && !t.is_fenced() && !t.hang_due());
    assert_eq!(t.deadlines(), (0, 0, 0));
    assert!((0..t.total()).all(|s| t.word(s) == 0));
    assert!(claim(&t, me()).is_some());
}

#[test]
fn entering_cluster_mode_fences_a_standalone_table() {
    let d = TempDir::new("enter");
    let t = open(&d, false, now_ms(), SPEC);
    let s = claim(&t, me()).unwrap();
    t.enter_cluster_mode();
    assert!(t.is_cluster() && t.is_fenced());
    assert_eq!(claim(&t, Owner::new(1, 1)), None, "fenced");
    assert_eq!(t.word(s), me().word(), "a live lease stays");
    // It only rises: an agent's deadline stands.
    let now = boot_ns();
    t.set_deadlines(now + 60_000_000_000, now + 120_000_000_000);
    t.enter_cluster_mode();
    assert!(!t.is_fenced());
}

#[test]
fn with_the_agents_lock_file_any_process_makes_a_cluster_table() {
    let d = TempDir::new("marker");
    fs::create_dir_all(&d.0).unwrap();
    fs::write(agent_lock_path(&d.0, "t"), b"").unwrap();
    // A pppd without rasstatic-cluster, or `rasstatic` itself.
    let t = open(&d, false, now_ms(), SPEC);
    assert_born_fenced(&t);
}

#[test]
fn a_reset_of_a_cluster_table_stays_in_cluster_mode_with_its_leases() {
    let d = TempDir::new("reset");
    let t = open(&d, true, now_ms(), SPEC);
    let now = boot_ns();
    t.set_deadlines(now + 60_000_000_000, now + 120_000_000_000);
    t.unseal(0, 16);
    let s = claim(&t, me()).unwrap();
    let addr = t.addr(s);
    // A newer definition, read by a pppd without the option: a reset.
    let wider = "10.9.0.0/27";
    let n = open(&d, false, now_ms() + 1000, wider);
    assert!(t.is_retired() || t.superseded());
    assert!(n.is_cluster() && n.is_fenced(), "born fenced again");
    assert_eq!(
        n.deadlines().1,
        t.deadlines().1,
        "the hang deadline is carried: its sessions hang up in time"
    );
    let ns = n.slot_of(addr).unwrap();
    assert_eq!(n.word(ns), me().word(), "the live lease is carried");
    for s in (0..n.total()).filter(|&s| s != ns) {
        assert!(is_sealed(n.word(s)), "slot {s} sealed");
    }
}

#[test]
fn a_deleted_cluster_table_is_made_again_in_cluster_mode() {
    let d = TempDir::new("deleted");
    let t = open(&d, true, now_ms(), SPEC);
    let now = boot_ns();
    t.set_deadlines(now + 60_000_000_000, now + 120_000_000_000);
    t.unseal(0, 16);
    let s = claim(&t, me()).unwrap();
    let addr = t.addr(s);
    fs::remove_file(d.0.join("t.table")).unwrap();
    let n = t.recreate().unwrap().expect("made again from the mapping");
    assert!(n.is_cluster() && n.is_fenced());
    assert_eq!(
        n.deadlines().1,
        t.deadlines().1,
        "the hang deadline is carried"
    );
    let ns = n.slot_of(addr).unwrap();
    assert_eq!(n.word(ns), me().word(), "the live lease is carried");
    assert!((0..n.total())
        .filter(|&s| s != ns)
        .all(|s| is_sealed(n.word(s))));
}

#[test]
fn the_hang_deadline_comes_due() {
    let d = TempDir::new("hang");
    let t = open(&d, true, now_ms(), SPEC);
    let now = boot_ns();
    t.set_deadlines(now + 60_000_000_000, now + 20_000_000);
    assert!(!t.hang_due());
    std::thread::sleep(std::time::Duration::from_millis(40));
    assert!(t.hang_due());
    assert!(!t.is_fenced(), "the claim deadline is later here");
}

#[test]
fn a_claim_refused_at_the_deadline_leaves_the_slot_as_it_was() {
    // An agent's renewal that runs out in 30 ms.
    let d = TempDir::new("unclaim");
    let u = open(&d, true, now_ms(), SPEC);
    let now = boot_ns();
    u.set_deadlines(now + 30_000_000, now + 60_000_000_000);
    u.unseal(0, 16);
    let s = claim(&u, me()).expect("before the deadline");
    assert!(u.release(s, me(), rasstatic::protocol::EndedBy::IpDown));
    let before: Vec<u64> = (0..u.total()).map(|s| u.word(s)).collect();
    std::thread::sleep(std::time::Duration::from_millis(40));
    let (_, _, fenced) = u.deadlines();
    assert_eq!(claim(&u, Owner::new(1, 1)), None);
    assert_eq!(u.deadlines().2, fenced + 1);
    let after: Vec<u64> = (0..u.total()).map(|s| u.word(s)).collect();
    assert_eq!(
        after, before,
        "the refused claim changed no word (its last holder's record too)"
    );
}

#[test]
fn a_damaged_table_is_never_taken_for_a_cluster_s() {
    // Garbage where the deadlines are: the rebuilt table is standalone
    // (no lock file of an agent beside it), and claims go on.
    let d = TempDir::new("garbage");
    let t = open(&d, false, now_ms(), SPEC);
    let path = d.0.join("t.table");
    {
        use std::os::unix::fs::FileExt;
        let f = fs::OpenOptions::new().write(true).open(&path).unwrap();
        f.write_all_at(&[0xa5; 64], 0).unwrap();
        f.write_all_at(&[0x5a; 4096], 2048).unwrap();
    }
    let _ = t.rebuild_damaged(&t.verify().unwrap_err()).unwrap();
    let n = Table::open_existing(&d.0, "t").unwrap();
    assert!(!n.is_cluster(), "made a cluster's table from garbage");
    assert!(claim(&n, me()).is_some());
}
