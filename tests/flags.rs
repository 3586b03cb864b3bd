//! v1's command-line flags through the real binary: a run from flags alone, a flag over the
//! same key of the file, v1's one-string entry points, refusals that name the flag, `trafik
//! check` and `--help`. (The static configuration in a store, `storeconfig` and `--etcd …`,
//! is tested against an in-memory store in `src/provider/kv/static_config.rs`; its
//! end-to-end tests come with the store clients.)

use crate::common;
use common::*;

use std::path::Path;
use std::process::{Command, ExitStatus};

fn directory(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, content) in files {
        std::fs::write(dir.path().join(name), content).unwrap();
    }
    dir
}

/// Runs trafik to completion in `cwd` (also its `HOME`): (status, stdout, stderr).
fn run_in(cwd: &Path, args: &[&str]) -> (ExitStatus, String, String) {
    let out = Command::new(bin())
        .args(args)
        .current_dir(cwd)
        .env("HOME", cwd)
        .output()
        .unwrap();
    (
        out.status,
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn rules(name: &str, backend_url: &str, rule: &str) -> String {
    format!(
        "[backends.{name}.servers.s]\nurl = \"{backend_url}\"\n[frontends.{name}]\n\
         backend = \"{name}\"\n[frontends.{name}.routes.r]\nrule = \"{rule}\"\n"
    )
}

async fn served_by(port: u16, path: &str) -> Option<String> {
    let (status, v) = get_json(&format!("http://127.0.0.1:{port}{path}")).await;
    (status == 200).then(|| v["server"].as_str().unwrap_or("").to_string())
}

#[tokio::test(flavor = "multi_thread")]
async fn flags_alone_run_a_proxy_with_a_rules_file() {
    let a = Backend::start("a").await;
    let port = free_port();
    let trafik = Trafik::start_flags(
        &[
            format!("--entryPoints=Name:http Address:127.0.0.1:{port} Compress:true"),
            "--defaultEntryPoints=http".into(),
            "--file.filename=rules.toml".into(),
            "--providersThrottleDuration=0s".into(),
            "--logLevel=INFO".into(),
        ],
        &[("rules.toml", &rules("one", &a.url(), "Path:/one"))],
    );
    eventually("/one served by a, from flags alone", || async {
        (served_by(port, "/one").await.as_deref() == Some("a")).then_some(())
    })
    .await;
    let logs = trafik.logs();
    assert!(
        logs.contains("no configuration file; using the flags"),
        "{logs}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_flag_wins_over_the_same_key_of_the_file() {
    let a = Backend::start("a").await;
    let (file_port, flag_port) = (free_port(), free_port());
    let toml = format!(
        "logLevel = \"INFO\"\nprovidersThrottleDuration = \"0s\"\n\
         [entryPoints.http]\naddress = \"127.0.0.1:{file_port}\"\n[file]\n{}",
        rules("one", &a.url(), "Path:/one")
    );
    let _trafik = Trafik::start_flags(
        &[
            "-c".into(),
            "trafik.toml".into(),
            format!("--ENTRYPOINTS.http.address=127.0.0.1:{flag_port}"),
        ],
        &[("trafik.toml", &toml)],
    );
    eventually("/one served on the flag's port", || async {
        (served_by(flag_port, "/one").await.as_deref() == Some("a")).then_some(())
    })
    .await;
    // The file's address was replaced, not added to.
    let refused = client()
        .get(format!("http://127.0.0.1:{file_port}/one"))
        .send()
        .await;
    assert!(refused.is_err(), "the file's address still listens");
}

#[test]
fn bad_flags_are_refused_naming_the_flag() {
    let dir = directory(&[]);
    for (flag, expected) in [
        ("--entryPoints.http.adress=:1", "did you mean \"address\""),
        ("--nosuchthing", "not a configuration key"),
        ("--debug=maybe", "expected true or false"),
        ("--lifeCycle.graceTimeOut=soon", "invalid duration"),
        ("--entryPoints=Name:x Address::1 Bogus:1", "not supported"),
        ("--entryPoints=Address::1", "no Name:"),
    ] {
        let name = flag.split('=').next().unwrap();
        let (status, _, stderr) = run_in(dir.path(), &[flag]);
        assert!(!status.success(), "{flag} was accepted");
        assert!(stderr.contains(name), "{flag}: {stderr}");
        assert!(stderr.contains(expected), "{flag}: {stderr}");
    }
}

#[test]
fn check_reads_flags_like_a_run() {
    let dir = directory(&[
        (
            "rules.toml",
            &rules("one", "http://127.0.0.1:1", "Path:/one"),
        ),
        (
            "bad-rules.toml",
            "[backends.b.servers.s]\nurl = \"http://127.0.0.1:1\"\n[frontends.f]\n\
             backend = \"b\"\nentryPoints = [\"nope\"]\n",
        ),
    ]);
    let (status, stdout, stderr) = run_in(
        dir.path(),
        &[
            "check",
            "--entryPoints=Name:http Address:127.0.0.1:1",
            "--file.filename=rules.toml",
        ],
    );
    assert!(status.success(), "{stdout}{stderr}");
    assert!(
        stdout.contains("command line: configuration OK (1 routes on 1 entry points)"),
        "{stdout}"
    );

    // The same problem the file would have, reported the same way.
    let (status, _, stderr) = run_in(
        dir.path(),
        &[
            "check",
            "--entryPoints.http.address=127.0.0.1:1",
            "--file.filename=bad-rules.toml",
        ],
    );
    assert!(!status.success());
    assert!(stderr.contains("bad-rules.toml"), "{stderr}");
    assert!(stderr.contains("nope"), "{stderr}");

    // A flag's value that the validation refuses, and one the flags parser refuses.
    let (status, _, stderr) = run_in(dir.path(), &["check", "--logLevel=LOUD"]);
    assert!(!status.success());
    assert!(stderr.contains("unknown logLevel \"LOUD\""), "{stderr}");
    let (status, _, stderr) = run_in(dir.path(), &["check", "--api=maybe"]);
    assert!(!status.success());
    assert!(stderr.contains("--api"), "{stderr}");
}

#[test]
fn help_mentions_the_flags_and_storeconfig_needs_a_store() {
    let dir = directory(&[]);
    let (status, stdout, _) = run_in(dir.path(), &["--help"]);
    assert!(status.success());
    assert!(
        stdout.contains("--entryPoints.http.address=:80"),
        "{stdout}"
    );
    assert!(stdout.contains("storeconfig"), "{stdout}");

    let (status, _, stderr) = run_in(dir.path(), &["storeconfig", "--logLevel=INFO"]);
    assert!(!status.success());
    assert!(stderr.contains("storeconfig needs a store"), "{stderr}");
}
