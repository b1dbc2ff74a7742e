//! rasstatic: a static IPv4 address pool shared by every pppd on the machine.
//!
//! Three layers:
//! - [`pool`], [`owner`], [`protocol`] and [`table`]: the pool and the lease
//!   table, pure Rust with no pppd types;
//! - `plugin`: the thin FFI layer, the only code that touches pppd;
//! - [`watchdog`]: frees dead holders' leases promptly and cleans up after
//!   them; started by the plugin or by `rasstatic watchdog`;
//! - `src/bin/rasstatic.rs`: the admin command, on top of the table alone.

pub mod config;
pub mod optfile;
pub mod owner;
pub mod pool;
pub mod protocol;
pub mod syslog;
pub mod table;
pub mod watchdog;

mod plugin;
