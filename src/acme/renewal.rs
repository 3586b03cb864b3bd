//! Which domain sets are ordered at a check: the pure choice, apart from the order itself.
//!
//! As Traefik 1.7's `renewCertificates`, every stored certificate is a candidate, not only
//! the configured ones: a certificate stored for names no `[[acme.domains]]` or Host rule
//! asks for any more (one from a Traefik 1.7 `acme.json`, a frontend removed) keeps being
//! served, so it is kept valid too. v1 makes no exception for those. A stored certificate
//! that does not load is, as in v1 ("assume the cert is broken, and needs update"), ordered
//! again for the names it is stored under.

use std::time::{Duration, SystemTime};

/// A stored certificate as the choice sees it: its names (lowercased, main first) and its
/// expiry, `None` when it does not load.
pub struct Stored {
    pub names: Vec<String>,
    pub not_after: Option<SystemTime>,
}

/// The sets to order now, each once: first each wanted set whose stored certificate is
/// missing, broken or has `renew_before` or less left; then each other stored certificate
/// that is broken or has `renew_before` or less left. A stored set with an empty name
/// (a hand-edited `acme.json`) cannot be ordered and is left out: it is returned in the
/// second list, to be logged.
pub fn due(
    wanted: &[Vec<String>],
    stored: &[Stored],
    now: SystemTime,
    renew_before: Duration,
) -> (Vec<Vec<String>>, Vec<Vec<String>>) {
    let is_due = |not_after: Option<SystemTime>| match not_after {
        Some(t) => t
            .duration_since(now)
            .map_or(true, |left| left <= renew_before),
        None => true,
    };
    let mut due: Vec<Vec<String>> = Vec::new();
    let mut unorderable = Vec::new();
    for set in wanted {
        let not_after = stored.iter().find(|s| s.names == *set).map(|s| s.not_after);
        // Missing (None), or stored and due.
        if not_after.is_none_or(is_due) && !due.contains(set) {
            due.push(set.clone());
        }
    }
    for s in stored {
        if wanted.contains(&s.names) || due.contains(&s.names) || !is_due(s.not_after) {
            continue;
        }
        if s.names.iter().any(String::is_empty) {
            if !unorderable.contains(&s.names) {
                unorderable.push(s.names.clone());
            }
            continue;
        }
        due.push(s.names.clone());
    }
    (due, unorderable)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: Duration = Duration::from_secs(24 * 3600);

    fn set(names: &[&str]) -> Vec<String> {
        names.iter().map(|n| n.to_string()).collect()
    }

    fn stored(names: &[&str], left: Option<Duration>, now: SystemTime) -> Stored {
        Stored {
            names: set(names),
            not_after: left.map(|l| now + l),
        }
    }

    #[test]
    fn every_stored_certificate_due_is_renewed_configured_or_not() {
        let now = SystemTime::now();
        let wanted = vec![
            set(&["a.test"]),
            set(&["b.test", "www.b.test"]),
            set(&["new.test"]),
        ];
        let stored = vec![
            stored(&["a.test"], Some(90 * DAY), now), // configured, valid: kept
            stored(&["b.test", "www.b.test"], Some(30 * DAY), now), // configured, due (≤ 30 days)
            stored(&["v1.test"], Some(10 * DAY), now), // from v1's acme.json, due
            stored(&["kept.test"], Some(31 * DAY), now), // not configured, valid: kept
            stored(&["broken.test"], None, now),      // does not load: ordered again, as v1
            stored(&["expired.test"], Some(Duration::ZERO), now),
        ];
        let (due, unorderable) = due(&wanted, &stored, now, 30 * DAY);
        assert_eq!(
            due,
            vec![
                set(&["b.test", "www.b.test"]),
                set(&["new.test"]), // configured, nothing stored
                set(&["v1.test"]),
                set(&["broken.test"]),
                set(&["expired.test"]),
            ]
        );
        assert!(unorderable.is_empty());
    }

    #[test]
    fn an_expired_certificate_and_duplicates_are_ordered_once() {
        let now = SystemTime::now();
        // Expired a day ago (duration_since fails): due.
        let past = Stored {
            names: set(&["old.test"]),
            not_after: Some(now - DAY),
        };
        let again = Stored {
            names: set(&["old.test"]),
            not_after: Some(now - DAY),
        };
        let (due, _) = due(&[set(&["x.test"])], &[past, again], now, 30 * DAY);
        assert_eq!(due, vec![set(&["x.test"]), set(&["old.test"])]);
    }

    #[test]
    fn a_stored_set_with_an_empty_name_is_not_ordered_but_reported() {
        let now = SystemTime::now();
        let (due, unorderable) = due(&[], &[stored(&[""], None, now)], now, 30 * DAY);
        assert!(due.is_empty());
        assert_eq!(unorderable, vec![set(&[""])]);
    }
}
