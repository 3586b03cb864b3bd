//! trafik's configuration: the model, its parsing and validation, and the routing-rule grammar.
//! Plain data and pure functions: no async, no network, no I/O beyond reading a string.

pub mod duration;
pub mod model;

pub use duration::Duration;
pub use model::*;
