//! The loop against an in-memory store: what it sends, what an outage does, the alias.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{Notify, mpsc};

use super::*;
use crate::provider::ProviderUpdate;

#[derive(Default)]
struct Memory {
    keys: Mutex<BTreeMap<String, Vec<u8>>>,
    down: Mutex<bool>,
    /// The next `changed` fails although the store is up (a compacted watch).
    lose_watch: Mutex<bool>,
    changed: Notify,
}

impl Memory {
    fn put(&self, k: &str, v: &str) {
        self.keys.lock().unwrap().insert(k.into(), v.into());
        self.changed.notify_one();
    }
    fn set_down(&self, down: bool) {
        *self.down.lock().unwrap() = down;
        self.changed.notify_one();
    }
}

struct MemoryStore(Arc<Memory>);

impl Store for MemoryStore {
    async fn list(&mut self, prefix: &str) -> Result<Pairs, StoreError> {
        if *self.0.down.lock().unwrap() {
            return Err(StoreError::new("connection refused"));
        }
        let keys = self.0.keys.lock().unwrap();
        Ok(keys
            .iter()
            .filter(|(k, _)| k.starts_with(prefix))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect())
    }

    async fn changed(&mut self) -> Result<(), StoreError> {
        self.0.changed.notified().await;
        let lost = std::mem::take(&mut *self.0.lose_watch.lock().unwrap());
        if lost || *self.0.down.lock().unwrap() {
            return Err(StoreError::new("watch lost"));
        }
        Ok(())
    }
}

fn start(memory: &Arc<Memory>) -> (mpsc::Receiver<ProviderUpdate>, Arc<StatusBoard>) {
    let (tx, rx) = mpsc::channel(16);
    let status = Arc::new(StatusBoard::default());
    tokio::spawn(run(
        "etcd",
        MemoryStore(memory.clone()),
        "/traefik".into(),
        true,
        tx,
        status.clone(),
    ));
    (rx, status)
}

async fn next(
    rx: &mut mpsc::Receiver<ProviderUpdate>,
) -> Result<crate::provider::Snapshot, String> {
    let update = tokio::time::timeout(Duration::from_secs(60), rx.recv())
        .await
        .expect("an update")
        .expect("the loop is running");
    assert_eq!(update.provider, "etcd");
    update.update
}

#[tokio::test(start_paused = true)]
async fn sends_each_change_and_names_bad_keys() {
    let memory = Arc::new(Memory::default());
    memory.put("/traefik/backends/b/servers/s/url", "http://127.0.0.1:1");
    let (mut rx, status) = start(&memory);
    let first = next(&mut rx).await.unwrap();
    assert!(first.config.backends.contains_key("b"));
    assert!(status.providers()["etcd"].store.as_ref().unwrap().up);

    memory.put("/traefik/backends/b/servers/s/weight", "abc");
    let second = next(&mut rx).await.unwrap();
    assert!(second.config.backends["b"].servers.is_empty());
    let problems: Vec<String> = second.problems.iter().map(ToString::to_string).collect();
    assert!(
        problems[0].starts_with("/traefik/backends/b/servers/s/weight: "),
        "{problems:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn an_outage_sends_nothing_and_a_return_reads_again() {
    let memory = Arc::new(Memory::default());
    memory.set_down(true);
    let (mut rx, status) = start(&memory);
    // Down at start: nothing is sent, the outage is recorded, the loop retries.
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert!(rx.try_recv().is_err());
    let store = status.providers()["etcd"].store.clone().unwrap();
    assert!(!store.up && store.error.as_deref() == Some("connection refused"));

    memory.put("/traefik/frontends/f/backend", "b");
    memory.set_down(false);
    let snapshot = next(&mut rx).await.unwrap();
    assert!(snapshot.config.frontends.contains_key("f"));

    // Lost again while watching: recorded, then the same keys are not sent twice.
    memory.set_down(true);
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(!status.providers()["etcd"].store.as_ref().unwrap().up);
    memory.set_down(false);
    tokio::time::sleep(Duration::from_secs(60)).await;
    assert!(status.providers()["etcd"].store.as_ref().unwrap().up);
    assert!(rx.try_recv().is_err(), "an unchanged store sends nothing");
}

#[tokio::test(start_paused = true)]
async fn the_alias_switches_the_whole_tree() {
    let memory = Arc::new(Memory::default());
    memory.put("/traefik/frontends/old/backend", "b");
    memory.put("/traefik_configurations/2/frontends/new/backend", "b");
    let (mut rx, _status) = start(&memory);
    assert!(
        next(&mut rx)
            .await
            .unwrap()
            .config
            .frontends
            .contains_key("old")
    );
    memory.put("/traefik/alias", "/traefik_configurations/2");
    let switched = next(&mut rx).await.unwrap();
    let names: Vec<&String> = switched.config.frontends.keys().collect();
    assert_eq!(names, ["new"]);
    memory.put("/traefik/alias", "bad\nalias");
    let refused = next(&mut rx).await.unwrap_err();
    assert!(refused.starts_with("/traefik/alias: "), "{refused}");
}

#[tokio::test(start_paused = true)]
async fn a_lost_watch_reads_again_without_an_outage() {
    let memory = Arc::new(Memory::default());
    memory.put("/traefik/frontends/a/backend", "b");
    let (mut rx, status) = start(&memory);
    next(&mut rx).await.unwrap();
    *memory.lose_watch.lock().unwrap() = true;
    let lost_at = tokio::time::Instant::now();
    memory.put("/traefik/frontends/b/backend", "b");
    let snapshot = next(&mut rx).await.unwrap();
    assert!(snapshot.config.frontends.contains_key("b"));
    // Read again at once (paused time only moves when the loop sleeps: an outage's
    // backoff would have moved it 250 ms), and never marked down.
    assert_eq!(lost_at.elapsed(), Duration::ZERO);
    let store = status.providers()["etcd"].store.clone().unwrap();
    assert!(store.up && store.error.is_none(), "{store:?}");
}
