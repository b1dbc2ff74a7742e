//! The README's examples, for the tests that hold the code and the
//! scenarios to them.

/// The code blocks of README.md's section `## TITLE`, in order: each
/// without its language tag and surrounding blank lines, ending in a
/// newline.
pub fn blocks(title: &str) -> Vec<String> {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("README.md");
    let start = readme
        .find(&format!("\n## {title}\n"))
        .unwrap_or_else(|| panic!("README.md has no section \"{title}\""));
    let section = &readme[start + 1..];
    let section = &section[..section[3..].find("\n## ").map_or(section.len(), |e| e + 3)];
    section
        .split("```")
        .skip(1)
        .step_by(2)
        .map(|b| {
            b.trim_start_matches(|c: char| c.is_ascii_alphabetic())
                .trim()
                .to_string()
                + "\n"
        })
        .collect()
}
