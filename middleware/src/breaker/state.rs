//! The breaker's shared state: metrics and the Standby → Tripped → Recovering → Standby
//! machine.
//!
//! A trip fixes both deadlines at once (end of the fallback, end of the recovery), so the
//! state at any instant is a function of the clock: nothing has to run when a deadline
//! passes, and [`BreakerState::state`] is right even without traffic.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::time::Instant;

use super::metrics::{Outcome, RollingMetrics};

/// What the breaker does with requests now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    /// Every request goes through; metrics are watched.
    Standby,
    /// Every request is answered `503` without reaching the inner service.
    Tripped,
    /// A share of requests growing linearly from 0 to 100 % goes through, the rest get `503`.
    Recovering,
}

impl State {
    /// Lowercase name, as oxy logs it.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Standby => "standby",
            State::Tripped => "tripped",
            State::Recovering => "recovering",
        }
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The trip condition, evaluated over the rolling metrics.
pub(crate) type Condition = Arc<dyn Fn(&RollingMetrics) -> bool + Send + Sync>;

/// What a layer decides; the state is what it remembers.
#[derive(Clone)]
pub(crate) struct Policy {
    pub(crate) condition: Condition,
    pub(crate) check_period: Duration,
    pub(crate) fallback_duration: Duration,
    pub(crate) recovery_duration: Duration,
    /// Whether requests are timed: the condition reads latencies.
    pub(crate) latency: bool,
}

/// Given to an admitted request and handed back when it ends.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ticket {
    /// Trips so far when admitted: a request admitted before a trip must not count after it
    /// (a timeout finishing during the fallback would otherwise re-trip the fresh window).
    generation: u64,
    /// When it was admitted, if requests are timed.
    started: Option<Instant>,
}

/// The state of one circuit breaker, shared by every service built with it.
///
/// Cheap to clone (an `Arc`). Create one per backend and hand it to each new
/// [`BreakerLayer`](super::BreakerLayer) when a configuration reload keeps the backend, so that
/// a tripped breaker stays tripped and the metrics survive.
#[derive(Clone, Default)]
pub struct BreakerState {
    inner: Arc<Shared>,
}

#[derive(Default)]
struct Shared {
    /// `generation << 1 | open`, written under the lock whenever either changes: in
    /// standby, which is nearly always, a request is admitted from this alone, without
    /// the lock or the clock.
    gate: AtomicU64,
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    metrics: RollingMetrics,
    mode: Mode,
    generation: u64,
    /// No evaluation of the condition before this (`None`: at the next response).
    next_check: Option<Instant>,
    /// Recovery admission: each request adds the current share, one passes per whole unit.
    credit: f64,
}

#[derive(Debug, Clone, Copy, Default)]
enum Mode {
    #[default]
    Standby,
    Open {
        recover_at: Instant,
        standby_at: Instant,
    },
}

enum Phase {
    Standby,
    Tripped,
    /// The share of requests to let through, in [0, 1).
    Recovering(f64),
}

impl Inner {
    fn phase(&mut self, now: Instant) -> Phase {
        let Mode::Open {
            recover_at,
            standby_at,
        } = self.mode
        else {
            return Phase::Standby;
        };
        if now < recover_at {
            Phase::Tripped
        } else if now < standby_at {
            let done = now.duration_since(recover_at).as_secs_f64();
            Phase::Recovering(done / standby_at.duration_since(recover_at).as_secs_f64())
        } else {
            self.mode = Mode::Standby;
            Phase::Standby
        }
    }

    fn trip(&mut self, now: Instant, policy: &Policy) {
        let recover_at = now + policy.fallback_duration;
        self.mode = Mode::Open {
            recover_at,
            standby_at: recover_at + policy.recovery_duration,
        };
        self.generation += 1;
        self.metrics.reset();
        self.credit = 0.0;
    }
}

impl BreakerState {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // The lock is never held across user code that can panic except the condition; its
        // data stays consistent either way, so a poisoned lock is still usable.
        self.inner.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Publishes the generation and whether the breaker is open, after either changed.
    fn set_gate(&self, inner: &Inner) {
        let open = matches!(inner.mode, Mode::Open { .. });
        self.inner
            .gate
            .store(inner.generation << 1 | open as u64, Ordering::Release);
    }

    /// The state now (see [`State`]).
    pub fn state(&self) -> State {
        let mut inner = self.lock();
        let phase = inner.phase(Instant::now());
        self.set_gate(&inner);
        match phase {
            Phase::Standby => State::Standby,
            Phase::Tripped => State::Tripped,
            Phase::Recovering(_) => State::Recovering,
        }
    }

    /// Reads the metrics of the window ending now.
    pub fn metrics<R>(&self, read: impl FnOnce(&RollingMetrics) -> R) -> R {
        let mut inner = self.lock();
        inner.metrics.expire(Instant::now());
        read(&inner.metrics)
    }

    /// Whether a request arriving now may go to the inner service.
    pub(crate) fn admit(&self, policy: &Policy) -> Option<Ticket> {
        let started = || policy.latency.then(Instant::now);
        let gate = self.inner.gate.load(Ordering::Acquire);
        if gate & 1 == 0 {
            // Standby. A trip racing with this is seen at completion: the ticket then
            // carries the old generation and is not counted.
            return Some(Ticket {
                generation: gate >> 1,
                started: started(),
            });
        }
        let now = Instant::now();
        let mut inner = self.lock();
        let phase = inner.phase(now);
        self.set_gate(&inner);
        match phase {
            Phase::Standby => {}
            Phase::Tripped => return None,
            Phase::Recovering(share) => {
                // Deterministic, and exact over any run of requests at a steady share: with
                // share 1/4, every fourth request passes. oxy instead steers the cumulative
                // ratio toward share/2, which lags behind the ramp after a burst.
                inner.credit += share;
                if inner.credit < 1.0 {
                    return None;
                }
                inner.credit -= 1.0;
            }
        }
        Some(Ticket {
            generation: inner.generation,
            started: policy.latency.then_some(now),
        })
    }

    /// Records how an admitted request ended and, at most once per check period, evaluates
    /// the condition. Never while tripped: a request admitted before the trip is ignored, and
    /// none is admitted during it.
    pub(crate) fn complete(&self, ticket: Ticket, outcome: Outcome, policy: &Policy) {
        let now = Instant::now();
        let mut inner = self.lock();
        if ticket.generation != inner.generation {
            return;
        }
        let latency = ticket.started.map(|s| now.saturating_duration_since(s));
        inner.metrics.count(now, latency, outcome);
        if inner.next_check.is_some_and(|at| now < at) {
            return;
        }
        inner.next_check = Some(now + policy.check_period);
        inner.metrics.expire(now);
        if (policy.condition)(&inner.metrics) {
            inner.trip(now, policy);
            self.set_gate(&inner);
        }
    }
}

impl fmt::Debug for BreakerState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BreakerState")
            .field("state", &self.state())
            .finish_non_exhaustive()
    }
}
