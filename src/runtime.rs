//! The compiled snapshot every request reads: per entry point a rule index, and the
//! backends frontends point to. Built whole by `compile`, swapped atomically by the
//! aggregator; never mutated after that, so the hot path takes no lock.

use std::collections::HashMap;
use std::sync::Arc;

use trafik_config::rule::{RuleIndex, SharedModifiers};

use crate::backend::{BackendService, Balancer};
use crate::health::Health;
use crate::proxy::Target;
use crate::stats::{BackendStats, BackendStatsSlot};

#[derive(Default)]
pub struct Runtime {
    pub entry_points: HashMap<String, EntryPointRoutes>,
    /// Every backend that compiled, in name order: what the API and the metrics report live
    /// state for. A list rather than a map by name: nothing looks a backend up here, and a
    /// map kept a second copy of each name (10,000 small blocks at 10,000 backends).
    pub backends: Vec<Arc<BackendHandle>>,
    /// Increases by one with every applied configuration.
    pub generation: u64,
    /// Set by the aggregator on the runtime it makes live: it was built on a configuration
    /// thread, and is freed on one too, whichever thread drops it last (a request's worker,
    /// when one still held it at the swap), followed by a collect that returns its pages
    /// (`config_thread::free_there`); a worker would keep them until it next collects.
    pub free_on_config_thread: bool,
}

impl Drop for Runtime {
    fn drop(&mut self) {
        if self.free_on_config_thread {
            let routes = std::mem::take(&mut self.entry_points);
            let backends = std::mem::take(&mut self.backends);
            crate::config_thread::free_there((routes, backends));
        }
    }
}

impl Runtime {
    pub fn routes(&self, entry_point: &str) -> Option<&EntryPointRoutes> {
        self.entry_points.get(entry_point)
    }
}

pub struct EntryPointRoutes {
    pub index: RuleIndex<Arc<FrontendRoute>>,
}

/// A frontend as one entry point serves it. Its rare parts are boxed: 10,000 frontends
/// each hold one, and most have none of them.
pub struct FrontendRoute {
    pub name: String,
    pub pass_host_header: bool,
    pub modifiers: SharedModifiers,
    pub backend: Arc<BackendHandle>,
    /// The backend's stack as this frontend calls it (its passHostHeader differs per frontend).
    pub service: BackendService,
    /// `passTLSClientCert` / `passTLSCert`.
    pub client_cert_headers: Option<Box<crate::tls::client_cert::ClientCertHeaders>>,
    /// `whiteList` / `whitelistSourceRange`: clients outside it get 403.
    pub white_list: Option<Box<trafik_middleware::whitelist::IpWhitelist>>,
    /// `[frontends.X.redirect]` and `[frontends.X.headers]`.
    pub middlewares: Option<Box<crate::frontend::Middlewares>>,
    /// `basicAuth` and `[frontends.X.auth]`: after the middlewares, before the rate limit.
    pub auth: Option<Box<crate::frontend::auth::FrontendAuth>>,
    /// `[frontends.X.rateLimit]`: past it, 429 before the backend.
    pub rate_limit: Option<Box<crate::frontend::rate_limit::RateLimit>>,
    /// `[frontends.X.errors.NAME]`: around everything from the whitelist on (v1's order).
    pub error_pages: Option<Box<crate::frontend::error_pages::ErrorPages>>,
}

/// 160 bytes in its `Arc` at most: mimalloc's next size class is 192, and 10,000 backends
/// each hold one (`handles_fit_their_size_class` below).
pub struct BackendHandle {
    pub name: String,
    /// Boxed rather than a `Vec`: its capacity is its length, a word less per backend.
    pub servers: Box<[ServerHandle]>,
    pub balancer: Balancer,
    /// The circuit breaker's state, when the backend has one.
    pub breaker: Option<trafik_middleware::breaker::BreakerState>,
    /// Counters kept across reloads (retries, open connections), made on first use.
    pub stats: BackendStatsSlot,
}

impl BackendHandle {
    /// The counters a request of this backend updates.
    pub fn stats(&self) -> &Arc<BackendStats> {
        self.stats.get(&self.name)
    }

    pub fn retries(&self) -> u64 {
        self.stats.retries(&self.name)
    }

    pub fn open_connections(&self) -> i64 {
        self.stats.open_connections(&self.name)
    }
}

pub struct ServerHandle {
    pub name: String,
    pub url: String,
    pub weight: u32,
    pub target: Target,
    /// Present when the backend has a health check; shared with its checker task.
    pub health: Option<Arc<Health>>,
}

impl ServerHandle {
    pub fn is_up(&self) -> bool {
        self.health.as_ref().is_none_or(|h| h.is_up())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// mimalloc rounds a block up to its size class (…, 128, 160, 192, …): a handle a word
    /// past 160 bytes costs 32 more, 320 KB at 10,000 backends.
    #[test]
    fn handles_fit_their_size_class() {
        let arc_header = 2 * std::mem::size_of::<usize>();
        assert!(arc_header + std::mem::size_of::<BackendHandle>() <= 160);
        assert!(std::mem::size_of::<ServerHandle>() <= 160);
    }
}
