//! Positions in input text (scenario, sweep and device files), for error messages.

/// 1-based line and column (in characters, not bytes) of byte `offset` in `text`.
pub(crate) fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

/// Largest scenario, sweep or device file read, bytes (10 MiB; the shipped ones are a few
/// kB): a larger file, or a device such as /dev/zero, is refused before it fills the memory.
pub const MAX_INPUT_BYTES: u64 = 10 * 1024 * 1024;

/// The bytes of an input file, at most [`MAX_INPUT_BYTES`] of them.
pub(crate) fn read_input(path: &std::path::Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut bytes = Vec::new();
    std::fs::File::open(path)?
        .take(MAX_INPUT_BYTES + 1)
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_INPUT_BYTES {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!(
                "larger than {} MiB, the limit for scenario, sweep and device files",
                MAX_INPUT_BYTES / (1024 * 1024)
            ),
        ));
    }
    Ok(bytes)
}

/// Input that is not UTF-8 text: where its first bad byte is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NotUtf8 {
    pub line: usize,
    pub column: usize,
    pub offset: usize,
    pub byte: u8,
}

impl std::fmt::Display for NotUtf8 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "byte {} (0x{:02x}) is not UTF-8 text: save the file as UTF-8",
            self.offset, self.byte
        )
    }
}

/// The bytes of a file as text, or the position of the first byte that is not UTF-8
/// (std's own error gives neither line nor column).
pub(crate) fn utf8_text(bytes: Vec<u8>) -> Result<String, NotUtf8> {
    String::from_utf8(bytes).map_err(|e| {
        let offset = e.utf8_error().valid_up_to();
        let bytes = e.as_bytes();
        let valid = std::str::from_utf8(&bytes[..offset]).expect("valid up to the error");
        let (line, column) = line_column(valid, offset);
        NotUtf8 {
            line,
            column,
            offset,
            byte: bytes[offset],
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_byte_that_is_not_utf8_is_located() {
        let e = utf8_text(b"a = 1\nb = \"caf\xe9\"\n".to_vec()).unwrap_err();
        assert_eq!((e.line, e.column, e.offset, e.byte), (2, 9, 14, 0xe9));
        assert!(e.to_string().contains("byte 14 (0xe9)"), "{e}");
        assert_eq!(utf8_text("bé".into()).unwrap(), "bé");
    }

    #[test]
    fn line_and_column_are_one_based_and_count_characters() {
        assert_eq!(line_column("ab\ncd", 4), (2, 2));
        assert_eq!(line_column("x", 0), (1, 1));
        let text = "a = 1\nbé = 2\n";
        assert_eq!(line_column(text, text.find('=').unwrap()), (1, 3));
        assert_eq!(line_column(text, text.rfind('=').unwrap()), (2, 4));
        // Past the end: the end.
        assert_eq!(line_column("ab", 99), (1, 3));
    }
}
