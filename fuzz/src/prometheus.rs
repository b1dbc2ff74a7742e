//! A strict reading of the Prometheus text exposition format (version
//! 0.0.4), as far as `rasstatic stats --prometheus` uses it: `# HELP` and
//! `# TYPE` lines, then samples `name{label="value",...} number`, each
//! metric's HELP and TYPE once and before its samples.

use std::collections::HashSet;

fn metric_name(s: &str) -> bool {
    let mut c = s.chars();
    c.next()
        .is_some_and(|f| f.is_ascii_alphabetic() || f == '_' || f == ':')
        && c.all(|x| x.is_ascii_alphanumeric() || x == '_' || x == ':')
}

fn label_name(s: &str) -> bool {
    let mut c = s.chars();
    c.next()
        .is_some_and(|f| f.is_ascii_alphabetic() || f == '_')
        && c.all(|x| x.is_ascii_alphanumeric() || x == '_')
        && !s.starts_with("__")
}

/// `{a="x",b="y"}` at the start of `s`: the labels and what follows.
fn labels(mut s: &str) -> Result<(Vec<String>, &str), String> {
    let mut names = Vec::new();
    s = s.strip_prefix('{').ok_or("no {")?;
    loop {
        if let Some(rest) = s.strip_prefix('}') {
            return Ok((names, rest));
        }
        let eq = s.find('=').ok_or("a label without =")?;
        let name = &s[..eq];
        if !label_name(name) {
            return Err(format!("bad label name {name:?}"));
        }
        if names.iter().any(|n| n == name) {
            return Err(format!("label {name} twice"));
        }
        names.push(name.to_string());
        s = s[eq + 1..]
            .strip_prefix('"')
            .ok_or("an unquoted label value")?;
        // The value: any UTF-8 but a bare " or \ or line break; escapes
        // \\, \" and \n only.
        let mut chars = s.char_indices();
        let end = loop {
            match chars.next() {
                None => return Err("an unterminated label value".into()),
                Some((i, '"')) => break i,
                Some((_, '\\')) => match chars.next() {
                    Some((_, '\\' | '"' | 'n')) => {}
                    other => return Err(format!("bad escape {other:?}")),
                },
                Some((_, '\n')) => return Err("a line break in a label value".into()),
                Some(_) => {}
            }
        };
        s = &s[end + 1..];
        if let Some(rest) = s.strip_prefix(',') {
            s = rest;
        } else if !s.starts_with('}') {
            return Err("labels not separated by ,".into());
        }
    }
}

fn value(s: &str) -> bool {
    matches!(s, "NaN" | "+Inf" | "-Inf") || s.parse::<f64>().is_ok_and(|v| v.is_finite())
}

/// Check a whole exposition; the error names the line.
pub fn check(text: &str) -> Result<(), String> {
    if !text.ends_with('\n') {
        return Err("no final line break".into());
    }
    let mut helped = HashSet::new();
    let mut typed = HashSet::new();
    let mut sampled = HashSet::new();
    for (n, line) in text.lines().enumerate() {
        let bad = |why: String| Err(format!("line {}: {why}: {line:?}", n + 1));
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, help) = rest.split_once(' ').unwrap_or((rest, ""));
            if !metric_name(name) || !helped.insert(name.to_string()) || sampled.contains(name) {
                return bad("a misplaced HELP".into());
            }
            if help.chars().any(char::is_control) {
                return bad("a control character in HELP".into());
            }
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let Some((name, kind)) = rest.split_once(' ') else {
                return bad("a TYPE without a type".into());
            };
            let known = ["counter", "gauge", "histogram", "summary", "untyped"];
            if !metric_name(name)
                || !known.contains(&kind)
                || !typed.insert(name.to_string())
                || sampled.contains(name)
            {
                return bad("a misplaced TYPE".into());
            }
        } else if line.starts_with('#') {
            return bad("a comment that is neither HELP nor TYPE".into());
        } else {
            let end = line.find(['{', ' ']).unwrap_or(line.len());
            let name = &line[..end];
            if !metric_name(name) {
                return bad("a bad metric name".into());
            }
            let rest = &line[end..];
            let rest = if rest.starts_with('{') {
                match labels(rest) {
                    Ok((_, rest)) => rest,
                    Err(e) => return bad(e),
                }
            } else {
                rest
            };
            let Some(v) = rest.strip_prefix(' ') else {
                return bad("no value".into());
            };
            if !value(v) {
                return bad(format!("a bad value {v:?}"));
            }
            sampled.insert(name.to_string());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::check;

    #[test]
    fn strict() {
        assert!(check("# HELP a x\n# TYPE a gauge\na{p=\"q\"} 1\n").is_ok());
        assert!(check("a{p=\"q\\\"\"} 1\n").is_ok());
        assert!(check("a{p=\"q\"\"} 1\n").is_err());
        assert!(check("a{p=\"q\nb\"} 1\n").is_err());
        assert!(check("a{p=\"q\\x\"} 1\n").is_err());
        assert!(check("a 1\n# TYPE a gauge\n").is_err());
        assert!(check("a{p=\"q\"} one\n").is_err());
        assert!(check("a{p=\"q\"} 1").is_err());
        assert!(check("1a 1\n").is_err());
    }
}
