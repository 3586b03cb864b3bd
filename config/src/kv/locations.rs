//! Which store key each part of a decoded configuration came from: the key-value
//! counterpart of `load::Locations`, so that a semantic problem found later on the model
//! (`validate_dynamic`: an unknown backend, a rule that does not parse) is reported with the
//! key the operator has to fix.

use std::collections::HashMap;

use crate::Diagnostic;
use crate::validate::Problem;

/// Model paths (the segments `validate::Problem::path` uses: `["frontends", "f1", "routes",
/// "r", "rule"]`, list elements by index) to full store keys.
///
/// Every key a store holds is recorded on every read (30,000 for 10,000 frontends), and
/// read back only for the few findings: a path is kept as one string, its segments joined
/// by a separator no key holds, in a hash map — one allocation per path rather than one
/// per segment, and no ordered comparisons of long paths.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KvLocations {
    keys: HashMap<String, String>,
}

/// Joins path segments; the unit separator cannot occur in a key trafik reads as text.
const SEPARATOR: char = '\u{1f}';

fn joined(path: &[&str]) -> String {
    let mut out = String::with_capacity(path.iter().map(|s| s.len() + 1).sum());
    for (i, segment) in path.iter().enumerate() {
        if i > 0 {
            out.push(SEPARATOR);
        }
        out.push_str(segment);
    }
    out
}

impl KvLocations {
    pub(super) fn record(&mut self, path: &[&str], key: &str) {
        self.keys
            .entry(joined(path))
            .or_insert_with(|| key.to_string());
    }

    /// The key `path` was read from; when the path was not in the store (a default, a
    /// missing key), the key of its longest recorded ancestor.
    pub fn key(&self, path: &[&str]) -> Option<&str> {
        (1..=path.len())
            .rev()
            .find_map(|n| self.keys.get(&joined(&path[..n])))
            .map(String::as_str)
    }

    /// A diagnostic about `path`, named by its key (or by `fallback`, the prefix, say, when
    /// nothing of the path came from the store).
    pub fn diagnostic(
        &self,
        fallback: &str,
        path: &[&str],
        message: impl Into<String>,
    ) -> Diagnostic {
        let key = self.key(path).unwrap_or(fallback);
        Diagnostic::unlocated(key, message)
    }

    /// A `validate_dynamic` finding, named by its key.
    pub fn problem_diagnostic(&self, fallback: &str, problem: &Problem) -> Diagnostic {
        let path: Vec<&str> = problem.path.iter().map(String::as_str).collect();
        self.diagnostic(fallback, &path, problem.message.clone())
    }
}
