//! What `rasstatic check` says of a pppd option file: its rasstatic
//! options read through the plugin's own parser ([`Config`]) from the
//! words pppd would read ([`optfile`]), the plugin directive, misspelt
//! options, the server's own address, and what the table would be.

use std::io;
use std::net::Ipv4Addr;

use crate::config::{Config, OPTIONS};
use crate::optfile::{self, Word, MAX_WORD};
use crate::table::{self, layout::Sections, Table, TableError};
use crate::text::escape;

pub mod pptpd;
pub mod xl2tpd;

/// pppd options whose value is free text (a name, a command), so that a
/// value looking like an option is not taken for a misspelt one.
const TEXT_VALUED: &[&str] = &[
    "name",
    "user",
    "remotename",
    "ipparam",
    "linkname",
    "call",
    "file",
    "connect",
    "disconnect",
    "init",
    "welcome",
    "pty",
    "logfile",
    "ifname",
    "password",
    "remotenumber",
    "ip-up-script",
    "ip-down-script",
    "auth-up-script",
    "auth-down-script",
];

/// Whether `v` (the word after `plugin`) loads this plugin: the file
/// `rasstatic.so` in pppd's plugin directory, or a path ending in it.
fn is_our_plugin(v: &str) -> bool {
    v == "rasstatic.so" || v.ends_with("/rasstatic.so")
}

/// Levenshtein distance, for suggestions.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, &cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != cb))
                .min(prev[j + 1] + 1)
                .min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// A word that looks like one of ours but is not: what pppd will say, and
/// the nearest real option.
fn unknown_option(w: &str) -> String {
    let (best, d) = OPTIONS
        .iter()
        .map(|o| (o.0, distance(&w.to_ascii_lowercase(), o.0)))
        .min_by_key(|x| x.1)
        .expect("options");
    let hint = if d <= best.len() / 2 {
        format!("did you mean {best}?")
    } else {
        let all: Vec<&str> = OPTIONS.iter().map(|o| o.0).collect();
        format!("the options are {}", all.join(", "))
    };
    format!(
        "unknown option \"{}\": pppd would stop on it ({hint})",
        escape(w)
    )
}

fn looks_like_ours(w: &str) -> bool {
    let w = w.to_ascii_lowercase();
    w.starts_with("rasstatic") || w.starts_with("norasstatic")
}

/// The local address of a `local:remote` word, if it names one as an IPv4
/// address (pppd also takes host names, which are not looked up here).
fn local_address(w: &str) -> Option<Ipv4Addr> {
    let (local, _) = w.split_once(':')?;
    local.parse().ok()
}

/// A file size for people: KiB below a MiB, else MiB.
fn size(bytes: usize) -> String {
    match bytes {
        b if b < 1 << 20 => format!("{} KiB", b.div_ceil(1024)),
        b => format!("{:.1} MiB", b as f64 / f64::from(1 << 20)),
    }
}

/// The problems of file `f` (shown under that name) with contents
/// `bytes`, each `FILE:LINE: ...` or `FILE: ...`; when there are none, the
/// verdict's text after "ok: " (`None`: no rasstatic options at all).
/// `notes` gets what is worth knowing but does not stop pppd or the
/// plugin.
pub fn check_file(
    f: &str,
    bytes: &[u8],
    notes: &mut Vec<String>,
) -> Result<Option<String>, Vec<String>> {
    let words = optfile::words(bytes);
    let mut cfg = Config::default();
    let mut plugin_seen = false;
    let mut any = false;
    let mut errors = Vec::new();
    let mut local: Option<(Ipv4Addr, usize)> = None;
    let at = |w: &Word| format!("{f}:{}", w.line);
    let mut i = 0;
    while i < words.len() {
        let w = &words[i];
        if w.text == "plugin" {
            if let Some(v) = words.get(i + 1) {
                plugin_seen |= is_our_plugin(&v.text);
            }
            i += 2;
            continue;
        }
        let not_ours = |w: &Word, notes: &mut Vec<String>| {
            if let Some(b) = w.not_utf8 {
                notes.push(format!(
                    "{}: note: \"{}\" is not UTF-8 (byte 0x{b:02x}); pppd takes it as it is, \
                     and rasstatic does not read it",
                    at(w),
                    escape(&w.text)
                ));
            }
        };
        if TEXT_VALUED.contains(&w.text.as_str()) {
            if let Some(v) = words.get(i + 1) {
                not_ours(v, notes);
            }
            i += 2;
            continue;
        }
        let Some(&(opt, takes_value, _)) = OPTIONS.iter().find(|o| o.0 == w.text) else {
            if looks_like_ours(&w.text) {
                any = true;
                errors.push(format!("{}: {}", at(w), unknown_option(&w.text)));
            } else if w.not_utf8.is_some() {
                not_ours(w, notes);
            } else if let Some(a) = local_address(&w.text) {
                local = Some((a, w.line));
            }
            i += 1;
            continue;
        };
        any = true;
        if !plugin_seen {
            errors.push(format!(
                "{}: {opt} comes before \"plugin rasstatic.so\"; pppd would call it an unrecognized option",
                at(w)
            ));
        }
        let value = if takes_value {
            match words.get(i + 1) {
                Some(v) => Some(v),
                None => {
                    errors.push(format!("{}: {opt} needs a value", at(w)));
                    break;
                }
            }
        } else {
            None
        };
        i += if takes_value { 2 } else { 1 };
        if let Some(v) = value {
            if let Some(b) = v.not_utf8 {
                errors.push(format!(
                    "{}: {opt} \"{}\": byte 0x{b:02x} is not UTF-8",
                    at(v),
                    escape(&v.text)
                ));
                continue;
            }
            if v.len > MAX_WORD {
                errors.push(format!(
                    "{}: {opt}: the value is {} bytes long; pppd reads at most {MAX_WORD} bytes of a word \
                     and would cut it (give exclusions over several rasstatic-exclude options)",
                    at(v),
                    v.len
                ));
                continue;
            }
        }
        if let Err(e) = cfg.apply(opt, value.map(|v| v.text.as_str())) {
            errors.push(format!(
                "{}: {}",
                at(value.unwrap_or(w)),
                escape(&e.to_string())
            ));
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    if !any && !plugin_seen {
        return Ok(None);
    }
    let pool = cfg.resolve().map_err(|e| vec![format!("{f}: {e}")])?;
    if let Some((a, line)) = local {
        Config::check_local(&pool, a).map_err(|e| vec![format!("{f}:{line}: {e}")])?;
    }
    let path = table::table_path(&cfg.dir, &cfg.name);
    let need = Sections::new(pool.size(), pool.ranges().len() as u32, 0).total;
    let note = match Table::open_existing(&cfg.dir, &cfg.name) {
        Ok(t) if t.pool() == &pool => "exists, same pool".to_string(),
        Ok(t) => redefinition(&t, &pool),
        Err(TableError::Io { err, .. }) if err.kind() == io::ErrorKind::NotFound => {
            "not created yet".into()
        }
        Err(e) if e.is_damage() => format!(
            "damaged: {}; pppd will move it aside and rebuild it from the kernel's sessions",
            escape(&e.to_string())
        ),
        Err(e) => {
            return Err(vec![format!(
                "{f}: the table is refused: {}",
                escape(&e.to_string())
            )])
        }
    };
    Ok(Some(format!(
        "pool {pool} ({} addresses), policy {}, table {} ({note}), {} of tmpfs",
        pool.size(),
        cfg.policy.name(),
        escape(&path.display().to_string()),
        size(need)
    )))
}

/// What a pppd started now with `pool` would do to table `t`, which holds
/// another pool: its definition is the newest, so the table is rebuilt
/// for it, each live lease kept or draining, and the new addresses free.
fn redefinition(t: &Table, pool: &crate::pool::Pool) -> String {
    let live = t.liveness();
    let (mut kept, mut draining) = (0u32, Vec::new());
    for l in t.leases() {
        if let table::LeaseState::Leased(o) = l.state {
            if !crate::protocol::Liveness::is_alive(&live, o) {
                continue;
            }
            if pool.contains(l.addr) {
                kept += 1;
            } else {
                draining.push(l.addr);
            }
        }
    }
    let both: u64 = pool
        .ranges()
        .iter()
        .flat_map(|a| t.pool().ranges().iter().map(move |b| (a, b)))
        .map(|(a, b)| {
            let (lo, hi) = (a.first.max(b.first), a.last.min(b.last));
            if lo <= hi {
                u64::from(hi - lo) + 1
            } else {
                0
            }
        })
        .sum();
    let new = u64::from(pool.size()) - both;
    let shown: Vec<String> = draining.iter().take(8).map(|a| a.to_string()).collect();
    let more = if draining.len() > 8 { ", ..." } else { "" };
    let list = if draining.is_empty() {
        String::new()
    } else {
        format!(": {}{more}", shown.join(", "))
    };
    format!(
        "exists with pool {} (\"{}\"); a pppd started with this file rebuilds it for this pool: \
         {kept} live lease(s) kept, {} draining until their calls end{list}, {new} new address(es)",
        t.pool(),
        escape(&t.spec()),
        draining.len()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_plugin_file_itself_counts() {
        assert!(is_our_plugin("rasstatic.so"));
        assert!(is_our_plugin("/usr/lib/pppd/2.4.9/rasstatic.so"));
        assert!(!is_our_plugin("notrasstatic.so"));
        assert!(!is_our_plugin("/opt/notrasstatic.so"));
        assert!(!is_our_plugin("rasstatic.so.bak"));
    }

    #[test]
    fn misspelt_options_get_the_nearest_one() {
        assert!(unknown_option("rasstatic-pools").ends_with("(did you mean rasstatic-pool?)"));
        assert!(unknown_option("rasstatic-polcy").ends_with("(did you mean rasstatic-policy?)"));
        assert!(unknown_option("norasstatic-watchdg").contains("norasstatic-watchdog?"));
        assert!(unknown_option("rasstatic-frobnicate-everything-now").contains("the options are"));
    }
}
