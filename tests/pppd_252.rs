//! Real pppd 2.5.2 (Debian 13's, fetched and unpacked by
//! scripts/fetch-pppd-2.5.sh and run by its path) over socat pty pairs, with
//! the plugin built against Debian 13's ppp-dev headers, in one User-Mode
//! Linux boot. The same scenarios and checks as pppd_249.rs.

#[macro_use]
mod common;

scenario_tests!(common::Target::debian13());
