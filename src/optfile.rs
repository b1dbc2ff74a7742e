//! Reading pppd option files for `rasstatic check`: pppd's word syntax
//! (whitespace-separated words, `#` comments, single and double quotes,
//! backslash escapes), with the line each word starts on.

/// One word of an option file and the line it starts on (1-based).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Word {
    pub text: String,
    pub line: usize,
}

/// Split an option file into words, as pppd's options.c:getword does for
/// the cases that matter here.
pub fn words(text: &str) -> Vec<Word> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    let mut line = 1;
    while let Some(&c) = chars.peek() {
        if c == '\n' {
            line += 1;
            chars.next();
            continue;
        }
        if c.is_whitespace() {
            chars.next();
            continue;
        }
        if c == '#' {
            while let Some(&c) = chars.peek() {
                if c == '\n' {
                    break;
                }
                chars.next();
            }
            continue;
        }
        let start = line;
        let mut w = String::new();
        let mut quote: Option<char> = None;
        while let Some(&c) = chars.peek() {
            match (quote, c) {
                (None, c) if c.is_whitespace() => break,
                (None, '"' | '\'') => {
                    quote = Some(c);
                    chars.next();
                }
                (Some(q), c) if c == q => {
                    quote = None;
                    chars.next();
                }
                (_, '\\') => {
                    chars.next();
                    match chars.next() {
                        Some('\n') => line += 1,
                        Some(e) => w.push(e),
                        None => {}
                    }
                }
                (_, c) => {
                    if c == '\n' {
                        line += 1;
                    }
                    w.push(c);
                    chars.next();
                }
            }
        }
        out.push(Word {
            text: w,
            line: start,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_lines_comments_quotes() {
        let t = "# comment\nplugin rasstatic.so\n  rasstatic-pool \"10.0.0.1-10.0.0.9\" # trailing\nname 'a b'\\\n x\\ y\n";
        let w: Vec<(String, usize)> = words(t).into_iter().map(|w| (w.text, w.line)).collect();
        assert_eq!(
            w,
            vec![
                ("plugin".into(), 2),
                ("rasstatic.so".into(), 2),
                ("rasstatic-pool".into(), 3),
                ("10.0.0.1-10.0.0.9".into(), 3),
                ("name".into(), 4),
                ("a b".into(), 4),
                ("x y".into(), 5),
            ]
        );
    }
}
