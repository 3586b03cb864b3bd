//! `[accessLog.filters]` and `[accessLog.fields]`: v1's shapes (its `types/logs.go`), and the
//! checks that turn a bad value into a located startup error rather than v1's silent
//! fallback (an unknown mode was read as the default there, a bad status range ignored).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::Duration;

/// Which requests get a line. None set ⇒ every request; otherwise a request is logged
/// when any one of them matches (v1's `keepAccessLog`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct AccessLogFilters {
    /// `"200"`, `"300-302"`: the status the client got.
    pub status_codes: Vec<String>,
    /// Requests that were retried at least once.
    pub retry_attempts: bool,
    /// Requests that took longer than this; 0 ⇒ no such filter.
    pub min_duration: Duration,
}

/// Which fields a line carries: `keep` or `drop` by default and per field (v1's names),
/// and which headers, as `request_<Name>`, `origin_<Name>`, `downstream_<Name>`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct AccessLogFields {
    /// `keep` (default) or `drop`.
    pub default_mode: String,
    /// Field name (`ClientUsername`, `StartUTC`, …) → `keep` | `drop`.
    pub names: BTreeMap<String, String>,
    /// Absent ⇒ no header is logged in JSON (v1 logged them all; see README).
    pub headers: Option<FieldHeaders>,
}

impl Default for AccessLogFields {
    fn default() -> Self {
        AccessLogFields {
            default_mode: "keep".into(),
            names: BTreeMap::new(),
            headers: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct FieldHeaders {
    /// `keep` (default), `drop` or `redact`.
    pub default_mode: String,
    /// Header name (matched case-insensitively) → `keep` | `drop` | `redact`.
    pub names: BTreeMap<String, String>,
}

impl Default for FieldHeaders {
    fn default() -> Self {
        FieldHeaders {
            default_mode: "keep".into(),
            names: BTreeMap::new(),
        }
    }
}

/// v1's field names (its `middlewares/accesslog/logdata.go`), in the order JSON lines and
/// README list them.
pub const FIELD_NAMES: [&str; 30] = [
    "StartUTC",
    "StartLocal",
    "Duration",
    "FrontendName",
    "BackendName",
    "BackendURL",
    "BackendAddr",
    "ClientAddr",
    "ClientHost",
    "ClientPort",
    "ClientUsername",
    "RequestAddr",
    "RequestHost",
    "RequestPort",
    "RequestMethod",
    "RequestPath",
    "RequestProtocol",
    "RequestLine",
    "RequestContentSize",
    "OriginDuration",
    "OriginContentSize",
    "OriginStatus",
    "OriginStatusLine",
    "DownstreamStatus",
    "DownstreamStatusLine",
    "DownstreamContentSize",
    "RequestCount",
    "GzipRatio",
    "Overhead",
    "RetryAttempts",
];

/// What happens to a field or a header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldMode {
    Keep,
    Drop,
    /// Headers only: the name is logged, the value is `REDACTED`.
    Redact,
}

/// Reads a mode, case-insensitively; an empty value is `default` (v1's flags leave it
/// empty). `redact` only where `allow_redact` (headers).
pub fn parse_mode(text: &str, allow_redact: bool, default: FieldMode) -> Result<FieldMode, String> {
    let mode = match text.trim().to_ascii_lowercase().as_str() {
        "" => default,
        "keep" => FieldMode::Keep,
        "drop" => FieldMode::Drop,
        "redact" if allow_redact => FieldMode::Redact,
        _ if allow_redact => {
            return Err(format!(
                "unknown mode {text:?} (expected \"keep\", \"drop\" or \"redact\")"
            ));
        }
        _ => {
            return Err(format!(
                "unknown mode {text:?} (expected \"keep\" or \"drop\")"
            ));
        }
    };
    Ok(mode)
}

/// v1's field name for `text`, matched case-insensitively.
pub fn field_name(text: &str) -> Option<&'static str> {
    FIELD_NAMES
        .iter()
        .copied()
        .find(|n| n.eq_ignore_ascii_case(text.trim()))
}

/// One entry of `statusCodes`: a code (`"404"`) or an inclusive range (`"300-302"`), codes
/// 100 to 599. v1 also split a flag's value on `,` and `;`; an entry may do the same.
pub fn parse_status_codes(entry: &str) -> Result<Vec<(u16, u16)>, String> {
    let mut ranges = Vec::new();
    for part in entry.split([',', ';']) {
        let number = |s: &str| -> Result<u16, String> {
            s.trim()
                .parse::<u16>()
                .ok()
                .filter(|c| (100..=599).contains(c))
                .ok_or_else(|| {
                    format!(
                        "invalid status code {entry:?}: expected a code from 100 to 599 or a \
                         range like \"300-302\""
                    )
                })
        };
        let (low, high) = match part.split_once('-') {
            Some((low, high)) => (number(low)?, number(high)?),
            None => {
                let c = number(part)?;
                (c, c)
            }
        };
        if low > high {
            return Err(format!(
                "invalid status range {entry:?}: {low} is above {high}"
            ));
        }
        ranges.push((low, high));
    }
    Ok(ranges)
}

/// A header name as HTTP allows it (an RFC 9110 token), so a configured name can match.
fn is_header_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// Every problem of `[accessLog.filters]` and `[accessLog.fields]`, each with the key path
/// it is about (for a `file:line:col` location).
pub fn problems(
    filters: Option<&AccessLogFilters>,
    fields: Option<&AccessLogFields>,
) -> Vec<(Vec<String>, String)> {
    let mut out = Vec::new();
    let path = |keys: &[&str]| -> Vec<String> {
        ["accessLog"]
            .iter()
            .chain(keys)
            .map(|s| s.to_string())
            .collect()
    };
    if let Some(f) = filters {
        for (i, entry) in f.status_codes.iter().enumerate() {
            if let Err(e) = parse_status_codes(entry) {
                let i = i.to_string();
                out.push((
                    path(&["filters", "statusCodes", &i]),
                    format!("accessLog.filters.statusCodes: {e}"),
                ));
            }
        }
    }
    let Some(fields) = fields else {
        return out;
    };
    if let Err(e) = parse_mode(&fields.default_mode, false, FieldMode::Keep) {
        out.push((
            path(&["fields", "defaultMode"]),
            format!("accessLog.fields.defaultMode: {e}"),
        ));
    }
    for (name, mode) in &fields.names {
        let at = path(&["fields", "names", name]);
        if field_name(name).is_none() {
            out.push((
                at.clone(),
                format!(
                    "accessLog.fields.names: unknown field {name:?} (v1's fields: {})",
                    FIELD_NAMES.join(", ")
                ),
            ));
        }
        if let Err(e) = parse_mode(mode, false, FieldMode::Keep) {
            out.push((at, format!("accessLog.fields.names.{name}: {e}")));
        }
    }
    if let Some(headers) = &fields.headers {
        if let Err(e) = parse_mode(&headers.default_mode, true, FieldMode::Keep) {
            out.push((
                path(&["fields", "headers", "defaultMode"]),
                format!("accessLog.fields.headers.defaultMode: {e}"),
            ));
        }
        for (name, mode) in &headers.names {
            let at = path(&["fields", "headers", "names", name]);
            if !is_header_name(name) {
                out.push((
                    at.clone(),
                    format!("accessLog.fields.headers.names: {name:?} is not a header name"),
                ));
            }
            if let Err(e) = parse_mode(mode, true, FieldMode::Keep) {
                out.push((at, format!("accessLog.fields.headers.names.{name}: {e}")));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn status_codes_and_ranges_parse() {
        assert_eq!(parse_status_codes("200"), Ok(vec![(200, 200)]));
        assert_eq!(parse_status_codes(" 300 - 302 "), Ok(vec![(300, 302)]));
        assert_eq!(
            parse_status_codes("200,404;500-599"),
            Ok(vec![(200, 200), (404, 404), (500, 599)])
        );
    }

    #[test]
    fn bad_status_codes_are_named() {
        for bad in [
            "", "abc", "20x", "99", "600", "302-300", "200-", "-", "1-2-3",
        ] {
            let e = parse_status_codes(bad).unwrap_err();
            assert!(e.contains(&format!("{bad:?}")), "{bad:?}: {e}");
        }
    }

    #[test]
    fn modes_parse_case_insensitively_and_redact_only_for_headers() {
        assert_eq!(
            parse_mode("KEEP", false, FieldMode::Drop),
            Ok(FieldMode::Keep)
        );
        assert_eq!(parse_mode("", false, FieldMode::Drop), Ok(FieldMode::Drop));
        assert_eq!(
            parse_mode("redact", true, FieldMode::Keep),
            Ok(FieldMode::Redact)
        );
        assert!(parse_mode("redact", false, FieldMode::Keep).is_err());
        assert!(
            parse_mode("hide", true, FieldMode::Keep)
                .unwrap_err()
                .contains("hide")
        );
    }

    #[test]
    fn problems_name_their_keys() {
        let filters = AccessLogFilters {
            status_codes: vec!["200".into(), "3xx".into()],
            ..Default::default()
        };
        let fields = AccessLogFields {
            default_mode: "forget".into(),
            names: BTreeMap::from([
                ("clientusername".into(), "drop".into()),
                ("Nope".into(), "keep".into()),
            ]),
            headers: Some(FieldHeaders {
                default_mode: "redact".into(),
                names: BTreeMap::from([
                    ("Authorization".into(), "hide".into()),
                    ("Bad Name".into(), "drop".into()),
                ]),
            }),
        };
        let found = problems(Some(&filters), Some(&fields));
        let paths: Vec<String> = found.iter().map(|(p, _)| p.join(".")).collect();
        assert_eq!(
            paths,
            [
                "accessLog.filters.statusCodes.1",
                "accessLog.fields.defaultMode",
                "accessLog.fields.names.Nope",
                "accessLog.fields.headers.names.Authorization",
                "accessLog.fields.headers.names.Bad Name",
            ]
        );
        assert!(found[0].1.contains("\"3xx\""), "{}", found[0].1);
        assert!(found[1].1.contains("\"forget\""), "{}", found[1].1);
        assert!(problems(None, Some(&AccessLogFields::default())).is_empty());
    }

    proptest! {
        #[test]
        fn a_range_contains_exactly_its_codes(low in 100u16..600, high in 100u16..600) {
            let parsed = parse_status_codes(&format!("{low}-{high}"));
            if low <= high {
                prop_assert_eq!(parsed, Ok(vec![(low, high)]));
            } else {
                prop_assert!(parsed.is_err());
            }
        }
    }
}
