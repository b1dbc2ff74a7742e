//! rasstatic: a static IPv4 address pool shared by every pppd on the machine.
//!
//! Three layers:
//! 1. The pool and the lease table, pure Rust with no pppd types:
//!    [`pool`] (the grammar), [`word`] (the slot word's format), [`owner`]
//!    (who holds a lease: a process's identity), [`kernel`] (the sessions
//!    the kernel knows: ppp interfaces, their peers and pppds), [`protocol`]
//!    (claim, release, reap and their invariant), [`table`] (the shared
//!    file); [`config`] and [`optfile`] (the options, as pppd and
//!    `rasstatic check` read them), [`check`] (what `rasstatic check`
//!    says of an option file), [`agent_state`] (what a cluster agent
//!    last reported, for `rasstatic show`) and [`text`] (names escaped for a
//!    terminal), [`cutil`] (the libc helpers the table and watchdog share);
//!    and [`watchdog`], which frees dead
//!    holders' leases through that protocol and cleans up after them.
//! 2. `plugin`: the thin FFI layer. `plugin::sys` holds the bindings and is
//!    the only code that touches pppd; the shims pppd calls run inside one
//!    panic guard; `plugin::session` is the session logic as a state
//!    machine, with no pppd in it.
//! 3. `src/bin/rasstatic.rs` (and `src/bin/rasstatic/`): the admin command,
//!    on top of the table alone.

pub mod agent_state;
pub mod check;
pub mod config;
pub mod cutil;
pub mod kernel;
pub mod optfile;
pub mod owner;
pub mod pool;
pub mod protocol;
pub mod syslog;
pub mod table;
pub mod text;
pub mod watchdog;
pub mod word;

mod plugin;
