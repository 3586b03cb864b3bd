//! The circuit breaker on a paused clock: tripping, fallback, linear recovery, re-tripping,
//! the check period and state shared across layers. No real time passes.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use http::{Request, Response, StatusCode};
use tokio::time::{Instant, advance};
use tower::{Layer, Service, ServiceExt, service_fn};
use trafik_middleware::breaker::{BreakerLayer, BreakerState, RollingMetrics, State};

#[derive(Debug, PartialEq)]
enum Failure {
    /// A network error: the backend refused the connection.
    Refused,
    /// Not a network error (e.g. a malformed response).
    Protocol,
}

/// A backend whose answer is chosen by the path: `/ok`, `/<status>`, `/refused`,
/// `/protocol`, `/slow/<ms>` (200 after that long). Counts its calls.
#[derive(Clone, Default)]
struct Backend {
    calls: Arc<AtomicUsize>,
}

impl Backend {
    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    fn service(
        &self,
    ) -> impl Service<Request<()>, Response = Response<String>, Error = Failure> + Clone + 'static
    {
        let calls = self.calls.clone();
        service_fn(move |req: Request<()>| {
            calls.fetch_add(1, Ordering::SeqCst);
            let path = req.uri().path().to_string();
            async move {
                let status = match path.trim_start_matches('/') {
                    "ok" => StatusCode::OK,
                    "refused" => return Err(Failure::Refused),
                    "protocol" => return Err(Failure::Protocol),
                    p if p.starts_with("slow/") => {
                        let ms = p["slow/".len()..].parse().unwrap();
                        tokio::time::sleep(Duration::from_millis(ms)).await;
                        StatusCode::OK
                    }
                    p => StatusCode::from_u16(p.parse().unwrap()).unwrap(),
                };
                let mut response = Response::new(String::from("from backend"));
                *response.status_mut() = status;
                Ok(response)
            }
        })
    }
}

async fn send<S>(svc: &mut S, path: &str) -> Result<Response<String>, Failure>
where
    S: Service<Request<()>, Response = Response<String>, Error = Failure>,
{
    let req = Request::get(path).body(()).unwrap();
    svc.ready().await?.call(req).await
}

async fn status<S>(svc: &mut S, path: &str) -> StatusCode
where
    S: Service<Request<()>, Response = Response<String>, Error = Failure>,
{
    send(svc, path).await.expect("a response").status()
}

/// Sends `n` requests at the current instant and counts those that reached the backend.
async fn passed<S>(svc: &mut S, n: usize) -> usize
where
    S: Service<Request<()>, Response = Response<String>, Error = Failure>,
{
    let mut ok = 0;
    for _ in 0..n {
        match status(svc, "/ok").await {
            StatusCode::OK => ok += 1,
            StatusCode::SERVICE_UNAVAILABLE => {}
            other => panic!("unexpected {other}"),
        }
    }
    ok
}

fn server_errors(m: &RollingMetrics) -> bool {
    m.response_code_ratio(500, 600, 0, 600) > 0.5
}

const MS: Duration = Duration::from_millis(1);
const SEC: Duration = Duration::from_secs(1);

#[tokio::test(start_paused = true)]
async fn trips_on_server_errors_and_answers_503_itself() {
    let backend = Backend::default();
    let state = BreakerState::new();
    let mut svc = BreakerLayer::new(state.clone(), server_errors).layer(backend.service());

    // The first response is checked (ratio 0); the next ones fall within the check period.
    for _ in 0..10 {
        assert_eq!(status(&mut svc, "/ok").await, StatusCode::OK);
    }
    for _ in 0..11 {
        assert_eq!(
            status(&mut svc, "/500").await,
            StatusCode::INTERNAL_SERVER_ERROR
        );
    }
    assert_eq!(state.state(), State::Standby);
    assert_eq!(state.metrics(|m| m.requests()), 21);

    advance(100 * MS).await;
    // This response is the one that trips the breaker; it is still passed on.
    assert_eq!(
        status(&mut svc, "/500").await,
        StatusCode::INTERNAL_SERVER_ERROR
    );
    assert_eq!(state.state(), State::Tripped);
    // Stats reset on a trip.
    assert_eq!(state.metrics(|m| m.requests()), 0);

    let calls = backend.calls();
    let response = send(&mut svc, "/ok").await.unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(response.body(), "Service Unavailable");
    assert_eq!(
        response.headers()["content-type"],
        "text/plain; charset=utf-8"
    );
    assert_eq!(backend.calls(), calls, "the backend was not called");
}

#[tokio::test(start_paused = true)]
async fn trips_on_network_errors_as_classified() {
    let backend = Backend::default();
    let state = BreakerState::new();
    let mut svc = BreakerLayer::new(state.clone(), |m| m.network_error_ratio() > 0.5)
        .network_errors(|e: &Failure| *e == Failure::Refused)
        .layer(backend.service());

    assert_eq!(status(&mut svc, "/ok").await, StatusCode::OK);
    // Errors are passed on unchanged; a protocol error counts as a request only.
    for _ in 0..3 {
        assert_eq!(
            send(&mut svc, "/protocol").await.unwrap_err(),
            Failure::Protocol
        );
    }
    advance(100 * MS).await;
    assert_eq!(status(&mut svc, "/ok").await, StatusCode::OK);
    assert_eq!(
        state.metrics(|m| (m.requests(), m.network_errors())),
        (5, 0)
    );

    // Refused connections and 502/504 answers are network errors: 6 of 11.
    for _ in 0..4 {
        assert_eq!(
            send(&mut svc, "/refused").await.unwrap_err(),
            Failure::Refused
        );
    }
    assert_eq!(status(&mut svc, "/502").await, StatusCode::BAD_GATEWAY);
    assert_eq!(status(&mut svc, "/504").await, StatusCode::GATEWAY_TIMEOUT);
    assert_eq!(
        state.metrics(|m| (m.requests(), m.network_errors())),
        (11, 6)
    );
    assert_eq!(state.state(), State::Standby, "not checked yet");

    advance(100 * MS).await;
    assert_eq!(
        send(&mut svc, "/refused").await.unwrap_err(),
        Failure::Refused
    );
    assert_eq!(state.state(), State::Tripped);
    assert_eq!(
        status(&mut svc, "/ok").await,
        StatusCode::SERVICE_UNAVAILABLE
    );
}

#[tokio::test(start_paused = true)]
async fn trips_on_latency() {
    let backend = Backend::default();
    let state = BreakerState::new();
    let mut svc = BreakerLayer::new(state.clone(), |m| m.latency_at_quantile_ms(50.0) > 100.0)
        .layer(backend.service());

    for _ in 0..3 {
        assert_eq!(status(&mut svc, "/ok").await, StatusCode::OK);
    }
    // Each slow request takes 150 ms of (paused) time, so every one of them is checked; the
    // median turns slow with the fourth, when slow requests outnumber fast ones.
    for _ in 0..3 {
        assert_eq!(status(&mut svc, "/slow/150").await, StatusCode::OK);
        assert_eq!(state.state(), State::Standby);
    }
    assert_eq!(
        state.metrics(|m| m.latency_at_quantile(100.0)),
        150 * MS,
        "latency is measured on the tokio clock"
    );
    assert_eq!(status(&mut svc, "/slow/150").await, StatusCode::OK);
    assert_eq!(state.state(), State::Tripped);
}

#[tokio::test(start_paused = true)]
async fn an_untimed_breaker_trips_alike_and_keeps_no_latencies() {
    let backend = Backend::default();
    let state = BreakerState::new();
    let mut svc = BreakerLayer::new(state.clone(), server_errors)
        .timed(false)
        .layer(backend.service());
    assert_eq!(status(&mut svc, "/slow/150").await, StatusCode::OK);
    assert_eq!(state.state(), State::Standby);
    assert_eq!(state.metrics(|m| m.requests()), 1);
    assert_eq!(
        state.metrics(|m| m.latency_at_quantile(100.0)),
        Duration::ZERO,
        "requests are not timed"
    );
    // Two 500s out of three, the second one past the check period: tripped.
    for _ in 0..2 {
        advance(100 * MS).await;
        assert_eq!(
            status(&mut svc, "/500").await,
            StatusCode::INTERNAL_SERVER_ERROR
        );
    }
    assert_eq!(state.state(), State::Tripped);
    assert_eq!(
        status(&mut svc, "/ok").await,
        StatusCode::SERVICE_UNAVAILABLE
    );
    advance(20 * SEC).await;
    assert_eq!(state.state(), State::Standby);
    assert_eq!(status(&mut svc, "/ok").await, StatusCode::OK);
}

/// A service over a fresh state, tripped at the current instant by one 500.
async fn tripped(
    backend: &Backend,
) -> (
    BreakerState,
    impl Service<Request<()>, Response = Response<String>, Error = Failure>,
) {
    let state = BreakerState::new();
    let mut svc = BreakerLayer::new(state.clone(), server_errors).layer(backend.service());
    assert_eq!(
        status(&mut svc, "/500").await,
        StatusCode::INTERNAL_SERVER_ERROR
    );
    assert_eq!(state.state(), State::Tripped);
    (state, svc)
}

#[tokio::test(start_paused = true)]
async fn fallback_lasts_the_whole_fallback_duration() {
    let backend = Backend::default();
    let (state, mut svc) = tripped(&backend).await;
    let calls = backend.calls();

    for _ in 0..9 {
        assert_eq!(passed(&mut svc, 10).await, 0);
        advance(SEC).await;
    }
    advance(999 * MS).await;
    assert_eq!(passed(&mut svc, 10).await, 0);
    assert_eq!(state.state(), State::Tripped);
    assert_eq!(backend.calls(), calls, "nothing reached the backend");

    advance(MS).await;
    assert_eq!(state.state(), State::Recovering);
}

#[tokio::test(start_paused = true)]
async fn recovery_lets_a_linearly_growing_share_through() {
    let backend = Backend::default();
    let (state, mut svc) = tripped(&backend).await;

    advance(10 * SEC).await;
    assert_eq!(state.state(), State::Recovering);
    // At the very start of the ramp nothing passes.
    assert_eq!(passed(&mut svc, 100).await, 0);

    let recovery = Instant::now();
    for (at, share) in [(2_500, 0.25), (5_000, 0.5), (7_500, 0.75), (9_000, 0.9)] {
        advance(recovery + at * MS - Instant::now()).await;
        let ok = passed(&mut svc, 400).await as f64 / 400.0;
        assert!(
            (ok - share).abs() <= 0.02,
            "at {at} ms into recovery {ok} passed, want about {share}"
        );
        assert_eq!(state.state(), State::Recovering);
    }

    // Past the ramp, back to standby: everything passes.
    advance(recovery + 10 * SEC - Instant::now()).await;
    assert_eq!(state.state(), State::Standby);
    assert_eq!(passed(&mut svc, 100).await, 100);
}

#[tokio::test(start_paused = true)]
async fn a_failure_while_recovering_trips_again() {
    let backend = Backend::default();
    let (state, mut svc) = tripped(&backend).await;

    advance(15 * SEC).await;
    assert_eq!(state.state(), State::Recovering);
    // Half the requests pass now; the first one that does fails and trips the breaker.
    let calls = backend.calls();
    let mut answers = Vec::new();
    for _ in 0..4 {
        answers.push(status(&mut svc, "/500").await.as_u16());
    }
    assert_eq!(answers, [503, 500, 503, 503]);
    assert_eq!(backend.calls(), calls + 1);
    assert_eq!(state.state(), State::Tripped);

    // A fresh, full fallback period.
    advance(10 * SEC - MS).await;
    assert_eq!(state.state(), State::Tripped);
    advance(MS).await;
    assert_eq!(state.state(), State::Recovering);
}

#[tokio::test(start_paused = true)]
async fn durations_are_configurable() {
    let backend = Backend::default();
    let state = BreakerState::new();
    let mut svc = BreakerLayer::new(state.clone(), server_errors)
        .fallback_duration(SEC)
        .recovery_duration(2 * SEC)
        .layer(backend.service());
    assert_eq!(
        status(&mut svc, "/500").await,
        StatusCode::INTERNAL_SERVER_ERROR
    );

    assert_eq!(state.state(), State::Tripped);
    advance(SEC).await;
    assert_eq!(state.state(), State::Recovering);
    advance(SEC).await;
    let ok = passed(&mut svc, 100).await;
    assert!((48..=52).contains(&ok), "{ok} of 100 at half the recovery");
    advance(SEC).await;
    assert_eq!(state.state(), State::Standby);
}

#[tokio::test(start_paused = true)]
async fn the_condition_is_checked_at_most_once_per_check_period() {
    let backend = Backend::default();
    let evaluations = Arc::new(AtomicUsize::new(0));
    let count = |evaluations: &Arc<AtomicUsize>| {
        let evaluations = evaluations.clone();
        move |_: &RollingMetrics| {
            evaluations.fetch_add(1, Ordering::SeqCst);
            false
        }
    };
    let evals = || evaluations.load(Ordering::SeqCst);

    let mut svc =
        BreakerLayer::new(BreakerState::new(), count(&evaluations)).layer(backend.service());
    passed(&mut svc, 50).await;
    assert_eq!(evals(), 1);
    advance(99 * MS).await;
    passed(&mut svc, 50).await;
    assert_eq!(evals(), 1);
    advance(MS).await;
    passed(&mut svc, 50).await;
    assert_eq!(evals(), 2);
    // Without responses there is nothing to check.
    advance(10 * SEC).await;
    assert_eq!(evals(), 2);

    evaluations.store(0, Ordering::SeqCst);
    let mut svc = BreakerLayer::new(BreakerState::new(), count(&evaluations))
        .check_period(SEC)
        .layer(backend.service());
    passed(&mut svc, 10).await;
    advance(500 * MS).await;
    passed(&mut svc, 10).await;
    assert_eq!(evals(), 1);
    advance(500 * MS).await;
    passed(&mut svc, 10).await;
    assert_eq!(evals(), 2);
}

#[tokio::test(start_paused = true)]
async fn the_state_survives_a_new_layer() {
    let backend = Backend::default();
    let (state, _old) = tripped(&backend).await;

    // A reload keeps the backend: a new layer (even with another condition) over the same state.
    let mut svc = BreakerLayer::new(state.clone(), |_| false).layer(backend.service());
    assert_eq!(passed(&mut svc, 10).await, 0);
    assert_eq!(state.state(), State::Tripped);

    advance(20 * SEC).await;
    assert_eq!(passed(&mut svc, 10).await, 10);
    assert_eq!(state.state(), State::Standby);
}

#[tokio::test(start_paused = true)]
async fn requests_admitted_before_a_trip_do_not_count_after_it() {
    let backend = Backend::default();
    let state = BreakerState::new();
    let mut svc = BreakerLayer::new(state.clone(), server_errors).layer(backend.service());

    // A slow request is in flight when a fast 500 trips the breaker.
    let mut slow_svc = svc.clone();
    let slow = slow_svc
        .ready()
        .await
        .unwrap()
        .call(Request::get("/slow/500").body(()).unwrap());
    assert_eq!(
        status(&mut svc, "/500").await,
        StatusCode::INTERNAL_SERVER_ERROR
    );
    assert_eq!(state.state(), State::Tripped);

    assert_eq!(slow.await.unwrap().status(), StatusCode::OK);
    assert_eq!(state.metrics(|m| m.requests()), 0);
}

#[tokio::test(start_paused = true)]
async fn metrics_cover_a_ten_second_window() {
    let backend = Backend::default();
    let state = BreakerState::new();
    let mut svc = BreakerLayer::new(state.clone(), |_| false).layer(backend.service());

    passed(&mut svc, 5).await;
    advance(5 * SEC).await;
    passed(&mut svc, 3).await;
    assert_eq!(state.metrics(|m| m.requests()), 8);
    advance(5 * SEC).await;
    assert_eq!(state.metrics(|m| m.requests()), 3);
    advance(5 * SEC).await;
    assert_eq!(state.metrics(|m| m.requests()), 0);
}
