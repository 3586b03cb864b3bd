//! Header rewriting on the way to the backend and back: hop-by-hop headers never cross
//! the proxy, and the `X-Forwarded-*` family tells the backend who really asked.

use std::net::IpAddr;

use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use ipnet::IpNet;

pub static X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
pub static X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
pub static X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
pub static X_FORWARDED_PORT: HeaderName = HeaderName::from_static("x-forwarded-port");
pub static X_FORWARDED_SERVER: HeaderName = HeaderName::from_static("x-forwarded-server");
pub static X_REAL_IP: HeaderName = HeaderName::from_static("x-real-ip");
static KEEP_ALIVE: HeaderName = HeaderName::from_static("keep-alive");
static PROXY_CONNECTION: HeaderName = HeaderName::from_static("proxy-connection");

/// Removes the headers that describe one hop (RFC 9110 §7.6.1), both directions.
/// `TE: trailers` is the one value that may pass: gRPC needs it end to end.
pub fn strip_hop_by_hop(headers: &mut HeaderMap) {
    if let Some(connection) = headers.get(header::CONNECTION) {
        // Names listed in Connection are hop-by-hop too; collect first, then remove.
        let named: Vec<HeaderName> = connection
            .to_str()
            .unwrap_or("")
            .split(',')
            .filter_map(|n| HeaderName::from_bytes(n.trim().as_bytes()).ok())
            .collect();
        for name in named {
            if name != header::TE {
                headers.remove(&name);
            }
        }
        headers.remove(header::CONNECTION);
    }
    for name in [
        &KEEP_ALIVE,
        &PROXY_CONNECTION,
        &header::PROXY_AUTHENTICATE,
        &header::PROXY_AUTHORIZATION,
        &header::TRAILER,
        &header::TRANSFER_ENCODING,
        &header::UPGRADE,
    ] {
        headers.remove(name);
    }
    let te_trailers = headers.get(header::TE).is_some_and(|v| {
        v.to_str().is_ok_and(|s| {
            s.split(',')
                .any(|t| t.trim().eq_ignore_ascii_case("trailers"))
        })
    });
    headers.remove(header::TE);
    if te_trailers {
        headers.insert(header::TE, HeaderValue::from_static("trailers"));
    }
}

/// Which clients may set `X-Forwarded-*` themselves (`[entryPoints.X.forwardedHeaders]`).
#[derive(Debug, Clone)]
pub enum ForwardedTrust {
    /// Trust everyone: v1's default when the table is absent.
    Everyone,
    /// Trust only these networks; anyone else's `X-Forwarded-*` is dropped.
    Networks(Vec<IpNet>),
}

impl ForwardedTrust {
    /// Builds the policy from `trustedIPs`; a bare address means that single host.
    pub fn from_config(insecure: bool, trusted_ips: &[String]) -> Result<Self, String> {
        if insecure {
            return Ok(ForwardedTrust::Everyone);
        }
        let nets = trusted_ips
            .iter()
            .map(|s| parse_net(s).ok_or_else(|| format!("invalid trusted IP or CIDR {s:?}")))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(ForwardedTrust::Networks(nets))
    }

    pub fn trusts(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        match self {
            ForwardedTrust::Everyone => true,
            ForwardedTrust::Networks(nets) => nets.iter().any(|n| n.contains(&ip)),
        }
    }
}

fn parse_net(s: &str) -> Option<IpNet> {
    let s = s.trim();
    s.parse::<IpNet>()
        .ok()
        .or_else(|| s.parse::<IpAddr>().ok().map(IpNet::from))
}

/// An IPv4 client seen on a dual-stack socket arrives as `::ffff:a.b.c.d`.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    }
}

const FORWARDED_FAMILY: [&HeaderName; 6] = [
    &X_FORWARDED_FOR,
    &X_FORWARDED_PROTO,
    &X_FORWARDED_HOST,
    &X_FORWARDED_PORT,
    &X_FORWARDED_SERVER,
    &X_REAL_IP,
];

/// What the proxy knows about the client connection.
pub struct ClientContext<'a> {
    pub ip: IpAddr,
    /// `"http"` or `"https"` (`"ws"`/`"wss"` for upgrades).
    pub proto: &'static str,
    /// The request's Host (authority for HTTP/2), as the client sent it.
    pub host: Option<&'a str>,
    pub trusted: bool,
    pub server_name: &'a HeaderValue,
}

/// Sets the `X-Forwarded-*` family as v1 (oxy) does: an untrusted client's values are dropped
/// first; `X-Forwarded-For` gets the client appended; the others are set only when absent,
/// except `X-Forwarded-Server`, which always names this proxy.
pub fn set_forwarded(headers: &mut HeaderMap, client: &ClientContext<'_>) {
    if !client.trusted {
        for name in FORWARDED_FAMILY {
            headers.remove(name);
        }
    }
    let ip = canonical(client.ip).to_string();
    let xff = match headers.get(&X_FORWARDED_FOR).and_then(|v| v.to_str().ok()) {
        Some(prior) if !prior.is_empty() => format!("{prior}, {ip}"),
        _ => ip.clone(),
    };
    if let Ok(v) = HeaderValue::from_str(&xff) {
        headers.insert(&X_FORWARDED_FOR, v);
    }
    if !headers.contains_key(&X_REAL_IP)
        && let Ok(v) = HeaderValue::from_str(&ip)
    {
        headers.insert(&X_REAL_IP, v);
    }
    if !headers.contains_key(&X_FORWARDED_PROTO) {
        headers.insert(&X_FORWARDED_PROTO, HeaderValue::from_static(client.proto));
    }
    if !headers.contains_key(&X_FORWARDED_PORT) {
        let port =
            client
                .host
                .and_then(host_port)
                .unwrap_or(if matches!(client.proto, "https" | "wss") {
                    "443"
                } else {
                    "80"
                });
        if let Ok(v) = HeaderValue::from_str(port) {
            headers.insert(&X_FORWARDED_PORT, v);
        }
    }
    if !headers.contains_key(&X_FORWARDED_HOST)
        && let Some(v) = client.host.and_then(|h| HeaderValue::from_str(h).ok())
    {
        headers.insert(&X_FORWARDED_HOST, v);
    }
    headers.insert(&X_FORWARDED_SERVER, client.server_name.clone());
}

/// The port part of a Host value (`example.com:8080`, `[::1]:8080`), if any.
pub fn host_port(host: &str) -> Option<&str> {
    let after_bracket = match host.rfind(']') {
        Some(i) => &host[i..],
        None => host,
    };
    after_bracket
        .rfind(':')
        .map(|i| &after_bracket[i + 1..])
        .filter(|p| !p.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx<'a>(trusted: bool, host: Option<&'a str>, name: &'a HeaderValue) -> ClientContext<'a> {
        ClientContext {
            ip: "10.0.0.7".parse().unwrap(),
            proto: "http",
            host,
            trusted,
            server_name: name,
        }
    }

    #[test]
    fn strips_hop_by_hop_and_named_headers_but_keeps_te_trailers() {
        let mut h = HeaderMap::new();
        h.insert(
            header::CONNECTION,
            HeaderValue::from_static("keep-alive, X-Secret"),
        );
        h.insert("x-secret", HeaderValue::from_static("1"));
        h.insert("keep-alive", HeaderValue::from_static("timeout=5"));
        h.insert(header::TE, HeaderValue::from_static("trailers, deflate"));
        h.insert(
            header::TRANSFER_ENCODING,
            HeaderValue::from_static("chunked"),
        );
        h.insert(header::UPGRADE, HeaderValue::from_static("h2c"));
        h.insert("x-kept", HeaderValue::from_static("yes"));
        strip_hop_by_hop(&mut h);
        assert_eq!(h.len(), 2, "{h:?}");
        assert_eq!(h["x-kept"], "yes");
        assert_eq!(h[header::TE], "trailers");
    }

    #[test]
    fn untrusted_forwarded_headers_are_replaced() {
        let name = HeaderValue::from_static("proxy1");
        let mut h = HeaderMap::new();
        h.insert(&X_FORWARDED_FOR, HeaderValue::from_static("1.2.3.4"));
        h.insert(&X_FORWARDED_HOST, HeaderValue::from_static("evil.com"));
        set_forwarded(&mut h, &ctx(false, Some("example.com:8080"), &name));
        assert_eq!(h[&X_FORWARDED_FOR], "10.0.0.7");
        assert_eq!(h[&X_FORWARDED_HOST], "example.com:8080");
        assert_eq!(h[&X_FORWARDED_PORT], "8080");
        assert_eq!(h[&X_FORWARDED_PROTO], "http");
        assert_eq!(h[&X_REAL_IP], "10.0.0.7");
        assert_eq!(h[&X_FORWARDED_SERVER], "proxy1");
    }

    #[test]
    fn trusted_forwarded_headers_are_kept_and_appended() {
        let name = HeaderValue::from_static("proxy1");
        let mut h = HeaderMap::new();
        h.insert(&X_FORWARDED_FOR, HeaderValue::from_static("1.2.3.4"));
        h.insert(&X_FORWARDED_PROTO, HeaderValue::from_static("https"));
        set_forwarded(&mut h, &ctx(true, Some("example.com"), &name));
        assert_eq!(h[&X_FORWARDED_FOR], "1.2.3.4, 10.0.0.7");
        assert_eq!(h[&X_FORWARDED_PROTO], "https");
        assert_eq!(h[&X_FORWARDED_PORT], "80");
    }

    #[test]
    fn trust_policy_matches_networks_and_single_hosts() {
        let t = ForwardedTrust::from_config(false, &["10.0.0.0/8".into(), "192.168.1.1".into()])
            .unwrap();
        assert!(t.trusts("10.1.2.3".parse().unwrap()));
        assert!(t.trusts("::ffff:10.1.2.3".parse().unwrap()));
        assert!(t.trusts("192.168.1.1".parse().unwrap()));
        assert!(!t.trusts("192.168.1.2".parse().unwrap()));
        assert!(ForwardedTrust::from_config(false, &["nonsense".into()]).is_err());
        assert!(
            ForwardedTrust::from_config(true, &[])
                .unwrap()
                .trusts("8.8.8.8".parse().unwrap())
        );
    }

    #[test]
    fn host_port_handles_ipv6() {
        assert_eq!(host_port("[::1]:8080"), Some("8080"));
        assert_eq!(host_port("[::1]"), None);
        assert_eq!(host_port("a.com"), None);
        assert_eq!(host_port("a.com:1"), Some("1"));
    }
}
