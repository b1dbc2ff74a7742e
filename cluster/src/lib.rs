//! rasstatic's cluster mode: one pool shared by several dial-in servers,
//! through etcd v3.
//!
//! This crate is the agent's side only. The pppd plugin (the root crate's
//! cdylib) never links it, nor etcd's client, tonic or tokio: pppd keeps
//! claiming from its machine's shared-memory table, inside the blocks the
//! agent holds, and never touches the network.
//!
//! - [`spec`]: the pool and its block size, which every server must agree on;
//! - [`ledger`]: the blocks in etcd, and the transactions that move them;
//! - [`agent`]: the loop that joins the ledger to the machine's table;
//! - [`deadline`]: the lease renewals and the deadlines they set, after which
//!   a server cut off from etcd stops claiming and hangs its sessions up.

pub mod agent;
pub mod deadline;
pub mod ledger;
pub mod spec;
