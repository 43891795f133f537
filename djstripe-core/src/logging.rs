//! Text from outside (a delivery's fields, a form's user name, Stripe's error text) made safe to
//! write to a log: without escaping, a newline in it forges a whole log line and an escape
//! sequence reaches the operator's terminal.

use std::borrow::Cow;

/// `text` with every control character (newline, carriage return, escape, NUL, ...) written as
/// its Rust escape (`\n`, `\u{1b}`); other text, including non-ASCII letters, unchanged.
///
/// ```
/// use djstripe_core::logging::escaped;
/// assert_eq!(escaped("alice"), "alice");
/// assert_eq!(escaped("x\nINFO forged line"), "x\\nINFO forged line");
/// assert_eq!(escaped("\u{1b}[31mred"), "\\u{1b}[31mred");
/// assert_eq!(escaped("Zoë"), "Zoë");
/// ```
pub fn escaped(text: &str) -> Cow<'_, str> {
    if !text.chars().any(char::is_control) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// [`escaped`] of a value's `Display` (an error whose message quotes outside text).
///
/// ```
/// let error = djstripe_core::Error::InvalidEventId { id: "evt_1\nforged".into() };
/// assert_eq!(djstripe_core::logging::escaped_display(&error), "`evt_1\\nforged` is not a Stripe event id");
/// ```
pub fn escaped_display(value: &impl std::fmt::Display) -> String {
    escaped(&value.to_string()).into_owned()
}
