//! v1's rule building for one Ingress rule × path: the frontend's name and its routes.

use super::annotations::IngressOptions;

/// v1's `baseName`: `host+path`, else the Service's name; prefixed by the entry points
/// (`a-b_`) and then the priority (`10-`) when set. Frontend and backend share it.
pub fn base_name(host: &str, path: &str, service: &str, o: &IngressOptions) -> String {
    let mut name = format!("{host}{path}");
    if name.is_empty() {
        name = service.to_string();
    }
    if !o.frontend.entry_points.is_empty() {
        name = format!("{}_{name}", o.frontend.entry_points.join("-"));
    }
    if o.frontend.priority > 0 {
        name = format!("{}-{name}", o.frontend.priority);
    }
    name
}

/// `Host:<host>`, or `HostRegexp` for a wildcard host (`*.example.com`), as v1.
pub fn host_rule(host: &str) -> String {
    if host.contains('*') {
        format!(
            "HostRegexp:{}",
            host.replacen('*', "{subdomain:[A-Za-z0-9-_]+}", 1)
        )
    } else {
        format!("Host:{host}")
    }
}

/// The matcher of a path: `pathType` `Exact` ⇒ `Path`, `Prefix` ⇒ `PathPrefix`,
/// `ImplementationSpecific` (and a type this version does not know) ⇒ the `rule-type`
/// annotation (default `PathPrefix`, v1's only rule).
pub fn matcher<'a>(path_type: &str, o: &'a IngressOptions) -> &'a str {
    match path_type {
        "Exact" => "Path",
        "Prefix" => "PathPrefix",
        _ => &o.rule_type,
    }
}

/// The path's rule: its matcher and the modifiers the annotations add, `;`-joined (v1's
/// `getRuleForPath`). Empty path: no path route.
pub fn path_rule(path: &str, path_type: &str, o: &IngressOptions) -> String {
    if path.is_empty() {
        return String::new();
    }
    let mut rules = vec![format!("{}:{path}", matcher(path_type, o))];
    if let Some(target) = &o.rewrite_target {
        rules.push(format!(
            "ReplacePathRegex: ^{path}(.*) {}$1",
            target.trim_end_matches('/')
        ));
    }
    if let Some(modifier) = &o.request_modifier {
        rules.push(modifier.clone());
    }
    rules.join(";")
}

/// A host that can go into a rule as it is: a DNS name, `*.` wildcard allowed. Anything
/// else (`,`, `;`, spaces, braces) would change the rule's meaning.
pub fn check_host(host: &str) -> Result<(), String> {
    let name = host.strip_prefix("*.").unwrap_or(host);
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
    {
        return Err(format!("host {host:?} is not a DNS name"));
    }
    Ok(())
}

/// A path that can go into a rule as it is: absolute, without the rule grammar's
/// separators, spaces or template braces.
pub fn check_path(path: &str) -> Result<(), String> {
    if path.is_empty() {
        return Ok(());
    }
    if !path.starts_with('/') {
        return Err(format!("path {path:?} is not absolute"));
    }
    if path
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || matches!(c, ',' | ';' | '{' | '}'))
    {
        return Err(format!(
            "path {path:?} has a character a rule cannot carry (`,` `;` braces or a space)"
        ));
    }
    Ok(())
}
