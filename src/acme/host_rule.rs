//! `onHostRule`: the names of every frontend's `Host:` rule on the ACME entry point, one
//! certificate per rule (its first name main, the others SANs), as v1 did. Read from the
//! configurations the providers sent (the status board keeps each one), so frontends from
//! any provider count, and a reload brings new names. `HostRegexp` and wildcard names
//! cannot be validated by HTTP-01 or TLS-ALPN-01: skipped, with a log line.

use std::collections::BTreeSet;

use trafik_config::Configuration;
use trafik_config::rule::{Function, parse};

/// Each rule's names (lowercase), and what was skipped (for the log).
pub fn domain_sets<'a>(
    configs: impl IntoIterator<Item = &'a Configuration>,
    entry_point: &str,
    default_entry_points: &[String],
) -> (Vec<Vec<String>>, BTreeSet<String>) {
    let mut sets: Vec<Vec<String>> = Vec::new();
    let mut skipped = BTreeSet::new();
    for config in configs {
        for (name, frontend) in &config.frontends {
            let on_it = if frontend.entry_points.is_empty() {
                default_entry_points.iter().any(|e| e == entry_point)
            } else {
                frontend.entry_points.iter().any(|e| e == entry_point)
            };
            if !on_it {
                continue;
            }
            for route in frontend.routes.values() {
                let Ok(calls) = parse(&route.rule) else {
                    continue;
                };
                let mut names: Vec<String> = Vec::new();
                for call in &calls {
                    match call.function {
                        Function::Host => {
                            for arg in &call.args {
                                let host = arg.as_str().trim().to_ascii_lowercase();
                                if host.is_empty() {
                                    continue;
                                }
                                if host.contains('*') {
                                    skipped.insert(format!(
                                        "frontend {name:?}: {host} (a wildcard needs DNS-01)"
                                    ));
                                } else if !names.contains(&host) {
                                    names.push(host);
                                }
                            }
                        }
                        Function::HostRegexp => {
                            skipped.insert(format!(
                                "frontend {name:?}: HostRegexp rule {:?}",
                                route.rule
                            ));
                        }
                        _ => {}
                    }
                }
                if !names.is_empty() && !sets.contains(&names) {
                    sets.push(names);
                }
            }
        }
    }
    (sets, skipped)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(toml: &str) -> Configuration {
        trafik_config::load::load_dynamic("d.toml", toml)
            .unwrap()
            .value
    }

    #[test]
    fn host_rules_on_the_entry_point_become_domain_sets() {
        let c = config(
            r#"
[frontends.a]
backend = "b"
entryPoints = ["https"]
  [frontends.a.routes.r]
  rule = "Host: A.example.com, www.a.example.com; PathPrefix: /x"
[frontends.other]
backend = "b"
entryPoints = ["http"]
  [frontends.other.routes.r]
  rule = "Host: other.example.com"
[frontends.default]
backend = "b"
  [frontends.default.routes.r]
  rule = "Host: d.example.com"
[frontends.regex]
backend = "b"
entryPoints = ["https"]
  [frontends.regex.routes.r]
  rule = "HostRegexp: {sub:[a-z]+}.example.com"
[frontends.wild]
backend = "b"
entryPoints = ["https"]
  [frontends.wild.routes.r]
  rule = "Host: *.example.com"
"#,
        );
        let defaults = vec!["http".to_string(), "https".to_string()];
        let (sets, skipped) = domain_sets([&c], "https", &defaults);
        assert_eq!(
            sets,
            vec![
                vec!["a.example.com".to_string(), "www.a.example.com".to_string()],
                vec!["d.example.com".to_string()],
            ]
        );
        assert_eq!(skipped.len(), 2, "{skipped:?}");
    }
}
