pub mod balance;
pub mod path;
