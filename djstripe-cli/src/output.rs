//! What the commands print: `say!` (a line on stdout whose failure is an [`Error::Stdout`](crate::Error::Stdout), so
//! that a closed pipe ends the command quietly instead of a panic) and tables whose columns fit
//! their content.

use comfy_table::{ContentArrangement, Table, presets};

use crate::Result;

/// `println!` that returns `Err(Error::Stdout)` instead of panicking when stdout is gone.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout(), $($arg)*).map_err($crate::Error::Stdout)
    }};
}

/// A table with these column titles: no borders, two spaces between columns that are as wide
/// as their widest cell (never wrapped, whatever the terminal: an id stays on one line).
pub(crate) fn table<const N: usize>(header: [&str; N]) -> Table {
    let mut table = Table::new();
    table.load_preset(presets::NOTHING).set_content_arrangement(ContentArrangement::Disabled).set_header(header);
    for column in table.column_iter_mut() {
        column.set_padding((0, 2));
    }
    table
}

/// A cell's text: `-` for nothing (so that every line has as many words as columns).
pub(crate) fn cell(text: Option<&str>) -> String {
    match text.map(str::trim) {
        Some(t) if !t.is_empty() => t.to_owned(),
        _ => "-".to_owned(),
    }
}

/// The first line of `text`, at most `max` characters (`…` marks a cut).
pub(crate) fn shorten(text: &str, max: usize) -> String {
    let line = text.lines().next().unwrap_or_default();
    if line.chars().count() > max {
        format!("{}…", line.chars().take(max).collect::<String>())
    } else {
        line.to_owned()
    }
}

/// Prints the table: the header, then one line per row, without trailing spaces.
pub(crate) fn print(table: &Table) -> Result<()> {
    let text = table.trim_fmt();
    let text: Vec<&str> = text.lines().filter(|line| !line.trim().is_empty()).collect();
    say!("{}", text.join("\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_fit_their_widest_cell() {
        let mut t = table(["id", "uuid", "n"]);
        t.add_row(["1", "6f1c1d0e-8a4b-4c43-9d7e-2f0a6f1c1d0e", "-"]);
        t.add_row(["12345", "short", "2"]);
        let text = t.trim_fmt();
        let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
        assert_eq!(
            lines,
            [
                "id     uuid                                  n",
                "1      6f1c1d0e-8a4b-4c43-9d7e-2f0a6f1c1d0e  -",
                "12345  short                                 2",
            ]
        );
    }
}
