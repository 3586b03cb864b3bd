//! Durations as Traefik 1.x writes them: a Go duration string (`"10s"`, `"1m30s"`,
//! `"300ms"`) or a bare integer meaning seconds (flaeg's rule).

use std::fmt;
use std::time::Duration as StdDuration;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A non-negative duration that reads and writes the v1 way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Hash)]
pub struct Duration(pub StdDuration);

impl Duration {
    pub const ZERO: Duration = Duration(StdDuration::ZERO);

    pub const fn from_secs(secs: u64) -> Self {
        Duration(StdDuration::from_secs(secs))
    }

    pub const fn from_millis(ms: u64) -> Self {
        Duration(StdDuration::from_millis(ms))
    }

    pub fn get(self) -> StdDuration {
        self.0
    }

    pub fn is_zero(self) -> bool {
        self.0.is_zero()
    }

    /// Parses `"10s"`, `"1h2m3.5s"`, `"300ms"`, `"0"` or `"15"` (seconds).
    pub fn parse(text: &str) -> Result<Self, String> {
        let s = text.trim();
        if s.is_empty() {
            return Err("empty duration".into());
        }
        if let Ok(secs) = s.parse::<u64>() {
            return Ok(Duration::from_secs(secs));
        }
        let mut total = 0f64;
        let mut rest = s;
        while !rest.is_empty() {
            let num_len = rest
                .find(|c: char| !(c.is_ascii_digit() || c == '.'))
                .ok_or_else(|| {
                    format!("invalid duration {text:?}: missing unit (use s, ms, m, h…)")
                })?;
            if num_len == 0 {
                return Err(format!("invalid duration {text:?}"));
            }
            let value: f64 = rest[..num_len]
                .parse()
                .map_err(|_| format!("invalid duration {text:?}"))?;
            rest = &rest[num_len..];
            let unit_len = rest
                .find(|c: char| c.is_ascii_digit() || c == '.')
                .unwrap_or(rest.len());
            let unit = &rest[..unit_len];
            rest = &rest[unit_len..];
            let nanos_per_unit = match unit {
                "ns" => 1.0,
                "us" | "µs" | "μs" => 1e3,
                "ms" => 1e6,
                "s" => 1e9,
                "m" => 60e9,
                "h" => 3600e9,
                _ => return Err(format!("invalid duration {text:?}: unknown unit {unit:?}")),
            };
            total += value * nanos_per_unit;
        }
        Ok(Duration(StdDuration::from_nanos(total.round() as u64)))
    }
}

impl From<StdDuration> for Duration {
    fn from(d: StdDuration) -> Self {
        Duration(d)
    }
}

impl fmt::Display for Duration {
    /// Go's `time.Duration.String()` shape for the common cases: `1m30s`, `300ms`, `0s`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = self.0;
        if d.is_zero() {
            return f.write_str("0s");
        }
        if d < StdDuration::from_secs(1) {
            let ms = d.as_secs_f64() * 1e3;
            return write!(f, "{}ms", trim_float(ms));
        }
        let secs = d.as_secs();
        let (h, m) = (secs / 3600, (secs % 3600) / 60);
        let s = (secs % 60) as f64 + f64::from(d.subsec_nanos()) / 1e9;
        if h > 0 {
            write!(f, "{h}h")?;
        }
        if h > 0 || m > 0 {
            write!(f, "{m}m")?;
        }
        write!(f, "{}s", trim_float(s))
    }
}

fn trim_float(v: f64) -> String {
    let s = format!("{v:.6}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

impl Serialize for Duration {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Duration;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(
                    "a duration such as \"10s\" or \"300ms\", or an integer number of seconds",
                )
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Duration, E> {
                u64::try_from(v)
                    .map(Duration::from_secs)
                    .map_err(|_| E::custom("a duration cannot be negative"))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Duration, E> {
                Ok(Duration::from_secs(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Duration, E> {
                Duration::parse(v).map_err(E::custom)
            }
        }
        deserializer.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_go_strings_and_integers() {
        assert_eq!(Duration::parse("10s").unwrap(), Duration::from_secs(10));
        assert_eq!(
            Duration::parse("300ms").unwrap(),
            Duration::from_millis(300)
        );
        assert_eq!(Duration::parse("1m30s").unwrap(), Duration::from_secs(90));
        assert_eq!(
            Duration::parse("1.5s").unwrap(),
            Duration::from_millis(1500)
        );
        assert_eq!(Duration::parse("15").unwrap(), Duration::from_secs(15));
        assert!(Duration::parse("10 parsecs").is_err());
        assert!(Duration::parse("s").is_err());
        assert!(Duration::parse("10").is_ok());
    }

    #[test]
    fn displays_like_go() {
        assert_eq!(Duration::from_secs(90).to_string(), "1m30s");
        assert_eq!(Duration::from_millis(300).to_string(), "300ms");
        assert_eq!(Duration::ZERO.to_string(), "0s");
        assert_eq!(Duration::from_secs(7200).to_string(), "2h0m0s");
    }
}
