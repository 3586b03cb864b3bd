//! The dynamic balancer on a paused clock (a slow or failing server loses its share and
//! wins it back), and cookie stickiness over a balancer.

use std::time::Duration;

use http::HeaderMap;
use http::header::COOKIE;
use tokio::time::advance;
use trafik_middleware::balance::sticky::LEGACY_COOKIE_NAME;
use trafik_middleware::balance::{Drr, SameSite, Sticky, Wrr};

const MS: Duration = Duration::from_millis(1);

/// `seconds` of traffic at 100 requests a second; server `i` answers in `latency[i]` and
/// fails when `fails[i]`. Returns each server's count of requests.
async fn traffic(drr: &Drr, seconds: u64, latency: &[Duration], fails: &[bool]) -> Vec<usize> {
    let mut counts = vec![0; latency.len()];
    for _ in 0..seconds * 100 {
        let i = drr.next().unwrap();
        counts[i] += 1;
        drr.record(i, latency[i], fails[i]);
        advance(10 * MS).await;
    }
    counts
}

fn share(counts: &[usize], i: usize) -> f64 {
    counts[i] as f64 / counts.iter().sum::<usize>() as f64
}

#[tokio::test(start_paused = true)]
async fn a_slow_server_loses_its_share_and_wins_it_back() {
    let drr = Drr::new(vec![1, 1, 1]);
    let fast = [10 * MS; 3];
    let slow = [10 * MS, 10 * MS, 150 * MS];
    let ok = [false; 3];

    let counts = traffic(&drr, 5, &fast, &ok).await;
    assert!((share(&counts, 2) - 1.0 / 3.0).abs() < 0.02, "{counts:?}");
    assert_eq!(drr.weights(), vec![1, 1, 1]);

    // Slow: within a few seconds its share is a small fraction of a third.
    traffic(&drr, 5, &slow, &ok).await;
    let counts = traffic(&drr, 10, &slow, &ok).await;
    assert!(share(&counts, 2) < 0.05, "{counts:?}");
    let w = drr.weights();
    assert!(w[2] * 16 <= w[0] && w[0] == w[1], "{w:?}");

    // Recovered: once the slow requests age out, weights walk back to the configured ones.
    traffic(&drr, 20, &fast, &ok).await;
    assert_eq!(drr.weights(), vec![1, 1, 1]);
    let counts = traffic(&drr, 10, &fast, &ok).await;
    assert!((share(&counts, 2) - 1.0 / 3.0).abs() < 0.02, "{counts:?}");
}

#[tokio::test(start_paused = true)]
async fn a_failing_server_loses_its_share_and_wins_it_back() {
    let drr = Drr::new(vec![2, 1]);
    let latency = [10 * MS; 2];

    let counts = traffic(&drr, 5, &latency, &[false, false]).await;
    assert!((share(&counts, 1) - 1.0 / 3.0).abs() < 0.02, "{counts:?}");

    traffic(&drr, 5, &latency, &[false, true]).await;
    let counts = traffic(&drr, 10, &latency, &[false, true]).await;
    assert!(share(&counts, 1) < 0.05, "{counts:?}");

    traffic(&drr, 20, &latency, &[false, false]).await;
    assert_eq!(drr.weights(), vec![2, 1]);
}

#[tokio::test(start_paused = true)]
async fn similar_servers_keep_their_weights() {
    let drr = Drr::new(vec![1, 1]);
    // 12 ms against 10 ms: slower, but not notably.
    let counts = traffic(&drr, 20, &[10 * MS, 12 * MS], &[false, false]).await;
    assert_eq!(drr.weights(), vec![1, 1]);
    assert_eq!(counts[0], counts[1]);
}

#[tokio::test(start_paused = true)]
async fn unavailable_servers_are_skipped() {
    let drr = Drr::new(vec![1, 1, 1]);
    assert!((0..30).all(|_| drr.next_where(|i| i != 1) != Some(1)));
    assert_eq!(drr.next_where(|_| false), None);
    assert_eq!(Drr::new(vec![]).next(), None);
}

fn cookie(value: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(COOKIE, value.parse().unwrap());
    headers
}

#[test]
fn a_cookie_sticks_to_a_live_server_and_moves_off_a_dead_one() {
    let servers = vec![
        "http://10.0.0.1:80".to_string(),
        "http://10.0.0.2:80".to_string(),
        "http://10.0.0.3:80".to_string(),
    ];
    let wrr = Wrr::new(vec![1, 1, 1]);
    let sticky = Sticky::for_backend("backend1", "my cookie")
        .secure(true)
        .http_only(true)
        .same_site(SameSite::parse("strict"));
    assert_eq!(sticky.cookie_name(), "my_cookie");

    // Among other cookies, in a second Cookie header, quoted.
    let mut headers = cookie("a=1; other=x");
    headers.append(
        COOKIE,
        "b=2; my_cookie=\"http://10.0.0.2:80\"".parse().unwrap(),
    );
    let choice = sticky
        .choose(&headers, &servers, |_| true, || wrr.next())
        .unwrap();
    assert_eq!((choice.index, choice.set_cookie), (1, None));

    // Server 2 is down: another is picked and a new cookie set.
    let choice = sticky
        .choose(
            &headers,
            &servers,
            |i| i != 1,
            || wrr.next_where(|i| i != 1),
        )
        .unwrap();
    assert_ne!(choice.index, 1);
    assert_eq!(
        choice.set_cookie.unwrap(),
        format!(
            "my_cookie={}; Path=/; HttpOnly; Secure; SameSite=Strict",
            servers[choice.index]
        )
        .as_str()
    );

    // A removed server, an unknown value, or no cookie at all: a new choice.
    for headers in [
        cookie("my_cookie=http://10.0.0.9:80"),
        cookie("my_cookie=garbage"),
        cookie("my_cookie_2=http://10.0.0.2:80"),
        HeaderMap::new(),
    ] {
        let choice = sticky
            .choose(&headers, &servers, |_| true, || wrr.next())
            .unwrap();
        assert!(choice.set_cookie.is_some());
    }

    // No server at all.
    assert_eq!(
        sticky.choose(&HeaderMap::new(), &servers, |_| false, || None),
        None
    );
}

#[test]
fn the_first_cookie_of_a_name_wins() {
    let sticky = Sticky::new(LEGACY_COOKIE_NAME);
    let headers = cookie("_TRAEFIK_BACKEND=http://a:1; _TRAEFIK_BACKEND=http://b:1");
    assert_eq!(sticky.cookie(&headers), Some("http://a:1"));
    assert_eq!(
        sticky.stuck(&headers, &["http://b:1", "http://a:1"], |_| true),
        Some(1)
    );
    assert_eq!(
        sticky.set_cookie("http://a:1"),
        "_TRAEFIK_BACKEND=http://a:1; Path=/"
    );
}
