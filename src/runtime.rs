//! The compiled snapshot every request reads: per entry point a rule index, and the
//! backends frontends point to. Built whole by `compile`, swapped atomically by the
//! aggregator; never mutated after that, so the hot path takes no lock.

use std::collections::HashMap;
use std::sync::Arc;

use trafik_config::rule::{Modifiers, RuleIndex};
use trafik_middleware::balance::Wrr;

use crate::backend::BackendService;
use crate::health::Health;
use crate::proxy::Target;

#[derive(Default)]
pub struct Runtime {
    pub entry_points: HashMap<String, EntryPointRoutes>,
    /// Increases by one with every applied configuration.
    pub generation: u64,
}

impl Runtime {
    pub fn routes(&self, entry_point: &str) -> Option<&EntryPointRoutes> {
        self.entry_points.get(entry_point)
    }
}

pub struct EntryPointRoutes {
    pub index: RuleIndex<Arc<FrontendRoute>>,
}

/// A frontend as one entry point serves it.
pub struct FrontendRoute {
    pub name: String,
    pub pass_host_header: bool,
    pub modifiers: Modifiers,
    pub backend: Arc<BackendHandle>,
    /// The backend's stack as this frontend calls it (its passHostHeader differs per frontend).
    pub service: BackendService,
}

pub struct BackendHandle {
    pub name: String,
    pub servers: Vec<ServerHandle>,
    pub balancer: Wrr,
}

impl BackendHandle {
    pub fn new(name: String, servers: Vec<ServerHandle>) -> Self {
        let balancer = Wrr::new(servers.iter().map(|s| s.weight).collect());
        BackendHandle {
            name,
            servers,
            balancer,
        }
    }

    /// The server the next request goes to, or `None` (⇒ 503) when none is healthy.
    pub fn pick_index(&self) -> Option<usize> {
        self.balancer.next_where(|i| self.servers[i].is_up())
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
