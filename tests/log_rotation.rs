//! SIGUSR1 reopens the access log and trafik's own log at their paths, so logrotate's
//! rename-then-signal loses no line: under load, the renamed file and the new one together
//! hold every request's line exactly once.

use crate::common;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::*;

const CLIENTS: usize = 4;
const PER_CLIENT: usize = 500;

fn read(trafik: &Trafik, name: &str) -> String {
    std::fs::read_to_string(trafik.path(name)).unwrap_or_default()
}

/// How many lines name each load request (`/app/load-<client>-<n> `).
fn count_requests(texts: &[&str], counts: &mut HashMap<String, usize>) {
    for text in texts {
        for line in text.lines() {
            if let Some(at) = line.find("/app/load-") {
                let path = line[at..].split(' ').next().unwrap().to_owned();
                *counts.entry(path).or_default() += 1;
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_renamed_log_and_usr1_lose_no_line_under_load() {
    let backend = Backend::start("b").await;
    let port = free_port();
    let toml = format!(
        "logLevel = \"INFO\"\n[traefikLog]\nfilePath = \"trafik.log\"\n\
         [entryPoints.http]\naddress = \"127.0.0.1:{port}\"\n\
         [accessLog]\nfilePath = \"access.log\"\n[file]\n\
         [backends.be.servers.s]\nurl = \"{}\"\n\
         [frontends.fe]\nbackend = \"be\"\n[frontends.fe.routes.r]\nrule = \"PathPrefix:/app\"\n",
        backend.url()
    );
    let trafik = Trafik::start(&toml);
    let base = format!("http://127.0.0.1:{port}");
    trafik.wait_for(&format!("{base}/app/ready"), 200).await;
    assert!(read(&trafik, "trafik.log").contains("listening on"));

    // A bounded load: CLIENTS tasks, PER_CLIENT requests each, every path unique.
    let done = Arc::new(AtomicUsize::new(0));
    let mut clients = Vec::new();
    for c in 0..CLIENTS {
        let (done, base) = (done.clone(), base.clone());
        clients.push(tokio::spawn(async move {
            let http = client();
            for n in 0..PER_CLIENT {
                let r = http
                    .get(format!("{base}/app/load-{c}-{n}"))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 200);
                r.bytes().await.unwrap();
                done.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }

    // Midway, as logrotate does: rename both logs, then signal.
    let total = CLIENTS * PER_CLIENT;
    eventually("a quarter of the load sent", || async {
        (done.load(Ordering::Relaxed) >= total / 4).then_some(())
    })
    .await;
    std::fs::rename(trafik.path("access.log"), trafik.path("access.log.1")).unwrap();
    std::fs::rename(trafik.path("trafik.log"), trafik.path("trafik.log.1")).unwrap();
    trafik.signal("USR1");
    let sent_before_reopen = done.load(Ordering::Relaxed);
    for c in clients {
        c.await.unwrap();
    }
    assert!(
        sent_before_reopen < total,
        "the load ended before the signal; nothing to prove"
    );

    // Every request's line, once, in one file or the other.
    let counts = eventually("every request's line in the two files", || async {
        let (old, new) = (read(&trafik, "access.log.1"), read(&trafik, "access.log"));
        let mut counts = HashMap::new();
        count_requests(&[&old, &new], &mut counts);
        (counts.len() == total).then_some(counts)
    })
    .await;
    let twice: Vec<_> = counts.iter().filter(|(_, n)| **n != 1).collect();
    assert!(twice.is_empty(), "lines written more than once: {twice:?}");
    for c in 0..CLIENTS {
        for n in 0..PER_CLIENT {
            assert!(counts.contains_key(&format!("/app/load-{c}-{n}")));
        }
    }
    // Both files have some: the old one the lines before the signal, the new one after.
    let (old, new) = (read(&trafik, "access.log.1"), read(&trafik, "access.log"));
    assert!(
        old.contains("/app/load-"),
        "the renamed file has no load line"
    );
    assert!(new.contains("/app/load-"), "the new file has no load line");
    // Lines are whole: each ends as the format does.
    for line in old.lines().chain(new.lines()) {
        assert!(
            line.ends_with("ms") && line.starts_with("127.0.0.1 "),
            "{line:?}"
        );
    }

    // trafik's own log goes on in the new file, and says so once per file reopened.
    let own = eventually("trafik's log in the new file", || async {
        let text = read(&trafik, "trafik.log");
        (text.contains("reopened trafik's log") && text.contains("reopened the access log"))
            .then_some(text)
    })
    .await;
    assert_eq!(own.matches("reopened").count(), 2, "{own}");
    assert!(!own.contains("listening on"), "{own}");
    assert!(read(&trafik, "trafik.log.1").contains("listening on"));

    // And after the load, a later request is logged in the new file.
    assert_eq!(
        client()
            .get(format!("{base}/app/after"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    eventually("the later request in the new access log", || async {
        read(&trafik, "access.log")
            .contains("/app/after ")
            .then_some(())
    })
    .await;
    assert!(!read(&trafik, "access.log.1").contains("/app/after "));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_log_that_cannot_be_reopened_keeps_the_old_file() {
    let backend = Backend::start("b").await;
    let port = free_port();
    let toml = format!(
        "logLevel = \"INFO\"\n[traefikLog]\nfilePath = \"logs/trafik.log\"\n\
         [entryPoints.http]\naddress = \"127.0.0.1:{port}\"\n\
         [accessLog]\nfilePath = \"logs/access.log\"\n[file]\n\
         [backends.be.servers.s]\nurl = \"{}\"\n\
         [frontends.fe]\nbackend = \"be\"\n[frontends.fe.routes.r]\nrule = \"PathPrefix:/app\"\n",
        backend.url()
    );
    let trafik = Trafik::start_with(&toml, &[("logs/.keep", "")]);
    let base = format!("http://127.0.0.1:{port}");
    trafik.wait_for(&format!("{base}/app/ready"), 200).await;
    // The directory moves away: nothing can be opened at the configured paths.
    std::fs::rename(trafik.path("logs"), trafik.path("moved")).unwrap();
    trafik.signal("USR1");
    assert_eq!(
        client()
            .get(format!("{base}/app/still"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let moved = trafik.path("moved");
    eventually(
        "the line and the errors in the files still open",
        || async {
            let access = std::fs::read_to_string(moved.join("access.log")).unwrap_or_default();
            let own = std::fs::read_to_string(moved.join("trafik.log")).unwrap_or_default();
            (access.contains("/app/still ")
                && own.contains("cannot reopen trafik's log")
                && own.contains("cannot reopen the access log"))
            .then_some(())
        },
    )
    .await;
    assert!(!trafik.path("logs").exists());
}
