pub mod auth;
pub mod balance;
pub mod breaker;
pub mod buffer;
pub mod limit;
pub mod path;
pub mod retry;
