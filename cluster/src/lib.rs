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

/// Whether an etcd version has the two lease-safety fixes cluster mode
/// relies on (an old leader revoking leases: 3.4.31, 3.5.13; a renewal
/// acknowledged for a lease being revoked: 3.4.38, 3.5.23, 3.6.5). Why
/// not, if not. The verify transaction after each renewal guards against
/// the second in any case.
pub fn etcd_version_problem(version: &str) -> Option<String> {
    // An unknown form is not called unsafe.
    let v: Vec<u32> = version
        .trim_start_matches('v')
        .split(|c: char| !c.is_ascii_digit())
        .take(3)
        .map(|p| p.parse().ok())
        .collect::<Option<_>>()?;
    let (major, minor, patch) = (*v.first()?, *v.get(1)?, *v.get(2)?);
    let safe = match (major, minor) {
        (3, 4) => patch >= 38,
        (3, 5) => patch >= 23,
        (3, 6) => patch >= 5,
        (3, m) => m > 6,
        (m, _) => m > 3,
    };
    (!safe).then(|| {
        format!(
            "etcd {version} lacks fixes for lease safety (an old leader revoking leases; a renewal acknowledged for a lease being revoked): use etcd 3.5.23 or later, or 3.6.5 or later"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::etcd_version_problem as p;

    #[test]
    fn etcd_versions() {
        for bad in ["3.4.23", "3.5.22", "3.6.4", "3.3.27", "2.3.8"] {
            assert!(p(bad).is_some(), "{bad}");
        }
        for good in [
            "3.4.38", "3.5.23", "3.5.24", "3.6.5", "v3.6.6", "3.7.0", "4.0.0",
        ] {
            assert_eq!(p(good), None, "{good}");
        }
        assert_eq!(p("garbage"), None, "unknown: not claimed unsafe");
    }
}
