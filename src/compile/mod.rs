//! Turns the providers' configurations into a `Runtime`: merge, validate, compile rules,
//! build backends. What is wrong is reported with its location and left out; what is
//! right still loads. Shared by the aggregator and `trafik check`.

pub mod auth;
mod backend;
mod rate_limit;
mod whitelist;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use trafik_config::rule::{CompileOptions, FrontendRule, RuleIndex};
use trafik_config::{Configuration, Diagnostic, DynamicContext, validate_dynamic};

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
    pub stats: StatsRegistry,
    /// Rate-limit buckets by frontend and settings.
    pub rate_limits: crate::frontend::rate_limit::RateLimitRegistry,
}

impl Registries {
    /// Health checks over https trust what the forwarder trusts.
    pub fn new(forwarder: &Forwarder) -> Self {
        Registries {
            health: HealthRegistry::new(forwarder.backend_tls().clone()),
            breakers: BreakerRegistry::default(),
            stats: StatsRegistry::default(),
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
    let (merged, owners) = merge(snapshots, &mut problems);
    // Every merged item has an owner; the empty map is only a fallback that cannot panic.
    let no_sources = SourceMap::default();
    let source_of = |kind: &str, name: &str| -> &SourceMap {
        owners
            .get(&(kind.to_string(), name.to_string()))
            .and_then(|provider| snapshots.get(provider))
            .map_or(&no_sources, |s| &s.sources)
    };

    let ctx = DynamicContext {
        entry_points: &settings.entry_points,
        default_entry_points: &settings.default_entry_points,
    };
    let validated = validate_dynamic(&merged, &ctx);
    for p in &validated.problems {
        let kind = p.path.first().map(String::as_str).unwrap_or("");
        let name = p.path.get(1).map(String::as_str).unwrap_or("");
        problems.push(source_of(kind, name).diagnostic(&p.path, p.message.clone()));
    }
    let config = validated.config;

    let mut backends = HashMap::new();
    let mut layers = HashMap::new();
    let mut live = backend::Live::default();
    for (name, b) in &config.backends {
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
            backends.insert(name.clone(), built.handle);
            layers.insert(name.clone(), built.layers);
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
    for (name, frontend) in &config.frontends {
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
            Ok(m) => m,
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
            name: name.clone(),
            pass_host_header: frontend.pass_host_header,
            modifiers: rule.modifiers().clone(),
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
            ),
            white_list,
            middlewares,
            auth,
            rate_limit,
            error_pages,
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
                    name.as_str(),
                    rule.clone(),
                    route.clone(),
                ));
            }
        }
    }

    if let Some(r) = registries {
        r.rate_limits.retain(&live_rate_limits);
    }

    let mut entry_points = HashMap::new();
    for ep in &settings.entry_points {
        let mut entries = per_entry_point.remove(ep.as_str()).unwrap_or_default();
        // Highest priority first; equal priorities by name, so the order is stable across reloads.
        entries.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(b.1)));
        let index = RuleIndex::new(
            entries
                .into_iter()
                .map(|(_, _, rule, route)| (rule, route))
                .collect(),
        );
        entry_points.insert(ep.clone(), EntryPointRoutes { index });
    }
    (
        Runtime {
            entry_points,
            backends: backends.into_iter().collect(),
            generation,
        },
        problems,
    )
}

/// A frontend waiting to be placed in an entry point's index: (priority, name, rule, route).
type Candidate<'a> = (i64, &'a str, FrontendRule, Arc<FrontendRoute>);

fn path(parts: &[&str]) -> Vec<String> {
    parts.iter().map(|s| s.to_string()).collect()
}

/// Merges providers in name order; a backend or frontend name already taken by another
/// provider is reported and skipped.
fn merge(
    snapshots: &BTreeMap<String, Snapshot>,
    problems: &mut Vec<Diagnostic>,
) -> (Configuration, HashMap<(String, String), String>) {
    let mut merged = Configuration::default();
    let mut owners = HashMap::new();
    for (provider, snapshot) in snapshots {
        let mut take = |kind: &str, name: &str| -> bool {
            let key = (kind.to_string(), name.to_string());
            if let Some(owner) = owners.get(&key) {
                let what = kind.trim_end_matches('s');
                problems.push(snapshot.sources.diagnostic(
                    &path(&[kind, name]),
                    format!("{what} {name:?} already defined by provider {owner:?}, skipping"),
                ));
                return false;
            }
            owners.insert(key, provider.clone());
            true
        };
        for (name, backend) in &snapshot.config.backends {
            if take("backends", name) {
                merged.backends.insert(name.clone(), backend.clone());
            }
        }
        for (name, frontend) in &snapshot.config.frontends {
            if take("frontends", name) {
                merged.frontends.insert(name.clone(), frontend.clone());
            }
        }
    }
    (merged, owners)
}
