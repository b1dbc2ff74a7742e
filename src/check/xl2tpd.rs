//! What `rasstatic check` says of an xl2tpd.conf: for each `[lns ...]`
//! section, whether xl2tpd's own address assignment can refuse callers or
//! reach them, and the pppd options file it names (`pppoptfile`), checked
//! as [`check_file`] checks any options file.
//!
//! The reading follows xl2tpd 1.3 (file.c): `;` starts a comment, a line
//! `[kind name]` opens a section, other lines are `key = value` with keys
//! and yes/no values compared without case; `assign ip` is yes unless set.

use super::check_file;
use crate::text::escape;

/// Whether `bytes` reads as an xl2tpd.conf: its first line that is neither
/// blank nor a comment opens a section. A pppd options file never starts
/// with `[`.
pub fn is_xl2tpd_conf(bytes: &[u8]) -> bool {
    lines(bytes).next().is_some_and(|(_, l)| l.starts_with('['))
}

/// The lines that carry something, numbered from 1: comments (from `;`)
/// and surrounding white space removed.
fn lines(bytes: &[u8]) -> impl Iterator<Item = (usize, String)> + '_ {
    // A leading UTF-8 byte-order mark: xl2tpd skips it as it skips white
    // space (bytes above 127 are below 33 as its signed chars).
    let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    bytes
        .split(|&b| b == b'\n')
        .enumerate()
        .filter_map(|(i, l)| {
            let l = l.split(|&b| b == b';').next().unwrap_or_default();
            let l = String::from_utf8_lossy(l).trim().to_string();
            (!l.is_empty()).then_some((i + 1, l))
        })
}

/// xl2tpd's yes/no (file.c:yesno); `None` for anything else.
fn yes_no(v: &str) -> Option<bool> {
    match v.to_ascii_lowercase().as_str() {
        "yes" | "y" | "true" => Some(true),
        "no" | "n" | "false" => Some(false),
        _ => None,
    }
}

/// One `[lns ...]` section: what decides addresses, with the line of each
/// setting.
#[derive(Debug, Default, PartialEq)]
struct Lns {
    name: String,
    line: usize,
    assign_ip: Option<(bool, usize)>,
    ip_range: Option<usize>,
    pppoptfile: Option<(String, usize)>,
}

/// The `[lns ...]` sections of an xl2tpd.conf, in file order. A section
/// named again continues the earlier one, as in xl2tpd.
fn lns_sections(bytes: &[u8]) -> Vec<Lns> {
    let mut all: Vec<Lns> = Vec::new();
    let mut cur: Option<usize> = None;
    for (n, l) in lines(bytes) {
        if let Some(head) = l.strip_prefix('[') {
            let head = head.split(']').next().unwrap_or_default();
            let (kind, name) = head.split_once(' ').unwrap_or((head, ""));
            cur = None;
            if kind.eq_ignore_ascii_case("lns") {
                let name = name.trim().to_string();
                cur = Some(
                    match all.iter().position(|s| s.name.eq_ignore_ascii_case(&name)) {
                        Some(i) => i,
                        None => {
                            all.push(Lns {
                                name,
                                line: n,
                                ..Lns::default()
                            });
                            all.len() - 1
                        }
                    },
                );
            }
            continue;
        }
        let (Some(i), Some((k, v))) = (cur, l.split_once('=')) else {
            continue;
        };
        let (k, v) = (k.trim().to_ascii_lowercase(), v.trim());
        let s = &mut all[i];
        match k.as_str() {
            "assign ip" => s.assign_ip = yes_no(v).map(|b| (b, n)),
            "ip range" => s.ip_range = Some(n),
            "pppoptfile" => s.pppoptfile = Some((v.to_string(), n)),
            _ => {}
        }
    }
    all
}

/// The problems of xl2tpd.conf `f` (shown under that name) with contents
/// `bytes`, each `FILE:LINE: [lns NAME]: ...`, followed by those of each
/// `pppoptfile` (read with `read`); when there are none, the verdict's
/// text after "ok: " (`None`: no LNS section). `notes` gets the notes of
/// the options files.
pub fn check_xl2tpd_conf(
    f: &str,
    bytes: &[u8],
    read: &dyn Fn(&str) -> std::io::Result<Vec<u8>>,
    notes: &mut Vec<String>,
) -> Result<Option<String>, Vec<String>> {
    let sections = lns_sections(bytes);
    if sections.is_empty() {
        return Ok(None);
    }
    let mut errors = Vec::new();
    let mut ok = Vec::new();
    for s in &sections {
        let at = |line: usize| format!("{f}:{line}: [lns {}]", escape(&s.name));
        let (assign, assign_line) = s.assign_ip.unwrap_or((true, s.line));
        match (assign, s.ip_range) {
            (true, None) => errors.push(format!(
                "{}: xl2tpd refuses every call (\"No available IP address\"): `assign ip` is yes \
                 (its default) and there is no `ip range`; set `assign ip = no`",
                at(assign_line)
            )),
            (true, Some(line)) => errors.push(format!(
                "{}: with `ip range` and `assign ip` yes, xl2tpd takes an address of its own range for \
                 each call and refuses calls once that range is used up (\"Out of IP addresses\"), \
                 whatever the pool holds; set `assign ip = no` and leave the addresses to rasstatic",
                at(line)
            )),
            (false, _) => {}
        }
        let Some((opts, line)) = &s.pppoptfile else {
            errors.push(format!(
                "{}: no `pppoptfile`: the sessions' pppd would not load rasstatic unless \
                 /etc/ppp/options does; name an options file with `plugin rasstatic.so` in it",
                at(s.line)
            ));
            continue;
        };
        let shown = escape(opts);
        let body = match read(opts) {
            Ok(b) => b,
            Err(e) => {
                errors.push(format!(
                    "{}: pppoptfile {shown}: cannot read it: {e}",
                    at(*line)
                ));
                continue;
            }
        };
        match check_file(&shown, &body, notes) {
            Ok(Some(v)) => ok.push(format!("[lns {}]: {shown}: {v}", escape(&s.name))),
            Ok(None) => errors.push(format!(
                "{}: pppoptfile {shown} has no rasstatic options: the sessions' pppd would take \
                 xl2tpd's address (`ip range`) or the one the caller asks for",
                at(*line)
            )),
            Err(p) => errors.extend(p),
        }
    }
    if errors.is_empty() {
        Ok(Some(ok.join("; ")))
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_section_header_first_makes_an_xl2tpd_conf() {
        assert!(is_xl2tpd_conf(b"; xl2tpd\n\n  [global]\nport = 1701\n"));
        assert!(is_xl2tpd_conf(b"[lns default]\n"));
        assert!(!is_xl2tpd_conf(b"plugin rasstatic.so\n[not a section]\n"));
        assert!(!is_xl2tpd_conf(b"# [global]\nnoauth\n"));
        assert!(!is_xl2tpd_conf(b""));
        // A byte-order mark before the first section, which xl2tpd skips.
        assert!(is_xl2tpd_conf(b"\xef\xbb\xbf[global]\n"));
    }

    #[test]
    fn sections_are_read_as_xl2tpd_reads_them() {
        let conf = b"[global]\nip range = 1.2.3.4-1.2.3.5\n\
            [LNS default] ; the template\n Assign IP = No\n\
            pppoptfile = /etc/ppp/a ; the options\n\
            [lac out]\npppoptfile = /etc/ppp/lac\n\
            [lns b]\nip range=10.0.0.2-10.0.0.9\nassign ip = maybe\n\
            [lns default]\nip range = 10.1.0.2-10.1.0.9\n";
        let s = lns_sections(conf);
        assert_eq!(
            s,
            vec![
                Lns {
                    name: "default".into(),
                    line: 3,
                    assign_ip: Some((false, 4)),
                    ip_range: Some(12),
                    pppoptfile: Some(("/etc/ppp/a".into(), 5)),
                },
                Lns {
                    name: "b".into(),
                    line: 8,
                    assign_ip: None,
                    ip_range: Some(9),
                    pppoptfile: None,
                },
            ]
        );
    }

    fn run(conf: &str, opts: Option<&str>) -> Result<Option<String>, Vec<String>> {
        let opts = opts.map(|o| o.as_bytes().to_vec());
        let read = move |p: &str| {
            assert_eq!(p, "/o");
            opts.clone()
                .ok_or_else(|| std::io::Error::from(std::io::ErrorKind::NotFound))
        };
        check_xl2tpd_conf("x.conf", conf.as_bytes(), &read, &mut Vec::new())
    }

    const OPTS: &str = "plugin rasstatic.so\nrasstatic-dir /nonexistent/xl2tpd-check\n\
                        rasstatic-pool 10.9.0.1-10.9.0.9\n";

    #[test]
    fn the_recommended_section_passes() {
        let v = run(
            "[lns default]\nlocal ip = 10.0.0.1\nassign ip = no\npppoptfile = /o\n",
            Some(OPTS),
        )
        .unwrap()
        .unwrap();
        assert!(
            v.starts_with("[lns default]: /o: pool 10.9.0.1-10.9.0.9"),
            "{v}"
        );
        // `ip range` is unused when xl2tpd assigns nothing.
        assert!(run(
            "[lns default]\nassign ip = no\nip range = 1.2.3.4-1.2.3.9\npppoptfile = /o\n",
            Some(OPTS)
        )
        .is_ok());
    }

    #[test]
    fn xl2tpd_assigning_addresses_is_a_problem() {
        let e = run("[lns default]\npppoptfile = /o\n", Some(OPTS)).unwrap_err();
        assert_eq!(e.len(), 1, "{e:?}");
        assert!(
            e[0].starts_with("x.conf:1: [lns default]: xl2tpd refuses every call"),
            "{e:?}"
        );
        let e = run(
            "[lns default]\nassign ip = yes\nip range = 10.67.15.1-10.67.15.9\npppoptfile = /o\n",
            Some(OPTS),
        )
        .unwrap_err();
        assert_eq!(e.len(), 1, "{e:?}");
        assert!(
            e[0].starts_with("x.conf:3: [lns default]: with `ip range`"),
            "{e:?}"
        );
        assert!(e[0].contains("Out of IP addresses"), "{e:?}");
    }

    #[test]
    fn the_options_file_is_followed() {
        let conf = "[lns default]\nassign ip = no\npppoptfile = /o\n";
        let e = run(conf, Some("noauth\n")).unwrap_err();
        assert!(e[0].starts_with("x.conf:3: [lns default]: pppoptfile /o has no rasstatic options"));
        let e = run(
            conf,
            Some("rasstatic-pool 10.9.0.1-10.9.0.9\nplugin rasstatic.so\n"),
        )
        .unwrap_err();
        assert!(
            e[0].starts_with("/o:1: rasstatic-pool comes before"),
            "{e:?}"
        );
        let e = run(conf, None).unwrap_err();
        assert!(e[0].contains("pppoptfile /o: cannot read it"), "{e:?}");
        let e = run("[lns default]\nassign ip = no\n", None).unwrap_err();
        assert!(
            e[0].starts_with("x.conf:1: [lns default]: no `pppoptfile`"),
            "{e:?}"
        );
    }

    #[test]
    fn a_file_without_an_lns_section_says_so() {
        assert_eq!(run("[global]\n[lac out]\nlns = 10.0.0.1\n", None), Ok(None));
    }
}
