//! Plain data: the shapes of `trafik.toml` and of what providers produce.

pub mod dynamic;
pub mod static_config;

pub use dynamic::*;
pub use static_config::*;
