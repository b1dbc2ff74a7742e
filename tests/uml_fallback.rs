//! The fallback User-Mode Linux kernel, forced on any host: with
//! `RASSTATIC_UML=fallback`, scripts/uml-kernel.sh skips Debian's own
//! kernel and fetches (or reuses) Debian unstable's, patched to run on this
//! machine's libraries; real pppd 2.4.9 then runs a few scenarios under it.
//! On hosts where Debian's kernel panics (CPUs with AMX), every real-pppd
//! test takes this path anyway; this test makes sure it works on the
//! others too.

mod common;

use std::fs;
use std::sync::OnceLock;

const SCENARIOS: [&str; 3] = ["01", "16", "17"];

fn run() -> &'static common::Run {
    static RUN: OnceLock<Result<common::Run, String>> = OnceLock::new();
    RUN.get_or_init(|| {
        common::run_scenarios_with(
            &common::Target::debian12(),
            &SCENARIOS.map(common::scenario_named),
            "-fallback",
            &[("RASSTATIC_BOOT", "uml"), ("RASSTATIC_UML", "fallback")],
        )
    })
    .as_ref()
    .unwrap_or_else(|e| panic!("the real-pppd run on the fallback kernel failed: {e}"))
}

#[test]
fn the_fallback_kernel_was_chosen_and_loaded_its_own_modules() {
    let r = run();
    assert_eq!(r.mode, "uml");
    let boot = fs::read_to_string(r.dir.join("boot.log")).unwrap();
    assert!(
        boot.starts_with("uml: using Debian unstable's linux.uml ")
            && boot.trim_end().ends_with("(RASSTATIC_UML=fallback)"),
        "boot.log: {boot}"
    );
    // One line, whether the kernel was fetched now or cached.
    assert_eq!(boot.lines().count(), 1, "more than one line: {boot}");
    let guest = fs::read_to_string(r.dir.join("guest.log")).unwrap();
    let release = guest
        .lines()
        .next()
        .and_then(|l| l.strip_prefix("mode uml, kernel "))
        .unwrap_or_else(|| panic!("guest.log: {guest}"));
    assert!(
        boot.contains(&format!("linux.uml {release} ")),
        "the guest runs {release}, not the kernel chosen: {boot}"
    );
    assert!(
        guest.contains(&format!(
            "modules from {}/target/uml/sid/root/usr/lib/uml/modules/{release}",
            env!("CARGO_MANIFEST_DIR")
        )),
        "guest.log: {guest}"
    );
    assert!(
        !guest.contains("failed") && !guest.contains("no /dev/ppp"),
        "guest.log: {guest}"
    );
}

#[test]
fn s01_on_the_fallback_kernel() {
    common::checks::s01_three_callers_then_a_fourth_is_refused_until_one_hangs_up(
        &run().scenario(&common::scenario_named("01")),
    );
}

#[test]
fn s16_on_the_fallback_kernel() {
    common::checks::s16_the_watchdog_frees_a_killed_pppds_lease_and_cleans_up(
        &run().scenario(&common::scenario_named("16")),
    );
}

#[test]
fn s17_on_the_fallback_kernel() {
    common::checks::s17_with_syslog_on_fd_3_many_calls_keep_one_watchdog(
        &run().scenario(&common::scenario_named("17")),
    );
}
