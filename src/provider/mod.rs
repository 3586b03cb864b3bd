//! Providers produce configurations; they never touch the router. Each sends the
//! whole of its current configuration, tagged with its name, to the aggregator.

pub mod boltdb;
pub mod consul;
pub mod consul_catalog;
pub mod docker;
pub mod etcd;
pub mod file;
pub mod follow;
pub mod kubernetes;
pub mod kv;
pub mod marathon;
pub mod mesos;
pub mod redis;
pub mod rest;
pub mod zookeeper;

use std::collections::HashMap;
use std::sync::Arc;

use trafik_config::kv::KvLocations;
use trafik_config::{Configuration, Diagnostic, Locations};

/// One provider's configuration at one moment, with where each part came from.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// Shared, not copied, by the aggregator, the status board and the dedupe of what was
    /// sent last: at 10,000 frontends a copy costs megabytes and milliseconds.
    pub config: Arc<Configuration>,
    pub sources: SourceMap,
    /// What the provider already left out while reading (a store's bad keys): reported
    /// with every compile of this snapshot, so they show in the log, `/api/state` and
    /// `trafik check` like the problems compile finds.
    pub problems: Vec<Diagnostic>,
}

impl Snapshot {
    /// What a translating provider (Docker, Consul Catalog) read: its configuration, with
    /// the items it left out as problems named by the provider (their messages name the
    /// container or service and the label or tag).
    pub fn translated(provider: &str, config: Configuration, problems: Vec<String>) -> Self {
        Snapshot {
            config: Arc::new(config),
            sources: SourceMap {
                default_file: provider.to_string(),
                ..SourceMap::default()
            },
            problems: problems
                .into_iter()
                .map(|p| Diagnostic::unlocated(provider, p))
                .collect(),
        }
    }
}

/// Maps a key path (`frontends.fe1.routes.r1.rule`) back to a file, line and column so
/// a semantic error found after parsing still points at the text an operator wrote.
#[derive(Debug, Clone, Default)]
pub struct SourceMap {
    /// The file that holds everything not listed in `by_item`.
    pub default_file: String,
    pub default_locations: Arc<Locations>,
    /// `("backends"|"frontends", name)` → (file, its locations), for merged directories.
    pub by_item: HashMap<(String, String), (Arc<str>, Arc<Locations>)>,
    /// A store's configuration: model paths to store keys. When set, findings are named
    /// by key (`/traefik/frontends/f1/routes/r/rule: …`) and `default_file` is the prefix.
    pub kv: Option<Arc<KvLocations>>,
}

impl SourceMap {
    pub fn single(file: String, locations: Locations) -> Self {
        SourceMap {
            default_file: file,
            default_locations: Arc::new(locations),
            by_item: HashMap::new(),
            kv: None,
        }
    }

    /// Findings about a store's configuration, named by the keys in `locations`;
    /// `prefix` names what no key does.
    pub fn store(prefix: &str, locations: KvLocations) -> Self {
        SourceMap {
            default_file: prefix.to_string(),
            kv: Some(Arc::new(locations)),
            ..SourceMap::default()
        }
    }

    pub fn diagnostic(&self, path: &[String], message: impl Into<String>) -> Diagnostic {
        if let Some(kv) = &self.kv {
            let path: Vec<&str> = path.iter().map(String::as_str).collect();
            return kv.diagnostic(&self.default_file, &path, message);
        }
        let (file, locations) = self.owner(path);
        let path: Vec<&str> = path.iter().map(String::as_str).collect();
        locations.diagnostic(file, &path, message)
    }

    /// The file (and its locations) that holds the item a key path starts with.
    fn owner(&self, path: &[String]) -> (&str, &Locations) {
        if let [kind, name, ..] = path
            && let Some((f, l)) = self.by_item.get(&(kind.clone(), name.clone()))
        {
            return (f, l);
        }
        (&self.default_file, &self.default_locations)
    }

    /// A diagnostic pointing `offset` bytes into the string value at `path` (rule and
    /// expression errors know their byte within the string, not within the file).
    pub fn diagnostic_in_string(
        &self,
        path: &[String],
        offset: usize,
        message: impl Into<String>,
    ) -> Diagnostic {
        if self.kv.is_some() {
            let message = message.into();
            return self.diagnostic(path, format!("{message} (at byte {offset} of the value)"));
        }
        let (file, locations) = self.owner(path);
        let segs: Vec<&str> = path.iter().map(String::as_str).collect();
        match locations.locate(&segs) {
            // +1 steps over the opening quote.
            Some((line, col)) => Diagnostic {
                file: file.to_string(),
                line: Some(line),
                col: Some(col + 1 + offset),
                message: message.into(),
            },
            None => locations.diagnostic(file, &segs, message),
        }
    }
}

/// What a provider sends to the aggregator: its whole new configuration, or why it has
/// none (the previous one keeps serving; the API shows the error).
#[derive(Debug)]
pub struct ProviderUpdate {
    pub provider: String,
    pub update: Result<Snapshot, String>,
}
