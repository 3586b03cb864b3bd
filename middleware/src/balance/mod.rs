//! Choosing a server among a backend's servers.
//!
//! - [`Wrr`]: smooth weighted round robin over fixed weights (v1 `wrr`).
//! - [`Drr`]: the same over weights that move away from slow or failing servers (v1 `drr`).
//! - [`sticky`]: cookie stickiness on top of either (v1 `stickiness`).

pub mod drr;
pub mod sticky;
pub mod wrr;

pub use drr::Drr;
pub use sticky::{SameSite, Sticky};
pub use wrr::Wrr;
