//! One compiled regex per distinct pattern, process-wide.
//!
//! A compiled `Regex` is large (about 18 KB for a host template such as
//! `^(?:[a-z]+)\.r7\.example\.com$`, case-insensitive: forward and reverse NFAs, a one-pass
//! DFA, a prefilter) and slow to build (tens of µs). Configurations repeat patterns: the host
//! templates of 2,500 frontends differ only in their literal end, which the rule index checks
//! (so they share `^(?:[a-z]+)$`), and a reload recompiles the same rules again. Entries are
//! weak: a pattern no live rule uses is freed with its last rule, and dead entries are swept
//! when the map has doubled since the last sweep.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

use regex::{Regex, RegexBuilder};

type Key = (Box<str>, bool);

struct Cache {
    map: HashMap<Key, Weak<Regex>>,
    /// Sweep dead entries when the map grows past this.
    sweep_at: usize,
}

static CACHE: Mutex<Option<Cache>> = Mutex::new(None);

/// The compiled `pattern` (case-insensitive when `case_insensitive`), shared with every other
/// live user of the same pattern and flag.
pub(crate) fn shared(pattern: &str, case_insensitive: bool) -> Result<Arc<Regex>, regex::Error> {
    let key: Key = (pattern.into(), case_insensitive);
    if let Some(re) = lock().as_ref().and_then(|c| c.map.get(&key)?.upgrade()) {
        return Ok(re);
    }
    // Built outside the lock: another compile may race us to the same pattern, then the last
    // insert wins and both results are correct.
    let re = Arc::new(
        RegexBuilder::new(pattern)
            .case_insensitive(case_insensitive)
            .build()?,
    );
    let mut guard = lock();
    let cache = guard.get_or_insert_with(|| Cache {
        map: HashMap::new(),
        sweep_at: 1024,
    });
    cache.map.insert(key, Arc::downgrade(&re));
    if cache.map.len() >= cache.sweep_at {
        cache.map.retain(|_, w| w.strong_count() > 0);
        cache.sweep_at = (cache.map.len() * 2).max(1024);
    }
    Ok(re)
}

fn lock() -> std::sync::MutexGuard<'static, Option<Cache>> {
    // A panic while holding the lock leaves a map that is still valid.
    CACHE.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_pattern_same_regex_until_dropped() {
        let a = shared("^unit-test-a[0-9]+$", true).unwrap();
        let b = shared("^unit-test-a[0-9]+$", true).unwrap();
        assert!(Arc::ptr_eq(&a, &b));
        let other_case = shared("^unit-test-a[0-9]+$", false).unwrap();
        assert!(!Arc::ptr_eq(&a, &other_case));
        assert!(a.is_match("UNIT-TEST-A12"));
        assert!(!other_case.is_match("UNIT-TEST-A12"));
        let weak = Arc::downgrade(&a);
        drop((a, b));
        assert!(
            weak.upgrade().is_none(),
            "the cache keeps no strong reference"
        );
        assert!(shared("(", false).is_err());
    }
}
