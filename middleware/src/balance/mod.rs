//! Choosing a server among a backend's servers.

pub mod wrr;

pub use wrr::Wrr;
