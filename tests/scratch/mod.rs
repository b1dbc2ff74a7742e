//! A scratch directory for a test, removed when it is dropped.

use std::fs;
use std::path::PathBuf;

pub struct Dir(pub PathBuf);

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// A fresh, empty `rasstatic-PREFIX-TAG-PID` under the temporary
/// directory.
pub fn dir(prefix: &str, tag: &str) -> Dir {
    let d = std::env::temp_dir().join(format!("rasstatic-{prefix}-{tag}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&d);
    fs::create_dir_all(&d).unwrap();
    Dir(d)
}
