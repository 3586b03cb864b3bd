//! v1's way of running from a store, the same for every store: `trafik storeconfig` writes
//! a file's static and dynamic configuration into the store the flags name, then a trafik
//! started with those flags alone (no file) takes its entry points and routes from the
//! store, and a flag still wins over the store's key. Between the two, the caller checks
//! a key with the store's own client.

use super::{Trafik, eventually, free_port, get_json, run_trafik};

/// Runs `trafik storeconfig -c trafik.toml <flags>` on a file with entry point `http` on a
/// fresh port and frontend `/stored` → `backend_url`; returns that port.
pub fn write(store: &str, flags: &[String], prefix: &str, backend_url: &str) -> u16 {
    let http = free_port();
    let file = format!(
        r#"defaultEntryPoints = ["http"]
logLevel = "INFO"
providersThrottleDuration = "0s"
[entryPoints.http]
address = "127.0.0.1:{http}"
[backends.be.servers.s1]
url = "{backend_url}"
[frontends.fe]
backend = "be"
[frontends.fe.routes.r]
rule = "PathPrefix:/stored"
"#
    );
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("trafik.toml"), &file).unwrap();
    let mut args = vec!["storeconfig", "-c", "trafik.toml"];
    args.extend(flags.iter().map(String::as_str));
    let (status, stdout, stderr) = run_trafik(&args, dir.path());
    assert!(status.success(), "storeconfig failed:\n{stdout}\n{stderr}");
    assert!(
        stdout.contains(&format!("under {prefix} to {store}")),
        "storeconfig says what it wrote: {stdout}"
    );
    http
}

/// trafik from `flags` alone serves `/stored` (answered by backend `server`) on `http`, the
/// entry point the store holds; with a flag naming another address, it serves there.
pub async fn run_from(flags: &[String], http: u16, server: &str) {
    let from_store = Trafik::start_flags(flags, &[]);
    let what = format!("/stored served from the store; log:\n{}", from_store.logs());
    let url = format!("http://127.0.0.1:{http}/stored");
    eventually(&what, || async {
        let (status, body) = get_json(&url).await;
        (status == 200 && body["server"] == server).then_some(())
    })
    .await;
    drop(from_store);

    let other = free_port();
    let mut args = flags.to_vec();
    args.push(format!("--entryPoints.http.address=127.0.0.1:{other}"));
    let flagged = Trafik::start_flags(&args, &[]);
    let what = format!("/stored on the flag's port; log:\n{}", flagged.logs());
    let url = format!("http://127.0.0.1:{other}/stored");
    eventually(&what, || async {
        (get_json(&url).await.0 == 200).then_some(())
    })
    .await;
}
