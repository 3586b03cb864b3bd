//! Annotation values decoded by the key-value layout's decoder (`crate::kv`), as
//! `crate::labels` does for labels: each annotation is rewritten as the store key it
//! stands for (`ingress.kubernetes.io/hsts-max-age` is `frontends/<f>/headers/stsseconds`)
//! and v1's YAML annotations are flattened into keys (`rate-limit`'s `rateset.api.period`
//! is `frontends/<f>/ratelimit/rateset/api/period`). One set of value rules (Go booleans,
//! durations, CSV lists, `Name:value||…` maps) and the same checks as every other
//! provider; a finding is reported at the annotation it came from.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::kv::{self, Severity};
use crate::model::{Backend, Frontend};

/// The synthetic tree the annotations are rewritten into.
const ROOT: &str = "annotations";
/// The frontend's and backend's name in it (the translation names them).
const SLOT: &str = "object";

/// Store keys and values, and the annotation each came from.
pub struct Layout {
    pairs: Vec<(String, Vec<u8>)>,
    origin: BTreeMap<String, String>,
    problems: Vec<(String, String)>,
}

impl Layout {
    pub fn new() -> Self {
        Layout {
            // The decoder wants a frontend to name its backend.
            pairs: vec![(
                format!("{ROOT}/frontends/{SLOT}/backend"),
                SLOT.as_bytes().to_vec(),
            )],
            origin: BTreeMap::new(),
            problems: Vec::new(),
        }
    }

    /// `annotation`'s `value` at `path` under the frontend (`frontend/…`) or the backend
    /// (`backend/…`).
    pub fn set(&mut self, annotation: &str, path: &str, value: &str) {
        let key = self.key(path);
        self.origin.insert(key.clone(), annotation.to_string());
        self.pairs.push((key, value.as_bytes().to_vec()));
    }

    /// v1's YAML annotation `annotation` flattened under `path`: mappings become folders
    /// (keys lower-cased, as Go's YAML decoder matched v1's field names), sequences CSV.
    pub fn set_yaml(&mut self, annotation: &str, path: &str, yaml: &str) {
        match serde_saphyr::from_str::<Value>(yaml) {
            Ok(Value::Object(map)) => self.flatten(annotation, path, &Value::Object(map)),
            Ok(_) => self.bad(annotation, "not a YAML mapping".to_string()),
            Err(e) => self.bad(
                annotation,
                format!("not YAML: {}", first_line(&e.to_string())),
            ),
        }
    }

    pub fn bad(&mut self, annotation: &str, why: String) {
        self.problems.push((annotation.to_string(), why));
    }

    fn flatten(&mut self, annotation: &str, path: &str, value: &Value) {
        match value {
            Value::Null => {}
            Value::Object(map) => {
                for (k, v) in map {
                    // A `/` would open another folder of the store than the one meant.
                    if k.is_empty() || k.contains('/') {
                        self.bad(annotation, format!("{k:?} is not a key name"));
                        continue;
                    }
                    let segment = if is_field(path) {
                        k.to_ascii_lowercase()
                    } else {
                        k.clone()
                    };
                    self.flatten(annotation, &format!("{path}/{segment}"), v);
                }
            }
            Value::Array(items) => {
                let mut text = Vec::new();
                for item in items {
                    match scalar(item) {
                        Some(s) => text.push(s),
                        None => {
                            self.bad(annotation, format!("{path}: a list of lists or maps"));
                            return;
                        }
                    }
                }
                self.set(annotation, path, &text.join(","));
            }
            other => {
                if let Some(s) = scalar(other) {
                    self.set(annotation, path, &s);
                }
            }
        }
    }

    fn key(&self, path: &str) -> String {
        let path = path
            .replacen("frontend/", &format!("frontends/{SLOT}/"), 1)
            .replacen("backend/", &format!("backends/{SLOT}/"), 1);
        format!("{ROOT}/{path}")
    }

    /// The frontend and backend the annotations describe; `Err`: one `(annotation, why)`
    /// per annotation that cannot be used.
    pub fn decode(self) -> Result<(Frontend, Backend), Vec<(String, String)>> {
        let mut problems = self.problems;
        let decoded = kv::decode(ROOT, &self.pairs);
        for p in decoded
            .problems
            .iter()
            .filter(|p| p.severity == Severity::Error)
        {
            let annotation = self
                .origin
                .get(&p.key)
                .or_else(|| {
                    // A finding about a folder: the first annotation under it.
                    let folder = format!("{}/", p.key);
                    self.origin
                        .iter()
                        .filter(|(k, _)| k.starts_with(&folder))
                        .map(|(_, a)| a)
                        .min()
                })
                .cloned()
                .unwrap_or_else(|| p.key.clone());
            // The decoder's "; frontend x skipped" names the placeholder: the translation
            // says what is left out.
            let message = p.message.split("; ").next().unwrap_or(&p.message);
            problems.push((annotation, message.to_string()));
        }
        if !problems.is_empty() {
            problems.sort();
            problems.dedup();
            return Err(problems);
        }
        let mut c = decoded.configuration;
        let mut frontend = c.frontends.remove(SLOT).unwrap_or_default();
        frontend.backend = String::new();
        Ok((frontend, c.backends.remove(SLOT).unwrap_or_default()))
    }
}

/// Whether the keys under `path` are field names (lower-cased to match v1's) rather than
/// names a user chose (a rate set's, an error page's).
fn is_field(path: &str) -> bool {
    !(path.ends_with("/rateset") || path.ends_with("/errors"))
}

fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or(text)
}
