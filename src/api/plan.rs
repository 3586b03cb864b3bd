//! Which entry point serves which internal feature, from `[api]`, `[ping]`, `[rest]` and
//! `[metrics.prometheus]`; v1 creates the `traefik` entry point for them when it is not
//! declared. trafik binds it to loopback (127.0.0.1:8080) unless the operator declares
//! it elsewhere: the API must not be open to the network by accident.

use std::collections::BTreeMap;

use trafik_config::{DEFAULT_INTERNAL_ENTRY_POINT, EntryPoint, StaticConfig};

use super::Features;

/// Where an undeclared `traefik` entry point listens.
pub const DEFAULT_INTERNAL_ADDRESS: &str = "127.0.0.1:8080";

/// Declares the internal entry points the configuration needs and says what each serves.
pub fn plan(cfg: &mut StaticConfig) -> Result<BTreeMap<String, Features>, String> {
    let mut features: BTreeMap<String, Features> = BTreeMap::new();
    let mut wants = |section: &str, ep: &str, set: &dyn Fn(&mut Features)| {
        let ep = if ep.is_empty() {
            DEFAULT_INTERNAL_ENTRY_POINT
        } else {
            ep
        };
        set(features.entry(ep.to_string()).or_default());
        (section.to_string(), ep.to_string())
    };
    let mut named = Vec::new();
    if let Some(api) = &cfg.api {
        let dashboard = api.dashboard;
        named.push(wants("[api]", &api.entry_point, &|f| {
            f.api = true;
            f.dashboard = dashboard;
        }));
    }
    if let Some(ping) = &cfg.ping {
        named.push(wants("[ping]", &ping.entry_point, &|f| f.ping = true));
    }
    if let Some(rest) = &cfg.rest {
        named.push(wants("[rest]", &rest.entry_point, &|f| f.rest = true));
    }
    if let Some(p) = cfg.metrics.as_ref().and_then(|m| m.prometheus.as_ref()) {
        named.push(wants("[metrics.prometheus]", &p.entry_point, &|f| {
            f.metrics = true
        }));
    }
    if features.is_empty() {
        return Ok(features);
    }
    let mut entry_points = cfg.effective_entry_points();
    for (section, ep) in named {
        if entry_points.contains_key(&ep) {
            continue;
        }
        if ep != DEFAULT_INTERNAL_ENTRY_POINT {
            return Err(format!(
                "{section} entryPoint {ep:?} is not declared in [entryPoints]"
            ));
        }
        entry_points.insert(
            ep,
            EntryPoint {
                address: DEFAULT_INTERNAL_ADDRESS.to_string(),
                ..EntryPoint::default()
            },
        );
    }
    for (name, f) in &features {
        let ep = &entry_points[name];
        if (f.api || f.rest) && ep.auth.is_none() && !is_loopback(&ep.address) {
            tracing::warn!(
                "entry point {name:?} serves the API on {:?}, beyond loopback, without [entryPoints.{name}.auth]: anyone who can reach it can read{} the configuration",
                ep.address,
                if f.rest { " and change" } else { "" }
            );
        }
    }
    cfg.entry_points = Some(entry_points);
    Ok(features)
}

fn is_loopback(address: &str) -> bool {
    match trafik_config::parse_address(address) {
        Ok((Some(host), _)) => {
            let host = host.trim_start_matches('[').trim_end_matches(']');
            host == "localhost"
                || host
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback())
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creates_traefik_on_loopback_and_keeps_the_default_entry_point() {
        let mut cfg = StaticConfig {
            api: Some(Default::default()),
            ping: Some(Default::default()),
            ..StaticConfig::default()
        };
        let f = plan(&mut cfg).unwrap();
        assert!(f["traefik"].api && f["traefik"].ping && f["traefik"].dashboard);
        let eps = cfg.entry_points.unwrap();
        assert_eq!(eps["traefik"].address, "127.0.0.1:8080");
        assert_eq!(eps["http"].address, ":80");
    }

    #[test]
    fn an_undeclared_named_entry_point_is_an_error() {
        let mut cfg = StaticConfig {
            ping: Some(trafik_config::Ping {
                entry_point: "admin".into(),
            }),
            ..StaticConfig::default()
        };
        let e = plan(&mut cfg).unwrap_err();
        assert!(e.contains("[ping] entryPoint \"admin\""), "{e}");
    }

    #[test]
    fn loopback_addresses() {
        assert!(is_loopback("127.0.0.1:8080"));
        assert!(is_loopback("[::1]:8080"));
        assert!(is_loopback("localhost:8080"));
        assert!(!is_loopback(":8080"));
        assert!(!is_loopback("0.0.0.0:8080"));
    }
}
