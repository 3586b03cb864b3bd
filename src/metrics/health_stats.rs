//! The statistics behind v1's `/health`: proxied requests by status, live (the current
//! second) and since start, their response times, and the most recent errors. Internal
//! routes (API, ping, dashboard, metrics) are not counted, as in v1.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// One failed request, as `recent_errors` lists it.
#[derive(Debug, Clone)]
pub struct RecentError {
    pub status: u16,
    pub method: String,
    pub host: String,
    pub path: String,
    pub time: SystemTime,
}

pub struct HealthStats {
    started: Instant,
    started_at: SystemTime,
    /// `[api.statistics] recentErrors`; 0 without `[api.statistics]`, as v1 keeps none then.
    recent_capacity: usize,
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    /// Whole seconds since start of the live window.
    window: u64,
    live_codes: BTreeMap<u16, u64>,
    live_count: u64,
    total_codes: BTreeMap<u16, u64>,
    total_count: u64,
    total_time: Duration,
    recent: VecDeque<RecentError>,
}

impl HealthStats {
    pub fn new(recent_errors: usize) -> Self {
        HealthStats {
            started: Instant::now(),
            started_at: SystemTime::now(),
            recent_capacity: recent_errors,
            inner: Mutex::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn second(&self) -> u64 {
        self.started.elapsed().as_secs()
    }

    /// Counts one proxied request; `error` is filled in for statuses ≥ 400 only when
    /// recent errors are kept.
    pub fn record(&self, status: u16, took: Duration, error: impl FnOnce() -> RecentError) {
        let second = self.second();
        let error = (status >= 400 && self.recent_capacity > 0).then(error);
        let mut inner = self.lock();
        if inner.window != second {
            inner.window = second;
            inner.live_codes.clear();
            inner.live_count = 0;
        }
        *inner.live_codes.entry(status).or_default() += 1;
        inner.live_count += 1;
        *inner.total_codes.entry(status).or_default() += 1;
        inner.total_count += 1;
        inner.total_time += took;
        if let Some(e) = error {
            if inner.recent.len() == self.recent_capacity {
                inner.recent.pop_back();
            }
            inner.recent.push_front(e);
        }
    }

    /// v1's `/health` body.
    pub fn to_json(&self) -> Value {
        let uptime = self.started.elapsed();
        let second = uptime.as_secs();
        let inner = self.lock();
        let live = inner.window == second;
        let codes = |m: &BTreeMap<u16, u64>| -> Value {
            m.iter().map(|(k, v)| (k.to_string(), json!(v))).collect()
        };
        let average = if inner.total_count > 0 {
            inner.total_time / u32::try_from(inner.total_count).unwrap_or(u32::MAX)
        } else {
            Duration::ZERO
        };
        let now = SystemTime::now();
        let unix = now
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        json!({
            "pid": std::process::id(),
            "uptime": go_duration(uptime),
            "uptime_sec": uptime.as_secs_f64(),
            "time": rfc3339(now),
            "unixtime": unix,
            "status_code_count": if live { codes(&inner.live_codes) } else { json!({}) },
            "total_status_code_count": codes(&inner.total_codes),
            "count": if live { inner.live_count } else { 0 },
            "total_count": inner.total_count,
            "total_response_time": go_duration(inner.total_time),
            "total_response_time_sec": inner.total_time.as_secs_f64(),
            "average_response_time": go_duration(average),
            "average_response_time_sec": average.as_secs_f64(),
            "recent_errors": inner.recent.iter().map(|e| json!({
                "status_code": e.status,
                "status": http::StatusCode::from_u16(e.status)
                    .ok()
                    .and_then(|s| s.canonical_reason())
                    .unwrap_or(""),
                "method": e.method,
                "host": e.host,
                "path": e.path,
                "time": rfc3339(e.time),
            })).collect::<Vec<_>>(),
            "start_time": rfc3339(self.started_at),
        })
    }
}

fn go_duration(d: Duration) -> String {
    trafik_config::Duration::from(d).to_string()
}

fn rfc3339(t: SystemTime) -> String {
    OffsetDateTime::from(t).format(&Rfc3339).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(status: u16) -> RecentError {
        RecentError {
            status,
            method: "GET".into(),
            host: "h".into(),
            path: format!("/{status}"),
            time: SystemTime::now(),
        }
    }

    #[test]
    fn counts_totals_and_keeps_the_newest_errors() {
        let stats = HealthStats::new(2);
        stats.record(200, Duration::from_millis(10), || error(200));
        stats.record(502, Duration::from_millis(30), || error(502));
        stats.record(404, Duration::from_millis(20), || error(404));
        stats.record(500, Duration::from_millis(20), || error(500));
        let v = stats.to_json();
        assert_eq!(v["total_count"], 4);
        assert_eq!(v["total_status_code_count"]["502"], 1);
        assert_eq!(v["average_response_time_sec"], 0.02);
        assert_eq!(v["average_response_time"], "20ms");
        let recent: Vec<_> = v["recent_errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["status_code"].as_u64().unwrap())
            .collect();
        assert_eq!(recent, [500, 404]);
        assert_eq!(v["recent_errors"][0]["status"], "Internal Server Error");
    }

    #[test]
    fn without_statistics_no_error_is_kept() {
        let stats = HealthStats::new(0);
        stats.record(500, Duration::ZERO, || unreachable!("not asked for"));
        assert_eq!(
            stats.to_json()["recent_errors"].as_array().unwrap().len(),
            0
        );
    }
}
