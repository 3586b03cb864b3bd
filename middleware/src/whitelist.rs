//! IP allow-lists (Traefik 1.x's `whiteList`): a list of networks, and which address of a
//! request is checked against it.
//!
//! Which address: the peer's, or with `useXForwardedFor` the client named in
//! `X-Forwarded-For`, read from the right. Each proxy appends the address it received the
//! request from, so the right-most entries are the ones trusted proxies wrote and
//! everything left of the first untrusted one may have been written by the client itself.
//! v1 let a request in when *any* entry matched, so a client could name any listed address
//! and get in; here only the first address a trusted proxy vouches for is checked.

use std::net::{IpAddr, SocketAddr};

use http::HeaderMap;
use http::header::HeaderName;
use ipnet::{IpNet, Ipv4Net};

static X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");

/// A `sourceRange` entry that is neither an address nor a CIDR network.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "sourceRange[{index}] {entry:?} is not an IP address or a CIDR network (e.g. \"10.0.0.0/8\", \"192.168.1.7\", \"fd00::/8\")"
)]
pub struct BadRange {
    /// Its position in the list, for locating it in the file.
    pub index: usize,
    pub entry: String,
}

/// The networks a `sourceRange` lists. A bare address is that one host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceRange {
    nets: Vec<IpNet>,
}

impl SourceRange {
    pub fn parse<S: AsRef<str>>(entries: &[S]) -> Result<Self, BadRange> {
        let nets = entries
            .iter()
            .enumerate()
            .map(|(index, entry)| {
                parse_net(entry.as_ref()).ok_or_else(|| BadRange {
                    index,
                    entry: entry.as_ref().to_string(),
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(SourceRange { nets })
    }

    pub fn is_empty(&self) -> bool {
        self.nets.is_empty()
    }

    /// A linear scan: lists are a handful of networks.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.nets.iter().any(|n| n.contains(&ip))
    }
}

/// `"10.0.0.0/8"`, `"fd00::/8"`, or a bare address. An IPv4-mapped IPv6 network
/// (`::ffff:10.0.0.0/104`) is taken as the IPv4 network it maps, since clients are compared
/// in their IPv4 form (see [`canonical`]).
fn parse_net(s: &str) -> Option<IpNet> {
    let s = s.trim();
    let net = match s.parse::<IpNet>() {
        Ok(net) => net,
        Err(_) => IpNet::from(s.parse::<IpAddr>().ok()?),
    };
    Some(match net {
        IpNet::V6(v6) if v6.prefix_len() >= 96 => match v6.addr().to_ipv4_mapped() {
            Some(v4) => IpNet::V4(Ipv4Net::new(v4, v6.prefix_len() - 96).ok()?),
            None => net,
        },
        _ => net,
    })
}

/// An IPv4 client seen on a dual-stack socket arrives as `::ffff:a.b.c.d`.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    }
}

/// Whose `X-Forwarded-For` an entry point believes (`[entryPoints.X.forwardedHeaders]`).
#[derive(Clone, Copy)]
pub enum Proxies<'a> {
    /// No `forwardedHeaders` table, or `insecure`: anyone may be a proxy, so only the
    /// right-most entry (what the nearest proxy appended) can be believed.
    Everyone,
    /// Only these addresses are proxies.
    Trusted(&'a dyn Fn(IpAddr) -> bool),
}

/// `X-Forwarded-For` held an entry that is not an address where one had to be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Malformed;

/// The client's address as the proxies the entry point trusts report it: walking
/// `X-Forwarded-For` from the right, the first entry that is not itself a trusted proxy.
/// An untrusted peer's header is ignored (its own address is the client); with
/// [`Proxies::Everyone`] only the right-most entry counts. When every entry is a trusted
/// proxy, the left-most is the farthest one can see. Entries left of the one chosen are
/// not read, so what a client forged there changes nothing.
pub fn client_ip(
    peer: IpAddr,
    headers: &HeaderMap,
    proxies: Proxies<'_>,
) -> Result<IpAddr, Malformed> {
    let peer = canonical(peer);
    if let Proxies::Trusted(trusted) = proxies
        && !trusted(peer)
    {
        return Ok(peer);
    }
    let mut farthest = None;
    // Several header lines are one list, in order (RFC 9110 §5.3).
    for value in headers.get_all(&X_FORWARDED_FOR).iter().rev() {
        let value = value.to_str().map_err(|_| Malformed)?;
        for entry in value.rsplit(',') {
            let ip = parse_forwarded_entry(entry).ok_or(Malformed)?;
            match proxies {
                Proxies::Trusted(trusted) if trusted(ip) => farthest = Some(ip),
                _ => return Ok(ip),
            }
        }
    }
    Ok(farthest.unwrap_or(peer))
}

/// One `X-Forwarded-For` entry: an address, bracketed or not, with or without a port
/// (proxies write all of these).
fn parse_forwarded_entry(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim_matches([' ', '\t']);
    let ip = entry
        .parse::<IpAddr>()
        .ok()
        .or_else(|| entry.parse::<SocketAddr>().ok().map(|s| s.ip()))
        .or_else(|| {
            let inner = entry.strip_prefix('[')?.strip_suffix(']')?;
            inner.parse::<std::net::Ipv6Addr>().ok().map(IpAddr::V6)
        })?;
    Some(canonical(ip))
}

/// Why a request was refused, for the debug log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// The client's address is in none of the networks.
    NotListed(IpAddr),
    /// `useXForwardedFor`, and the entry to check was not an address.
    MalformedForwardedFor,
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refused::NotListed(ip) => write!(f, "client {ip} is not in the whitelist"),
            Refused::MalformedForwardedFor => {
                f.write_str("X-Forwarded-For holds an entry that is not an IP address")
            }
        }
    }
}

/// A `whiteList`: `sourceRange` and `useXForwardedFor`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpWhitelist {
    ranges: SourceRange,
    use_x_forwarded_for: bool,
}

impl IpWhitelist {
    /// `None` when the list is empty: as in v1, no restriction (and nothing to check).
    pub fn new<S: AsRef<str>>(
        source_range: &[S],
        use_x_forwarded_for: bool,
    ) -> Result<Option<Self>, BadRange> {
        let ranges = SourceRange::parse(source_range)?;
        Ok((!ranges.is_empty()).then_some(IpWhitelist {
            ranges,
            use_x_forwarded_for,
        }))
    }

    pub fn check(
        &self,
        peer: IpAddr,
        headers: &HeaderMap,
        proxies: Proxies<'_>,
    ) -> Result<(), Refused> {
        let ip = if self.use_x_forwarded_for {
            client_ip(peer, headers, proxies).map_err(|Malformed| Refused::MalformedForwardedFor)?
        } else {
            canonical(peer)
        };
        if self.ranges.contains(ip) {
            Ok(())
        } else {
            Err(Refused::NotListed(ip))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;
    use std::net::Ipv4Addr;

    const LOCALHOST_V4: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn xff(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(&X_FORWARDED_FOR, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    fn list(entries: &[&str], xff: bool) -> IpWhitelist {
        IpWhitelist::new(entries, xff).unwrap().unwrap()
    }

    #[test]
    fn ranges_and_bare_addresses() {
        let r = SourceRange::parse(&["10.42.0.0/16", "152.89.1.33", " afed:be44::/16 "]).unwrap();
        assert!(r.contains(ip("10.42.7.1")));
        assert!(!r.contains(ip("10.43.0.1")));
        assert!(r.contains(ip("152.89.1.33")));
        assert!(!r.contains(ip("152.89.1.34")));
        assert!(r.contains(ip("afed:1234::1")));
        assert!(!r.contains(ip("afee::1")));
        // Host bits in a CIDR are accepted, as Go's ParseCIDR does.
        assert!(
            SourceRange::parse(&["10.1.2.3/8"])
                .unwrap()
                .contains(ip("10.9.9.9"))
        );
    }

    #[test]
    fn an_ipv4_client_on_a_dual_stack_socket_matches_ipv4_ranges() {
        let r = SourceRange::parse(&["127.0.0.0/8"]).unwrap();
        assert!(r.contains(ip("::ffff:127.0.0.1")));
        let mapped = SourceRange::parse(&["::ffff:10.0.0.0/104"]).unwrap();
        assert!(mapped.contains(ip("10.1.1.1")));
        assert!(mapped.contains(ip("::ffff:10.1.1.1")));
        assert!(!mapped.contains(ip("11.1.1.1")));
    }

    #[test]
    fn bad_entries_are_named_with_their_position() {
        for bad in [
            "10.0.0.0/33",
            "nonsense",
            "",
            "10.0.0",
            "::1/129",
            "fe80::1%eth0",
            "1.2.3.4:80",
        ] {
            let e = SourceRange::parse(&["10.0.0.0/8", bad]).unwrap_err();
            assert_eq!(e.index, 1, "{bad}");
            assert_eq!(e.entry, bad);
            assert!(e.to_string().contains("sourceRange[1]"), "{e}");
        }
    }

    #[test]
    fn an_empty_list_restricts_nothing() {
        assert_eq!(IpWhitelist::new::<&str>(&[], true), Ok(None));
    }

    #[test]
    fn the_peer_is_checked_without_use_x_forwarded_for() {
        let l = list(&["10.0.0.0/8"], false);
        let h = xff(&["10.0.0.1"]);
        assert_eq!(
            l.check(ip("192.0.2.1"), &h, Proxies::Everyone),
            Err(Refused::NotListed(ip("192.0.2.1")))
        );
        assert_eq!(
            l.check(ip("10.1.1.1"), &xff(&["garbage"]), Proxies::Everyone),
            Ok(())
        );
    }

    #[test]
    fn forwarded_for_is_read_from_the_right_past_trusted_proxies() {
        let trusted = |ip: IpAddr| {
            ip == IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1))
                || ip == IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2))
        };
        let proxies = Proxies::Trusted(&trusted);
        let peer = ip("127.0.0.1");
        // The client forged the left-most entry; the proxy appended the real one.
        let h = xff(&["10.1.1.1, 203.0.113.9"]);
        assert_eq!(client_ip(peer, &h, proxies), Ok(ip("203.0.113.9")));
        // Trusted proxies on the right are skipped, across header lines too.
        let h = xff(&["203.0.113.9, 10.0.0.2", "127.0.0.1"]);
        assert_eq!(client_ip(peer, &h, proxies), Ok(ip("203.0.113.9")));
        // Every entry a proxy: the farthest one.
        let h = xff(&["10.0.0.2"]);
        assert_eq!(client_ip(peer, &h, proxies), Ok(ip("10.0.0.2")));
        // No header: the peer.
        assert_eq!(client_ip(peer, &HeaderMap::new(), proxies), Ok(peer));
        // An untrusted peer's header means nothing.
        let h = xff(&["10.1.1.1"]);
        assert_eq!(client_ip(ip("192.0.2.7"), &h, proxies), Ok(ip("192.0.2.7")));
    }

    #[test]
    fn trusting_everyone_believes_only_the_right_most_entry() {
        let h = xff(&["10.1.1.1", "203.0.113.9"]);
        assert_eq!(
            client_ip(ip("192.0.2.7"), &h, Proxies::Everyone),
            Ok(ip("203.0.113.9"))
        );
        let l = list(&["10.0.0.0/8"], true);
        assert_eq!(
            l.check(ip("192.0.2.7"), &h, Proxies::Everyone),
            Err(Refused::NotListed(ip("203.0.113.9")))
        );
    }

    #[test]
    fn entries_with_ports_brackets_and_mapped_addresses() {
        for (entry, want) in [
            ("203.0.113.9:4711", "203.0.113.9"),
            ("[2001:db8::1]:443", "2001:db8::1"),
            ("[2001:db8::1]", "2001:db8::1"),
            ("\t2001:db8::1 ", "2001:db8::1"),
            ("::ffff:203.0.113.9", "203.0.113.9"),
        ] {
            assert_eq!(
                client_ip(ip("10.0.0.1"), &xff(&[entry]), Proxies::Everyone),
                Ok(ip(want)),
                "{entry}"
            );
        }
    }

    #[test]
    fn a_malformed_entry_that_must_be_read_is_refused() {
        let trusted = |ip: IpAddr| ip == LOCALHOST_V4;
        let proxies = Proxies::Trusted(&trusted);
        let l = list(&["0.0.0.0/0", "::/0"], true);
        for v in ["unknown", "", "1.2.3.4,", "1.2.3.4, ,127.0.0.1", "_hidden"] {
            assert_eq!(
                l.check(LOCALHOST_V4, &xff(&[v]), proxies),
                Err(Refused::MalformedForwardedFor),
                "{v:?}"
            );
        }
        // Garbage left of the client's entry is never read.
        assert_eq!(
            l.check(LOCALHOST_V4, &xff(&["garbage, 1.2.3.4"]), proxies),
            Ok(())
        );
        // Not UTF-8.
        let mut h = HeaderMap::new();
        h.insert(
            &X_FORWARDED_FOR,
            HeaderValue::from_bytes(b"1.2.3.\xff").unwrap(),
        );
        assert_eq!(
            l.check(LOCALHOST_V4, &h, proxies),
            Err(Refused::MalformedForwardedFor)
        );
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        fn v4() -> impl Strategy<Value = Ipv4Addr> {
            any::<u32>().prop_map(Ipv4Addr::from)
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(500))]

            /// Whatever a client writes in front of the entries trusted proxies appended,
            /// the client checked is the one the last trusted proxy saw.
            #[test]
            fn forged_entries_on_the_left_change_nothing(
                forged in proptest::collection::vec("[ -~]{0,20}", 0..4),
                client in v4(),
                hops in proptest::collection::vec(0u8..4, 0..4),
            ) {
                // Proxies are 10.0.0.0/30; the client is anything else.
                let proxy_net: IpNet = "10.0.0.0/30".parse().unwrap();
                prop_assume!(!proxy_net.contains(&IpAddr::V4(client)));
                let trusted = |ip: IpAddr| proxy_net.contains(&ip);
                let mut entries: Vec<String> = forged.clone();
                entries.push(client.to_string());
                // Every proxy but the last appended the one before it.
                entries.extend(hops.iter().map(|h| format!("10.0.0.{h}")));
                let h = xff(&[entries.join(",").as_str()]);
                let got = client_ip(ip("10.0.0.1"), &h, Proxies::Trusted(&trusted));
                prop_assert_eq!(got, Ok(IpAddr::V4(client)));
            }

            /// A /n network contains exactly the addresses sharing its first n bits.
            #[test]
            fn membership_is_the_prefix(net in v4(), len in 0u8..=32, probe in v4()) {
                let r = SourceRange::parse(&[format!("{net}/{len}")]).unwrap();
                let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
                let same = u32::from(net) & mask == u32::from(probe) & mask;
                prop_assert_eq!(r.contains(IpAddr::V4(probe)), same);
                let mapped = IpAddr::V6(probe.to_ipv6_mapped());
                prop_assert_eq!(r.contains(mapped), same);
            }
        }
    }
}
