//! `[accessLog.fields]`: which of v1's fields a line carries (`keep` / `drop`, by default
//! and per name) and which headers (`keep` / `drop` / `redact`). Read by the writer
//! thread only: the request path asks just [`Fields::logs_headers`], so that headers are
//! copied into a record only when a line will show them.

use std::collections::HashMap;

use trafik_config::AccessLogFields;
use trafik_config::model::access_log::{FieldMode, field_name, parse_mode};

/// What a redacted header's value is logged as (v1's word).
pub const REDACTED: &str = "REDACTED";

#[derive(Debug, Clone, Default)]
pub struct Fields {
    /// v1's names of the fields left out.
    dropped: Vec<&'static str>,
    /// `[accessLog.fields.headers]`; `None` ⇒ no `request_`/`origin_`/`downstream_` field.
    headers: Option<HeaderModes>,
}

#[derive(Debug, Clone)]
struct HeaderModes {
    default: FieldMode,
    /// Lowercased names, as the `http` crate keeps them.
    names: HashMap<String, FieldMode>,
}

impl Fields {
    /// Every field, no header: what `[accessLog]` without `[accessLog.fields]` logs.
    pub fn all() -> Fields {
        Fields::default()
    }

    /// A mode or a name that is not one is an error naming it (the static configuration's
    /// validation reports it with its location first).
    pub fn from_config(config: Option<&AccessLogFields>) -> Result<Fields, String> {
        let Some(c) = config else {
            return Ok(Fields::all());
        };
        let default = parse_mode(&c.default_mode, false, FieldMode::Keep)?;
        let mut modes = HashMap::new();
        for (name, mode) in &c.names {
            let field = field_name(name).ok_or_else(|| format!("unknown field {name:?}"))?;
            modes.insert(field, parse_mode(mode, false, default)?);
        }
        let dropped = trafik_config::model::access_log::FIELD_NAMES
            .iter()
            .copied()
            .filter(|f| modes.get(f).copied().unwrap_or(default) == FieldMode::Drop)
            .collect();
        let headers = match &c.headers {
            None => None,
            Some(h) => {
                let default = parse_mode(&h.default_mode, true, FieldMode::Keep)?;
                let mut names = HashMap::new();
                for (name, mode) in &h.names {
                    names.insert(name.to_ascii_lowercase(), parse_mode(mode, true, default)?);
                }
                Some(HeaderModes { default, names })
            }
        };
        Ok(Fields { dropped, headers })
    }

    /// Whether the line carries v1's field `name`.
    pub fn keeps(&self, name: &str) -> bool {
        !self.dropped.contains(&name)
    }

    /// Whether JSON lines carry headers, so records must copy them.
    pub fn logs_headers(&self) -> bool {
        self.headers.is_some()
    }

    /// What happens to header `name` (lowercase, as `http` spells it). Without
    /// `[accessLog.fields.headers]` every header is kept: the CLF line's Referer and
    /// User-Agent are shown as before.
    pub fn header_mode(&self, name: &str) -> FieldMode {
        match &self.headers {
            None => FieldMode::Keep,
            Some(h) => h.names.get(name).copied().unwrap_or(h.default),
        }
    }
}

/// A header name as Go writes it (`user-agent` ⇒ `User-Agent`), v1's spelling of the
/// `request_<Name>` fields.
pub fn canonical(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut upper = true;
    for c in name.chars() {
        out.push(if upper {
            c.to_ascii_uppercase()
        } else {
            c.to_ascii_lowercase()
        });
        upper = c == '-';
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use trafik_config::FieldHeaders;

    fn config(default: &str, names: &[(&str, &str)]) -> AccessLogFields {
        AccessLogFields {
            default_mode: default.into(),
            names: names
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            headers: None,
        }
    }

    #[test]
    fn default_keep_drops_only_the_named() {
        let f = Fields::from_config(Some(&config("keep", &[("clientusername", "drop")]))).unwrap();
        assert!(!f.keeps("ClientUsername"));
        assert!(f.keeps("StartUTC"));
        assert!(!f.logs_headers());
        assert_eq!(f.header_mode("user-agent"), FieldMode::Keep);
    }

    #[test]
    fn default_drop_keeps_only_the_named() {
        let f = Fields::from_config(Some(&config(
            "drop",
            &[("RequestPath", "keep"), ("OriginStatus", "")],
        )))
        .unwrap();
        assert!(f.keeps("RequestPath"));
        assert!(!f.keeps("OriginStatus"), "an empty mode is the default");
        assert!(!f.keeps("StartUTC"));
    }

    #[test]
    fn headers_match_case_insensitively() {
        let mut c = config("keep", &[]);
        c.headers = Some(FieldHeaders {
            default_mode: "drop".into(),
            names: BTreeMap::from([
                ("AUTHORIZATION".into(), "redact".into()),
                ("User-Agent".into(), "keep".into()),
            ]),
        });
        let f = Fields::from_config(Some(&c)).unwrap();
        assert!(f.logs_headers());
        assert_eq!(f.header_mode("authorization"), FieldMode::Redact);
        assert_eq!(f.header_mode("user-agent"), FieldMode::Keep);
        assert_eq!(f.header_mode("cookie"), FieldMode::Drop);
    }

    #[test]
    fn bad_modes_and_names_are_errors() {
        assert!(Fields::from_config(Some(&config("hide", &[]))).is_err());
        assert!(Fields::from_config(Some(&config("keep", &[("Nope", "drop")]))).is_err());
        assert!(Fields::from_config(Some(&config("keep", &[("StartUTC", "redact")]))).is_err());
    }

    #[test]
    fn header_names_are_canonical_as_go_writes_them() {
        assert_eq!(canonical("user-agent"), "User-Agent");
        assert_eq!(canonical("x-forwarded-for"), "X-Forwarded-For");
        assert_eq!(canonical("AUTHORIZATION"), "Authorization");
        assert_eq!(canonical("te"), "Te");
    }
}
