//! Reading pppd option files for `rasstatic check`: pppd's word syntax
//! (words separated by ASCII white space, `#` comments, single and double
//! quotes, backslash escapes), read as pppd's `getword` reads it, with the
//! line each word starts on.
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

/// The value of the escape sequence starting at `file[i]` (the byte after
/// the backslash) and the index after it, as pppd decodes it: `\a \b \f
/// \n \r \t`, `\s` (a space), up to three octal digits, `\x` and up to
/// two hex digits, otherwise the byte itself.
fn escaped(file: &[u8], i: usize) -> (u8, usize) {
    let c = file[i];
    let simple = match c {
        b'a' => Some(7),
        b'b' => Some(8),
        b'f' => Some(12),
        b'n' => Some(b'\n'),
        b'r' => Some(b'\r'),
        b's' => Some(b' '),
        b't' => Some(b'\t'),
        _ => None,
    };
    if let Some(v) = simple {
        return (v, i + 1);
    }
    let digits = |from: usize, max: usize, radix: u32| {
        let mut v: u32 = 0;
        let mut j = from;
        while j < file.len() && j - from < max {
            match (file[j] as char).to_digit(radix) {
                Some(d) => v = v * radix + d,
                None => break,
            }
            j += 1;
        }
        // pppd stores the value in a char: only its low byte counts.
        (v as u8, j)
    };
    match c {
        b'0'..=b'7' => digits(i, 3, 8),
        b'x' => digits(i + 1, 2, 16),
        c => (c, i + 1),
    }
}

/// Split an option file into words exactly as pppd's `getword` reads
/// them: white space and `#` end a word unless quoted or escaped; a `#`
/// between words starts a comment to the end of the line; single and
/// double quotes group; a backslash escapes the next byte (C escapes
/// decoded, backslash-newline ignored, also between words). A UTF-8 byte
/// order mark at the start is skipped. A word is cut at a NUL byte, as
/// pppd's C string would be.
pub fn words(file: &[u8]) -> Vec<Word> {
    let file = file.strip_prefix(b"\xef\xbb\xbf").unwrap_or(file);
    let mut out = Vec::new();
    let mut i = 0;
    let mut line = 1;
    loop {
        // Between words: white space, comments, backslash-newline.
        let mut comment = false;
        let mut escape = false;
        while i < file.len() {
            let c = file[i];
            if c == b'\n' {
                line += 1;
                comment = false;
                escape = false;
            } else if comment {
            } else if escape {
                break; // an escaped byte starts a word
            } else if c == b'\\' {
                escape = true;
            } else if c == b'#' {
                comment = true;
            } else if !space(c) {
                break;
            }
            i += 1;
        }
        if i >= file.len() {
            return out;
        }
        let start = line;
        let mut w = Vec::new();
        let mut quote: Option<u8> = None;
        while i < file.len() {
            let c = file[i];
            if escape {
                escape = false;
                if c == b'\n' {
                    line += 1;
                    i += 1;
                    continue;
                }
                let (v, next) = escaped(file, i);
                w.push(v);
                i = next;
                continue;
            }
            match quote {
                _ if c == b'\\' => {
                    escape = true;
                    i += 1;
                    continue;
                }
                Some(q) if c == q => {
                    quote = None;
                    i += 1;
                    continue;
                }
                Some(_) => {}
                None if c == b'"' || c == b'\'' => {
                    quote = Some(c);
                    i += 1;
                    continue;
                }
                None if space(c) || c == b'#' => break,
                None => {}
            }
            if c == b'\n' {
                line += 1;
            }
            w.push(c);
            i += 1;
        }
        let len = w.len();
        if let Some(nul) = w.iter().position(|&b| b == 0) {
            w.truncate(nul);
        }
        let not_utf8 = std::str::from_utf8(&w).err().map(|e| w[e.valid_up_to()]);
        out.push(Word {
            text: String::from_utf8_lossy(&w).into_owned(),
            not_utf8,
            len,
            line: start,
        });
    }
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

    #[test]
    fn read_as_pppd_reads_them_hash_escapes_and_continuations() {
        // An unquoted # ends a word and starts a comment.
        assert_eq!(
            texts(b"rasstatic-pool 10.9.0.1-10.9.0.9#lines 1-4\nrasstatic-name pool#2\n"),
            vec![
                ("rasstatic-pool".into(), 1),
                ("10.9.0.1-10.9.0.9".into(), 1),
                ("rasstatic-name".into(), 2),
                ("pool".into(), 2),
            ]
        );
        // Quoted or escaped, it is part of the word.
        assert_eq!(
            texts(b"'a#b' c\\#d"),
            vec![("a#b".into(), 1), ("c#d".into(), 1)]
        );
        // C escapes: \x31 is "1", \061 too, \s a space.
        assert_eq!(
            texts(b"10.9.0.\\x31 10.9.0.\\061 a\\sb \\t"),
            vec![
                ("10.9.0.1".into(), 1),
                ("10.9.0.1".into(), 1),
                ("a b".into(), 1),
                ("\t".into(), 1),
            ]
        );
        // A backslash-newline between words (or inside one) is nothing.
        assert_eq!(
            texts(b"rasstatic-pool \\\n 10.9.0.1-10.9.0.9\nab\\\ncd\n"),
            vec![
                ("rasstatic-pool".into(), 1),
                ("10.9.0.1-10.9.0.9".into(), 2),
                ("abcd".into(), 3),
            ]
        );
        // An escaped space starts a word.
        assert_eq!(texts(b"\\ x"), vec![(" x".into(), 1)]);
    }
}
