//! Plain data: the shapes of `trafik.toml` and of what providers produce.

pub mod access_log;
pub mod acme;
pub mod auth;
pub mod consul_catalog_provider;
pub mod docker_provider;
pub mod dynamic;
pub mod kubernetes_provider;
pub mod kv_provider;
pub mod marathon_provider;
pub mod mesos_provider;
pub mod small_map;
pub mod static_config;
pub mod white_list;

pub use access_log::{AccessLogFields, AccessLogFilters, FieldHeaders};
pub use acme::{Acme, AcmeDomain};
pub use auth::{Auth, ClientTls, Forward, Users};
pub use consul_catalog_provider::ConsulCatalog;
pub use docker_provider::Docker;
pub use dynamic::*;
pub use kubernetes_provider::{IngressEndpoint, Kubernetes};
pub use kv_provider::{KvProvider, KvStoreKind};
pub use marathon_provider::{Marathon, MarathonBasic};
pub use mesos_provider::Mesos;
pub use small_map::SmallMap;
pub use static_config::*;
pub use white_list::WhiteList;
