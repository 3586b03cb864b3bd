//! trafik's own HTTP/1.1 client codec, for the pool of plain `http://` servers
//! (`pool.rs`): a pooled connection is a socket and a read buffer, used directly by the
//! request's task and then by its response body. Upgrades, `h2c://` and `https://`
//! servers stay on hyper-util's client (`forward.rs`).
//!
//! - `write.rs`: the request head and the body's framing;
//! - `head.rs`: the response head (httparse, bounded) and its framing (RFC 9112 §6.3);
//! - `chunked.rs`: decoding a chunked response body;
//! - `conn.rs`: the connection, and one request/response exchange on it;
//! - `body.rs`: a response body that streams from its connection.

pub mod body;
pub mod chunked;
pub mod conn;
pub mod head;
pub mod write;
