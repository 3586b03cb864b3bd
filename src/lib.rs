//! trafik: a reverse proxy and load balancer in the lineage of Traefik 1.x.
//! See ARCHITECTURE.md for how a configuration and a request flow through these modules.

pub mod accept;
pub mod access_log;
pub mod acme;
pub mod aggregator;
pub mod api;
pub mod backend;
pub mod cli;
pub mod cli_args;
pub mod compile;
pub mod compress;
pub mod connection;
pub mod echo;
pub mod entrypoint;
pub mod fd_limit;
pub mod forward_auth;
pub mod frontend;
pub mod handler;
pub mod health;
pub mod healthcheck;
pub mod logging;
pub mod metrics;
pub mod provider;
pub mod proxy;
pub mod redirect;
pub mod request_context;
pub mod rewrite;
pub mod runtime;
pub mod server;
pub mod static_load;
pub mod stats;
pub mod status;
pub mod storeconfig;
pub mod tls;
pub mod whitelist;
