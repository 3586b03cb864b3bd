//! Header rewriting on the way to the backend and back: hop-by-hop headers never cross
//! the proxy, and the `X-Forwarded-*` family tells the backend who really asked.

use std::net::IpAddr;

use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use trafik_middleware::whitelist::SourceRange;
pub use trafik_middleware::whitelist::canonical;

pub static X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
pub static X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
pub static X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
pub static X_FORWARDED_PORT: HeaderName = HeaderName::from_static("x-forwarded-port");
pub static X_FORWARDED_SERVER: HeaderName = HeaderName::from_static("x-forwarded-server");
pub static X_REAL_IP: HeaderName = HeaderName::from_static("x-real-ip");
static KEEP_ALIVE: HeaderName = HeaderName::from_static("keep-alive");
static PROXY_CONNECTION: HeaderName = HeaderName::from_static("proxy-connection");

/// The hop-by-hop headers, each with its bit in [`present`] (its position): `TE` and
/// `Connection` last, as [`strip_hop_by_hop`] treats them apart.
pub(crate) static HOP_BY_HOP: [&HeaderName; 9] = [
    &KEEP_ALIVE,
    &PROXY_CONNECTION,
    &header::PROXY_AUTHENTICATE,
    &header::PROXY_AUTHORIZATION,
    &header::TRAILER,
    &header::TRANSFER_ENCODING,
    &header::UPGRADE,
    &header::TE,
    &header::CONNECTION,
];
const TE_BIT: u16 = 1 << 7;
const CONNECTION_BIT: u16 = 1 << 8;

/// Which of `names` a message has, one bit each by position, found in one pass over its
/// names: a message usually has one of the hop-by-hop headers (`Connection: keep-alive`)
/// or none, and rarely any `X-Forwarded-*`; acting only on those present saves a hash
/// and a probe per absent name (about 1,000 instructions per request when all nine
/// hop-by-hop ones were removed, 450 for five lookups of the forwarded ones).
fn present(headers: &HeaderMap, names: &[&HeaderName]) -> u16 {
    let mut found = 0;
    for name in headers.keys() {
        if let Some(i) = names.iter().position(|n| *n == name) {
            found |= 1 << i;
        }
    }
    found
}

/// Removes the headers that describe one hop (RFC 9110 §7.6.1), both directions.
/// `TE: trailers` is the one value that may pass: gRPC needs it end to end.
pub fn strip_hop_by_hop(headers: &mut HeaderMap) {
    let found = present(headers, &HOP_BY_HOP);
    if found == 0 {
        return;
    }
    // Names listed in Connection are hop-by-hop too. A request's were handled as it arrived
    // (see `remove_connection_nominated`); what is left names nothing trafik sets. One
    // lookup takes every Connection value out; the names are kept only when there are some
    // (rare: `keep-alive` and `close` name nothing).
    if found & CONNECTION_BIT != 0 {
        let mut nominated = Vec::new();
        if let header::Entry::Occupied(entry) = headers.entry(header::CONNECTION) {
            for value in entry.remove_entry_mult().1 {
                nominated.extend(nominated_names(&value));
            }
        }
        for name in nominated {
            if name != header::TE {
                headers.remove(&name);
            }
        }
    }
    // TE, last, is handled below.
    for (i, name) in HOP_BY_HOP[..7].iter().enumerate() {
        if found & (1 << i) != 0 {
            headers.remove(*name);
        }
    }
    if found & TE_BIT != 0 {
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
}

/// The header names a message's `Connection` headers (every one of them, in any letter
/// case) nominate as hop-by-hop. `keep-alive` and `close`, by far the most common tokens,
/// and `upgrade`, which the forwarder handles itself, name nothing to remove.
fn connection_nominated(headers: &HeaderMap) -> Vec<HeaderName> {
    headers
        .get_all(header::CONNECTION)
        .iter()
        .flat_map(nominated_names)
        .collect()
}

/// The header names one `Connection` value nominates (see [`connection_nominated`]).
fn nominated_names(value: &HeaderValue) -> impl Iterator<Item = HeaderName> + '_ {
    value
        .as_bytes()
        .split(|&b| b == b',')
        .map(<[u8]>::trim_ascii)
        .filter(|token| {
            !(token.is_empty()
                || token.eq_ignore_ascii_case(b"keep-alive")
                || token.eq_ignore_ascii_case(b"close")
                || token.eq_ignore_ascii_case(b"upgrade"))
        })
        // Not a valid header name: it names no header there could be.
        .filter_map(|token| HeaderName::from_bytes(token).ok())
}

/// Headers a client's `Connection` cannot remove: the ones trafik sets or routes by. v1
/// removed whatever a client nominated after adding its own, so `Connection:
/// X-Forwarded-For` hid the client's address from the backend and `Connection: Host` sent
/// the server's own address as Host (Traefik's CVE-2024-45410 and GHSA-92mv-8f8w-wq52).
fn owned_by_trafik(name: &HeaderName) -> bool {
    let name = name.as_str();
    name == "host"
        || name == "x-real-ip"
        || name == "x-replaced-path"
        || name.starts_with("x-forwarded-")
}

/// Applies a request's `Connection` header as it arrives, before trafik or any middleware
/// adds a header of its own: the headers the client nominated go now (except those trafik
/// owns, see [`owned_by_trafik`]), and `Connection` keeps only the tokens that name no
/// header (`upgrade`, `keep-alive`, `close`) and `te` (for `TE: trailers`), so nothing
/// added later, by trafik or a middleware, can be removed on the way out.
pub fn remove_connection_nominated(headers: &mut HeaderMap) {
    if !headers.contains_key(header::CONNECTION) {
        return;
    }
    let nominated = connection_nominated(headers);
    if nominated.is_empty() {
        return;
    }
    let mut kept = Vec::new();
    for value in headers.get_all(header::CONNECTION) {
        for token in value.as_bytes().split(|&b| b == b',') {
            let token = token.trim_ascii();
            if token.eq_ignore_ascii_case(b"keep-alive")
                || token.eq_ignore_ascii_case(b"close")
                || token.eq_ignore_ascii_case(b"upgrade")
                || token.eq_ignore_ascii_case(b"te")
            {
                kept.push(token.to_vec());
            }
        }
    }
    for name in &nominated {
        if *name != header::TE && !owned_by_trafik(name) {
            headers.remove(name);
        }
    }
    headers.remove(header::CONNECTION);
    if !kept.is_empty() {
        let value = HeaderValue::from_bytes(&kept.join(&b", "[..]))
            .expect("tokens of a header value joined by commas make a header value");
        headers.insert(header::CONNECTION, value);
    }
}

/// Which clients may set `X-Forwarded-*` themselves (`[entryPoints.X.forwardedHeaders]`).
#[derive(Debug, Clone)]
pub enum ForwardedTrust {
    /// Trust everyone: v1's default when the table is absent.
    Everyone,
    /// Trust only these networks (a bare address is that one host); anyone else's
    /// `X-Forwarded-*` is dropped. Parsed and matched as whitelists are.
    Networks(SourceRange),
}

impl ForwardedTrust {
    /// Builds the policy from `trustedIPs`.
    pub fn from_config(insecure: bool, trusted_ips: &[String]) -> Result<Self, String> {
        if insecure {
            return Ok(ForwardedTrust::Everyone);
        }
        SourceRange::parse(trusted_ips)
            .map(ForwardedTrust::Networks)
            .map_err(|e| format!("invalid trusted IP or CIDR {:?}", e.entry))
    }

    pub fn trusts(&self, ip: IpAddr) -> bool {
        match self {
            ForwardedTrust::Everyone => true,
            ForwardedTrust::Networks(nets) => nets.contains(ip),
        }
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
/// Bits of [`present`] over [`FORWARDED_FAMILY`]: each field's position there.
const XFF_BIT: u16 = 1 << 0;
const XF_PROTO_BIT: u16 = 1 << 1;
const XF_HOST_BIT: u16 = 1 << 2;
const XF_PORT_BIT: u16 = 1 << 3;
const XF_SERVER_BIT: u16 = 1 << 4;
const X_REAL_IP_BIT: u16 = 1 << 5;

/// What the `X-Forwarded-*` family says about the client. It travels with the request
/// down to the forwarder, which adds the headers to each attempt (see [`forwarded_fields`]).
#[derive(Debug, Clone)]
pub struct Forwarded {
    pub ip: IpAddr,
    /// `"http"` or `"https"` (`"ws"`/`"wss"` for upgrades).
    pub proto: &'static str,
    /// The request's Host (authority for HTTP/2), as the client sent it: shared, not
    /// copied.
    pub host: Option<HeaderValue>,
}

/// Drops an untrusted client's own `X-Forwarded-*`, as v1's entry points do before
/// anything else sees the request.
pub fn strip_untrusted_forwarded(headers: &mut HeaderMap, trusted: bool) {
    if trusted {
        return;
    }
    let found = present(headers, &FORWARDED_FAMILY);
    for (i, name) in FORWARDED_FAMILY.into_iter().enumerate() {
        if found & (1 << i) != 0 {
            headers.remove(name);
        }
    }
}

/// The `X-Forwarded-*` fields one attempt adds to its request, made by
/// [`forwarded_fields`] (none when empty, the default): none of them is in the request's
/// header map. hyper's clients get them inserted into the map
/// ([`ForwardedFields::insert_into`]); trafik's own HTTP/1 client writes them after the
/// map's fields (`h1::write::encode_head`), which saves hashing six custom names into the
/// map and probing it for each, about 1,400 instructions (5 %) of a hello request.
#[derive(Debug, Default)]
pub struct ForwardedFields {
    /// By position in [`FORWARDED_FAMILY`].
    values: [Option<HeaderValue>; 6],
}

impl ForwardedFields {
    /// The fields, in [`FORWARDED_FAMILY`]'s order.
    pub fn iter(&self) -> impl Iterator<Item = (&HeaderName, &HeaderValue)> {
        FORWARDED_FAMILY
            .into_iter()
            .zip(&self.values)
            .filter_map(|(name, value)| Some((name, value.as_ref()?)))
    }

    pub fn insert_into(self, headers: &mut HeaderMap) {
        // Grow the map once, not step by step.
        headers.reserve(self.values.iter().flatten().count());
        for (name, value) in FORWARDED_FAMILY.into_iter().zip(self.values) {
            if let Some(value) = value {
                headers.insert(name, value);
            }
        }
    }
}

/// The `X-Forwarded-*` family as v1's forwarder (oxy) sets it, on what is left after
/// [`strip_untrusted_forwarded`]: `X-Forwarded-For` gets the client appended; the others
/// are set only when absent, except `X-Forwarded-Server`, which always names this proxy.
/// The fields that change are taken out of `headers` (a prior `X-Forwarded-For` is
/// joined into the new one), so that the result and `headers` never name one field twice.
///
/// Called for each attempt, just before it is sent, as oxy does: the backend layers
/// (maxConn's `request.header.X-Forwarded-For`, retry's copy of the request for a
/// replay) see the request as the client sent it.
/// `server_name` is this proxy's (`X-Forwarded-Server`).
pub fn forwarded_fields(
    headers: &mut HeaderMap,
    client: &Forwarded,
    server_name: &HeaderValue,
) -> ForwardedFields {
    let found = present(headers, &FORWARDED_FAMILY);
    let ip = ip_header_value(canonical(client.ip));
    let prior = match found & XFF_BIT {
        0 => None,
        _ => headers.remove(&X_FORWARDED_FOR),
    };
    if found & XF_SERVER_BIT != 0 {
        headers.remove(&X_FORWARDED_SERVER);
    }
    let mut fields = ForwardedFields::default();
    let mut set = |bit: u16, value: HeaderValue| {
        fields.values[bit.trailing_zeros() as usize] = Some(value);
    };
    if found & X_REAL_IP_BIT == 0 {
        set(X_REAL_IP_BIT, ip.clone());
    }
    let xff = match prior {
        Some(prior) if !prior.is_empty() => {
            let mut joined = Vec::with_capacity(prior.len() + 2 + ip.len());
            joined.extend_from_slice(prior.as_bytes());
            joined.extend_from_slice(b", ");
            joined.extend_from_slice(ip.as_bytes());
            HeaderValue::from_bytes(&joined).unwrap_or(ip)
        }
        _ => ip,
    };
    set(XFF_BIT, xff);
    if found & XF_PROTO_BIT == 0 {
        set(XF_PROTO_BIT, HeaderValue::from_static(client.proto));
    }
    if found & XF_PORT_BIT == 0 {
        let port = match client
            .host
            .as_ref()
            .and_then(|h| h.to_str().ok())
            .and_then(host_port)
        {
            Some(p) => HeaderValue::from_str(p).ok(),
            None if matches!(client.proto, "https" | "wss") => {
                Some(HeaderValue::from_static("443"))
            }
            None => Some(HeaderValue::from_static("80")),
        };
        if let Some(port) = port {
            set(XF_PORT_BIT, port);
        }
    }
    if found & XF_HOST_BIT == 0
        && let Some(host) = &client.host
    {
        set(XF_HOST_BIT, host.clone());
    }
    set(XF_SERVER_BIT, server_name.clone());
    fields
}

/// The address as a header value, formatted without a heap-allocated String.
fn ip_header_value(ip: IpAddr) -> HeaderValue {
    use std::io::Write;
    // IPv4, by far the usual client, without `fmt`: its machinery cost about 1,000
    // instructions per request here, the digits written by hand under 100.
    if let IpAddr::V4(v4) = ip {
        let mut buf = [0u8; 15];
        let mut len = 0;
        for (i, octet) in v4.octets().into_iter().enumerate() {
            if i > 0 {
                buf[len] = b'.';
                len += 1;
            }
            if octet >= 100 {
                buf[len] = b'0' + octet / 100;
                len += 1;
            }
            if octet >= 10 {
                buf[len] = b'0' + octet / 10 % 10;
                len += 1;
            }
            buf[len] = b'0' + octet % 10;
            len += 1;
        }
        return HeaderValue::from_bytes(&buf[..len]).expect("digits and dots");
    }
    let mut buf = [0u8; 48];
    let mut cursor = std::io::Cursor::new(&mut buf[..]);
    let _ = write!(cursor, "{ip}");
    let len = cursor.position() as usize;
    HeaderValue::from_bytes(&buf[..len]).expect("an IP address is a valid header value")
}

/// The port part of a Host value (`example.com:8080`, `[::1]:8080`), if any.
/// `example.com:8080` ⇒ `example.com`; `[::1]:80` ⇒ `[::1]`.
pub fn strip_port(host: &str) -> &str {
    match host_port(host) {
        Some(port) => &host[..host.len() - port.len() - 1],
        None => host,
    }
}

pub fn host_port(host: &str) -> Option<&str> {
    // A byte scan from the end: this runs for every request, and for a Host a few bytes
    // long `str::rfind`'s general searcher cost about ten times as much.
    let bytes = host.as_bytes();
    let start = bytes.iter().rposition(|&b| b == b']').unwrap_or(0);
    let colon = start + bytes[start..].iter().rposition(|&b| b == b':')?;
    // ':' is ASCII, so the byte after it starts a character.
    Some(&host[colon + 1..]).filter(|p| !p.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// [`forwarded_fields`] inserted into `headers`: what hyper-util's clients send.
    fn add_forwarded(headers: &mut HeaderMap, client: &Forwarded, server_name: &HeaderValue) {
        forwarded_fields(headers, client, server_name).insert_into(headers);
    }

    fn client(host: &'static str) -> Forwarded {
        Forwarded {
            ip: "10.0.0.7".parse().unwrap(),
            proto: "http",
            host: Some(HeaderValue::from_static(host)),
        }
    }

    fn set_forwarded(h: &mut HeaderMap, trusted: bool, client: &Forwarded) {
        strip_untrusted_forwarded(h, trusted);
        add_forwarded(h, client, &HeaderValue::from_static("proxy1"));
    }

    #[test]
    fn ipv4_addresses_are_written_as_display_writes_them() {
        for ip in [
            "0.0.0.0",
            "127.0.0.1",
            "10.9.99.100",
            "255.255.255.255",
            "1.20.103.4",
        ] {
            let ip: IpAddr = ip.parse().unwrap();
            assert_eq!(ip_header_value(ip), ip.to_string().as_str());
        }
        let v6: IpAddr = "2001:db8::1".parse().unwrap();
        assert_eq!(ip_header_value(v6), "2001:db8::1");
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
    fn a_client_cannot_nominate_the_headers_trafik_owns() {
        let mut h = HeaderMap::new();
        h.append(
            header::CONNECTION,
            HeaderValue::from_static("close, X-FORWARDED-FOR, x-real-ip,Host"),
        );
        h.append(
            header::CONNECTION,
            HeaderValue::from_static("X-Secret , te"),
        );
        h.insert(header::HOST, HeaderValue::from_static("a.com"));
        h.insert(&X_FORWARDED_FOR, HeaderValue::from_static("1.2.3.4"));
        h.insert(&X_REAL_IP, HeaderValue::from_static("1.2.3.4"));
        h.insert("x-secret", HeaderValue::from_static("1"));
        h.insert(header::TE, HeaderValue::from_static("trailers"));
        remove_connection_nominated(&mut h);
        assert!(!h.contains_key("x-secret"));
        assert_eq!(h[header::HOST], "a.com");
        assert_eq!(h[&X_FORWARDED_FOR], "1.2.3.4");
        assert_eq!(h[&X_REAL_IP], "1.2.3.4");
        assert_eq!(h[header::CONNECTION], "close, te");
        // What trafik adds afterwards survives the forwarder's hop-by-hop pass.
        add_forwarded(
            &mut h,
            &client("a.com"),
            &HeaderValue::from_static("proxy1"),
        );
        strip_hop_by_hop(&mut h);
        assert_eq!(h[&X_FORWARDED_FOR], "1.2.3.4, 10.0.0.7");
        assert_eq!(h[&X_FORWARDED_HOST], "a.com");
        assert_eq!(h[header::TE], "trailers");
        assert!(!h.contains_key(header::CONNECTION));
    }

    #[test]
    fn connection_keeps_upgrade_and_drops_when_nothing_is_left() {
        let mut h = HeaderMap::new();
        h.insert(header::CONNECTION, HeaderValue::from_static("Upgrade, x-a"));
        h.insert("x-a", HeaderValue::from_static("1"));
        remove_connection_nominated(&mut h);
        assert_eq!(h[header::CONNECTION], "Upgrade");
        assert!(!h.contains_key("x-a"));
        let mut h = HeaderMap::new();
        h.insert(
            header::CONNECTION,
            HeaderValue::from_static("x-a, bad name"),
        );
        remove_connection_nominated(&mut h);
        assert!(!h.contains_key(header::CONNECTION));
    }

    #[test]
    fn untrusted_forwarded_headers_are_replaced() {
        let mut h = HeaderMap::new();
        h.insert(&X_FORWARDED_FOR, HeaderValue::from_static("1.2.3.4"));
        h.insert(&X_FORWARDED_HOST, HeaderValue::from_static("evil.com"));
        set_forwarded(&mut h, false, &client("example.com:8080"));
        assert_eq!(h[&X_FORWARDED_FOR], "10.0.0.7");
        assert_eq!(h[&X_FORWARDED_HOST], "example.com:8080");
        assert_eq!(h[&X_FORWARDED_PORT], "8080");
        assert_eq!(h[&X_FORWARDED_PROTO], "http");
        assert_eq!(h[&X_REAL_IP], "10.0.0.7");
        assert_eq!(h[&X_FORWARDED_SERVER], "proxy1");
    }

    #[test]
    fn trusted_forwarded_headers_are_kept_and_appended() {
        let mut h = HeaderMap::new();
        h.insert(&X_FORWARDED_FOR, HeaderValue::from_static("1.2.3.4"));
        h.insert(&X_FORWARDED_PROTO, HeaderValue::from_static("https"));
        set_forwarded(&mut h, true, &client("example.com"));
        assert_eq!(h[&X_FORWARDED_FOR], "1.2.3.4, 10.0.0.7");
        assert_eq!(h[&X_FORWARDED_PROTO], "https");
        assert_eq!(h[&X_FORWARDED_PORT], "80");
    }

    /// A trusted client's field is kept (X-Forwarded-For appended to) and the others are
    /// added, whichever one it sent alone: each is found by its own bit. X-Forwarded-Server
    /// always names this proxy.
    #[test]
    fn each_trusted_forwarded_field_is_kept_and_the_others_added() {
        let ours = |name: &HeaderName| match name.as_str() {
            "x-forwarded-for" | "x-real-ip" => "10.0.0.7",
            "x-forwarded-proto" => "http",
            "x-forwarded-host" => "example.com:8080",
            "x-forwarded-port" => "8080",
            _ => "proxy1",
        };
        for sent in FORWARDED_FAMILY {
            let mut h = HeaderMap::new();
            h.insert(sent, HeaderValue::from_static("9.9.9.9"));
            set_forwarded(&mut h, true, &client("example.com:8080"));
            for name in FORWARDED_FAMILY {
                let want = match name {
                    n if n != sent || n == X_FORWARDED_SERVER => ours(n),
                    n if n == X_FORWARDED_FOR => "9.9.9.9, 10.0.0.7",
                    _ => "9.9.9.9",
                };
                assert_eq!(h[name], want, "{name} when {sent} was sent");
            }
        }
    }

    /// What trafik's own client writes (the map's fields, then the forwarded ones) names
    /// each field once, with the value `add_forwarded` leaves in the map for hyper's.
    #[test]
    fn forwarded_fields_and_the_map_name_each_field_once() {
        let server = HeaderValue::from_static("proxy1");
        for sent in FORWARDED_FAMILY {
            let mut mapped = HeaderMap::new();
            mapped.insert("x-other", HeaderValue::from_static("1"));
            mapped.insert(sent, HeaderValue::from_static("9.9.9.9"));
            let mut written = mapped.clone();
            add_forwarded(&mut mapped, &client("example.com:8080"), &server);
            let fields = forwarded_fields(&mut written, &client("example.com:8080"), &server);
            let all: Vec<_> = written.iter().chain(fields.iter()).collect();
            for name in FORWARDED_FAMILY {
                let values: Vec<_> = all
                    .iter()
                    .filter(|(n, _)| *n == name)
                    .map(|(_, v)| *v)
                    .collect();
                assert_eq!(values, [&mapped[name]], "{name} when {sent} was sent");
            }
            assert_eq!(written["x-other"], "1");
        }
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
        assert_eq!(host_port("a.com:"), None);
        assert_eq!(host_port("[::1]:"), None);
        assert_eq!(host_port(":80"), Some("80"));
        assert_eq!(host_port(""), None);
        assert_eq!(host_port("é.com:81"), Some("81"));
    }
}
