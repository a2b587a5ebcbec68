//! Time quantities written with their unit in scenarios: "5 ms", "2 h", "30 s".

use serde::{Deserialize, Deserializer};

/// A duration in seconds, read from "NUMBER UNIT" (units: ms, s, min, h, d).
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
pub struct Duration {
    /// Seconds.
    pub seconds: f64,
}

/// Accepted units and their length in seconds.
const UNITS: [(&str, f64); 5] = [
    ("ms", 1e-3),
    ("s", 1.0),
    ("min", 60.0),
    ("h", 3600.0),
    ("d", 86400.0),
];

impl std::str::FromStr for Duration {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let allowed = || UNITS.iter().map(|(u, _)| *u).collect::<Vec<_>>().join(", ");
        let t = text.trim();
        // The unit is the trailing letters, so a number may have an exponent ("1e6 h").
        let split = t.trim_end_matches(|c: char| c.is_alphabetic()).len();
        if split == t.len() {
            return Err(format!(
                "'{text}' has no unit: write e.g. \"5 ms\" (units: {})",
                allowed()
            ));
        }
        let (num, unit) = t.split_at(split);
        let value: f64 = num
            .trim()
            .parse()
            .map_err(|_| format!("'{text}' does not start with a number"))?;
        let scale = UNITS
            .iter()
            .find(|(u, _)| *u == unit.trim())
            .map(|(_, s)| *s)
            .ok_or_else(|| {
                format!(
                    "unknown time unit '{}' in '{text}' (units: {})",
                    unit.trim(),
                    allowed()
                )
            })?;
        if !value.is_finite() || value < 0.0 {
            return Err(format!("'{text}' must be a non-negative time"));
        }
        let seconds = value * scale;
        if !seconds.is_finite() {
            return Err(format!("'{text}' is too long a time to compute with"));
        }
        Ok(Duration { seconds })
    }
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(DurationVisitor)
    }
}

/// Reads the text form, and answers a bare number with how to write it.
struct DurationVisitor;

impl DurationVisitor {
    fn bare<E: serde::de::Error>(number: String) -> E {
        E::custom(format!(
            "{number} has no unit: write a time as text with its unit, e.g. \"{number} s\" or \
             \"20 ms\" (units: ms, s, min, h, d)"
        ))
    }
}

impl serde::de::Visitor<'_> for DurationVisitor {
    type Value = Duration;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a time with its unit, e.g. \"20 ms\" or \"2 h\"")
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Duration, E> {
        v.parse().map_err(E::custom)
    }

    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Duration, E> {
        Err(Self::bare(v.to_string()))
    }

    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Duration, E> {
        Err(Self::bare(v.to_string()))
    }

    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Duration, E> {
        Err(Self::bare(v.to_string()))
    }
}

/// In a JSON Schema a duration is a string with its unit (what the parser accepts).
impl schemars::JsonSchema for Duration {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Duration".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "pattern": "^\\s*[0-9.]+([eE][+-]?[0-9]+)?\\s*(ms|s|min|h|d)\\s*$",
            "description": "A time with its unit, e.g. \"20 ms\", \"10 min\", \"48 h\" (units: ms, s, min, h, d).",
            "examples": ["20 ms", "10 min", "48 h"]
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units() {
        assert_eq!("5 ms".parse::<Duration>().unwrap().seconds, 0.005);
        assert_eq!("2h".parse::<Duration>().unwrap().seconds, 7200.0);
        assert_eq!("1.5 min".parse::<Duration>().unwrap().seconds, 90.0);
    }

    #[test]
    fn numbers_may_have_exponents() {
        assert_eq!("1e6 h".parse::<Duration>().unwrap().seconds, 3.6e9);
        assert_eq!("2.5e-3s".parse::<Duration>().unwrap().seconds, 2.5e-3);
        let e = "1e6 parsecs".parse::<Duration>().unwrap_err();
        assert!(e.contains("unknown time unit 'parsecs'"), "{e}");
    }

    #[test]
    fn a_bare_number_is_answered_with_an_example() {
        #[derive(Debug, serde::Deserialize)]
        struct T {
            max_step: Duration,
        }
        let e = toml::from_str::<T>("max_step = 0.02").unwrap_err();
        assert!(
            e.message().contains("0.02 has no unit") && e.message().contains("\"20 ms\""),
            "{e}"
        );
        let e = toml::from_str::<T>("max_step = 1").unwrap_err();
        assert!(e.message().contains("\"1 s\""), "{e}");
        let t: T = toml::from_str("max_step = \"20 ms\"").unwrap();
        assert_eq!(t.max_step.seconds, 0.02);
    }

    #[test]
    fn rejects_bad_text_with_the_allowed_units() {
        let e = "5 parsecs".parse::<Duration>().unwrap_err();
        assert!(e.contains("ms, s, min, h, d"), "{e}");
        assert!("ms".parse::<Duration>().is_err());
        assert!("5".parse::<Duration>().is_err());
        assert!("-1 s".parse::<Duration>().is_err());
        // Finite as written, infinite in seconds.
        let e = "1e308 d".parse::<Duration>().unwrap_err();
        assert!(e.contains("too long"), "{e}");
    }
}
