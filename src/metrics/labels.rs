//! Label values a client chooses must not grow the metrics without bound: each distinct
//! value is a new series kept for the life of the process. Of what the Prometheus labels
//! carry (method, protocol, status code, entry point, backend), only the method is the
//! client's free choice (any token is a valid HTTP method); the protocol is one of a few
//! constants, the status code a number hyper keeps within 100–999, and the rest comes from
//! the configuration. Hosts and paths are never labels.

/// The value of the `method` label: the standard methods keep their names, anything else
/// is `EXTENSION_METHOD`, the value Traefik 2 uses for the same purpose.
pub fn method(method: &str) -> &str {
    match method {
        "GET" | "HEAD" | "POST" | "PUT" | "DELETE" | "CONNECT" | "OPTIONS" | "TRACE" | "PATCH" => {
            method
        }
        _ => EXTENSION_METHOD,
    }
}

pub const EXTENSION_METHOD: &str = "EXTENSION_METHOD";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_methods_keep_their_names() {
        for m in [
            "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH",
        ] {
            assert_eq!(method(m), m);
        }
    }

    #[test]
    fn anything_else_is_one_value() {
        for m in ["get", "PROPFIND", "BREW", "X".repeat(1000).as_str(), ""] {
            assert_eq!(method(m), EXTENSION_METHOD);
        }
    }
}
