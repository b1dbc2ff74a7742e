//! `/proc/PID/stat` as the plugin, the watchdog and the commands read it to
//! tell a holder's identity and whether it is alive. Its second field is
//! the process's name, which any process sets to what it likes (up to 15
//! bytes: spaces, parentheses, line breaks), so the line is hostile input
//! to a root process. Input: the file's bytes.

use rasstatic::owner::parse_stat;

pub fn run(data: &[u8]) {
    let Some(st) = parse_stat(data) else {
        return;
    };
    // The state is the first byte after the name's closing parenthesis and
    // white space: never part of the name.
    let close = data
        .iter()
        .rposition(|&b| b == b')')
        .expect("a parsed line has a )");
    assert!(data[close + 1..].contains(&st.state));
    // A name that ends like a stat line cannot pass for one: parsing counts
    // from the last ')', so putting the line after another ')' changes
    // nothing.
    let mut framed = b"1 (x) ".to_vec();
    framed.extend_from_slice(data);
    let again = parse_stat(&framed).expect("the same fields after the last )");
    assert_eq!((again.state, again.start_ticks), (st.state, st.start_ticks));
}
