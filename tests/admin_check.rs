//! `rasstatic check`: what pppd and the plugin would refuse is refused,
//! with file and line, and each file gets one clear verdict.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use rasstatic::owner::Owner;
use rasstatic::pool::{Pool, MAX_RANGES};
use rasstatic::protocol::ClaimOpts;
use rasstatic::table::{Policy, SessionInfo, Table};

#[path = "scratch/mod.rs"]
mod scratch;
use scratch::Dir;

fn dir(tag: &str) -> Dir {
    scratch::dir("check", tag)
}

/// Check one file with these contents: (exit code, stdout, stderr, the
/// file's path as printed).
fn check(d: &Dir, name: &str, body: &[u8]) -> (Option<i32>, String, String, String) {
    let f = d.0.join(name);
    fs::write(&f, body).unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_rasstatic"))
        .arg("check")
        .arg(&f)
        .output()
        .unwrap();
    (
        o.status.code(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
        f.display().to_string(),
    )
}

/// The file fails with exactly these problems (each after "FILE"), then
/// the verdict line.
fn fails(d: &Dir, body: &[u8], problems: &[&str]) -> String {
    let (code, out, err, f) = check(d, "opts", body);
    assert_eq!(code, Some(1), "{out}{err}");
    let mut want: Vec<String> = problems.iter().map(|p| format!("{f}{p}")).collect();
    want.push(format!("{f}: FAILED: {} problem(s)", problems.len()));
    let got: Vec<&str> = out.lines().filter(|l| !l.contains(": note: ")).collect();
    assert_eq!(got, want, "{out}");
    assert_eq!(err, "rasstatic: 1 of 1 file(s) have problems\n");
    out
}

/// The file passes; its verdict line.
fn passes(d: &Dir, body: &[u8]) -> String {
    let (code, out, err, f) = check(d, "opts", body);
    assert_eq!(code, Some(0), "{out}{err}");
    let verdict = out.lines().last().unwrap().to_string();
    assert!(verdict.starts_with(&format!("{f}: ok: pool ")), "{out}");
    out
}

const DIR_OPT: &str = "rasstatic-dir /nonexistent/rasstatic-check\n";

#[test]
fn misspelt_options_are_refused_with_the_nearest_real_one() {
    let d = dir("spell");
    fails(
        &d,
        format!("plugin rasstatic.so\nrasstatic-pools 10.0.0.1-10.0.0.9\nrasstatic-polcy sticky\n{DIR_OPT}").as_bytes(),
        &[
            ":2: unknown option \"rasstatic-pools\": pppd would stop on it (did you mean rasstatic-pool?)",
            ":3: unknown option \"rasstatic-polcy\": pppd would stop on it (did you mean rasstatic-policy?)",
        ],
    );
    // The value of a pppd option that takes free text is not an option.
    passes(
        &d,
        format!("plugin rasstatic.so\nname rasstatic-server\nrasstatic-pool 10.0.0.1-10.0.0.9\n{DIR_OPT}").as_bytes(),
    );
}

#[test]
fn only_the_plugin_itself_counts_as_the_plugin() {
    let d = dir("plugin");
    fails(
        &d,
        format!("plugin notrasstatic.so\nrasstatic-pool 10.0.0.1-10.0.0.9\n{DIR_OPT}").as_bytes(),
        &[
            ":2: rasstatic-pool comes before \"plugin rasstatic.so\"; pppd would call it an unrecognized option",
            ":3: rasstatic-dir comes before \"plugin rasstatic.so\"; pppd would call it an unrecognized option",
        ],
    );
    passes(
        &d,
        format!(
            "plugin /usr/lib/pppd/2.4.9/rasstatic.so\nrasstatic-pool 10.0.0.1-10.0.0.9\n{DIR_OPT}"
        )
        .as_bytes(),
    );
}

#[test]
fn bytes_that_are_not_utf8_and_a_byte_order_mark() {
    let d = dir("bytes");
    // Latin-1 in a comment is nothing; elsewhere it is noted, with the line.
    let mut body =
        b"# Jos\xe9's modem\nplugin rasstatic.so\nrasstatic-pool 10.0.0.1-10.0.0.9\n".to_vec();
    body.extend_from_slice(DIR_OPT.as_bytes());
    body.extend_from_slice(b"remotename jos\xe9\n");
    let out = passes(&d, &body);
    assert!(
        out.contains(":5: note: \"jos\u{fffd}\" is not UTF-8 (byte 0xe9)"),
        "{out}"
    );
    // In a rasstatic value it is an error at its line.
    let mut body =
        b"plugin rasstatic.so\nrasstatic-pool 10.0.0.1-10.0.0.9\nrasstatic-name caf\xe9\n".to_vec();
    body.extend_from_slice(DIR_OPT.as_bytes());
    fails(
        &d,
        &body,
        &[":3: rasstatic-name \"caf\u{fffd}\": byte 0xe9 is not UTF-8"],
    );
    // A UTF-8 byte order mark at the start is not part of the first word.
    let mut body = b"\xef\xbb\xbfplugin rasstatic.so\nrasstatic-pool 10.0.0.1-10.0.0.9\n".to_vec();
    body.extend_from_slice(DIR_OPT.as_bytes());
    passes(&d, &body);
}

#[test]
fn addresses_pppd_or_the_kernel_would_not_take() {
    let d = dir("addr");
    fails(
        &d,
        format!("plugin rasstatic.so\nrasstatic-pool 0.0.0.1-0.0.0.5\n{DIR_OPT}").as_bytes(),
        &[":2: rasstatic-pool \"0.0.0.1-0.0.0.5\": \"0.0.0.1-0.0.0.5\" contains 0.0.0.1, which is in 0.0.0.0/8 (\"this network\", never a host's address)"],
    );
    fails(
        &d,
        format!("plugin rasstatic.so\nrasstatic-pool 10.0.0.0/024\n{DIR_OPT}").as_bytes(),
        &[":2: rasstatic-pool \"10.0.0.0/024\": the prefix length must be 0 to 32, in decimal without leading zeros"],
    );
}

#[test]
fn a_pool_of_only_the_servers_own_address_is_refused() {
    let d = dir("local");
    fails(
        &d,
        format!("plugin rasstatic.so\n10.0.0.1:\nrasstatic-pool 10.0.0.1\n{DIR_OPT}").as_bytes(),
        &[":2: the pool 10.0.0.1 holds only 10.0.0.1, this server's own address (local:remote), which is never handed out: every caller would be refused"],
    );
    // Every address excluded: refused at the exclusion.
    fails(
        &d,
        format!("plugin rasstatic.so\nrasstatic-pool 10.0.0.1-10.0.0.2\nrasstatic-exclude 10.0.0.0/30\n{DIR_OPT}").as_bytes(),
        &[":3: rasstatic-exclude \"10.0.0.0/30\": pool \"10.0.0.1-10.0.0.2\" is empty once \"10.0.0.0/30\" is excluded"],
    );
    // With a second address there is something to hand out.
    passes(
        &d,
        format!(
            "plugin rasstatic.so\n10.0.0.1:10.0.0.2\nrasstatic-pool 10.0.0.1-10.0.0.2\n{DIR_OPT}"
        )
        .as_bytes(),
    );
}

/// 10.0.0.0/8 less every other address from 10.0.0.2 on, `n` of them, as
/// rasstatic-exclude lines that each fit pppd's 1023-byte words.
fn scattered_exclusions(n: u32) -> String {
    let addrs: Vec<String> = (0..n)
        .map(|i| std::net::Ipv4Addr::from(0x0a00_0002 + 2 * i).to_string())
        .collect();
    addrs
        .chunks(70)
        .map(|c| format!("rasstatic-exclude {}\n", c.join(",")))
        .collect()
}

#[test]
fn a_pool_the_table_cannot_hold_is_a_configuration_error() {
    let d = dir("ranges");
    let body = format!(
        "plugin rasstatic.so\nrasstatic-pool 10.0.0.0/8\n{}{DIR_OPT}",
        scattered_exclusions(MAX_RANGES)
    );
    let (code, out, _, f) = check(&d, "opts", body.as_bytes());
    assert_eq!(code, Some(1), "{out}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert!(
        lines[0].starts_with(&format!(
            "{f}: rasstatic-pool \"10.0.0.0/8\" with rasstatic-exclude \"10.0.0.2,10.0.0.4,"
        )) && lines[0].ends_with(&format!(
            ": the pool is made of {} separate ranges once exclusions are taken out; a table holds at most {MAX_RANGES}: use fewer, larger ranges or exclude fewer scattered addresses",
            MAX_RANGES + 1
        )),
        "{out}"
    );
    assert_eq!(lines[1], format!("{f}: FAILED: 1 problem(s)"));
    assert!(!out.contains("corrupt"));
    // One exclusion fewer is a pool a table holds, and its table opens.
    let body = format!(
        "plugin rasstatic.so\nrasstatic-pool 10.0.0.0/8\n{}{DIR_OPT}",
        scattered_exclusions(MAX_RANGES - 1)
    );
    passes(&d, body.as_bytes());
    // A value longer than pppd reads from a file is refused as such.
    let long: Vec<String> = (0..100).map(|i| format!("10.1.{i}.1-10.1.{i}.9")).collect();
    let long = long.join(",");
    fails(
        &d,
        format!("plugin rasstatic.so\nrasstatic-pool {long}\n{DIR_OPT}").as_bytes(),
        &[&format!(
            ":2: rasstatic-pool: the value is {} bytes long; pppd reads at most 1023 bytes of a word and would cut it (give exclusions over several rasstatic-exclude options)",
            long.len()
        )],
    );
}

#[test]
fn each_file_gets_one_verdict_and_a_refused_table_is_not_ok() {
    let d = dir("verdict");
    let tables = d.0.join("tables");
    let pool = Pool::parse("10.0.0.1-10.0.0.9", "").unwrap();
    let (t, _) = Table::open(&tables, "default", &pool, "10.0.0.1-10.0.0.9").unwrap();
    let opts = |p: &str| {
        format!(
            "plugin rasstatic.so\nrasstatic-pool {p}\nrasstatic-dir {}\n",
            tables.display()
        )
    };
    let out = passes(&d, opts("10.0.0.1-10.0.0.9").as_bytes());
    assert!(out.contains("(exists, same pool), 5 KiB of tmpfs"), "{out}");
    // Calls up on .1 (this process) and .8 (its parent): what a new
    // definition would do to them, before anyone dials with it.
    let hold = |o: Owner, a: &str| {
        let slot = t.slot_of(a.parse().unwrap()).unwrap();
        let opts = ClaimOpts {
            prefer: Some(slot),
            avoid: None,
        };
        let c = t
            .claim(o, opts, Policy::RoundRobin, &SessionInfo::default())
            .unwrap()
            .unwrap();
        assert_eq!(c.slot, slot);
    };
    hold(Owner::current().unwrap(), "10.0.0.1");
    // SAFETY: getppid has no preconditions.
    hold(
        Owner::of_pid(unsafe { libc::getppid() } as u32)
            .unwrap()
            .unwrap(),
        "10.0.0.8",
    );
    let out = passes(&d, opts("10.0.0.1-10.0.0.5").as_bytes());
    assert!(
        out.contains(
            "exists with pool 10.0.0.1-10.0.0.9 (\"10.0.0.1-10.0.0.9\"); a pppd started with this file \
             rebuilds it for this pool: 1 live lease(s) kept, 1 draining until their calls end: 10.0.0.8, \
             0 new address(es)"
        ),
        "{out}"
    );
    let out = passes(&d, opts("10.0.0.1-10.0.0.12").as_bytes());
    assert!(
        out.contains("2 live lease(s) kept, 0 draining until their calls end, 3 new address(es)"),
        "{out}"
    );
    // The check opened nothing for writing: the table is as it was.
    assert_eq!(t.live_leases(), 2);
    assert!(!t.replaced());
    drop(t);
    // A damaged table: pppd moves it aside and rebuilds it.
    let table = tables.join("default.table");
    fs::write(&table, vec![0u8; 100]).unwrap();
    let out = passes(&d, opts("10.0.0.1-10.0.0.9").as_bytes());
    assert!(
        out.contains(&format!(
            "damaged: {}: refused: not a rasstatic table (bad magic); pppd will move it aside and rebuild it",
            table.display()
        )),
        "{out}"
    );
    // A table pppd would refuse: no "ok" on any line.
    fs::set_permissions(&table, fs::Permissions::from_mode(0o666)).unwrap();
    let (code, out, _, f) = check(&d, "opts", opts("10.0.0.1-10.0.0.9").as_bytes());
    assert_eq!(code, Some(1));
    assert_eq!(
        out,
        format!(
            "{f}: the table is refused: {}: refused: mode 0666 lets group or others write it\n{f}: FAILED: 1 problem(s)\n",
            table.display()
        )
    );
    assert!(!out.contains("ok"), "{out}");
}
