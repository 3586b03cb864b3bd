//! Request statistics over a rolling window of the last ten seconds, kept as a ring of
//! one-second buckets (oxy's `RTMetrics`: counters of 10 × 1 s).

use std::time::Duration;

use http::StatusCode;
use tokio::time::Instant;

use super::histogram::{self, Histogram};

/// Number of one-second buckets in the window.
pub const WINDOW_BUCKETS: usize = 10;
/// The span of one bucket. The window covers the current, partial, second and the nine
/// before it: between 9 and 10 seconds.
pub const BUCKET_WIDTH: Duration = Duration::from_secs(1);

/// How a request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The inner service answered. `502` and `504` also count as network errors: v1's
    /// forwarder reported failures to reach a server as those, and its breaker counted them.
    Response(StatusCode),
    /// The inner service failed; `network` is the classifier's verdict.
    Error { network: bool },
}

/// Rolling request statistics: counts, network errors, status codes and latencies.
///
/// Reads cover the window ending at the latest time given to [`record`](Self::record) or
/// [`expire`](Self::expire).
#[derive(Debug, Clone)]
pub struct RollingMetrics {
    /// Bucket numbers are whole seconds since this instant.
    origin: Instant,
    /// The latest second seen; buckets older than the window before it are ignored.
    now: u64,
    slots: [Slot; WINDOW_BUCKETS],
}

#[derive(Debug, Clone, Default)]
struct Slot {
    /// The second the counts belong to; `None` when empty.
    second: Option<u64>,
    requests: u64,
    network_errors: u64,
    /// `(code, count)`; a backend answers with few distinct codes, so a list beats a map.
    codes: Vec<(u16, u64)>,
    /// Allocated on first use and then reused, so an idle breaker costs no histogram.
    latency: Option<Box<Histogram>>,
}

impl Slot {
    /// Empties the slot, keeping its allocations.
    fn clear(&mut self, second: Option<u64>) {
        self.second = second;
        self.requests = 0;
        self.network_errors = 0;
        self.codes.clear();
        if let Some(h) = &mut self.latency {
            h.clear();
        }
    }
}

impl Default for RollingMetrics {
    fn default() -> Self {
        Self::new()
    }
}

impl RollingMetrics {
    pub fn new() -> Self {
        RollingMetrics {
            origin: Instant::now(),
            now: 0,
            slots: Default::default(),
        }
    }

    /// In whole seconds, not nanoseconds: this runs for every request, and a `u128`
    /// division is a library call.
    fn second(&self, at: Instant) -> u64 {
        at.saturating_duration_since(self.origin).as_secs() / BUCKET_WIDTH.as_secs()
    }

    fn live(&self) -> impl Iterator<Item = &Slot> {
        let oldest = self.now.saturating_sub(WINDOW_BUCKETS as u64 - 1);
        self.slots
            .iter()
            .filter(move |s| s.second.is_some_and(|sec| sec >= oldest && sec <= self.now))
    }

    /// Counts a request that ended at `now` after `latency`.
    pub fn record(&mut self, now: Instant, latency: Duration, outcome: Outcome) {
        self.count(now, Some(latency), outcome);
    }

    /// [`record`](Self::record), without a latency when requests are not timed (the
    /// condition reads none): it then adds nothing to the latency histogram.
    pub(crate) fn count(&mut self, now: Instant, latency: Option<Duration>, outcome: Outcome) {
        let second = self.second(now);
        self.now = self.now.max(second);
        let slot = &mut self.slots[(second % WINDOW_BUCKETS as u64) as usize];
        match slot.second {
            Some(s) if s == second => {}
            // Holds a newer second: this record is older than the window.
            Some(s) if s > second => return,
            _ => slot.clear(Some(second)),
        }
        slot.requests += 1;
        let network = match outcome {
            Outcome::Response(status) => {
                let code = status.as_u16();
                match slot.codes.iter_mut().find(|(c, _)| *c == code) {
                    Some((_, n)) => *n += 1,
                    None => slot.codes.push((code, 1)),
                }
                status == StatusCode::BAD_GATEWAY || status == StatusCode::GATEWAY_TIMEOUT
            }
            Outcome::Error { network } => network,
        };
        if network {
            slot.network_errors += 1;
        }
        let Some(latency) = latency else {
            return;
        };
        let micros = latency
            .as_secs()
            .saturating_mul(1_000_000)
            .saturating_add(latency.subsec_micros().into());
        slot.latency
            .get_or_insert_with(|| Box::new(Histogram::new()))
            .record(micros);
    }

    /// Moves the window's end to `now`, forgetting what falls out of it.
    pub fn expire(&mut self, now: Instant) {
        self.now = self.now.max(self.second(now));
    }

    /// Forgets everything (on a trip).
    pub fn reset(&mut self) {
        for slot in &mut self.slots {
            slot.clear(None);
        }
    }

    /// Requests ended in the window, answered or failed.
    pub fn requests(&self) -> u64 {
        self.live().map(|s| s.requests).sum()
    }

    /// Network errors in the window (see [`Outcome`]).
    pub fn network_errors(&self) -> u64 {
        self.live().map(|s| s.network_errors).sum()
    }

    /// Network errors over requests; 0 without requests.
    pub fn network_error_ratio(&self) -> f64 {
        match self.requests() {
            0 => 0.0,
            n => self.network_errors() as f64 / n as f64,
        }
    }

    /// Responses with a status code in `[from, to)`. Failed requests have no code.
    pub fn responses(&self, from: u16, to: u16) -> u64 {
        self.live()
            .flat_map(|s| &s.codes)
            .filter(|(code, _)| (from..to).contains(code))
            .map(|(_, n)| n)
            .sum()
    }

    /// Responses with a code in `[a, b)` over those with a code in `[c, d)`; 0 when the
    /// latter is 0 (v1 `ResponseCodeRatio`).
    pub fn response_code_ratio(&self, a: u16, b: u16, c: u16, d: u16) -> f64 {
        match self.responses(c, d) {
            0 => 0.0,
            n => self.responses(a, b) as f64 / n as f64,
        }
    }

    /// The latency under which `q` percent of the window's requests ended (50.0 is the
    /// median); zero without requests. Latency is the time from the call to the response
    /// head or the error. Accurate to 1/16 (see the histogram), exact at the extremes.
    pub fn latency_at_quantile(&self, q: f64) -> Duration {
        let hists: Vec<&Histogram> = self.live().filter_map(|s| s.latency.as_deref()).collect();
        Duration::from_micros(histogram::quantile(&hists, q))
    }

    /// [`latency_at_quantile`](Self::latency_at_quantile) in (fractional) milliseconds.
    pub fn latency_at_quantile_ms(&self, q: f64) -> f64 {
        self.latency_at_quantile(q).as_secs_f64() * 1000.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OK: Outcome = Outcome::Response(StatusCode::OK);

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn ratios() {
        let mut m = RollingMetrics::new();
        let t0 = m.origin;
        assert_eq!(m.network_error_ratio(), 0.0);
        assert_eq!(m.response_code_ratio(500, 600, 0, 600), 0.0);
        for _ in 0..6 {
            m.record(t0, ms(1), OK);
        }
        m.record(t0, ms(1), Outcome::Response(StatusCode::BAD_GATEWAY));
        m.record(t0, ms(1), Outcome::Response(StatusCode::GATEWAY_TIMEOUT));
        m.record(
            t0,
            ms(1),
            Outcome::Response(StatusCode::INTERNAL_SERVER_ERROR),
        );
        m.record(t0, ms(1), Outcome::Error { network: true });
        m.record(t0, ms(1), Outcome::Error { network: false });
        assert_eq!(m.requests(), 11);
        assert_eq!(m.network_errors(), 3);
        assert_eq!(m.network_error_ratio(), 3.0 / 11.0);
        assert_eq!(m.responses(500, 600), 3);
        // Errors have no status code.
        assert_eq!(m.response_code_ratio(500, 600, 0, 600), 3.0 / 9.0);
        assert_eq!(m.response_code_ratio(500, 501, 500, 501), 1.0);
    }

    #[test]
    fn the_window_slides_by_seconds() {
        let mut m = RollingMetrics::new();
        let t0 = m.origin;
        m.record(t0, ms(1), OK);
        m.record(t0 + ms(4_500), ms(1), OK);
        m.expire(t0 + ms(9_999));
        assert_eq!(m.requests(), 2);
        // Second 10: second 0 has left the window, second 4 has not.
        m.expire(t0 + ms(10_000));
        assert_eq!(m.requests(), 1);
        m.expire(t0 + ms(14_000));
        assert_eq!(m.requests(), 0);
        // A slot is reused for its new second without the old counts.
        m.record(t0 + ms(20_000), ms(1), OK);
        assert_eq!(m.requests(), 1);
        // Records older than the window are dropped.
        m.record(t0 + ms(5_000), ms(1), OK);
        assert_eq!(m.requests(), 1);
    }

    #[test]
    fn latency_quantiles_span_the_window() {
        let mut m = RollingMetrics::new();
        let t0 = m.origin;
        assert_eq!(m.latency_at_quantile(50.0), Duration::ZERO);
        for i in 0..100u64 {
            m.record(t0 + ms(i * 50), ms(i + 1), OK);
        }
        assert_eq!(m.latency_at_quantile(100.0), ms(100));
        assert_eq!(m.latency_at_quantile(0.0), ms(1));
        let p50 = m.latency_at_quantile_ms(50.0);
        assert!((50.0..=50.0 * 17.0 / 16.0).contains(&p50), "{p50}");
        m.reset();
        assert_eq!(m.requests(), 0);
        assert_eq!(m.latency_at_quantile(50.0), Duration::ZERO);
    }
}
