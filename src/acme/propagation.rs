//! DNS-01's propagation check, as v1 did it through lego: after the record is presented and
//! before the CA is told to look, wait until `_acme-challenge.<domain>` carries the value
//! where the CA will look — or fail the order (the retry loop backs off) rather than have
//! the CA fail it, which costs a failed authorisation against the CA's rate limits.
//!
//! Where to ask: the `resolvers` of `[acme.dnsChallenge]` (`host:port`) when given, as they
//! are; otherwise the zone's authoritative name servers, found from the system's resolvers
//! (`/etc/resolv.conf`) by the SOA of the name (its owner is the zone), the zone's NS and
//! their addresses. How long: lego's `<PROVIDER>_PROPAGATION_TIMEOUT` and
//! `<PROVIDER>_POLLING_INTERVAL` (seconds; defaults 60 and 2), read as lego reads them.

use std::net::SocketAddr;
use std::time::Duration;

use super::dns::DnsProvider;
use super::dns_query::{self, A, NS, RecordData, SOA, TXT};

/// One question waits this long for its answer.
const QUERY_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, Clone)]
pub struct PropagationCheck {
    /// `resolvers` from the configuration (`host:port`); empty: the zone's own servers.
    pub resolvers: Vec<String>,
    pub timeout: Duration,
    pub interval: Duration,
}

impl PropagationCheck {
    pub fn new(resolvers: &[String], provider: &DnsProvider) -> PropagationCheck {
        let prefix = match provider {
            DnsProvider::Exec { .. } => "EXEC",
            DnsProvider::HttpReq { .. } => "HTTPREQ",
        };
        let seconds = |key: &str, default: u64| {
            let value = std::env::var(format!("{prefix}_{key}")).ok();
            Duration::from_secs(value.and_then(|v| v.trim().parse().ok()).unwrap_or(default))
        };
        PropagationCheck {
            resolvers: resolvers.to_vec(),
            timeout: seconds("PROPAGATION_TIMEOUT", 60),
            interval: seconds("POLLING_INTERVAL", 2).max(Duration::from_millis(100)),
        }
    }

    /// Waits until every server asked answers `fqdn` with a TXT record `value`.
    pub async fn wait(&self, fqdn: &str, value: &str) -> Result<(), String> {
        let deadline = tokio::time::Instant::now() + self.timeout;
        loop {
            let last = match self.servers(fqdn).await {
                Ok(servers) => {
                    let mut missing = Vec::new();
                    for server in &servers {
                        if let Err(why) = has_txt(*server, fqdn, value).await {
                            missing.push(format!("{server}: {why}"));
                        }
                    }
                    if missing.is_empty() {
                        tracing::debug!(%fqdn, ?servers, "acme: the DNS-01 record is visible");
                        return Ok(());
                    }
                    missing.join("; ")
                }
                Err(e) => e,
            };
            if tokio::time::Instant::now() + self.interval > deadline {
                return Err(format!(
                    "DNS-01: the TXT record {fqdn} did not appear within {:?} ({last})",
                    self.timeout
                ));
            }
            tokio::time::sleep(self.interval).await;
        }
    }

    /// The servers to ask: the configured resolvers, or the zone's authoritative ones.
    async fn servers(&self, fqdn: &str) -> Result<Vec<SocketAddr>, String> {
        if !self.resolvers.is_empty() {
            let mut servers = Vec::new();
            for r in &self.resolvers {
                servers.push(resolver_addr(r).await?);
            }
            return Ok(servers);
        }
        let system = system_resolvers()?;
        authoritative(fqdn, &system).await
    }
}

/// `Ok` when `server` answers `fqdn` with TXT `value`; else what it answered.
async fn has_txt(server: SocketAddr, fqdn: &str, value: &str) -> Result<(), String> {
    let answer = dns_query::query(server, fqdn, TXT, QUERY_TIMEOUT).await?;
    let values: Vec<&str> = answer
        .answers
        .iter()
        .filter_map(|r| match &r.data {
            RecordData::Txt(t) => Some(t.as_str()),
            _ => None,
        })
        .collect();
    if values.contains(&value) {
        Ok(())
    } else if values.is_empty() {
        Err(format!("no TXT record (rcode {})", answer.rcode))
    } else {
        Err(format!("TXT {values:?}, not the challenge's value"))
    }
}

/// A `resolvers` entry: `ip:port`, `host:port`, or an address without port (`:53`, as lego).
async fn resolver_addr(entry: &str) -> Result<SocketAddr, String> {
    if let Ok(addr) = entry.parse::<SocketAddr>() {
        return Ok(addr);
    }
    if let Ok(ip) = entry.trim_matches(['[', ']']).parse::<std::net::IpAddr>() {
        return Ok(SocketAddr::new(ip, 53));
    }
    let with_port = if entry.contains(':') {
        entry.to_string()
    } else {
        format!("{entry}:53")
    };
    tokio::net::lookup_host(&with_port)
        .await
        .ok()
        .and_then(|mut addrs| addrs.next())
        .ok_or_else(|| format!("acme.dnsChallenge.resolvers: cannot resolve {entry:?}"))
}

/// The `nameserver` lines of `/etc/resolv.conf`.
fn system_resolvers() -> Result<Vec<SocketAddr>, String> {
    let text = std::fs::read_to_string("/etc/resolv.conf")
        .map_err(|e| format!("DNS-01 propagation check: /etc/resolv.conf: {e}"))?;
    let servers = parse_resolv_conf(&text);
    if servers.is_empty() {
        return Err(
            "DNS-01 propagation check: no nameserver in /etc/resolv.conf; \
                    set acme.dnsChallenge.resolvers"
                .into(),
        );
    }
    Ok(servers)
}

fn parse_resolv_conf(text: &str) -> Vec<SocketAddr> {
    text.lines()
        .filter_map(|l| {
            let mut words = l.split_whitespace();
            (words.next() == Some("nameserver")).then_some(())?;
            let ip = words.next()?.split('%').next()?.parse().ok()?;
            Some(SocketAddr::new(ip, 53))
        })
        .collect()
}

/// The zone's authoritative servers, asked of `recursive`: the zone is the owner of the SOA
/// answered for `fqdn` (in the answer or authority section), then its NS, then their A.
async fn authoritative(fqdn: &str, recursive: &[SocketAddr]) -> Result<Vec<SocketAddr>, String> {
    let mut last = String::new();
    for resolver in recursive {
        match authoritative_via(fqdn, *resolver).await {
            Ok(servers) => return Ok(servers),
            Err(e) => last = e,
        }
    }
    Err(format!(
        "DNS-01 propagation check: cannot find the authoritative servers of {fqdn}: {last}"
    ))
}

async fn authoritative_via(fqdn: &str, resolver: SocketAddr) -> Result<Vec<SocketAddr>, String> {
    let soa = dns_query::query(resolver, fqdn, SOA, QUERY_TIMEOUT).await?;
    let zone = soa
        .answers
        .iter()
        .chain(&soa.authority)
        .find(|r| r.rtype == SOA)
        .map(|r| r.name.clone())
        .ok_or_else(|| format!("{resolver} answered no SOA for {fqdn}"))?;
    let ns = dns_query::query(resolver, &zone, NS, QUERY_TIMEOUT).await?;
    let mut servers = Vec::new();
    for record in &ns.answers {
        let RecordData::Ns(host) = &record.data else {
            continue;
        };
        let a = dns_query::query(resolver, host, A, QUERY_TIMEOUT).await?;
        servers.extend(a.answers.iter().filter_map(|r| match r.data {
            RecordData::A(ip) => Some(SocketAddr::new(ip.into(), 53)),
            _ => None,
        }));
    }
    if servers.is_empty() {
        return Err(format!(
            "{resolver}: no name server address for zone {zone}"
        ));
    }
    Ok(servers)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolv_conf_nameservers() {
        let text = "# generated\nsearch example.test\nnameserver 10.0.0.2\nnameserver fe80::1%eth0\n\
                    options ndots:2\nnameserver\n";
        assert_eq!(
            parse_resolv_conf(text),
            vec![
                "10.0.0.2:53".parse().unwrap(),
                "[fe80::1]:53".parse().unwrap()
            ]
        );
    }

    #[tokio::test]
    async fn resolver_entries_as_v1_writes_them() {
        assert_eq!(
            resolver_addr("127.0.0.1:8053").await.unwrap(),
            "127.0.0.1:8053".parse().unwrap()
        );
        assert_eq!(
            resolver_addr("127.0.0.1").await.unwrap(),
            "127.0.0.1:53".parse().unwrap()
        );
    }
}
