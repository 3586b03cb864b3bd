//! Consul's blocking queries ("Blocking Queries" in Consul's API docs), reduced to the rules
//! a watcher must follow. A read answers `X-Consul-Index`; the next read passes it back as
//! `index` with a `wait`, and Consul holds the request until the index moves past it or
//! `wait` (plus up to `wait/16` of jitter) runs out. An answer is never proof of a change:
//! only a moved index is. The docs then ask clients to
//! * reset the index when it goes backwards (the server's state was rebuilt: read again),
//! * never block on an index of 0 or less (that is a non-blocking read, a busy loop): use 1,
//! * rate-limit re-polls, so a server that answers at once never gets a request storm.

use std::time::Duration;

/// How long Consul may hold one blocking query.
pub const WAIT: Duration = Duration::from_secs(300);

/// `wait` as Consul's query parameter reads it ("300s").
pub fn wait_param() -> String {
    format!("{}s", WAIT.as_secs())
}

/// A blocking query's client timeout: `wait`, Consul's jitter (`wait/16`), and room for a
/// slow answer, so that a held request is never cut short and taken for an outage.
pub const CLIENT_TIMEOUT: Duration = Duration::from_secs(300 + 300 / 16 + 30);

/// The least time between two blocking queries on one resource.
pub const MIN_INTERVAL: Duration = Duration::from_millis(250);

/// The index to block on after a read answered `index` (docs: never 0 or less).
pub fn usable(index: u64) -> u64 {
    index.max(1)
}

/// What a blocking query's answer means for a watcher that blocked on `waited`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Same index: `wait` ran out (or an idempotent write): block again on it.
    Same,
    /// The index moved forward: something may have changed; re-read.
    Moved(u64),
    /// The index went backwards (Consul's state was rebuilt, a restore, another server):
    /// read everything again and start over from the index that read gives.
    Reset,
}

pub fn outcome(waited: u64, answered: u64) -> Outcome {
    let answered = usable(answered);
    if answered == waited {
        Outcome::Same
    } else if answered > waited {
        Outcome::Moved(answered)
    } else {
        Outcome::Reset
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_index_is_never_blocked_on_below_one() {
        assert_eq!(usable(0), 1);
        assert_eq!(usable(1), 1);
        assert_eq!(usable(77), 77);
    }

    #[test]
    fn answers_are_sorted_by_how_the_index_moved() {
        assert_eq!(outcome(10, 10), Outcome::Same);
        assert_eq!(outcome(10, 11), Outcome::Moved(11));
        assert_eq!(outcome(10, 3), Outcome::Reset);
        // A buggy 0 after blocking on 1 is the same index, not a reset loop.
        assert_eq!(outcome(1, 0), Outcome::Same);
        assert_eq!(outcome(5, 0), Outcome::Reset);
    }

    #[test]
    fn the_client_outwaits_consuls_jitter() {
        assert!(CLIENT_TIMEOUT > WAIT + WAIT / 16);
        assert_eq!(wait_param(), "300s");
    }
}
