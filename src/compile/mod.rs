//! Turns the providers' configurations into a `Runtime`: merge, validate, compile rules,
//! build backends. What is wrong is reported with its location and left out; what is
//! right still loads. Shared by the aggregator and `trafik check`.

pub mod auth;
mod backend;
mod rate_limit;
mod whitelist;

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use trafik_config::rule::{CompileOptions, FrontendRule, RuleIndex};
use trafik_config::{Backend, Frontend};
use trafik_config::{Diagnostic, DynamicContext, check_backend, check_frontend};

use crate::backend::{BackendService, BreakerRegistry, Forward};
use crate::health::HealthRegistry;
use crate::provider::{Snapshot, SourceMap};
use crate::proxy::Forwarder;
use crate::runtime::{EntryPointRoutes, FrontendRoute, Runtime};
use crate::stats::StatsRegistry;

/// The static settings a compilation depends on.
#[derive(Debug, Clone)]
pub struct CompileSettings {
    pub entry_points: BTreeSet<String>,
    /// The entry points themselves, for a frontend's `redirect.entryPoint`.
    pub entry_point_configs: BTreeMap<String, trafik_config::EntryPoint>,
    pub default_entry_points: Vec<String>,
    pub keep_trailing_slash: bool,
    pub allow_min_weight_zero: bool,
    /// `[healthcheck] interval`: for backends whose check names none.
    pub health_check_interval: std::time::Duration,
    /// `[retry] attempts` when the section is present (0: one per server).
    pub retry_attempts: Option<u32>,
}

/// State that outlives one configuration, owned by the aggregator.
pub struct Registries {
    pub health: HealthRegistry,
    pub breakers: BreakerRegistry,
    pub stats: Arc<StatsRegistry>,
    /// Rate-limit buckets by frontend and settings.
    pub rate_limits: crate::frontend::rate_limit::RateLimitRegistry,
}

impl Registries {
    /// Health checks over https trust what the forwarder trusts.
    pub fn new(forwarder: &Forwarder) -> Self {
        Registries {
            health: HealthRegistry::new(forwarder.backend_tls().clone()),
            breakers: BreakerRegistry::default(),
            stats: Arc::default(),
            rate_limits: Default::default(),
        }
    }
}

/// Builds a runtime from every provider's latest snapshot (keyed by provider name).
/// With `Registries`, servers of backends with a health check get their checker and
/// backends with a circuit breaker their state (both reused when unchanged, dropped when
/// gone); without (`trafik check`) nothing is started.
pub fn compile(
    snapshots: &BTreeMap<String, Snapshot>,
    settings: &CompileSettings,
    generation: u64,
    forwarder: &Arc<Forwarder>,
    mut registries: Option<&mut Registries>,
) -> (Runtime, Vec<Diagnostic>) {
    let mut problems: Vec<Diagnostic> = snapshots
        .values()
        .flat_map(|s| s.problems.iter().cloned())
        .collect();
    let merged = merge(snapshots, &mut problems);
    let source_of = |kind: &str, name: &str| -> &SourceMap { merged.sources(kind, name) };

    // Each item checked on its own and borrowed unless a check removed part of it: a
    // compile of 10,000 frontends copies none of them.
    let ctx = DynamicContext {
        entry_points: &settings.entry_points,
        default_entry_points: &settings.default_entry_points,
    };
    let mut checks = Vec::new();
    let checked_backends: Vec<(&str, Cow<'_, Backend>)> = merged
        .backends
        .iter()
        .map(|(name, (b, _))| (*name, check_backend(name, b, &mut checks)))
        .collect();
    let has_backend = |b: &str| merged.backends.contains_key(b);
    let checked_frontends: Vec<(&str, Cow<'_, Frontend>)> = merged
        .frontends
        .iter()
        .filter_map(|(name, (f, _))| {
            check_frontend(name, f, &has_backend, &ctx, &mut checks).map(|f| (*name, f))
        })
        .collect();
    for p in &checks {
        let kind = p.path.first().map(String::as_str).unwrap_or("");
        let name = p.path.get(1).map(String::as_str).unwrap_or("");
        problems.push(source_of(kind, name).diagnostic(&p.path, p.message.clone()));
    }

    let mut backends = HashMap::new();
    let mut layers = HashMap::new();
    let mut live = backend::Live::default();
    for (name, b) in &checked_backends {
        let built = backend::build(
            name,
            b,
            settings,
            source_of("backends", name),
            registries.as_deref_mut(),
            &mut live,
            &mut problems,
        );
        if let Some(built) = built {
            backends.insert(name.to_string(), built.handle);
            layers.insert(name.to_string(), built.layers);
        }
    }
    if let Some(r) = registries.as_deref_mut() {
        r.health.retain(&live.checks);
        r.breakers.retain(&live.breakers);
        r.stats
            .retain(&backends.keys().map(String::as_str).collect());
    }

    let options = CompileOptions {
        keep_trailing_slash: settings.keep_trailing_slash,
    };
    let mut per_entry_point: BTreeMap<&str, Vec<Candidate>> = BTreeMap::new();
    let mut live_rate_limits = std::collections::HashSet::new();
    for (name, frontend) in &checked_frontends {
        let (name, frontend): (&str, &Frontend) = (name, frontend);
        let route_names: Vec<&String> = frontend.routes.keys().collect();
        let rules: Vec<&str> = frontend.routes.values().map(|r| r.rule.as_str()).collect();
        let rule = match FrontendRule::compile(&rules, &options) {
            Ok(rule) => rule,
            Err(e) => {
                let route = route_names.get(e.route).map(|s| s.as_str()).unwrap_or("");
                let p = path(&["frontends", name, "routes", route, "rule"]);
                let message = format!("frontend {name:?} skipped: {}", e.message);
                problems
                    .push(source_of("frontends", name).diagnostic_in_string(&p, e.offset, message));
                continue;
            }
        };
        let Some(backend) = backends.get(&frontend.backend) else {
            let p = path(&["frontends", name, "backend"]);
            problems.push(source_of("frontends", name).diagnostic(
                &p,
                format!(
                    "frontend {name:?} skipped: its backend {:?} was skipped",
                    frontend.backend
                ),
            ));
            continue;
        };
        let Ok(white_list) =
            whitelist::frontend(name, frontend, source_of("frontends", name), &mut problems)
        else {
            continue;
        };
        let middlewares = match crate::frontend::Middlewares::build(
            name,
            frontend,
            &settings.entry_point_configs,
        ) {
            Ok(m) => m.map(Box::new),
            Err(e) => {
                problems.push(source_of("frontends", name).diagnostic(&e.path, e.message));
                continue;
            }
        };
        let Ok(auth) = auth::frontend(name, frontend, source_of("frontends", name), &mut problems)
        else {
            continue;
        };
        let Ok(rate_limit) = rate_limit::frontend(
            name,
            frontend,
            source_of("frontends", name),
            registries.as_deref_mut().map(|r| &mut r.rate_limits),
            &mut live_rate_limits,
            &mut problems,
        ) else {
            continue;
        };
        let error_pages = match crate::frontend::error_pages::ErrorPages::build(
            name, frontend, &backends, &layers, forwarder,
        ) {
            Ok(pages) => pages,
            Err(e) => {
                problems.push(source_of("frontends", name).diagnostic(&e.path, e.message));
                continue;
            }
        };
        let route = Arc::new(FrontendRoute {
            name: name.to_string(),
            pass_host_header: frontend.pass_host_header,
            modifiers: rule.shared_modifiers().clone(),
            backend: backend.clone(),
            service: BackendService::new(
                Forward::new(
                    backend.clone(),
                    forwarder.clone(),
                    frontend.pass_host_header,
                ),
                &layers[&frontend.backend],
            ),
            client_cert_headers: crate::tls::client_cert::ClientCertHeaders::from_frontend(
                frontend,
            )
            .map(Box::new),
            white_list: white_list.map(Box::new),
            middlewares,
            auth,
            rate_limit: rate_limit.map(Box::new),
            error_pages: error_pages.map(Box::new),
        });
        let eps = if frontend.entry_points.is_empty() {
            &settings.default_entry_points
        } else {
            &frontend.entry_points
        };
        for ep in eps {
            if let Some(ep) = settings.entry_points.get(ep) {
                per_entry_point.entry(ep.as_str()).or_default().push((
                    frontend.effective_priority(),
                    name,
                    rule.clone(),
                    route.clone(),
                ));
            }
        }
    }

    if let Some(r) = registries {
        r.rate_limits.retain(&live_rate_limits);
    }

    // In name order, as the API and the metrics list them.
    let mut backends: Vec<_> = backends.into_values().collect();
    backends.sort_unstable_by(|a, b| a.name.cmp(&b.name));
    let mut entry_points = HashMap::new();
    for ep in &settings.entry_points {
        let mut entries = per_entry_point.remove(ep.as_str()).unwrap_or_default();
        // Highest priority first; equal priorities by name, so the order is stable across reloads.
        entries.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(b.1)));
        let mut routes: Vec<_> = entries
            .into_iter()
            .map(|(_, _, rule, route)| (rule, route))
            .collect();
        // The collect reused the candidates' larger buffer: 3.5 MB kept at 10,000 frontends.
        routes.shrink_to_fit();
        let index = RuleIndex::new(routes);
        entry_points.insert(ep.clone(), EntryPointRoutes { index });
    }
    (
        Runtime {
            entry_points,
            backends,
            generation,
            free_on_config_thread: false,
        },
        problems,
    )
}

/// A frontend waiting to be placed in an entry point's index: (priority, name, rule, route).
type Candidate<'a> = (i64, &'a str, FrontendRule, Arc<FrontendRoute>);

fn path(parts: &[&str]) -> Vec<String> {
    parts.iter().map(|s| s.to_string()).collect()
}

/// Every provider's backends and frontends by name, borrowed from their snapshots, each with
/// the provider's source map (where its problems are reported).
struct Merged<'s> {
    backends: BTreeMap<&'s str, (&'s Backend, &'s SourceMap)>,
    frontends: BTreeMap<&'s str, (&'s Frontend, &'s SourceMap)>,
}

impl Merged<'_> {
    /// The source map of the provider that defined `kind` (`backends`, `frontends`) `name`;
    /// an empty one when none did (a fallback that cannot panic).
    fn sources(&self, kind: &str, name: &str) -> &SourceMap {
        static NONE: std::sync::LazyLock<SourceMap> = std::sync::LazyLock::new(SourceMap::default);
        let found = match kind {
            "backends" => self.backends.get(name).map(|(_, s)| *s),
            "frontends" => self.frontends.get(name).map(|(_, s)| *s),
            _ => None,
        };
        found.unwrap_or(&NONE)
    }
}

/// Merges providers in name order; a backend or frontend name already taken by another
/// provider is reported and skipped.
fn merge<'s>(
    snapshots: &'s BTreeMap<String, Snapshot>,
    problems: &mut Vec<Diagnostic>,
) -> Merged<'s> {
    let mut merged = Merged {
        backends: BTreeMap::new(),
        frontends: BTreeMap::new(),
    };
    let mut owners: HashMap<(&str, &str), &str> = HashMap::new();
    for (provider, snapshot) in snapshots {
        let mut take = |kind: &'static str, name: &'s str| -> bool {
            if let Some(owner) = owners.get(&(kind, name)) {
                let what = kind.trim_end_matches('s');
                problems.push(snapshot.sources.diagnostic(
                    &path(&[kind, name]),
                    format!("{what} {name:?} already defined by provider {owner:?}, skipping"),
                ));
                return false;
            }
            owners.insert((kind, name), provider);
            true
        };
        for (name, backend) in &snapshot.config.backends {
            if take("backends", name) {
                merged.backends.insert(name, (backend, &snapshot.sources));
            }
        }
        for (name, frontend) in &snapshot.config.frontends {
            if take("frontends", name) {
                merged.frontends.insert(name, (frontend, &snapshot.sources));
            }
        }
    }
    merged
}
