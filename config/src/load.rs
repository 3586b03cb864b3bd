//! Loading `trafik.toml` text into the model: syntax, then shape, then warnings about keys we
//! do not know. Semantic checks live in `validate`; `Locations` lets their findings point back
//! into the file.

use serde::de::DeserializeOwned;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::de::{Document, Located, Options};
use crate::diagnostic::{Diagnostic, LineIndex};
use crate::model::{Configuration, StaticConfig};

/// A successfully loaded configuration, with non-fatal findings and key positions.
#[derive(Debug, Clone)]
pub struct Loaded<T> {
    pub value: T,
    pub warnings: Vec<Diagnostic>,
    pub locations: Locations,
}

/// Reads a whole `trafik.toml`. Unknown keys anywhere are warnings.
pub fn load_static(file: &str, text: &str) -> Result<Loaded<StaticConfig>, Vec<Diagnostic>> {
    load(
        file,
        text,
        Options {
            warn_unknown_top_level: true,
        },
    )
}

/// Reads the dynamic part (`[backends]`, `[frontends]`) of a file. Other top-level keys are
/// expected — the file may be a full `trafik.toml` in `[file]` mode (a) — and pass silently.
pub fn load_dynamic(file: &str, text: &str) -> Result<Loaded<Configuration>, Vec<Diagnostic>> {
    let mut loaded: Loaded<Configuration> = load(
        file,
        text,
        Options {
            warn_unknown_top_level: false,
        },
    )?;
    for (path, why) in crate::v1_keys::without_effect(&loaded.value) {
        let path: Vec<&str> = path.iter().map(String::as_str).collect();
        let warning = loaded.locations.diagnostic(file, &path, why);
        loaded.warnings.push(warning);
    }
    Ok(loaded)
}

fn load<T: DeserializeOwned>(
    file: &str,
    text: &str,
    opts: Options,
) -> Result<Loaded<T>, Vec<Diagnostic>> {
    let lines = LineIndex::new(text);
    let diagnostic = |located: Located| {
        Diagnostic::at(
            file,
            Some(lines.line_col(text, located.span.start)),
            located.message,
        )
    };
    let doc = Document::parse(text).map_err(|e| vec![diagnostic(explain_syntax_error(text, e))])?;
    let parsed = doc
        .deserialize::<T>(opts)
        .map_err(|e| vec![diagnostic(e)])?;
    Ok(Loaded {
        value: parsed.value,
        warnings: parsed.warnings.into_iter().map(diagnostic).collect(),
        locations: Locations::new(text),
    })
}

/// toml's messages are terse; add what the user most likely needs to know.
fn explain_syntax_error(text: &str, mut error: Located) -> Located {
    if text.trim_start().starts_with('{') {
        // v1 rejected such files too; say why rather than only "expected key".
        error
            .message
            .push_str(" (the configuration must be TOML; this file looks like JSON)");
    } else if error.message == "duplicate key"
        && let Some(key) = text
            .get(error.span.clone())
            .filter(|k| !k.is_empty() && !k.contains('\n'))
    {
        error.message = format!("duplicate key {key}");
    }
    error
}

/// Where each key path of a loaded file is, for errors found after deserialization
/// (validation). Segments are keys as written; array elements are their index ("0", "1", …).
///
/// The positions are found only when one is asked for, by parsing the text again, and then
/// kept: a tree of every key of a 10,000-frontend file is over 30 MB, the text itself 1.5 MB,
/// and most configurations never have a finding to place.
#[derive(Debug, Clone, Default)]
pub struct Locations {
    text: std::sync::Arc<str>,
    entries: std::sync::OnceLock<Vec<LocEntry>>,
}

#[derive(Debug, Clone)]
struct LocEntry {
    key: String,
    /// The key for a table (its header names it); the value for anything else, since a
    /// semantic error is about the value (`backend = "nope"`).
    pos: (usize, usize),
    children: Vec<LocEntry>,
}

impl Locations {
    fn new(text: &str) -> Self {
        Locations {
            text: text.into(),
            entries: std::sync::OnceLock::new(),
        }
    }

    fn entries(&self) -> &[LocEntry] {
        self.entries.get_or_init(|| {
            let text: &str = &self.text;
            // The text parsed once already; were it not to now, positions are only lost.
            match Document::parse(text) {
                Ok(doc) => table_entries(doc.table(), text, &LineIndex::new(text)),
                Err(_) => Vec::new(),
            }
        })
    }

    /// (line, col) of `path`, matching each segment exactly or else ignoring case; when the
    /// path does not exist (a missing key, a default), the position of its longest existing
    /// ancestor.
    pub fn locate(&self, path: &[&str]) -> Option<(usize, usize)> {
        deepest(self.entries(), path).map(|(_, pos)| pos)
    }

    pub fn diagnostic(&self, file: &str, path: &[&str], message: impl Into<String>) -> Diagnostic {
        Diagnostic::at(file, self.locate(path), message)
    }
}

fn table_entries(table: &DeTable<'_>, text: &str, lines: &LineIndex) -> Vec<LocEntry> {
    table
        .iter()
        .map(|(key, value)| {
            let at = match value.get_ref() {
                DeValue::Table(_) => key.span().start,
                _ => value.span().start,
            };
            LocEntry {
                key: key.get_ref().to_string(),
                pos: lines.line_col(text, at),
                children: value_entries(value, text, lines),
            }
        })
        .collect()
}

fn value_entries(value: &Spanned<DeValue<'_>>, text: &str, lines: &LineIndex) -> Vec<LocEntry> {
    match value.get_ref() {
        DeValue::Table(t) => table_entries(t, text, lines),
        DeValue::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, item)| LocEntry {
                key: i.to_string(),
                pos: lines.line_col(text, item.span().start),
                children: value_entries(item, text, lines),
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// The deepest match of `path` and its depth. Several entries can match one segment (v1 merges
/// `[a.LoadBalancer]` and `[a.loadBalancer.x]`), so all are searched, exact spellings first.
fn deepest(entries: &[LocEntry], path: &[&str]) -> Option<(usize, (usize, usize))> {
    let (first, rest) = path.split_first()?;
    let exact = entries.iter().filter(|e| e.key == *first);
    let loose = entries
        .iter()
        .filter(|e| e.key != *first && e.key.eq_ignore_ascii_case(first));
    let mut best: Option<(usize, (usize, usize))> = None;
    for entry in exact.chain(loose) {
        let found = match deepest(&entry.children, rest) {
            Some((depth, pos)) => (depth + 1, pos),
            None => (1, entry.pos),
        };
        if best.is_none_or(|(depth, _)| found.0 > depth) {
            best = Some(found);
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "\
[backends.b1.servers.s1]
url = \"http://a\"
[backends.b1.LoadBalancer]
method = \"drr\"
[backends.b1.loadBalancer.stickiness]
cookieName = \"c\"
[frontends.fe1]
entryPoints = [\"http\", \"nope\"]
";

    #[test]
    fn v1_keys_without_effect_are_named_where_they_are() {
        let text = "[backends.b.buffering]\nmaxRequestBodyBytes = 10\nmemRequestBodyBytes = 5\n";
        let loaded = load_dynamic("d.toml", text).unwrap();
        let lines: Vec<String> = loaded.warnings.iter().map(|w| w.to_string()).collect();
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(
            lines[0].starts_with("d.toml:3:23: backends.b.buffering.memRequestBodyBytes: "),
            "{lines:?}"
        );
    }

    #[test]
    fn v1_keys_trafik_does_not_implement_are_named_where_they_are() {
        let text =
            "[tracing]\nbackend = \"x\"\n[metrics.statsd]\naddress = \"x\"\n[Eureka]\n[dockr]\n";
        let loaded = load_static("t.toml", text).unwrap();
        let lines: Vec<String> = loaded.warnings.iter().map(|w| w.to_string()).collect();
        assert_eq!(lines.len(), 4, "{lines:?}");
        assert!(
            lines[0].starts_with("t.toml:1:2: tracing: [tracing]"),
            "{lines:?}"
        );
        assert!(
            lines[1]
                .starts_with("t.toml:3:10: metrics.statsd: [metrics.statsd] is not implemented"),
            "{lines:?}"
        );
        assert!(
            lines[2].starts_with("t.toml:5:2: Eureka: the Eureka provider"),
            "{lines:?}"
        );
        assert!(
            lines[3].contains("dockr: unknown key, ignored"),
            "{lines:?}"
        );
    }

    #[test]
    fn locates_keys_values_and_array_elements() {
        let loaded = load_dynamic("f.toml", TEXT).unwrap();
        let loc = &loaded.locations;
        assert_eq!(
            loc.locate(&["backends", "b1", "servers", "s1"]),
            Some((1, 22))
        );
        assert_eq!(
            loc.locate(&["backends", "b1", "servers", "s1", "url"]),
            Some((2, 7))
        );
        assert_eq!(
            loc.locate(&["frontends", "fe1", "entryPoints", "1"]),
            Some((8, 24))
        );
        assert_eq!(
            loc.locate(&["FRONTENDS", "fe1", "ENTRYPOINTS"]),
            Some((8, 15))
        );
    }

    #[test]
    fn falls_back_to_the_longest_existing_ancestor() {
        let loaded = load_dynamic("f.toml", TEXT).unwrap();
        let loc = &loaded.locations;
        assert_eq!(loc.locate(&["frontends", "fe1", "backend"]), Some((7, 12)));
        assert_eq!(loc.locate(&["nothing", "here"]), None);
        assert_eq!(loc.locate(&[]), None);
        let d = loc.diagnostic(
            "f.toml",
            &["frontends", "fe1", "backend"],
            "missing backend",
        );
        assert_eq!(d.to_string(), "f.toml:7:12: missing backend");
    }

    #[test]
    fn searches_every_case_variant_of_a_key() {
        let loaded = load_dynamic("f.toml", TEXT).unwrap();
        let lb = &loaded.value.backends["b1"].load_balancer.as_ref().unwrap();
        assert_eq!(lb.method, "drr");
        assert_eq!(lb.stickiness.as_ref().unwrap().cookie_name, "c");
        let loc = &loaded.locations;
        assert_eq!(
            loc.locate(&["backends", "b1", "loadBalancer", "method"]),
            Some((4, 10))
        );
        assert_eq!(
            loc.locate(&["backends", "b1", "loadBalancer", "stickiness"]),
            Some((5, 27))
        );
    }

    #[test]
    fn map_keys_are_matched_exactly_first() {
        let text = "[frontends.FE]\nbackend = \"a\"\n[frontends.fe]\nbackend = \"b\"\n";
        let loaded = load_dynamic("f.toml", text).unwrap();
        assert_eq!(loaded.value.frontends.len(), 2);
        assert_eq!(
            loaded.locations.locate(&["frontends", "fe", "backend"]),
            Some((4, 11))
        );
        assert_eq!(
            loaded.locations.locate(&["frontends", "FE", "backend"]),
            Some((2, 11))
        );
    }

    #[test]
    fn syntax_errors_are_explained() {
        let err = load_static("f.toml", "{\"a\": 1}").unwrap_err();
        assert_eq!(err.len(), 1);
        assert!(err[0].to_string().starts_with("f.toml:1:1: "), "{}", err[0]);
        assert!(err[0].message.contains("looks like JSON"));

        let err = load_static("f.toml", "a = 1\na = 2\n").unwrap_err();
        assert_eq!(err[0].to_string(), "f.toml:2:1: duplicate key a");
    }
}
