//! A client hammering trafik through 50 reloads sees zero failed requests: each reload
//! swaps the compiled runtime atomically and requests in flight finish on the old one.

use crate::common;
use common::load::{Counts, Load};
use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_reloads_under_continuous_load_lose_nothing() {
    let (a, b) = (Backend::start("a").await, Backend::start("b").await);
    let port = free_port();
    let main_static = format!(
        "providersThrottleDuration = \"0s\"\n[entryPoints.http]\naddress = \"127.0.0.1:{port}\"\n[file]\nfilename = \"rules.toml\"\n"
    );
    let rules = |url: &str, generation: usize| {
        format!(
            "# generation {generation}\n[backends.be.servers.s]\nurl = \"{url}\"\n[frontends.fe]\nbackend = \"be\"\n[frontends.fe.routes.r]\nrule = \"PathPrefix:/\"\n"
        )
    };
    let trafik = Trafik::start_with(&main_static, &[("rules.toml", &rules(&a.url(), 0))]);
    trafik
        .wait_for(&format!("http://127.0.0.1:{port}/warm"), 200)
        .await;

    // Bounded: at most 20 000 requests per worker, and stopped after the reloads.
    let load = Load::start(&format!("http://127.0.0.1:{port}/load"), 4, 20_000);

    let rules_path = trafik.path("rules.toml");
    for generation in 1..=50 {
        let (url, name) = if generation % 2 == 0 {
            (a.url(), "a")
        } else {
            (b.url(), "b")
        };
        write_by_rename(&rules_path, &rules(&url, generation));
        // Each reload must take effect before the next, so all 50 really happen.
        eventually(&format!("reload {generation}"), || async {
            let (s, v) = get_json(&format!("http://127.0.0.1:{port}/probe")).await;
            (s == 200 && v["server"] == name).then_some(())
        })
        .await;
    }
    let Counts { ok, failed } = load.stop().await;
    assert_eq!(failed, 0, "{failed} failed requests out of {}", ok + failed);
    assert!(ok > 100, "the load loop barely ran: {ok} requests");
}
