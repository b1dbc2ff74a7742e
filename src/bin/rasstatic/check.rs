//! `check`: the rasstatic options of pppd option files
//! ([`rasstatic::check`]), the LNS sections of an xl2tpd.conf with the
//! options files they name ([`rasstatic::check::xl2tpd`]), and pptpd.conf
//! files with the options file each names ([`rasstatic::check::pptpd`]),
//! one verdict per file.
//!
//! Each file gets its problems, one a line as `FILE:LINE: ...`, then one
//! verdict line: `FILE: ok: ...`, `FILE: FAILED: N problem(s)`, or `FILE:
//! no rasstatic options`.

use std::io::Write;

use rasstatic::check::check_file;
use rasstatic::check::pptpd;
use rasstatic::check::xl2tpd::{check_xl2tpd_conf, is_xl2tpd_conf};

use super::out::{escape, Failure, Out};

/// A pptpd.conf, with the options file it names read from disk.
fn pptpd_conf(shown: &str, bytes: &[u8], notes: &mut Vec<String>) -> Result<String, Vec<String>> {
    use std::os::unix::fs::PermissionsExt;
    let executable = |p: &str| {
        std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    pptpd::check_pptpd_conf(shown, bytes, notes, &|p| std::fs::read(p), &executable)
}

/// Check each file on its own, as the options of one line.
pub fn check(files: &[String], out: &mut Out) -> Result<(), Failure> {
    let mut bad = 0;
    for f in files {
        let shown = escape(f);
        let mut notes = Vec::new();
        let verdict = match std::fs::read(f) {
            Err(e) => Err(vec![format!("{shown}: cannot read it: {e}")]),
            Ok(bytes) if is_xl2tpd_conf(&bytes) => {
                check_xl2tpd_conf(&shown, &bytes, &|p| std::fs::read(p), &mut notes)
            }
            Ok(bytes) if pptpd::is_pptpd_conf(f, &bytes) => {
                pptpd_conf(&shown, &bytes, &mut notes).map(Some)
            }
            Ok(bytes) => check_file(&shown, &bytes, &mut notes),
        };
        for n in &notes {
            writeln!(out, "{n}")?;
        }
        match verdict {
            Ok(Some(ok)) => writeln!(out, "{shown}: ok: {ok}")?,
            Ok(None) => writeln!(out, "{shown}: no rasstatic options")?,
            Err(problems) => {
                bad += 1;
                for p in &problems {
                    writeln!(out, "{p}")?;
                }
                writeln!(out, "{shown}: FAILED: {} problem(s)", problems.len())?;
            }
        }
    }
    out.flush()?;
    if bad > 0 {
        Err(format!("{bad} of {} file(s) have problems", files.len()).into())
    } else {
        Ok(())
    }
}
