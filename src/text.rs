//! Text for a terminal: names that callers and files choose (peer names,
//! devices, option values) are escaped before they are shown, so that none
//! can forge a row or send the terminal a control sequence.

use std::borrow::Cow;
use std::fmt::Write as _;

/// Whether `c` must not reach a terminal as it is: control characters (C0,
/// DEL, C1: escape sequences, line breaks, backspace), and the invisible
/// format characters that reorder or hide text (bidirectional overrides,
/// zero-width characters, line and paragraph separators).
fn unsafe_char(c: char) -> bool {
    c.is_control()
        || matches!(c,
            '\u{ad}'                      // soft hyphen
            | '\u{34f}'                   // combining grapheme joiner
            | '\u{61c}'                   // Arabic letter mark (bidi)
            | '\u{180e}'                  // Mongolian vowel separator
            | '\u{200b}'..='\u{200f}'
            | '\u{2028}'..='\u{202e}'
            | '\u{2060}'..='\u{206f}'
            | '\u{fe00}'..='\u{fe0f}'    // variation selectors
            | '\u{feff}'
            | '\u{fff9}'..='\u{fffb}'
            | '\u{e0000}'..='\u{e007f}'  // tag characters
            | '\u{e0100}'..='\u{e01ef}') // variation selectors supplement
}

/// `s` made safe for a terminal and for columns: a backslash is doubled,
/// `\n`, `\r` and `\t` are written so, other control characters below
/// U+0080 as `\xNN` and the rest of `unsafe_char` as `\u{NNNN}`.
/// Anything else, including U+FFFD (how a stored byte that is not UTF-8
/// reads), is printable and kept.
pub fn escape(s: &str) -> Cow<'_, str> {
    if !s.chars().any(|c| c == '\\' || unsafe_char(c)) {
        return Cow::Borrowed(s);
    }
    let mut o = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\\' => o.push_str("\\\\"),
            '\n' => o.push_str("\\n"),
            '\r' => o.push_str("\\r"),
            '\t' => o.push_str("\\t"),
            c if unsafe_char(c) && (c as u32) < 0x80 => {
                let _ = write!(o, "\\x{:02x}", c as u32);
            }
            c if unsafe_char(c) => {
                let _ = write!(o, "\\u{{{:x}}}", c as u32);
            }
            c => o.push(c),
        }
    }
    Cow::Owned(o)
}

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn escapes_what_a_terminal_would_act_on() {
        assert_eq!(escape("alice"), "alice");
        assert_eq!(escape("Jos\u{e9}"), "Jos\u{e9}");
        assert_eq!(escape("\u{1b}[2J"), "\\x1b[2J");
        assert_eq!(escape("a\nb\r\tc\u{7f}\u{0}"), "a\\nb\\r\\tc\\x7f\\x00");
        assert_eq!(escape("\u{9b}31m"), "\\u{9b}31m");
        assert_eq!(escape("x\u{202e}y\u{200b}"), "x\\u{202e}y\\u{200b}");
        assert_eq!(escape("a\\x1b"), "a\\\\x1b");
        assert_eq!(escape("\u{fffd}"), "\u{fffd}");
        assert_eq!(
            escape("a\u{61c}b\u{ad}c\u{e0041}d\u{fe0f}"),
            "a\\u{61c}b\\u{ad}c\\u{e0041}d\\u{fe0f}"
        );
    }
}
