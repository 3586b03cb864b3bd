//! Forwarding a request to a backend server and its answer back.

pub mod body;
pub mod client_body;
pub mod connector;
pub mod error;
pub mod forward;
pub mod h1;
pub mod headers;
pub mod pool;
pub mod request_body;
pub mod tunnels;

pub use body::ResponseBody;
pub use error::{ErrorKind, ProxyError};
pub use forward::{Forwarder, ForwarderSettings, Sending, Target, Transport};
pub use request_body::{BoxError, RequestBody};
