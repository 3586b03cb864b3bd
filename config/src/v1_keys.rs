//! Traefik 1.x keys that trafik recognises but does not act on. A v1 file that uses one
//! still loads, and the warning says what the key was and what to do instead, rather than
//! the "unknown key" a typo gets: an operator importing a v1 configuration must never have
//! a part of it dropped without a word (a provider that never feeds routes, a tracer that
//! never reports).

/// Key paths (segments matched ignoring ASCII case; `*` matches any one segment, a name the
/// user chose) and why each is ignored.
const NOT_IMPLEMENTED: &[(&str, &str)] = &[
    (
        "web",
        "the deprecated [web] section is not implemented; use [api], [rest], [ping] and [metrics]",
    ),
    (
        "constraints",
        "provider constraints are not implemented yet",
    ),
    (
        "hostResolver",
        "[hostResolver] (CNAME flattening) is not implemented",
    ),
    (
        "tracing",
        "[tracing] (Jaeger, Zipkin, Datadog) is not implemented",
    ),
    (
        "metrics.datadog",
        "[metrics.datadog] is not implemented; use [metrics.prometheus]",
    ),
    (
        "metrics.statsd",
        "[metrics.statsd] is not implemented; use [metrics.prometheus]",
    ),
    (
        "metrics.influxdb",
        "[metrics.influxdb] is not implemented; use [metrics.prometheus]",
    ),
    ("ecs", "the ECS provider is not implemented"),
    ("rancher", "the Rancher provider is not implemented"),
    ("eureka", "the Eureka provider is not implemented"),
    ("dynamodb", "the DynamoDB provider is not implemented"),
    (
        "servicefabric",
        "the Service Fabric provider is not implemented",
    ),
    (
        "cluster",
        "v1's [cluster] (shared state in a store) is not implemented",
    ),
];

/// Why a key trafik's model does not have is ignored, when it is a v1 key.
pub fn not_implemented(path: &[&str]) -> Option<&'static str> {
    NOT_IMPLEMENTED
        .iter()
        .find(|(pattern, _)| matches(pattern, path))
        .map(|(_, why)| *why)
}

fn matches(pattern: &str, path: &[&str]) -> bool {
    pattern.split('.').count() == path.len()
        && pattern
            .split('.')
            .zip(path)
            .all(|(want, got)| want == "*" || want.eq_ignore_ascii_case(got))
}

/// Keys of the model trafik accepts and validates but that change nothing, when they are
/// set: their key paths and why. (The REST provider and the stores fill the same model, so
/// they stay in it rather than among the unknown keys.)
pub fn without_effect(config: &crate::Configuration) -> Vec<(Vec<String>, String)> {
    let mut found = Vec::new();
    for (name, backend) in &config.backends {
        let Some(b) = &backend.buffering else {
            continue;
        };
        for (key, value) in [
            ("memRequestBodyBytes", b.mem_request_body_bytes),
            ("memResponseBodyBytes", b.mem_response_body_bytes),
        ] {
            if value != 0 {
                let path = ["backends", name, "buffering", key]
                    .map(String::from)
                    .to_vec();
                let why = format!(
                    "backends.{name}.buffering.{key}: has no effect: trafik keeps buffered \
                     bodies in memory, bounded by the max*BodyBytes keys (v1 spilled them to disk)"
                );
                found.push((path, why));
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v1_keys_are_found_whatever_their_case() {
        assert!(not_implemented(&["acme"]).is_none());
        assert!(not_implemented(&["Eureka"]).is_some());
        assert!(
            not_implemented(&["Kubernetes"]).is_none(),
            "[kubernetes] is implemented"
        );
        assert!(not_implemented(&["metrics", "StatsD"]).is_some());
        assert!(not_implemented(&["metrics"]).is_none());
        assert!(not_implemented(&["metrics", "statsd", "address"]).is_none());
        assert!(not_implemented(&["dockr"]).is_none());
        assert!(
            not_implemented(&["docker"]).is_none(),
            "[docker] is implemented"
        );
    }
}
