//! Messages of the TOML reader rewritten for people who write scenarios: serde names Rust
//! types ("expected u8", "expected f64"), which say nothing to a clinician; the position
//! (file:line:column) is kept by the caller.

/// Rust type names in serde messages and what they mean in a scenario.
const TYPE_WORDS: [(&str, &str); 9] = [
    ("u8", "a whole number from 0 to 255"),
    ("u16", "a whole number from 0 to 65535"),
    ("u32", "a whole number from 0 to 4294967295"),
    ("u64", "a whole number, 0 or more"),
    ("usize", "a whole number, 0 or more"),
    ("i32", "a whole number"),
    ("i64", "a whole number"),
    ("f32", "a number"),
    ("f64", "a number"),
];

/// `message` (from `toml::de::Error::message`) in words, with a hint where a common mistake
/// is recognised.
pub(super) fn humanize(message: &str) -> String {
    let mut out = message.trim().to_string();
    let mut hints = Vec::new();
    for (rust, words) in TYPE_WORDS {
        let from = format!("expected {rust}");
        if let Some(at) = out.find(&from) {
            let end = at + from.len();
            // Only the whole word: "expected u8" but not "expected u8x".
            if !out[end..].starts_with(|c: char| c.is_ascii_alphanumeric()) {
                out.replace_range(at..end, &format!("expected {words}"));
                if let Some(text) = quoted_after(&out, "invalid type: string \"") {
                    hints.push(number_hint(text));
                }
            }
        }
    }
    out = out
        .replace("invalid type: ", "found ")
        .replace("invalid value: ", "found ");
    if ["sweep", "cohort"]
        .iter()
        .any(|k| out.contains(&format!("unknown field `{k}`")))
    {
        hints.push(
            "[sweep] and [cohort] belong to sweep files: run this file with \
             `impella-sim sweep FILE --out DIR`"
                .to_string(),
        );
    }
    for h in hints {
        out.push_str("; ");
        out.push_str(&h);
    }
    out
}

/// The text between `prefix` and the next quote in `message`.
fn quoted_after<'m>(message: &'m str, prefix: &str) -> Option<&'m str> {
    let start = message.find(prefix)? + prefix.len();
    let len = message[start..].find('"')?;
    Some(&message[start..start + len])
}

/// How to write `text`, found where a number belongs: "P8" as 8, "5 L" without its unit.
fn number_hint(text: &str) -> String {
    let t = text.trim();
    let level = t
        .strip_prefix(['P', 'p'])
        .filter(|d| d.parse::<u8>().is_ok());
    if let Some(digits) = level {
        return format!("write {digits}, without quotes or 'P'");
    }
    let number_end = t
        .find(|c: char| !(c.is_ascii_digit() || matches!(c, '.' | '-' | '+' | 'e' | 'E')))
        .unwrap_or(t.len());
    if number_end > 0 && t[..number_end].parse::<f64>().is_ok() && number_end < t.len() {
        return format!(
            "write a bare number without quotes, in the unit `impella-sim parameters` lists \
             (not '{}')",
            t[number_end..].trim()
        );
    }
    "write a number without quotes".to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rust_type_names_become_words() {
        let m = humanize("invalid type: string \"P8\", expected u8");
        assert_eq!(
            m,
            "found string \"P8\", expected a whole number from 0 to 255; write 8, without \
             quotes or 'P'"
        );
        let m = humanize("invalid type: string \"5 L\", expected f64\n");
        assert!(
            m.contains("expected a number; write a bare number") && m.contains("(not 'L')"),
            "{m}"
        );
        let m = humanize("invalid type: string \"high\", expected f64");
        assert!(m.ends_with("; write a number without quotes"), "{m}");
        let m = humanize("invalid value: integer `300`, expected u8");
        assert_eq!(
            m,
            "found integer `300`, expected a whole number from 0 to 255"
        );
    }

    #[test]
    fn a_sweep_table_in_a_run_points_to_the_sweep_command() {
        let m = humanize("unknown field `sweep`, expected one of `title`, `seed`");
        assert!(m.contains("impella-sim sweep FILE"), "{m}");
        assert!(!humanize("unknown field `sweeps`").contains("impella-sim sweep"));
    }
}
