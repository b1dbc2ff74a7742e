//! What the cluster tests share besides etcd (`etcd/mod.rs`): children
//! that never outlive a test, waiting for a line in a log, shell steps,
//! and a claim as pppd's plugin makes it.
#![allow(dead_code)]

use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use rasstatic::owner::Owner;
use rasstatic::protocol::{ClaimOpts, Claimed};
use rasstatic::table::{Policy, SessionInfo, Table};

/// A child killed and reaped however the test ends.
pub struct Reaped(pub Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Until `child` has written `what` to its log `log`; fails the test if
/// it exits first or `limit` passes.
pub fn wait_for(child: &mut Child, log: &Path, what: &str, limit: Duration) {
    let t0 = Instant::now();
    loop {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        if text.contains(what) {
            return;
        }
        if let Ok(Some(st)) = child.try_wait() {
            panic!("the agent exited ({st}): {text}");
        }
        assert!(t0.elapsed() < limit, "never said {what:?}: {text}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `sh -c CMD`; fails the test if it fails.
pub fn sh(cmd: &str) {
    let st = Command::new("sh").arg("-c").arg(cmd).status().unwrap();
    assert!(st.success(), "{cmd}: {st}");
}

/// A claim in `t` for `who`, as the plugin makes it (round robin).
pub fn claim(t: &Table, who: Owner) -> Option<Claimed> {
    t.claim(
        who,
        ClaimOpts::default(),
        Policy::RoundRobin,
        &SessionInfo::default(),
    )
    .unwrap()
}
