//! Time quantities written with their unit in scenarios: "5 ms", "2 h", "30 s".

use serde::{Deserialize, Deserializer};

/// A duration in seconds, read from "NUMBER UNIT" (units: ms, s, min, h, d).
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
pub struct Duration {
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
        let split = t.find(|c: char| c.is_ascii_alphabetic()).ok_or_else(|| {
            format!(
                "'{text}' has no unit: write e.g. \"5 ms\" (units: {})",
                allowed()
            )
        })?;
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
        Ok(Duration {
            seconds: value * scale,
        })
    }
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
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
    fn rejects_bad_text_with_the_allowed_units() {
        let e = "5 parsecs".parse::<Duration>().unwrap_err();
        assert!(e.contains("ms, s, min, h, d"), "{e}");
        assert!("ms".parse::<Duration>().is_err());
        assert!("5".parse::<Duration>().is_err());
        assert!("-1 s".parse::<Duration>().is_err());
    }
}
