//! One file per CI provider; each renders the whole config as text, deterministically (no
//! time, version or commit in it), so `kdc ci check` can compare byte for byte.

pub mod circleci;
pub mod github;
pub mod gitlab;
pub mod travis;

/// YAML list items, one quoted command each, indented by `n` spaces.
pub(crate) fn items(commands: &[&str], n: usize) -> String {
    let pad = " ".repeat(n);
    commands
        .iter()
        .map(|c| format!("{pad}- {}\n", crate::ci::quote(c)))
        .collect()
}

/// `s` indented by `n` spaces on every non-empty line.
pub(crate) fn indent(s: &str, n: usize) -> String {
    let pad = " ".repeat(n);
    s.lines()
        .map(|l| {
            if l.is_empty() {
                "\n".to_string()
            } else {
                format!("{pad}{l}\n")
            }
        })
        .collect()
}
