//! Real pppd 2.5.2 (Debian 13's, fetched and unpacked by
//! scripts/fetch-pppd-2.5.sh and run by its path) over socat pty pairs, with
//! the plugin built against Debian 13's ppp-dev headers, in one User-Mode
//! Linux boot. The same scenarios and checks as pppd_249.rs.

mod common;

use std::sync::OnceLock;

use common::{checks, Run, Scenario, SCENARIOS};

fn run() -> &'static Run {
    static RUN: OnceLock<Result<Run, String>> = OnceLock::new();
    RUN.get_or_init(|| common::run_scenarios(&common::Target::debian13(), SCENARIOS))
        .as_ref()
        .unwrap_or_else(|e| panic!("the real-pppd run failed: {e}"))
}

fn scenario(name: &str) -> Scenario {
    run().scenario(name)
}

#[test]
fn s01_three_callers_then_a_fourth_is_refused_until_one_hangs_up() {
    checks::s01_three_callers_then_a_fourth_is_refused_until_one_hangs_up(&scenario(
        "01-three-callers-fourth-refused",
    ));
}

#[test]
fn s02_caller_hangs_up() {
    checks::s02_caller_hangs_up(&scenario("02-caller-hangs-up"));
}

#[test]
fn s03_dial_in_side_hangs_up_on_signals_with_and_without_persist() {
    checks::s03_dial_in_side_hangs_up_on_signals_with_and_without_persist(&scenario(
        "03-dial-in-side-hangs-up",
    ));
}

#[test]
fn s04_carrier_loss() {
    checks::s04_carrier_loss(&scenario("04-carrier-loss"));
}

#[test]
fn s05_idle_and_maxconnect_limits() {
    checks::s05_idle_and_maxconnect_limits(&scenario("05-idle-and-maxconnect"));
}

#[test]
fn s06_ipcp_never_opens_after_the_hook() {
    checks::s06_ipcp_never_opens_after_the_hook(&scenario("06-ipcp-never-opens"));
}

#[test]
fn s07_ipcp_renegotiation_keeps_the_address() {
    checks::s07_ipcp_renegotiation_keeps_the_address(&scenario("07-ipcp-renegotiation"));
}

#[test]
fn s08_persist_serves_calls_in_a_row_and_nothing_accumulates() {
    checks::s08_persist_serves_calls_in_a_row_and_nothing_accumulates(&scenario(
        "08-persist-several-calls",
    ));
}

#[test]
fn s09_lease_follows_detach_and_updetach_then_sigkill_frees_it() {
    checks::s09_lease_follows_detach_and_updetach_then_sigkill_frees_it(&scenario(
        "09-detach-and-updetach",
    ));
}

#[test]
fn s10_sigkill_of_the_dial_in_pppd() {
    checks::s10_sigkill_of_the_dial_in_pppd(&scenario("10-sigkill"));
}

#[test]
fn s11_eight_lines_random_order_never_share_never_lose() {
    checks::s11_eight_lines_random_order_never_share_never_lose(&scenario("11-eight-lines-random"));
}

#[test]
fn s12_bad_options_exit_2_naming_the_option_and_bad_tables_are_refused() {
    checks::s12_bad_options_exit_2_naming_the_option_and_bad_tables_are_refused(&scenario(
        "12-bad-options-and-tables",
    ));
}

#[test]
fn s13_pap_with_a_star_address_column() {
    checks::s13_pap_with_a_star_address_column(&scenario("13-pap-star-address"));
}

#[test]
fn s14_proxyarp_with_the_pool_on_the_lan_subnet() {
    checks::s14_proxyarp_with_the_pool_on_the_lan_subnet(&scenario("14-proxyarp-on-lan-subnet"));
}

#[test]
fn s15_options_files_caller_proposals_and_a_panicking_hook() {
    checks::s15_options_files_caller_proposals_and_a_panicking_hook(&scenario(
        "15-options-files-proposals-panics",
    ));
}
