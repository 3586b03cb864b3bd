//! Messages about a configuration file, located the way editors and compilers print them
//! (`file:line:col: message`) so a terminal or IDE can jump to the spot.

use std::fmt;

/// One error or warning about a configuration source. `line` and `col` are 1-based; `col`
/// counts characters, not bytes, so it matches what an editor shows for non-ASCII lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub file: String,
    pub line: Option<usize>,
    pub col: Option<usize>,
    pub message: String,
}

impl Diagnostic {
    /// A diagnostic that applies to the whole file.
    pub fn unlocated(file: impl Into<String>, message: impl Into<String>) -> Self {
        Diagnostic {
            file: file.into(),
            line: None,
            col: None,
            message: message.into(),
        }
    }

    /// A diagnostic at a known (line, col) position.
    pub fn at(
        file: impl Into<String>,
        pos: Option<(usize, usize)>,
        message: impl Into<String>,
    ) -> Self {
        Diagnostic {
            file: file.into(),
            line: pos.map(|(l, _)| l),
            col: pos.map(|(_, c)| c),
            message: message.into(),
        }
    }

    /// A diagnostic at a byte offset of `text`.
    pub fn at_offset(
        file: impl Into<String>,
        text: &str,
        offset: usize,
        message: impl Into<String>,
    ) -> Self {
        Self::at(file, Some(line_col(text, offset)), message)
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.line, self.col) {
            (Some(line), Some(col)) => write!(f, "{}:{line}:{col}: {}", self.file, self.message),
            (Some(line), None) => write!(f, "{}:{line}: {}", self.file, self.message),
            _ => write!(f, "{}: {}", self.file, self.message),
        }
    }
}

impl std::error::Error for Diagnostic {}

/// 1-based (line, column) of byte `offset` in `text`, the column counted in characters.
/// Offsets past the end or inside a multi-byte character are clamped rather than panicking,
/// because spans come from a parser and a slightly-off span must still produce a message.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    LineIndex::new(text).line_col(text, offset)
}

/// Line starts of a text, for converting many offsets without rescanning from the top.
#[derive(Debug, Clone)]
pub(crate) struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    pub(crate) fn new(text: &str) -> Self {
        let starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        LineIndex { starts }
    }

    pub(crate) fn line_col(&self, text: &str, offset: usize) -> (usize, usize) {
        let mut offset = offset.min(text.len());
        while !text.is_char_boundary(offset) {
            offset -= 1;
        }
        // `starts[0] == 0`, so the partition point is at least 1.
        let line = self.starts.partition_point(|&s| s <= offset);
        let mut start = self.starts[line - 1];
        // Editors hide a byte-order mark; count columns as they show them.
        if start == 0 && text.starts_with('\u{feff}') && offset >= 3 {
            start = 3;
        }
        let col = text[start..offset].chars().count() + 1;
        (line, col)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_to_line_and_column() {
        let text = "ab\ncd\n\nxé z";
        assert_eq!(line_col(text, 0), (1, 1));
        assert_eq!(line_col(text, 1), (1, 2));
        assert_eq!(line_col(text, 2), (1, 3));
        assert_eq!(line_col(text, 3), (2, 1));
        assert_eq!(line_col(text, 6), (3, 1));
        assert_eq!(line_col(text, 7), (4, 1));
        // 'é' is two bytes but one column.
        assert_eq!(line_col(text, 10), (4, 3));
        assert_eq!(line_col(text, 11), (4, 4));
    }

    #[test]
    fn ignores_a_byte_order_mark() {
        let text = "\u{feff}ab\nc";
        assert_eq!(line_col(text, 3), (1, 1));
        assert_eq!(line_col(text, 4), (1, 2));
        assert_eq!(line_col(text, 6), (2, 1));
    }

    #[test]
    fn clamps_bad_offsets() {
        let text = "xé";
        assert_eq!(line_col(text, 2), (1, 2)); // inside 'é'
        assert_eq!(line_col(text, 99), (1, 3));
        assert_eq!(line_col("", 5), (1, 1));
    }

    #[test]
    fn displays_with_and_without_position() {
        let located = Diagnostic::at("trafik.toml", Some((7, 10)), "bad");
        assert_eq!(located.to_string(), "trafik.toml:7:10: bad");
        let whole = Diagnostic::unlocated("trafik.toml", "bad");
        assert_eq!(whole.to_string(), "trafik.toml: bad");
        let err: Box<dyn std::error::Error> = Box::new(whole);
        assert_eq!(err.to_string(), "trafik.toml: bad");
    }
}
