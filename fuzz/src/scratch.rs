//! A private directory on /dev/shm (tmpfs, where tables live) per process
//! and target, mode 0700, made when the target first needs it.

use std::fs;
use std::os::unix::fs::DirBuilderExt;
use std::path::PathBuf;
use std::sync::OnceLock;

fn path(target: &str) -> PathBuf {
    PathBuf::from(format!(
        "/dev/shm/rasstatic-fuzz-{target}-{}",
        std::process::id()
    ))
}

pub fn dir(target: &'static str, cell: &'static OnceLock<PathBuf>) -> &'static PathBuf {
    cell.get_or_init(|| {
        let d = path(target);
        let _ = fs::remove_dir_all(&d);
        fs::DirBuilder::new()
            .mode(0o700)
            .create(&d)
            .expect("create a scratch directory on /dev/shm");
        d
    })
}

/// Remove `target`'s directory, once it is done with it for good (the
/// tests; a fuzzer process ends by a signal or an exit of its own and
/// leaves it).
pub fn remove(target: &str) {
    let _ = fs::remove_dir_all(path(target));
}
