//! Which store key each part of a decoded configuration came from: the key-value
//! counterpart of `load::Locations`, so that a semantic problem found later on the model
//! (`validate_dynamic`: an unknown backend, a rule that does not parse) is reported with the
//! key the operator has to fix.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::hash::BuildHasher;

use crate::Diagnostic;
use crate::validate::Problem;

/// Model paths (the segments `validate::Problem::path` uses: `["frontends", "f1", "routes",
/// "r", "rule"]`, list elements by index) to full store keys.
///
/// Every key a store holds is recorded on every read (30,000 for 10,000 frontends), and
/// read back only for the few findings: so recording must cost next to nothing. The keys
/// go one after another into one string, and a path is kept only as a 64-bit hash of its
/// segments pointing at its key there: no allocation per key, two for the whole store.
/// (Two paths of one store sharing a hash, about one chance in 10^11 at 30,000 keys, would
/// only name the wrong key in an error message.)
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KvLocations {
    /// Every recorded key, one after another.
    keys: String,
    /// The hash of a path → its key's start and end in `keys`.
    by_path: HashMap<u64, (u32, u32), foldhash::fast::RandomState>,
}

fn path_hash(path: &[&str]) -> u64 {
    // A fixed seed: equal paths hash alike in every map, across reads.
    foldhash::fast::FixedState::with_seed(0x7472_6166_696b).hash_one(path)
}

impl KvLocations {
    pub(super) fn record(&mut self, path: &[&str], key: &str) {
        let start = self.keys.len();
        let (Ok(from), Ok(to)) = (u32::try_from(start), u32::try_from(start + key.len())) else {
            // Over 4 GiB of keys: no store holds that many; not recorded.
            return;
        };
        if let Entry::Vacant(slot) = self.by_path.entry(path_hash(path)) {
            self.keys.push_str(key);
            slot.insert((from, to));
        }
    }

    /// The key `path` was read from; when the path was not in the store (a default, a
    /// missing key), the key of its longest recorded ancestor.
    pub fn key(&self, path: &[&str]) -> Option<&str> {
        (1..=path.len())
            .rev()
            .find_map(|n| self.by_path.get(&path_hash(&path[..n])))
            .map(|&(from, to)| &self.keys[from as usize..to as usize])
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
