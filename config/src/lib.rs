//! trafik's configuration: the model, its parsing and validation, and the routing-rule grammar.
//! Plain data and pure functions: no async, no network, no I/O beyond reading a string.

pub mod bolt;
pub mod breaker;
pub mod constraints;
pub mod consul_catalog;
pub mod de;
pub mod diagnostic;
pub mod docker;
pub mod duration;
mod expr;
pub mod flags;
#[doc(hidden)]
pub mod fuzz;
pub mod kubernetes;
pub mod kv;
pub mod kv_static;
pub mod labels;
pub mod load;
pub mod marathon;
pub mod mesos;
pub mod model;
pub mod retry_expr;
pub mod rule;
pub mod v1_keys;
pub mod validate;

pub use diagnostic::Diagnostic;
pub use duration::Duration;
pub use load::{Loaded, Locations, load_dynamic, load_static};
pub use model::*;
pub use validate::{
    DynamicContext, Problem, Validated, check_backend, check_frontend, parse_address,
    validate_dynamic, validate_static,
};
