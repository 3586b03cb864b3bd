pub mod balance;
pub mod breaker;
pub mod path;
