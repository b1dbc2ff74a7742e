//! Real pppd 2.4.9 (Debian 12's /usr/sbin/pppd) over socat pty pairs, with
//! the plugin built against its headers, in one User-Mode Linux boot (or on
//! the host kernel when it has PPP). The scenarios are
//! tests/pppd/scenarios/*.sh; what each must show is in common/checks.rs.

#[macro_use]
mod common;

scenario_tests!(common::Target::debian12());
