//! The pppd option-file reader behind `rasstatic check`: the word reader
//! and the whole check of a file. Input: the file's bytes.

use rasstatic::check::check_file;
use rasstatic::optfile::words;

/// Whether a message could break the command's one-problem-a-line output
/// or reach the terminal: a control character.
fn controls(s: &str) -> bool {
    s.chars().any(char::is_control)
}

pub fn run(data: &[u8]) {
    let lines = data.iter().filter(|&&b| b == b'\n').count() + 1;
    let mut last = 1;
    for w in words(data) {
        assert!(
            w.line >= last && w.line <= lines,
            "word on line {} of {lines}",
            w.line
        );
        last = w.line;
        assert!(!w.text.contains('\0'), "a NUL inside a word");
        // `len` counts the bytes pppd reads, a NUL and what follows it
        // included; the text stops at the NUL.
        if w.not_utf8.is_none() {
            assert!(w.text.len() <= w.len);
        }
        assert!(w.len <= data.len());
    }
    let mut notes = Vec::new();
    let r = check_file("f", data, &mut notes);
    let said: Vec<&String> = match &r {
        Ok(Some(v)) => vec![v],
        Ok(None) => vec![],
        Err(problems) => {
            assert!(!problems.is_empty(), "failed with no problem named");
            problems.iter().collect()
        }
    };
    for m in said.into_iter().chain(&notes) {
        assert!(!controls(m), "a control character in {m:?}");
    }
    if let Err(problems) = &r {
        for p in problems {
            assert!(p.starts_with("f:"), "{p:?} does not name the file");
        }
    }
}
