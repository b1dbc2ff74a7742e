//! `rasstatic check` on a pptpd.conf: the options file its `option`
//! names is checked as any options file, a configuration that would let
//! pptpd's or pppd's own addresses through fails naming where they would
//! come from, and what pptpd itself does with addresses is noted. The
//! README's example passes as it is.

use std::fs;
use std::process::Command;

#[path = "readme/mod.rs"]
mod readme;

#[path = "scratch/mod.rs"]
mod scratch;
use scratch::Dir;

fn dir(tag: &str) -> Dir {
    scratch::dir("check-pptpd", tag)
}

/// Write pptpd.conf (its `option` line first, naming the options file
/// written beside it) and the options file; run `rasstatic check` on the
/// given files: (exit code, stdout, stderr, conf path, options path).
fn check(d: &Dir, conf: &str, opts: &str) -> (Option<i32>, String, String, String, String) {
    let (c, o) = (d.0.join("pptpd.conf"), d.0.join("pptpd-options"));
    fs::write(&o, opts).unwrap();
    fs::write(&c, format!("option {}\n{conf}", o.display())).unwrap();
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

const DIR_OPT: &str = "rasstatic-dir /nonexistent/rasstatic-check-pptpd\n";

fn good_opts() -> String {
    format!("plugin rasstatic.so\nrasstatic-pool 10.5.0.10-10.5.0.19\n10.5.0.1:\n{DIR_OPT}")
}

#[test]
fn the_readme_example_passes_without_a_note() {
    let d = dir("readme");
    let b = readme::blocks("PPTP servers (pptpd)");
    let (conf, opts) = (&b[0], &b[1]);
    let first = conf.lines().next().unwrap();
    assert_eq!(first, "option /etc/ppp/pptpd-options");
    // The example's own lines; the options file's path is the test's, and
    // its table directory one that does not exist.
    let rest: String = conf.lines().skip(1).map(|l| format!("{l}\n")).collect();
    let (code, out, err, c, o) = check(&d, &rest, &format!("{opts}{DIR_OPT}"));
    assert_eq!(code, Some(0), "{out}{err}");
    assert_eq!(out.lines().count(), 1, "{out}");
    assert!(
        out.starts_with(&format!(
            "{c}: ok: pppd options {o}: pool 192.168.70.10-192.168.70.109 (100 addresses), policy "
        )),
        "{out}"
    );
}

#[test]
fn an_options_file_without_the_plugin_fails_naming_where_addresses_would_come_from() {
    let d = dir("noplugin");
    let (code, out, err, c, o) = check(&d, "delegate\n", "10.5.0.1:\nnoauth\n");
    assert_eq!(code, Some(1), "{out}{err}");
    assert_eq!(
        out,
        format!(
            "{c}:1: {o} has no rasstatic options: callers would get pppd's own default address \
             (10.64.64.64 upwards), not the pool\n{c}: FAILED: 1 problem(s)\n"
        )
    );
    assert_eq!(err, "rasstatic: 1 of 1 file(s) have problems\n");
    let (code, out, _, c, o) = check(&d, "localip 10.5.0.1\nremoteip 10.6.0.1-9\n", "noauth\n");
    assert_eq!(code, Some(1));
    assert!(
        out.contains(&format!(
            "{c}:1: {o} has no rasstatic options: callers would get pptpd's remoteip list, not the pool\n"
        )),
        "{out}"
    );
}

#[test]
fn the_options_files_own_problems_fail_the_conf() {
    let d = dir("before");
    let (code, out, _, c, o) = check(
        &d,
        "delegate\n",
        &format!("rasstatic-pool 10.5.0.10-10.5.0.19\nplugin rasstatic.so\n10.5.0.1:\n{DIR_OPT}"),
    );
    assert_eq!(code, Some(1));
    assert_eq!(
        out,
        format!(
            "{o}:1: rasstatic-pool comes before \"plugin rasstatic.so\"; pppd would call it an unrecognized option\n\
             {c}: FAILED: 1 problem(s)\n"
        )
    );
}

#[test]
fn pptpds_own_addresses_are_noted_and_pass() {
    let d = dir("notes");
    let (code, out, _, c, o) = check(&d, "localip 10.5.0.1\nremoteip 10.6.0.1-9\n", &good_opts());
    assert_eq!(code, Some(0), "{out}");
    let l: Vec<&str> = out.lines().collect();
    assert_eq!(l.len(), 2, "{out}");
    assert!(
        l[0].starts_with(&format!(
            "{c}:3: note: remoteip without delegate: pptpd passes each pppd"
        )),
        "{out}"
    );
    assert!(
        l[1].starts_with(&format!(
            "{c}: ok: pppd options {o}: pool 10.5.0.10-10.5.0.19"
        )),
        "{out}"
    );
    let (code, out, _, c, _) = check(&d, "logwtmp\n", &good_opts());
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains(&format!(
            "{c}: note: neither delegate nor remoteip: pptpd passes each pppd its built-in"
        )),
        "{out}"
    );
    assert!(
        out.contains(&format!("{c}:2: note: logwtmp makes pptpctrl load")),
        "{out}"
    );
}

#[test]
fn lines_pptpd_ignores_and_a_ppp_it_cannot_run_fail() {
    let d = dir("ignored");
    let (code, out, _, c, _) = check(&d, " delegate\nppp /nonexistent/pppd\n", &good_opts());
    assert_eq!(code, Some(1), "{out}");
    let problems: Vec<&str> = out.lines().filter(|l| !l.contains(": note: ")).collect();
    assert_eq!(
        problems,
        vec![
            format!("{c}:2: starts with a space or a tab: pptpd ignores the line"),
            format!(
                "{c}:3: ppp \"/nonexistent/pppd\" is not an executable file: pptpd would not start"
            ),
            format!("{c}: FAILED: 2 problem(s)"),
        ]
    );
}

#[test]
fn a_pptpd_conf_and_an_options_file_each_get_their_own_verdict() {
    let d = dir("both");
    // Known as a pptpd.conf by its keywords, whatever its name.
    let (c, o) = (d.0.join("vpn.conf"), d.0.join("opts"));
    fs::write(&o, good_opts()).unwrap();
    fs::write(&c, format!("option {}\ndelegate\n", o.display())).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_rasstatic"))
        .args(["check"])
        .arg(&c)
        .arg(&o)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    let l: Vec<&str> = text.lines().collect();
    assert_eq!(l.len(), 2, "{text}");
    assert!(
        l[0].starts_with(&format!(
            "{}: ok: pppd options {}: pool ",
            c.display(),
            o.display()
        )),
        "{text}"
    );
    assert!(
        l[1].starts_with(&format!("{}: ok: pool ", o.display())),
        "{text}"
    );
}
