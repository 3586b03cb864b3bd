pub mod auth;
pub mod balance;
pub mod breaker;
pub mod buffer;
#[doc(hidden)]
pub mod fuzz;
pub mod limit;
pub mod path;
pub mod rate;
pub mod retry;
pub mod whitelist;
