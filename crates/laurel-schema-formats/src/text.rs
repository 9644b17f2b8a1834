//! Text helpers: values cut short in messages and exact in the text
//! formats, and the lines of the one-entry-per-line files.

/// Shows a value from the input in a message, cut to a readable length.
pub(crate) fn shown(text: &str) -> String {
    laurel_core::shown(text, 40)
}

/// Formats a number the way the text formats write it: shortest form that reads back exactly.
pub(crate) fn number_text(v: f64) -> String {
    format!("{v}")
}

/// The lines of a file of one entry per line (`stats.txt`,
/// `leaderboards.txt`) that hold something, each with its location
/// (`line N`): a leading byte-order mark and `\r\n` line ends are
/// accepted, blank lines skipped.
pub(crate) fn entry_lines(text: &str) -> impl Iterator<Item = (String, &str)> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    text.split('\n').enumerate().filter_map(|(i, line)| {
        let line = line.strip_suffix('\r').unwrap_or(line);
        (!line.trim().is_empty()).then(|| (format!("line {}", i + 1), line))
    })
}
