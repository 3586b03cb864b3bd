//! `[accessLog.filters]`: which requests get a line, decided when the request ends and
//! before anything is queued or rendered, so a dropped line costs a few comparisons.
//! As v1's `keepAccessLog`: no filter set ⇒ every request; otherwise any one that matches
//! keeps it (status in `statusCodes`, retried with `retryAttempts`, slower than
//! `minDuration`).

use std::time::Duration;

use trafik_config::AccessLogFilters;
use trafik_config::model::access_log::parse_status_codes;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filters {
    /// Inclusive status ranges.
    status_codes: Vec<(u16, u16)>,
    retry_attempts: bool,
    min_duration: Option<Duration>,
}

impl Filters {
    /// `None` when nothing is filtered (no table, or one with nothing set), so the request
    /// path does not even look. A bad status entry is an error naming it (the static
    /// configuration's validation reports it with its location first).
    pub fn from_config(config: Option<&AccessLogFilters>) -> Result<Option<Filters>, String> {
        let Some(c) = config else { return Ok(None) };
        let mut status_codes = Vec::new();
        for entry in &c.status_codes {
            status_codes.extend(parse_status_codes(entry)?);
        }
        let filters = Filters {
            status_codes,
            retry_attempts: c.retry_attempts,
            min_duration: (!c.min_duration.is_zero()).then(|| c.min_duration.get()),
        };
        Ok((filters != Filters::default()).then_some(filters))
    }

    /// Whether a request that ended with `status` after `retries` retries and `took` gets
    /// its line.
    pub fn keep(&self, status: u16, retries: u32, took: Duration) -> bool {
        self.status_codes
            .iter()
            .any(|&(low, high)| (low..=high).contains(&status))
            || (self.retry_attempts && retries > 0)
            || self.min_duration.is_some_and(|min| took > min)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filters(codes: &[&str], retries: bool, min_ms: u64) -> Option<Filters> {
        Filters::from_config(Some(&AccessLogFilters {
            status_codes: codes.iter().map(|c| c.to_string()).collect(),
            retry_attempts: retries,
            min_duration: trafik_config::Duration::from_millis(min_ms),
        }))
        .unwrap()
    }

    const FAST: Duration = Duration::from_millis(1);

    #[test]
    fn nothing_set_filters_nothing() {
        assert_eq!(Filters::from_config(None), Ok(None));
        assert_eq!(filters(&[], false, 0), None);
    }

    #[test]
    fn status_codes_keep_only_their_ranges() {
        let f = filters(&["200", "300-302"], false, 0).unwrap();
        for (status, kept) in [
            (200, true),
            (201, false),
            (300, true),
            (302, true),
            (303, false),
            (404, false),
        ] {
            assert_eq!(f.keep(status, 0, FAST), kept, "{status}");
        }
    }

    #[test]
    fn any_filter_that_matches_keeps_the_line() {
        let f = filters(&["500-599"], true, 100).unwrap();
        assert!(f.keep(502, 0, FAST));
        assert!(f.keep(200, 1, FAST), "retried");
        assert!(f.keep(200, 0, Duration::from_millis(101)), "slow");
        assert!(
            !f.keep(200, 0, Duration::from_millis(100)),
            "not longer than the minimum"
        );
        assert!(!f.keep(200, 0, FAST));
        let retries_only = filters(&[], true, 0).unwrap();
        assert!(!retries_only.keep(500, 0, Duration::from_secs(9)));
    }

    #[test]
    fn a_bad_entry_is_named() {
        let e = Filters::from_config(Some(&AccessLogFilters {
            status_codes: vec!["2xx".into()],
            ..Default::default()
        }))
        .unwrap_err();
        assert!(e.contains("\"2xx\""), "{e}");
    }
}
