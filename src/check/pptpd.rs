//! What `rasstatic check` says of a pptpd.conf: the pppd options file its
//! `option` names, checked as any options file ([`check_file`]), plus
//! what pptpd itself would do with addresses.
//!
//! pptpd reads its file one keyword at a time: for each keyword it takes
//! the first line that starts with it (the rest of the line is the value),
//! skips lines starting with `#`, and ignores, with an error in its log,
//! lines starting with a space or a tab. Without `delegate` it passes each
//! pppd `LOCAL:REMOTE` from its `localip`/`remoteip` lists (or from its
//! built-in defaults, 192.168.0.1 and 192.168.1.1 upwards, when they are
//! missing), refusing calls once its list runs out; the plugin replaces
//! REMOTE. With `delegate` it passes none, and pppd's options decide.

use std::io;

use super::check_file;
use crate::optfile;
use crate::text::escape;

/// pppd reads this file before anything else; pptpd's `option` adds one.
pub const PPP_OPTIONS: &str = "/etc/ppp/options";

/// Keywords only a pptpd.conf has (pppd has no such options).
const KEYWORDS: &[&str] = &[
    "option",
    "localip",
    "remoteip",
    "delegate",
    "stimeout",
    "connections",
    "noipparam",
    "bcrelay",
    "pidfile",
    "ppp",
    "logwtmp",
    "listen",
    "vrf",
];

/// One line pptpd reads: its keyword and value, 1-based line number.
#[derive(Debug, PartialEq)]
struct Line {
    line: usize,
    keyword: String,
    value: String,
}

/// The lines pptpd would read, and those it ignores because they start
/// with a space or a tab (their numbers).
fn lines(bytes: &[u8]) -> (Vec<Line>, Vec<usize>) {
    let text = String::from_utf8_lossy(bytes);
    let (mut read, mut indented) = (Vec::new(), Vec::new());
    for (i, l) in text.split('\n').enumerate() {
        // pptpd trims spaces and tabs only: a CRLF line keeps its '\r' in
        // the keyword or value, as here.
        let l = l.trim_end_matches([' ', '\t']);
        if l.is_empty() || l.starts_with('#') {
            continue;
        }
        if l.starts_with([' ', '\t']) {
            indented.push(i + 1);
            continue;
        }
        let (keyword, value) = l.split_once([' ', '\t']).unwrap_or((l, ""));
        read.push(Line {
            line: i + 1,
            keyword: keyword.to_string(),
            value: value.trim_start_matches([' ', '\t']).to_string(),
        });
    }
    (read, indented)
}

/// The line pptpd takes for `keyword`: the first.
fn first<'a>(lines: &'a [Line], keyword: &str) -> Option<&'a Line> {
    lines.iter().find(|l| l.keyword == keyword)
}

/// Whether file `path` with contents `bytes` is a pptpd.conf rather than
/// a pppd options file: by its name, or by a keyword only pptpd has.
pub fn is_pptpd_conf(path: &str, bytes: &[u8]) -> bool {
    path.ends_with("pptpd.conf")
        || lines(bytes)
            .0
            .iter()
            .any(|l| KEYWORDS.contains(&l.keyword.as_str()))
}

/// Whether the options file gives pppd its own end of the link (a
/// `LOCAL:` word with an address before the colon).
fn names_local_address(bytes: &[u8]) -> bool {
    optfile::words(bytes).iter().any(|w| {
        w.text
            .split_once(':')
            .is_some_and(|(l, _)| l.parse::<std::net::Ipv4Addr>().is_ok())
    })
}

/// The problems of pptpd.conf `f` (shown under that name) with contents
/// `bytes`, each `FILE:LINE: ...` or `FILE: ...`; when there are none, the
/// verdict's text after "ok: ". `read` reads the options file, `executable`
/// says whether a path is an executable file; `notes` gets what is worth
/// knowing but leaves the pool the only source of callers' addresses.
pub fn check_pptpd_conf(
    f: &str,
    bytes: &[u8],
    notes: &mut Vec<String>,
    read: &dyn Fn(&str) -> io::Result<Vec<u8>>,
    executable: &dyn Fn(&str) -> bool,
) -> Result<String, Vec<String>> {
    let (lines, indented) = lines(bytes);
    let mut errors: Vec<String> = indented
        .iter()
        .map(|n| format!("{f}:{n}: starts with a space or a tab: pptpd ignores the line"))
        .collect();
    errors.extend(
        lines
            .iter()
            .filter(|l| l.value.ends_with('\r') || l.keyword.ends_with('\r'))
            .map(|l| {
                format!(
            "{f}:{}: ends with a carriage return (a CRLF file): pptpd takes it as part of the line",
            l.line
        )
            }),
    );
    let delegate = first(&lines, "delegate");
    let remote = first(&lines, "remoteip");
    let local = first(&lines, "localip");
    if let Some(p) = first(&lines, "ppp") {
        if !executable(&p.value) {
            errors.push(format!(
                "{f}:{}: ppp \"{}\" is not an executable file: pptpd would not start",
                p.line,
                escape(&p.value)
            ));
        }
    }
    // The options file pppd reads for each call.
    let (opts, at) = match first(&lines, "option") {
        Some(o) => (o.value.clone(), format!("{f}:{}", o.line)),
        None => {
            notes.push(format!(
                "{f}: note: no \"option\" line: each pppd reads {PPP_OPTIONS} only, checked here"
            ));
            (PPP_OPTIONS.to_string(), f.to_string())
        }
    };
    let shown = escape(&opts).into_owned();
    let verdict = match read(&opts) {
        Err(e) => Err(vec![format!(
            "{at}: cannot read the options file {shown}: {e}"
        )]),
        Ok(o) => {
            if delegate.is_some() && !names_local_address(&o) {
                notes.push(format!(
                    "{at}: note: with delegate, {shown} should give the server's end of each call \
                     (\"LOCAL:\", e.g. 192.168.60.1:); pppd otherwise takes this host's name's address"
                ));
            }
            check_file(&shown, &o, notes)
        }
    };
    let source = if delegate.is_some() {
        "pppd's own default address (10.64.64.64 upwards)".to_string()
    } else if remote.is_some() {
        "pptpd's remoteip list".to_string()
    } else {
        "pptpd's built-in remoteip list (192.168.1.1 upwards)".to_string()
    };
    let ok = match verdict {
        Err(mut p) => {
            errors.append(&mut p);
            None
        }
        Ok(None) => {
            errors.push(format!(
                "{at}: {shown} has no rasstatic options: callers would get {source}, not the pool"
            ));
            None
        }
        Ok(Some(ok)) => Some(ok),
    };
    match (delegate, remote, local) {
        (Some(d), r, l) => {
            for x in [r, l].into_iter().flatten() {
                notes.push(format!(
                    "{f}:{}: note: {} is ignored with delegate (line {})",
                    x.line, x.keyword, d.line
                ));
            }
        }
        (None, Some(r), _) => notes.push(format!(
            "{f}:{}: note: remoteip without delegate: pptpd passes each pppd the next address of its own \
             list, which rasstatic replaces, but refuses calls once that list runs out and cannot change \
             it without a restart; add \"delegate\" and give the server's address in {shown}",
            r.line
        )),
        (None, None, _) => notes.push(format!(
            "{f}: note: neither delegate nor remoteip: pptpd passes each pppd its built-in addresses \
             (192.168.0.1:192.168.1.1 upwards), at most 100 calls; rasstatic replaces the remote one; \
             add \"delegate\" and give the server's address in {shown}"
        )),
    }
    if let Some(w) = first(&lines, "logwtmp") {
        notes.push(format!(
            "{f}:{}: note: logwtmp makes pptpctrl load pptpd's own plugin (pptpd-logwtmp.so) into each pppd; \
             it must be built for that pppd's version, or pppd refuses every call",
            w.line
        ));
    }
    match ok {
        Some(ok) if errors.is_empty() => Ok(format!("pppd options {shown}: {ok}")),
        _ => Err(errors),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPTS: &[u8] = b"plugin rasstatic.so\nrasstatic-dir /nonexistent/rasstatic-pptpd\n\
        rasstatic-pool 10.1.0.10-10.1.0.19\n10.1.0.1:\nnoauth\n";

    /// Check `conf`, whose `option` file (any name) holds `opts`; every
    /// path is executable.
    fn run(conf: &str, opts: Option<&[u8]>) -> (Result<String, Vec<String>>, Vec<String>) {
        let mut notes = Vec::new();
        let read = |p: &str| -> io::Result<Vec<u8>> {
            match opts {
                Some(o) if p != "/missing" => Ok(o.to_vec()),
                _ => Err(io::Error::from(io::ErrorKind::NotFound)),
            }
        };
        let r = check_pptpd_conf("C", conf.as_bytes(), &mut notes, &read, &|p| p != "/nope");
        (r, notes)
    }

    #[test]
    fn pptpd_reads_the_first_line_of_a_keyword_and_skips_comments_and_indented_lines() {
        let (l, ind) = lines(b"# c\n\noption /a\noption /b\n  delegate\nremoteip\t 10.0.0.1-9  \n");
        assert_eq!(first(&l, "option").unwrap().value, "/a");
        assert_eq!(first(&l, "delegate"), None);
        assert_eq!(ind, vec![5]);
        let r = first(&l, "remoteip").unwrap();
        assert_eq!((r.line, r.value.as_str()), (6, "10.0.0.1-9"));
    }

    #[test]
    fn a_pptpd_conf_is_known_by_its_name_or_its_keywords() {
        assert!(is_pptpd_conf("/etc/pptpd.conf", b""));
        assert!(is_pptpd_conf("/x/conf", b"delegate\n"));
        assert!(is_pptpd_conf("/x/conf", b"option /etc/ppp/pptpd-options\n"));
        assert!(!is_pptpd_conf("/etc/ppp/pptpd-options", OPTS));
        // An indented keyword is no keyword to pptpd.
        assert!(!is_pptpd_conf("/x/conf", b" delegate\n"));
        // Keywords of pptpd's that a file may carry alone.
        for k in ["logwtmp\n", "listen 10.0.0.1\n", "vrf red\n"] {
            assert!(is_pptpd_conf("/x/conf", k.as_bytes()), "{k}");
        }
    }

    #[test]
    fn a_crlf_line_fails_as_pptpd_would_misread_it() {
        let (r, _) = run("option /o\r\ndelegate\r\n", Some(OPTS));
        let e = r.unwrap_err();
        assert!(
            e.iter()
                .any(|p| p.starts_with("C:1: ends with a carriage return")),
            "{e:?}"
        );
        assert!(
            e.iter()
                .any(|p| p.starts_with("C:2: ends with a carriage return")),
            "{e:?}"
        );
        // pptpd does not see "delegate" there.
        let (l, _) = lines(b"delegate\r\n");
        assert_eq!(first(&l, "delegate"), None);
    }

    #[test]
    fn delegate_with_the_plugin_passes() {
        let (r, notes) = run("option /o\ndelegate\n", Some(OPTS));
        let ok = r.unwrap();
        assert!(
            ok.starts_with("pppd options /o: pool 10.1.0.10-10.1.0.19 (10 addresses), policy "),
            "{ok}"
        );
        assert!(notes.is_empty(), "{notes:?}");
    }

    #[test]
    fn no_plugin_fails_naming_where_addresses_would_come_from() {
        let (r, _) = run("option /o\ndelegate\n", Some(b"noauth\n10.1.0.1:\n"));
        assert_eq!(
            r.unwrap_err(),
            vec![
                "C:1: /o has no rasstatic options: callers would get pppd's own default address \
                  (10.64.64.64 upwards), not the pool"
            ]
        );
        let (r, notes) = run("option /o\nremoteip 10.2.0.1-9\n", Some(b"noauth\n"));
        assert!(
            r.unwrap_err()[0].ends_with("callers would get pptpd's remoteip list, not the pool")
        );
        assert!(notes
            .iter()
            .any(|n| n.starts_with("C:2: note: remoteip without delegate")));
    }

    #[test]
    fn the_options_files_own_problems_fail_the_conf() {
        let (r, _) = run(
            "option /o\ndelegate\n",
            Some(b"rasstatic-pool 10.1.0.10-10.1.0.19\nplugin rasstatic.so\n"),
        );
        let p = r.unwrap_err();
        assert_eq!(p.len(), 1);
        assert!(
            p[0].starts_with("/o:1: rasstatic-pool comes before"),
            "{p:?}"
        );
    }

    #[test]
    fn remoteip_without_delegate_passes_with_a_note() {
        let (r, notes) = run(
            "option /o\nlocalip 10.1.0.1\nremoteip 10.2.0.1-9\n",
            Some(OPTS),
        );
        assert!(r.is_ok(), "{r:?}");
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert!(notes[0].starts_with("C:3: note: remoteip without delegate"));
        let (r, notes) = run("option /o\n", Some(OPTS));
        assert!(r.is_ok());
        assert!(
            notes[0].starts_with("C: note: neither delegate nor remoteip"),
            "{notes:?}"
        );
    }

    #[test]
    fn delegate_notes_ignored_lists_a_missing_local_address_and_logwtmp() {
        let (r, notes) = run(
            "option /o\nremoteip 10.2.0.1-9\ndelegate\nlogwtmp\n",
            Some(b"plugin rasstatic.so\nrasstatic-dir /nonexistent/r\nrasstatic-pool 10.1.0.10-10.1.0.19\n"),
        );
        assert!(r.is_ok(), "{r:?}");
        let has = |s: &str| notes.iter().any(|n| n.starts_with(s));
        assert!(
            has("C:1: note: with delegate, /o should give the server's end"),
            "{notes:?}"
        );
        assert!(
            has("C:2: note: remoteip is ignored with delegate (line 3)"),
            "{notes:?}"
        );
        assert!(has("C:4: note: logwtmp makes pptpctrl load"), "{notes:?}");
    }

    #[test]
    fn an_unreadable_options_file_a_bad_ppp_and_indented_lines_fail() {
        let (r, _) = run("option /missing\ndelegate\n", Some(OPTS));
        assert!(r.unwrap_err()[0].starts_with("C:1: cannot read the options file /missing: "));
        let (r, _) = run("option /o\ndelegate\nppp /nope\n delegate\n", Some(OPTS));
        assert_eq!(
            r.unwrap_err(),
            vec![
                "C:4: starts with a space or a tab: pptpd ignores the line",
                "C:3: ppp \"/nope\" is not an executable file: pptpd would not start",
            ]
        );
    }

    #[test]
    fn without_an_option_line_pppd_reads_its_own_options_file() {
        let mut notes = Vec::new();
        let read = |p: &str| -> io::Result<Vec<u8>> {
            assert_eq!(p, PPP_OPTIONS);
            Ok(OPTS.to_vec())
        };
        let ok = check_pptpd_conf("C", b"delegate\n", &mut notes, &read, &|_| true).unwrap();
        assert!(
            ok.starts_with("pppd options /etc/ppp/options: pool "),
            "{ok}"
        );
        assert!(
            notes[0].starts_with("C: note: no \"option\" line"),
            "{notes:?}"
        );
    }
}
