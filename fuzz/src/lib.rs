//! The fuzz targets' logic, one module per input rasstatic reads from
//! outside. Each module's `run` takes the fuzzer's bytes and panics on
//! anything wrong: a crash, a broken invariant, output that does not parse.
//! libFuzzer calls it from `fuzz_targets/`; `tests/fuzz_corpus.rs` calls the
//! very same functions with every corpus and regression file, on stable.

pub mod netlink;
pub mod optfile;
pub mod options;
pub mod pool;
pub mod procstat;
pub mod prometheus;
pub mod table;
pub mod writers;

pub mod scratch;

/// The admin command's output writers, compiled from its own source.
#[allow(dead_code)]
#[path = "../../src/bin/rasstatic/out.rs"]
mod out;
#[allow(dead_code)]
#[path = "../../src/bin/rasstatic/show.rs"]
mod show;

/// A target's logic: panics on anything wrong with its input's handling.
pub type Target = fn(&[u8]);

/// Every target, by name: the names of `fuzz_targets/` and of the corpus
/// directories.
pub const TARGETS: &[(&str, Target)] = &[
    ("pool", pool::run),
    ("options", options::run),
    ("optfile", optfile::run),
    ("table", table::run),
    ("writers", writers::run),
    ("netlink", netlink::run),
    ("procstat", procstat::run),
];

/// The bytes as the plugin decodes a C string from pppd: cut at the first
/// NUL, anything that is not UTF-8 replaced by U+FFFD.
pub fn c_string(b: &[u8]) -> String {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).into_owned()
}
