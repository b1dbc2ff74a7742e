//! The admin command's writers (`show`, `show --json`, `stats`, `stats
//! --prometheus`, from its own source) over a table whose slots hold
//! hostile bytes: any owner word, any display record (names with control
//! characters, quotes, backslashes, broken UTF-8), any counters. The JSON
//! must parse (serde_json) with counts that agree with its rows, the
//! Prometheus text must pass a strict grammar, and the text output must
//! keep one row a line with no control character.
//!
//! Input: a table name (for the Prometheus label) and a line break, a
//! selection and a line break, then for each of the table's slots its
//! 8-byte owner word and 52-byte display record, then counters (8 bytes
//! each); missing bytes are zeros.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::sync::OnceLock;

use rasstatic::pool::{parse_selection, Pool};
use rasstatic::table::layout::{Sections, LIVE_OFFSET};
use rasstatic::table::{check_name, Reader, Table};
use serde_json::Value;

use super::show::{show, stats, Filter};

pub const NAME: &str = "w";
pub const POOL: &str = "10.251.0.1-10.251.0.4";
const META: usize = 52;

fn dir() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    static MADE: OnceLock<()> = OnceLock::new();
    let d = super::scratch::dir("writers", &DIR);
    MADE.get_or_init(|| {
        let pool = Pool::parse(POOL, "").expect("a good pool");
        Table::open(d, NAME, &pool, POOL).expect("create the writers' table");
    });
    d
}

/// Split off the bytes up to the next line break.
fn line(data: &[u8]) -> (&[u8], &[u8]) {
    match data.iter().position(|&b| b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[]),
    }
}

fn no_controls(what: &str, out: &str) {
    for l in out.lines() {
        assert!(
            !l.chars().any(char::is_control),
            "{what}: a control character in {l:?}"
        );
    }
}

pub fn run(data: &[u8]) {
    let dir = dir();
    let (name, rest) = line(data);
    let (select, rest) = line(rest);
    let name = String::from_utf8_lossy(name);
    let name = if check_name(&name).is_ok() {
        &name
    } else {
        NAME
    };
    let select = (!select.is_empty()).then(|| String::from_utf8_lossy(select).into_owned());

    // Write the slots and counters into the file as a hostile writer would.
    let pool = Pool::parse(POOL, "").expect("a good pool");
    let n = pool.size() as usize;
    let sec = Sections::new(pool.size(), pool.ranges().len() as u32, 0);
    let mut bytes = rest.to_vec();
    bytes.resize(n * (8 + META) + 8 * 18, 0);
    let (slots, counters) = bytes.split_at(n * (8 + META));
    let f = File::options()
        .write(true)
        .open(dir.join(format!("{NAME}.table")))
        .expect("open the table file");
    for (i, s) in slots.chunks_exact(8 + META).enumerate() {
        f.write_all_at(&s[..8], (sec.owners + i * 8) as u64)
            .expect("write");
        f.write_all_at(&s[8..], (sec.meta + i * META) as u64)
            .expect("write");
    }
    // The counters after the reset word and cursor: assigned, refused, ended.
    f.write_all_at(counters, (LIVE_OFFSET + 16) as u64)
        .expect("write");
    drop(f);

    let r = Reader::open(dir, NAME).expect("the table opens");
    let wd = rest.first().map(|&b| u32::from(b)).filter(|&b| b != 0);

    // JSON, whole and selected.
    for sel in [None, select.clone()] {
        let f = Filter {
            states: vec![],
            select: sel.clone(),
        };
        let mut out = Vec::new();
        if show(&r, wd, &Ok(None), true, &f, &mut out).is_err() {
            assert!(sel.as_deref().is_some_and(|s| parse_selection(s).is_err()));
            continue;
        }
        let text = String::from_utf8(out).expect("JSON output is UTF-8");
        assert_eq!(text.lines().count(), 1, "JSON on more than one line");
        let v: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
        let count = |k: &str| v[k].as_u64().unwrap_or_else(|| panic!("no {k}: {text}"));
        let rows = v["leases"].as_array().expect("a leases array").len() as u64;
        assert_eq!(count("scanned"), rows);
        assert_eq!(
            count("leased") + count("stale") + count("free") + count("draining"),
            rows
        );
        if sel.is_none() {
            assert_eq!(rows, n as u64);
        }
    }

    // Text: a heading, one line per address, two lines after.
    let f = Filter {
        states: vec![],
        select: None,
    };
    let mut out = Vec::new();
    show(&r, wd, &Ok(None), false, &f, &mut out).expect("show");
    let text = String::from_utf8(out).expect("text output is UTF-8");
    no_controls("show", &text);
    assert_eq!(text.lines().count(), n + 3, "rows added or lost: {text}");

    // Prometheus and plain stats.
    let mut out = Vec::new();
    stats(&r, name, wd, &Ok(None), true, &mut out).expect("stats --prometheus");
    let text = String::from_utf8(out).expect("Prometheus output is UTF-8");
    if let Err(e) = super::prometheus::check(&text) {
        panic!("{e}\n{text}");
    }
    let mut out = Vec::new();
    stats(&r, name, wd, &Ok(None), false, &mut out).expect("stats");
    no_controls("stats", &String::from_utf8(out).expect("UTF-8"));
}
