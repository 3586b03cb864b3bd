//! The file provider, in v1's three modes: the dynamic part of `trafik.toml` itself,
//! one `filename`, or every `*.toml` of a `directory`. It watches the parent directory,
//! never the file: editors save by renaming over it and Kubernetes swaps a `..data`
//! symlink, and a watch on the old inode would go deaf. Every event re-reads by path
//! and a content hash drops the events that changed nothing.

use std::collections::hash_map::DefaultHasher;
use std::collections::{BTreeSet, HashMap};
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use notify::{RecursiveMode, Watcher};
use tokio::sync::mpsc;
use trafik_config::{Configuration, Diagnostic, load_dynamic};

use super::{ProviderUpdate, Snapshot, SourceMap};

pub const NAME: &str = "file";

/// Quiet time after the last filesystem event before re-reading: editors write in bursts.
const DEBOUNCE: Duration = Duration::from_millis(100);

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// `[file]` alone: `[backends]`/`[frontends]` of the main configuration file.
    MainFile(PathBuf),
    /// `[file] filename = "…"`.
    File(PathBuf),
    /// `[file] directory = "…"`: every `*.toml` below it, merged.
    Directory(PathBuf),
}

impl Source {
    /// Where the watcher looks: the directory (and, for a symlinked file, its target's directory).
    fn watch_dirs(&self) -> BTreeSet<PathBuf> {
        let mut dirs = BTreeSet::new();
        match self {
            Source::MainFile(p) | Source::File(p) => {
                dirs.insert(canonical(&parent_of(p)));
                if let Ok(real) = std::fs::canonicalize(p) {
                    dirs.insert(parent_of(&real));
                }
            }
            Source::Directory(d) => {
                dirs.insert(canonical(d));
            }
        }
        dirs
    }

    /// Whether an event on `path` may change what this source reads.
    fn concerns(&self, path: &Path) -> bool {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        // `..data`-style names are Kubernetes' atomic symlink swap.
        if name.starts_with("..") {
            return true;
        }
        match self {
            Source::MainFile(p) | Source::File(p) => {
                p.file_name().is_some_and(|n| n == name)
                    || std::fs::canonicalize(p)
                        .ok()
                        .and_then(|r| r.file_name().map(|n| n == name))
                        .unwrap_or(false)
            }
            Source::Directory(_) => name.ends_with(".toml") || path.is_dir(),
        }
    }
}

/// Absolute and symlink-free where possible, so one directory is never watched twice.
fn canonical(p: &Path) -> PathBuf {
    std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf())
}

fn parent_of(p: &Path) -> PathBuf {
    match p.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// The text of everything the source reads, so an unchanged re-read can be skipped.
struct Read {
    files: Vec<(PathBuf, String)>,
    hash: u64,
}

fn read_source(source: &Source) -> Result<Read, Vec<Diagnostic>> {
    let mut files = Vec::new();
    match source {
        Source::MainFile(p) | Source::File(p) => files.push((p.clone(), read_file(p)?)),
        Source::Directory(dir) => {
            let mut paths = Vec::new();
            collect_toml_files(dir, &mut paths)
                .map_err(|e| vec![unlocated(dir, format!("cannot read directory: {e}"))])?;
            paths.sort();
            for p in paths {
                let text = read_file(&p)?;
                files.push((p, text));
            }
        }
    }
    let mut h = DefaultHasher::new();
    files.hash(&mut h);
    Ok(Read {
        files,
        hash: h.finish(),
    })
}

fn read_file(p: &Path) -> Result<String, Vec<Diagnostic>> {
    std::fs::read_to_string(p).map_err(|e| vec![unlocated(p, format!("cannot read file: {e}"))])
}

fn collect_toml_files(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name.starts_with('.') {
            // Hidden entries, including Kubernetes' `..data` directory seen twice otherwise.
            continue;
        }
        if path.is_dir() {
            collect_toml_files(&path, out)?;
        } else if name.ends_with(".toml") {
            out.push(path);
        }
    }
    Ok(())
}

fn unlocated(p: &Path, message: String) -> Diagnostic {
    Diagnostic {
        file: p.display().to_string(),
        line: None,
        col: None,
        message,
    }
}

/// Parses what was read; duplicates across a directory's files are warned about and skipped.
fn parse(read: &Read) -> Result<(Snapshot, Vec<Diagnostic>), Vec<Diagnostic>> {
    let mut warnings = Vec::new();
    let mut errors = Vec::new();
    let mut merged = Configuration::default();
    let mut by_item = HashMap::new();
    let mut first: Option<(String, Arc<trafik_config::Locations>)> = None;
    for (path, text) in &read.files {
        let file = path.display().to_string();
        let loaded = match load_dynamic(&file, text) {
            Ok(l) => l,
            Err(mut e) => {
                errors.append(&mut e);
                continue;
            }
        };
        warnings.extend(loaded.warnings);
        // One shared copy per file: a directory may hold thousands of items.
        let (shared_file, locations): (Arc<str>, _) =
            (Arc::from(file.as_str()), Arc::new(loaded.locations));
        // The first file parsed is the source map's default: its items need no entry in
        // `by_item` (20,000 entries, 2.4 MB, for one file of 10,000 frontends and backends).
        let listed = first.is_some();
        let mut list_item = |kind: &str, name: String| {
            if listed {
                by_item.insert(
                    (kind.to_string(), name),
                    (shared_file.clone(), locations.clone()),
                );
            }
        };
        for (name, backend) in loaded.value.backends {
            if merged.backends.contains_key(&name) {
                warnings.push(locations.diagnostic(
                    &file,
                    &["backends", &name],
                    format!("backend {name:?} already configured, skipping"),
                ));
                continue;
            }
            list_item("backends", name.clone());
            merged.backends.insert(name, backend);
        }
        for (name, frontend) in loaded.value.frontends {
            if merged.frontends.contains_key(&name) {
                warnings.push(locations.diagnostic(
                    &file,
                    &["frontends", &name],
                    format!("frontend {name:?} already configured, skipping"),
                ));
                continue;
            }
            list_item("frontends", name.clone());
            merged.frontends.insert(name, frontend);
        }
        for tls in loaded.value.tls {
            list_item("tls", merged.tls.len().to_string());
            merged.tls.push(tls);
        }
        first.get_or_insert((file, locations));
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    merged.compact();
    let (default_file, default_locations) = first.unwrap_or_default();
    let sources = SourceMap {
        default_file,
        default_locations,
        by_item,
        kv: None,
    };
    Ok((
        Snapshot {
            problems: Vec::new(),
            config: std::sync::Arc::new(merged),
            sources,
        },
        warnings,
    ))
}

/// Reads and parses the source once: for `trafik check` and for the first configuration.
pub fn load(source: &Source) -> Result<(Snapshot, Vec<Diagnostic>), Vec<Diagnostic>> {
    parse(&read_source(source)?)
}

/// Sends the initial configuration, then one per effective change while `watch` is on.
/// Errors are logged with their location and the last good configuration stays.
pub async fn run(source: Source, watch: bool, tx: mpsc::Sender<ProviderUpdate>) {
    let mut last_hash = None;
    reload(&source, &mut last_hash, &tx).await;
    if !watch {
        return;
    }
    let (events_tx, mut events) = mpsc::unbounded_channel::<()>();
    let filter = source.clone();
    // notify calls back on its own thread; an unbounded send never blocks it.
    let watcher =
        notify::recommended_watcher(move |res: notify::Result<notify::Event>| match res {
            Ok(event) if event.paths.iter().any(|p| filter.concerns(p)) => {
                let _ = events_tx.send(());
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(provider = NAME, "file watcher error: {e}"),
        });
    let mut watcher = match watcher {
        Ok(w) => w,
        Err(e) => {
            tracing::error!(provider = NAME, "cannot watch configuration files: {e}");
            return;
        }
    };
    let mut watched = BTreeSet::new();
    watch_new_dirs(&mut watcher, &source, &mut watched);
    while events.recv().await.is_some() {
        // Debounce: wait until the burst is over.
        loop {
            match tokio::time::timeout(DEBOUNCE, events.recv()).await {
                Ok(Some(())) => continue,
                Ok(None) => return,
                Err(_) => break,
            }
        }
        reload(&source, &mut last_hash, &tx).await;
        // A symlink may now point into a directory we do not watch yet.
        watch_new_dirs(&mut watcher, &source, &mut watched);
    }
}

fn watch_new_dirs(watcher: &mut impl Watcher, source: &Source, watched: &mut BTreeSet<PathBuf>) {
    for dir in source.watch_dirs() {
        if watched.contains(&dir) {
            continue;
        }
        match watcher.watch(&dir, RecursiveMode::NonRecursive) {
            Ok(()) => {
                tracing::debug!(provider = NAME, "watching {}", dir.display());
                watched.insert(dir);
            }
            Err(e) => tracing::error!(provider = NAME, "cannot watch {}: {e}", dir.display()),
        }
    }
}

async fn reload(source: &Source, last_hash: &mut Option<u64>, tx: &mpsc::Sender<ProviderUpdate>) {
    let read = match read_source(source) {
        Ok(r) => r,
        Err(errors) => {
            return failed(errors, tx).await;
        }
    };
    if *last_hash == Some(read.hash) {
        tracing::debug!(provider = NAME, "skipping same configuration");
        return;
    }
    *last_hash = Some(read.hash);
    // Parsing 10,000 frontends takes hundreds of milliseconds: off the runtime's threads, so
    // that with `--workers 1` requests are not held up meanwhile; on a configuration thread
    // of its own, so that this configuration's blocks share pages only with each other and
    // leave them whole when a later one replaces it (`config_thread.rs`).
    let parsed = crate::config_thread::run(move || {
        let parsed = parse(&read);
        drop(read);
        // The parse freed several times what it keeps (the TOML document, the text): handed
        // back now, not when this thread next works.
        crate::freed_memory::release_freed_memory(true);
        parsed
    })
    .await;
    match parsed {
        Ok((snapshot, warnings)) => {
            for w in warnings {
                tracing::warn!(provider = NAME, "{w}");
            }
            let _ = tx
                .send(ProviderUpdate {
                    provider: NAME.to_string(),
                    update: Ok(snapshot),
                })
                .await;
        }
        Err(errors) => {
            // The same content stays broken until it changes: report it once.
            failed(errors, tx).await;
        }
    }
}

async fn failed<E: std::fmt::Display>(errors: Vec<E>, tx: &mpsc::Sender<ProviderUpdate>) {
    let mut lines = Vec::new();
    for e in errors {
        tracing::error!(provider = NAME, "{e}; keeping the running configuration");
        lines.push(e.to_string());
    }
    let _ = tx
        .send(ProviderUpdate {
            provider: NAME.to_string(),
            update: Err(lines.join("\n")),
        })
        .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Items of the first file are found through the source map's default, the others'
    /// through `by_item`: every finding still names its own file and line.
    #[test]
    fn a_directory_s_items_are_located_in_their_own_files() {
        let dir = std::env::temp_dir().join(format!("trafik-file-by-item-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let a = "[backends.ba.servers.s]\nurl = \"http://127.0.0.1:1\"\n\
                 [frontends.fa]\nbackend = \"ba\"\n";
        let b = "\n\n[backends.bb.servers.s]\nurl = \"http://127.0.0.1:2\"\n\
                 [frontends.fb]\nbackend = \"bb\"\n";
        std::fs::write(dir.join("a.toml"), a).unwrap();
        std::fs::write(dir.join("b.toml"), b).unwrap();
        let (snapshot, warnings) = load(&Source::Directory(dir.clone())).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(warnings.is_empty(), "{warnings:?}");
        let sources = &snapshot.sources;
        assert_eq!(
            sources.by_item.len(),
            2,
            "only the second file's items are listed"
        );
        let at = |path: &[&str]| {
            let path: Vec<String> = path.iter().map(|s| s.to_string()).collect();
            let d = sources.diagnostic(&path, "m");
            let file = std::path::Path::new(&d.file)
                .file_name()
                .unwrap()
                .to_owned();
            (file.to_string_lossy().into_owned(), d.line)
        };
        assert_eq!(
            at(&["frontends", "fa", "backend"]),
            ("a.toml".into(), Some(4))
        );
        assert_eq!(
            at(&["backends", "ba", "servers", "s", "url"]),
            ("a.toml".into(), Some(2))
        );
        assert_eq!(
            at(&["frontends", "fb", "backend"]),
            ("b.toml".into(), Some(6))
        );
        assert_eq!(
            at(&["backends", "bb", "servers", "s", "url"]),
            ("b.toml".into(), Some(4))
        );
    }
}
