//! What the providers that read labels from their own objects (Docker's containers,
//! Marathon's applications, Mesos' tasks) share around the vocabulary: labels kept as
//! written (for problems that name them), split into v1's segments, decoded with each
//! problem naming the label as the operator wrote it, and v1's name rules.

use std::collections::BTreeMap;

use super::{LabelConfig, decode};

/// `traefik.*` labels by lower-case key with the `traefik.` prefix removed (`frontend.rule`),
/// each as (the label as written, its value).
pub type Written = BTreeMap<String, (String, String)>;

/// Segment labels (`<segment>.port`, `<segment>.frontend.rule`, …) apart from the rest.
/// A key is a segment's when its first component is not one of `root_heads` and the rest is
/// one of `segment_keys` or under `frontend.` / `backend.`; keys lose the segment's name.
pub fn split_segments(
    traefik: &Written,
    root_heads: &[&str],
    segment_keys: &[&str],
) -> (Written, BTreeMap<String, Written>) {
    let mut root = Written::new();
    let mut segments: BTreeMap<String, Written> = BTreeMap::new();
    for (key, value) in traefik {
        let segment = key.split_once('.').filter(|(head, rest)| {
            !root_heads.contains(head)
                && (segment_keys.contains(rest)
                    || rest.starts_with("frontend.")
                    || rest.starts_with("backend."))
        });
        match segment {
            Some((head, rest)) => {
                segments
                    .entry(head.to_string())
                    .or_default()
                    .insert(rest.to_string(), value.clone());
            }
            None => {
                root.insert(key.clone(), value.clone());
            }
        }
    }
    (root, segments)
}

/// Decodes the shared vocabulary: every label but the provider's `own`. On failure each
/// problem goes to `problems` as `label <as written>: <why>`, and `None` is returned.
pub fn decode_shared(
    labels: &Written,
    own: &[&str],
    problems: &mut Vec<String>,
) -> Option<LabelConfig> {
    let shared: BTreeMap<String, String> = labels
        .iter()
        .filter(|(k, _)| !own.contains(&k.as_str()))
        .map(|(k, (_, v))| (k.clone(), v.clone()))
        .collect();
    match decode(&shared) {
        Ok(d) => Some(d),
        Err(ps) => {
            for p in ps {
                let written = labels
                    .get(&p.label.to_ascii_lowercase())
                    .map(|(l, _)| l.clone())
                    .unwrap_or_else(|| format!("traefik.{}", p.label));
                problems.push(format!("label {written}: {}", p.message));
            }
            None
        }
    }
}

/// v1's `provider.Normalize`: runs of characters other than letters and digits become one
/// `-`, none at either end.
pub fn normalize(name: &str) -> String {
    name.split(|c: char| !c.is_alphanumeric())
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join("-")
}

/// `-service-<segment>` (normalised) for a segment's names; nothing for the object's own.
pub fn segment_suffix(segment: &str) -> String {
    if segment.is_empty() {
        String::new()
    } else {
        format!("-service-{}", normalize(segment))
    }
}

/// Go's `strconv.ParseBool`, as v1 read `traefik.enable`.
pub fn go_bool(value: &str) -> Option<bool> {
    match value.trim() {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}
