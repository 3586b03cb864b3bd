//! The file provider's three modes and live reload: in-place writes, editors that save
//! by renaming over the file, Kubernetes-style symlink swaps, broken edits that must
//! not take the running configuration down, and duplicate names across a directory.

use crate::common;
use common::*;

fn head(port: u16, file_section: &str) -> String {
    format!(
        "logLevel = \"INFO\"\nprovidersThrottleDuration = \"0s\"\n[entryPoints.http]\naddress = \"127.0.0.1:{port}\"\n{file_section}\n"
    )
}

fn route(name: &str, backend_url: &str, rule: &str) -> String {
    format!(
        "[backends.{name}.servers.s]\nurl = \"{backend_url}\"\n[frontends.{name}]\nbackend = \"{name}\"\n[frontends.{name}.routes.r]\nrule = \"{rule}\"\n"
    )
}

async fn served_by(port: u16, path: &str) -> Option<String> {
    let (status, v) = get_json(&format!("http://127.0.0.1:{port}{path}")).await;
    (status == 200).then(|| v["server"].as_str().unwrap_or("").to_string())
}

async fn wait_served(port: u16, path: &str, server: &str) {
    eventually(&format!("{path} served by {server}"), || async {
        (served_by(port, path).await.as_deref() == Some(server)).then_some(())
    })
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn main_file_mode_reloads_in_place_writes() {
    let (a, b) = (Backend::start("a").await, Backend::start("b").await);
    let port = free_port();
    let base = head(port, "[file]");
    let trafik = Trafik::start(&format!("{base}{}", route("one", &a.url(), "Path:/one")));
    wait_served(port, "/one", "a").await;

    // Same file, edited in place: the dynamic part reloads.
    std::fs::write(
        &trafik.config,
        format!("{base}{}", route("one", &b.url(), "Path:/one")),
    )
    .unwrap();
    wait_served(port, "/one", "b").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn filename_mode_survives_rename_over_and_broken_edits() {
    let (a, b) = (Backend::start("a").await, Backend::start("b").await);
    let port = free_port();
    let rules = route("r", &a.url(), "PathPrefix:/");
    let trafik = Trafik::start_with(
        &head(port, "[file]\nfilename = \"rules.toml\""),
        &[("rules.toml", &rules)],
    );
    wait_served(port, "/x", "a").await;
    let rules_path = trafik.path("rules.toml");

    // An editor's save: write a temp file, rename it over the original.
    write_by_rename(&rules_path, &route("r", &b.url(), "PathPrefix:/"));
    wait_served(port, "/x", "b").await;

    // A TOML syntax error: logged with file:line:col, the running configuration keeps serving.
    std::fs::write(&rules_path, "[backends.r.servers.s]\nurl = \"http://x\n").unwrap();
    let logs = eventually("syntax error logged", || async {
        let l = trafik.logs();
        l.contains("rules.toml:2:").then_some(l)
    })
    .await;
    assert!(logs.contains("keeping the running configuration"), "{logs}");
    assert_eq!(served_by(port, "/x").await.as_deref(), Some("b"));

    // A semantic error (unknown backend) skips that frontend only; the rest loads.
    let mixed = format!(
        "{}{}",
        route("good", &a.url(), "PathPrefix:/good"),
        "[frontends.bad]\nbackend = \"missing\"\n[frontends.bad.routes.r]\nrule = \"PathPrefix:/bad\"\n"
    );
    write_by_rename(&rules_path, &mixed);
    wait_served(port, "/good", "a").await;
    assert_eq!(
        get_json(&format!("http://127.0.0.1:{port}/bad")).await.0,
        404
    );
    let logs = trafik.logs();
    assert!(
        logs.contains("rules.toml:8:") && logs.contains("unknown backend \"missing\""),
        "{logs}"
    );

    // An invalid rule: skipped with its location, the good frontend still serves.
    let bad_rule = format!(
        "{}[frontends.worse]\nbackend = \"good\"\n[frontends.worse.routes.r]\nrule = \"Path:/{{id:[0-9+}}\"\n",
        route("good", &a.url(), "PathPrefix:/good"),
    );
    write_by_rename(&rules_path, &bad_rule);
    eventually("bad regex reported", || async {
        trafik
            .logs()
            .contains("frontend \"worse\" skipped")
            .then_some(())
    })
    .await;
    assert_eq!(served_by(port, "/good").await.as_deref(), Some("a"));
}

#[tokio::test(flavor = "multi_thread")]
async fn directory_mode_merges_files_and_skips_duplicates() {
    let (a, b, c) = (
        Backend::start("a").await,
        Backend::start("b").await,
        Backend::start("c").await,
    );
    let port = free_port();
    let trafik = Trafik::start_with(
        &head(port, "[file]\ndirectory = \"conf.d\""),
        &[
            ("conf.d/10-a.toml", &route("x", &a.url(), "PathPrefix:/a")),
            ("conf.d/20-b.toml", &route("y", &b.url(), "PathPrefix:/b")),
            // Same frontend and backend names as 10-a.toml: warned about and skipped.
            ("conf.d/30-dup.toml", &route("x", &c.url(), "PathPrefix:/c")),
            ("conf.d/notes.txt", "not configuration"),
        ],
    );
    wait_served(port, "/a", "a").await;
    wait_served(port, "/b", "b").await;
    assert_eq!(get_json(&format!("http://127.0.0.1:{port}/c")).await.0, 404);
    let logs = trafik.logs();
    assert!(logs.contains("already configured, skipping"), "{logs}");

    // A new file in the directory is picked up.
    std::fs::write(
        trafik.path("conf.d/40-new.toml"),
        route("z", &c.url(), "PathPrefix:/z"),
    )
    .unwrap();
    wait_served(port, "/z", "c").await;
    // A removed file takes its routes with it.
    std::fs::remove_file(trafik.path("conf.d/20-b.toml")).unwrap();
    eventually("/b gone", || async {
        (get_json(&format!("http://127.0.0.1:{port}/b")).await.0 == 404).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn kubernetes_configmap_symlink_swap_reloads() {
    use std::os::unix::fs::symlink;
    let (a, b) = (Backend::start("a").await, Backend::start("b").await);
    let port = free_port();
    // The ConfigMap layout: rules.toml -> ..data/rules.toml, ..data -> ..2026_v1
    let trafik = Trafik::start_with(
        &head(port, "[file]\nfilename = \"cm/rules.toml\""),
        &[(
            "cm/..2026_v1/rules.toml",
            &route("r", &a.url(), "PathPrefix:/"),
        )],
    );
    let cm = trafik.path("cm");
    symlink("..2026_v1", cm.join("..data")).unwrap();
    symlink("..data/rules.toml", cm.join("rules.toml")).unwrap();
    wait_served(port, "/x", "a").await;

    // Kubelet's update: write a new timestamped dir, swap ..data atomically, delete the old.
    std::fs::create_dir(cm.join("..2026_v2")).unwrap();
    std::fs::write(
        cm.join("..2026_v2/rules.toml"),
        route("r", &b.url(), "PathPrefix:/"),
    )
    .unwrap();
    symlink("..2026_v2", cm.join("..data_tmp")).unwrap();
    std::fs::rename(cm.join("..data_tmp"), cm.join("..data")).unwrap();
    std::fs::remove_dir_all(cm.join("..2026_v1")).unwrap();
    wait_served(port, "/x", "b").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn watch_false_ignores_edits() {
    let (a, b) = (Backend::start("a").await, Backend::start("b").await);
    let port = free_port();
    let trafik = Trafik::start_with(
        &head(port, "[file]\nfilename = \"rules.toml\"\nwatch = false"),
        &[("rules.toml", &route("r", &a.url(), "PathPrefix:/"))],
    );
    wait_served(port, "/x", "a").await;
    std::fs::write(
        trafik.path("rules.toml"),
        route("r", &b.url(), "PathPrefix:/"),
    )
    .unwrap();
    // Give a watcher, were there one, ample time; then check nothing changed.
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    assert_eq!(served_by(port, "/x").await.as_deref(), Some("a"));
}
