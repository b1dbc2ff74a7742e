//! Every fuzz target's seed corpus and every kept regression input, run
//! through the targets' own logic (fuzz/src/, the code libFuzzer runs) on
//! stable, without libFuzzer: an input that once crashed a target, or
//! broke one of its checks, fails here.
//!
//! A missing or empty corpus directory fails the test: a target whose
//! corpus went missing would otherwise pass by testing nothing.

use std::fs;
use std::path::{Path, PathBuf};

#[allow(dead_code)]
#[path = "../fuzz/src/lib.rs"]
mod targets;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz")
}

/// The files of `dir`, sorted; panics if it cannot be read.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("a directory entry").path())
        .filter(|p| p.is_file())
        .collect();
    v.sort();
    v
}

fn run_all(target: &str, run: fn(&[u8]), dir: &Path) -> usize {
    let v = files(dir);
    for f in &v {
        let data = fs::read(f).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        eprintln!("{target}: {}", f.display());
        run(&data);
    }
    v.len()
}

macro_rules! corpus_test {
    ($name:ident) => {
        #[test]
        fn $name() {
            let target = stringify!($name);
            let (_, run) = targets::TARGETS
                .iter()
                .find(|(n, _)| *n == target)
                .expect("a target of that name");
            let corpus = root().join("corpus").join(target);
            let n = run_all(target, *run, &corpus);
            assert!(n > 0, "{}: an empty corpus", corpus.display());
            let reg = root().join("regressions").join(target);
            if reg.exists() {
                run_all(target, *run, &reg);
            }
            targets::scratch::remove(target);
        }
    };
}

corpus_test!(pool);
corpus_test!(options);
corpus_test!(optfile);
corpus_test!(table);
corpus_test!(writers);
corpus_test!(netlink);
corpus_test!(procstat);

/// Every target has its test above, and every corpus directory a target.
#[test]
fn every_target_is_tested() {
    let tested = [
        "pool", "options", "optfile", "table", "writers", "netlink", "procstat",
    ];
    let names: Vec<&str> = targets::TARGETS.iter().map(|(n, _)| *n).collect();
    assert_eq!(names, tested);
    for d in files_and_dirs(&root().join("corpus")) {
        let n = d.file_name().unwrap().to_string_lossy().into_owned();
        assert!(names.contains(&n.as_str()), "corpus {n} has no target");
    }
    for t in names {
        let bin = root().join("fuzz_targets").join(format!("{t}.rs"));
        assert!(bin.is_file(), "{} is missing", bin.display());
    }
}

fn files_and_dirs(dir: &Path) -> Vec<PathBuf> {
    fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("a directory entry").path())
        .collect()
}
