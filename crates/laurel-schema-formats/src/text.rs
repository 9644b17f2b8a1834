//! How values are written: cut short in messages, exactly in the text formats.

/// Shows a value from the input in a message, cut to a readable length.
pub(crate) fn shown(text: &str) -> String {
    laurel_core::shown(text, 40)
}

/// Formats a number the way the text formats write it: shortest form that reads back exactly.
pub(crate) fn number_text(v: f64) -> String {
    format!("{v}")
}
