//! Reading pppd option files for `rasstatic check`: pppd's word syntax
//! (words separated by ASCII white space, `#` comments, single and double
//! quotes, backslash escapes), with the line each word starts on.
//!
//! pppd reads bytes, not text: a byte that is not UTF-8 in a comment is
//! nothing to it, and one in a word is passed on as it is. So is this
//! reader: it splits bytes, and says which words are not UTF-8.

/// The longest word pppd reads from an option file (`MAXWORDLEN` less its
/// NUL); it cuts a longer word there, with a warning.
pub const MAX_WORD: usize = 1023;

/// One word of an option file and the line it starts on (1-based).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Word {
    /// The word, with any byte that is not UTF-8 replaced by U+FFFD (as the
    /// plugin decodes the values pppd hands it).
    pub text: String,
    /// The first byte of the word that is not UTF-8, if any.
    pub not_utf8: Option<u8>,
    /// The word's length in bytes.
    pub len: usize,
    pub line: usize,
}

/// pppd's (C locale) white space.
fn space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

/// Split an option file into words, as pppd's options.c:getword does for
/// the cases that matter here. A UTF-8 byte order mark at the start is
/// skipped.
pub fn words(file: &[u8]) -> Vec<Word> {
    let file = file.strip_prefix(b"\xef\xbb\xbf").unwrap_or(file);
    let mut out = Vec::new();
    let mut i = 0;
    let mut line = 1;
    while i < file.len() {
        let c = file[i];
        if c == b'\n' {
            line += 1;
            i += 1;
            continue;
        }
        if space(c) {
            i += 1;
            continue;
        }
        if c == b'#' {
            while i < file.len() && file[i] != b'\n' {
                i += 1;
            }
            continue;
        }
        let start = line;
        let mut w = Vec::new();
        let mut quote: Option<u8> = None;
        while i < file.len() {
            let c = file[i];
            match (quote, c) {
                (None, c) if space(c) => break,
                (None, b'"' | b'\'') => {
                    quote = Some(c);
                    i += 1;
                }
                (Some(q), c) if c == q => {
                    quote = None;
                    i += 1;
                }
                (_, b'\\') => {
                    i += 1;
                    match file.get(i) {
                        Some(b'\n') => line += 1,
                        Some(&e) => w.push(e),
                        None => {}
                    }
                    i += 1;
                }
                (_, c) => {
                    if c == b'\n' {
                        line += 1;
                    }
                    w.push(c);
                    i += 1;
                }
            }
        }
        let not_utf8 = std::str::from_utf8(&w).err().map(|e| w[e.valid_up_to()]);
        out.push(Word {
            text: String::from_utf8_lossy(&w).into_owned(),
            not_utf8,
            len: w.len(),
            line: start,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(f: &[u8]) -> Vec<(String, usize)> {
        words(f).into_iter().map(|w| (w.text, w.line)).collect()
    }

    #[test]
    fn words_lines_comments_quotes() {
        let t = "# comment\nplugin rasstatic.so\n  rasstatic-pool \"10.0.0.1-10.0.0.9\" # trailing\nname 'a b'\\\n x\\ y\n";
        assert_eq!(
            texts(t.as_bytes()),
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

    #[test]
    fn latin1_in_a_comment_is_nothing_and_in_a_word_is_named() {
        let w = words(b"# Jos\xe9's modem\nplugin rasstatic.so\nuser jos\xe9\n");
        assert_eq!(w.len(), 4);
        assert!(w[..3].iter().all(|w| w.not_utf8.is_none()));
        assert_eq!((w[3].not_utf8, w[3].line, w[3].len), (Some(0xe9), 3, 4));
        assert_eq!(w[3].text, "jos\u{fffd}");
    }

    #[test]
    fn a_byte_order_mark_is_skipped_and_only_ascii_space_separates() {
        assert_eq!(
            texts(b"\xef\xbb\xbfplugin rasstatic.so\n"),
            vec![("plugin".into(), 1), ("rasstatic.so".into(), 1)]
        );
        // U+00A0 (no-break space) is part of a word for pppd.
        assert_eq!(texts("a\u{a0}b".as_bytes()), vec![("a\u{a0}b".into(), 1)]);
        // A BOM elsewhere is not skipped.
        assert_eq!(words(b"a \xef\xbb\xbf").len(), 2);
    }
}
