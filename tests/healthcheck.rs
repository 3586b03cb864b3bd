//! `trafik healthcheck` (the image's HEALTHCHECK): exit 0 when the running trafik's `/ping`
//! answers 200, non-zero otherwise, reading the same configuration as the run.

use crate::common;

use std::time::Duration;

use common::{Trafik, free_port, run_trafik};

#[tokio::test]
async fn healthcheck_follows_ping_on_its_entry_point() {
    let (http, admin) = (free_port(), free_port());
    let toml = format!(
        "[entryPoints.http]\naddress = \"127.0.0.1:{http}\"\n\
         [entryPoints.admin]\naddress = \"127.0.0.1:{admin}\"\n\
         [ping]\nentryPoint = \"admin\"\n"
    );
    let mut t = Trafik::start(&toml);
    t.wait_for(&format!("http://127.0.0.1:{admin}/ping"), 200)
        .await;
    let config = t.config.to_string_lossy().into_owned();
    let (status, stdout, stderr) = run_trafik(&["healthcheck", "-c", &config], &t.dir);
    assert!(status.success(), "{stdout}{stderr}");
    assert!(
        stdout.contains(&format!("http://127.0.0.1:{admin}/ping")),
        "{stdout}"
    );

    // v1's flags choose the entry point too: `http` does not serve /ping.
    let (status, _, stderr) = run_trafik(
        &["healthcheck", "-c", &config, "--ping.entryPoint=http"],
        &t.dir,
    );
    assert!(!status.success());
    assert!(stderr.contains("/ping answered 404"), "{stderr}");

    t.signal("TERM");
    t.wait_exit(Duration::from_secs(20)).await;
    let (status, _, stderr) = run_trafik(&["healthcheck", "-c", &config], &t.dir);
    assert!(!status.success(), "trafik stopped: {stderr}");
    assert!(stderr.starts_with("trafik healthcheck: "), "{stderr}");
}

#[test]
fn healthcheck_without_ping_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("trafik.toml");
    std::fs::write(&config, "[entryPoints.http]\naddress = \"127.0.0.1:1\"\n").unwrap();
    let (status, _, stderr) = run_trafik(
        &["healthcheck", "-c", &config.to_string_lossy()],
        dir.path(),
    );
    assert!(!status.success());
    assert!(stderr.contains("enable [ping]"), "{stderr}");
}
