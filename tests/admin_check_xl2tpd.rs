//! `rasstatic check` on an xl2tpd.conf: each LNS section's own address
//! assignment and the pppd options file it names, with file and line,
//! and one verdict for the file.

use std::fs;
use std::process::Command;

#[path = "readme/mod.rs"]
mod readme;

#[path = "scratch/mod.rs"]
mod scratch;
use scratch::Dir;

fn dir(tag: &str) -> Dir {
    scratch::dir("xl2tpd", tag)
}

/// Write the options file and the xl2tpd.conf (`{OPTS}` in it names the
/// options file), check the conf: (exit code, stdout, stderr, conf, opts).
fn check(d: &Dir, conf: &str, opts: &str) -> (Option<i32>, String, String, String, String) {
    let o = d.0.join("options.xl2tpd");
    fs::write(&o, opts).unwrap();
    let c = d.0.join("xl2tpd.conf");
    fs::write(&c, conf.replace("{OPTS}", &o.display().to_string())).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_rasstatic"))
        .arg("check")
        .arg(&c)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        c.display().to_string(),
        o.display().to_string(),
    )
}

const OPTS: &str = "plugin rasstatic.so\nrasstatic-dir /nonexistent/rasstatic-xl2tpd\n\
                    rasstatic-pool 192.168.60.10-192.168.60.200\nnoauth\n";

#[test]
fn the_recommended_lns_section_passes() {
    let d = dir("ok");
    let conf = "[global]\nport = 1701\n\n[lns default]\nlocal ip = 192.168.60.1\n\
                assign ip = no\npppoptfile = {OPTS}\n";
    let (code, out, err, c, o) = check(&d, conf, OPTS);
    assert_eq!(code, Some(0), "{out}{err}");
    assert_eq!(
        out,
        format!(
            "{c}: ok: [lns default]: {o}: pool 192.168.60.10-192.168.60.200 (191 addresses), \
             policy round-robin, table /nonexistent/rasstatic-xl2tpd/default.table (not created yet), 16 KiB of tmpfs\n"
        )
    );
}

#[test]
fn xl2tpd_s_own_pool_and_a_file_without_the_plugin_fail() {
    let d = dir("bad");
    let conf = "[lns default]\nlocal ip = 192.168.60.1\nip range = 10.67.15.1-10.67.15.9\n\
                pppoptfile = {OPTS}\n";
    let (code, out, err, c, o) = check(&d, conf, "noauth\n");
    assert_eq!(code, Some(1), "{out}{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    assert!(
        lines[0].starts_with(&format!(
            "{c}:3: [lns default]: with `ip range` and `assign ip` yes"
        )),
        "{out}"
    );
    assert_eq!(
        lines[1],
        format!(
            "{c}:4: [lns default]: pppoptfile {o} has no rasstatic options: the sessions' pppd would \
             take xl2tpd's address (`ip range`) or the one the caller asks for"
        )
    );
    assert_eq!(lines[2], format!("{c}: FAILED: 2 problem(s)"));
    assert_eq!(err, "rasstatic: 1 of 1 file(s) have problems\n");
}

#[test]
fn the_options_file_s_own_problems_are_reported_under_its_name() {
    let d = dir("before");
    let conf = "[lns default]\nassign ip = no\npppoptfile = {OPTS}\n";
    let opts = "rasstatic-pool 192.168.60.10-192.168.60.200\nplugin rasstatic.so\n";
    let (code, out, _, c, o) = check(&d, conf, opts);
    assert_eq!(code, Some(1), "{out}");
    assert_eq!(
        out,
        format!(
            "{o}:1: rasstatic-pool comes before \"plugin rasstatic.so\"; pppd would call it an unrecognized option\n\
             {c}: FAILED: 1 problem(s)\n"
        )
    );
}

#[test]
fn the_readme_example_passes_and_is_what_the_scenarios_use() {
    let b = readme::blocks("L2TP servers (xl2tpd)");
    let (conf, opts) = (&b[0], &b[1]);
    // Checked as it is, its options file at the test's path and its table
    // directory one that does not exist.
    let d = dir("readme");
    let conf = conf.replace("/etc/ppp/options.xl2tpd", "{OPTS}");
    let (code, out, err, c, o) = check(
        &d,
        &conf,
        &format!("{opts}rasstatic-dir /nonexistent/rasstatic-xl2tpd\n"),
    );
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(
        out.starts_with(&format!(
            "{c}: ok: [lns default]: {o}: pool 192.168.60.10-192.168.60.200 (191 addresses)"
        )),
        "{out}"
    );
    // The scenarios' LNS section (tests/pppd/l2tp.sh) sets the same keys
    // as the README's, in the same order.
    let keys = |text: &str| -> Vec<String> {
        text.lines()
            .map(|l| l.split(';').next().unwrap().trim())
            .filter(|l| l.contains(" = "))
            .map(|l| l.split(" = ").next().unwrap().to_string())
            .collect()
    };
    let readme_lns = &conf[conf.find("[lns default]").unwrap()..];
    let l2tp = fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/pppd/l2tp.sh"),
    )
    .unwrap();
    let line = l2tp
        .lines()
        .find(|l| l.contains("set -- \"local ip = "))
        .expect("the scenarios' LNS section in tests/pppd/l2tp.sh");
    let scen: Vec<String> = line
        .split('"')
        .skip(1)
        .step_by(2)
        .map(|kv| kv.split(" = ").next().unwrap().to_string())
        .collect();
    assert_eq!(scen, keys(readme_lns));
    assert_eq!(scen, ["local ip", "assign ip", "pppoptfile"]);
    assert!(line.contains("\"assign ip = no\""), "{line}");
}
