//! v1's names for what a Marathon application becomes (Traefik 1.7's
//! `provider/marathon/config.go`): the sub-domain of its default rule, its backend,
//! frontend and server names. A segment (`traefik.<segment>.*`) adds `-service-<segment>`.

use crate::labels::written::normalize;
pub use crate::labels::written::segment_suffix;

/// `/foo/bar/app` ⇒ `foo-bar-app`, or `app.bar.foo` with `groupsAsSubDomains`.
pub fn sub_domain(app_id: &str, groups_as_sub_domains: bool) -> String {
    let id = app_id.trim_start_matches('/');
    if groups_as_sub_domains {
        let mut parts: Vec<&str> = id.split('/').collect();
        parts.reverse();
        parts.join(".")
    } else {
        id.replace('/', "-")
    }
}

/// `backend-foo-bar-app` (`-service-<segment>`); `traefik.backend=x` ⇒ `backendx`, as v1
/// (applications naming one backend share it: their servers are merged).
pub fn backend(app_id: &str, segment: &str, label: Option<&str>) -> String {
    match label.filter(|l| !l.is_empty()) {
        Some(label) => normalize(&format!("backend{label}")),
        None => normalize(&format!("backend{app_id}{}", segment_suffix(segment))),
    }
}

/// `frontend-foo-bar-app` (`-service-<segment>`).
pub fn frontend(app_id: &str, segment: &str) -> String {
    normalize(&format!("frontend{app_id}{}", segment_suffix(segment)))
}

/// `server-foo-bar-app-<task id>` (`-service-<segment>`).
pub fn server(app_id: &str, task_id: &str, segment: &str) -> String {
    normalize(&format!(
        "server-{app_id}-{task_id}{}",
        segment_suffix(segment)
    ))
}

/// v1's default rule: `Host:<sub-domain>.<domain>`, `Host:<segment>.<sub-domain>.<domain>`
/// for a segment. Without a domain, `Host:<sub-domain>` (v1 wrote a trailing dot).
pub fn default_rule(app_id: &str, segment: &str, domain: &str, groups: bool) -> String {
    let mut host = sub_domain(app_id, groups);
    if !segment.is_empty() {
        host = format!("{}.{host}", normalize(segment).to_ascii_lowercase());
    }
    if !domain.is_empty() {
        host = format!("{host}.{domain}");
    }
    format!("Host:{host}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_as_v1() {
        assert_eq!(sub_domain("/foo/bar/app", false), "foo-bar-app");
        assert_eq!(sub_domain("/foo/bar/app", true), "app.bar.foo");
        assert_eq!(sub_domain("/app", true), "app");
        assert_eq!(backend("/foo/bar/app", "", None), "backend-foo-bar-app");
        assert_eq!(
            backend("/foo/bar/app", "web", None),
            "backend-foo-bar-app-service-web"
        );
        assert_eq!(
            backend("/foo/bar/app", "web", Some("shared")),
            "backendshared"
        );
        assert_eq!(frontend("/foo/app", ""), "frontend-foo-app");
        assert_eq!(frontend("/foo/app", "api"), "frontend-foo-app-service-api");
        assert_eq!(
            server("/foo/app", "foo_app.1f2e-3d", ""),
            "server-foo-app-foo-app-1f2e-3d"
        );
        assert_eq!(
            default_rule("/foo/bar/app", "", "marathon.localhost", false),
            "Host:foo-bar-app.marathon.localhost"
        );
        assert_eq!(
            default_rule("/foo/bar/app", "Web", "m.local", true),
            "Host:web.app.bar.foo.m.local"
        );
        assert_eq!(default_rule("/app", "", "", false), "Host:app");
    }
}
