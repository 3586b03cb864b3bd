//! `frontEndRule` and a service's `frontend.rule` tag are Go templates in v1
//! (`Host:{{.ServiceName}}.{{.Domain}}`). Only the forms v1's documentation shows are
//! understood: `{{.ServiceName}}`, `{{.Domain}}`, and the tag lookups
//! `{{getTag "name" .Attributes "default"}}` (a tag `name=value` of the service) and
//! `{{getAttribute "name" .Attributes "default"}}` (the same, with the provider's prefix:
//! `<prefix>.name=value`). Anything else inside `{{ }}` is refused with what was found, so a
//! template is never half-applied.

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    ServiceName,
    Domain,
    /// (prefixed, name, default)
    Tag(bool, String, String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleTemplate(Vec<Part>);

/// What a template is expanded with.
pub struct Context<'a> {
    pub service_name: &'a str,
    pub domain: &'a str,
    /// The service's tags (v1's `.Attributes`).
    pub tags: &'a [String],
    /// The provider's tag prefix (`traefik`), for `getAttribute`.
    pub prefix: &'a str,
}

impl RuleTemplate {
    pub fn parse(text: &str) -> Result<RuleTemplate, String> {
        let mut parts = Vec::new();
        let mut rest = text;
        while let Some(start) = rest.find("{{") {
            if start > 0 {
                parts.push(Part::Text(rest[..start].to_string()));
            }
            let after = &rest[start + 2..];
            let end = after
                .find("}}")
                .ok_or_else(|| format!("template {text:?}: `{{{{` without `}}}}`"))?;
            parts.push(action(after[..end].trim()).map_err(|e| format!("template {text:?}: {e}"))?);
            rest = &after[end + 2..];
        }
        if rest.contains("}}") {
            return Err(format!("template {text:?}: `}}}}` without `{{{{`"));
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.to_string()));
        }
        Ok(RuleTemplate(parts))
    }

    pub fn expand(&self, cx: &Context<'_>) -> String {
        let mut out = String::new();
        for part in &self.0 {
            match part {
                Part::Text(t) => out.push_str(t),
                Part::ServiceName => out.push_str(cx.service_name),
                Part::Domain => out.push_str(cx.domain),
                Part::Tag(prefixed, name, default) => {
                    let name = if *prefixed && !cx.prefix.is_empty() {
                        format!("{}.{name}", cx.prefix)
                    } else {
                        name.clone()
                    };
                    out.push_str(&tag_value(cx.tags, &name).unwrap_or_else(|| default.clone()));
                }
            }
        }
        out
    }
}

/// v1's tag lookup: the first tag `name=value` (name in any case) gives `value`; a bare
/// tag `name` gives `name` itself.
pub fn tag_value(tags: &[String], name: &str) -> Option<String> {
    let lower = name.to_ascii_lowercase();
    tags.iter().find_map(|tag| {
        let t = tag.to_ascii_lowercase();
        if t == lower {
            Some(tag.clone())
        } else if t.starts_with(&format!("{lower}=")) {
            Some(tag[name.len() + 1..].to_string())
        } else {
            None
        }
    })
}

fn action(inner: &str) -> Result<Part, String> {
    match inner {
        ".ServiceName" => return Ok(Part::ServiceName),
        ".Domain" => return Ok(Part::Domain),
        _ => {}
    }
    let (prefixed, args) = if let Some(a) = inner.strip_prefix("getTag ") {
        (false, a)
    } else if let Some(a) = inner.strip_prefix("getAttribute ") {
        (true, a)
    } else {
        return Err(format!(
            "{{{{{inner}}}}} is not understood (only .ServiceName, .Domain, getTag and getAttribute)"
        ));
    };
    let (name, rest) = quoted(args.trim_start())
        .ok_or_else(|| format!("{{{{{inner}}}}}: expected a quoted tag name"))?;
    let rest = rest
        .trim_start()
        .strip_prefix(".Attributes")
        .ok_or_else(|| format!("{{{{{inner}}}}}: expected .Attributes after the name"))?;
    let (default, rest) = quoted(rest.trim_start())
        .ok_or_else(|| format!("{{{{{inner}}}}}: expected a quoted default"))?;
    if !rest.trim().is_empty() {
        return Err(format!("{{{{{inner}}}}}: unexpected {:?}", rest.trim()));
    }
    Ok(Part::Tag(prefixed, name, default))
}

/// `"text" rest` ⇒ (text, rest); no escapes (tag names have none).
fn quoted(s: &str) -> Option<(String, &str)> {
    let s = s.strip_prefix('"')?;
    let end = s.find('"')?;
    Some((s[..end].to_string(), &s[end + 1..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cx<'a>(tags: &'a [String]) -> Context<'a> {
        Context {
            service_name: "web",
            domain: "example.com",
            tags,
            prefix: "traefik",
        }
    }

    #[test]
    fn v1s_default_and_tag_lookups_expand() {
        let tags = vec!["env=prod".to_string(), "traefik.zone=eu".to_string()];
        let t = RuleTemplate::parse("Host:{{.ServiceName}}.{{.Domain}}").unwrap();
        assert_eq!(t.expand(&cx(&tags)), "Host:web.example.com");
        let t = RuleTemplate::parse(
            r#"Host:{{.ServiceName}}.{{getTag "env" .Attributes "dev"}}.{{ getAttribute "zone" .Attributes "us" }}.{{getTag "missing" .Attributes "x"}}"#,
        )
        .unwrap();
        assert_eq!(t.expand(&cx(&tags)), "Host:web.prod.eu.x");
        assert_eq!(
            RuleTemplate::parse("PathPrefix:/api")
                .unwrap()
                .expand(&cx(&[])),
            "PathPrefix:/api"
        );
    }

    #[test]
    fn anything_else_is_refused_with_what_was_found() {
        for bad in [
            "Host:{{.Name}}",
            "Host:{{.ServiceName",
            "Host:}}",
            r#"{{getTag env .Attributes "x"}}"#,
            r#"{{getTag "env" .Tags "x"}}"#,
            r#"{{getTag "env" .Attributes "x" extra}}"#,
            "{{if .Domain}}x{{end}}",
        ] {
            let e = RuleTemplate::parse(bad).unwrap_err();
            assert!(e.contains("template"), "{bad}: {e}");
        }
    }

    #[test]
    fn tag_lookup_is_v1s() {
        let tags = vec!["Env=Prod".to_string(), "canary".to_string()];
        assert_eq!(tag_value(&tags, "env").as_deref(), Some("Prod"));
        assert_eq!(tag_value(&tags, "canary").as_deref(), Some("canary"));
        assert_eq!(tag_value(&tags, "can"), None);
    }
}
