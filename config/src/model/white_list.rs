//! `whiteList`: which client addresses a frontend or an entry point serves (v1's
//! `types.WhiteList`). Shared by the static and the dynamic model.

use serde::{Deserialize, Serialize};

/// `[frontends.X.whiteList]` / `[entryPoints.X.whiteList]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct WhiteList {
    /// CIDR networks or bare addresses; empty ⇒ no restriction (v1).
    pub source_range: Vec<String>,
    /// Check the client named in `X-Forwarded-For` (read from the right, past the entry
    /// point's trusted proxies) rather than the peer.
    #[serde(rename = "useXForwardedFor")]
    pub use_x_forwarded_for: bool,
}

impl WhiteList {
    /// The list in force where v1 had both forms: `whiteList`, else the deprecated
    /// `whitelistSourceRange` (v1 ≤ 1.6), which never read `X-Forwarded-For`.
    pub fn or_deprecated(white_list: Option<&WhiteList>, source_range: &[String]) -> Option<Self> {
        match white_list {
            Some(w) => Some(w.clone()),
            None if !source_range.is_empty() => Some(WhiteList {
                source_range: source_range.to_vec(),
                use_x_forwarded_for: false,
            }),
            None => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::{load_dynamic, load_static};

    #[test]
    fn both_frontend_forms_and_the_entry_point_form_load() {
        let text = r#"
            [frontends.a]
            backend = "b"
            whitelistSourceRange = ["10.0.0.0/8"]
              [frontends.a.WhiteList]
              sourceRange = ["192.168.0.0/16", "::1"]
              useXForwardedFor = true
            [frontends.old]
            backend = "b"
            whiteListSourceRange = ["10.0.0.0/8"]
        "#;
        let loaded = load_dynamic("rules.toml", text).unwrap();
        assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
        let a = &loaded.value.frontends["a"];
        let w = a.effective_white_list().unwrap();
        assert_eq!(w.source_range, ["192.168.0.0/16", "::1"]);
        assert!(
            w.use_x_forwarded_for,
            "whiteList wins over whitelistSourceRange"
        );
        let old = loaded.value.frontends["old"]
            .effective_white_list()
            .unwrap();
        assert_eq!(old.source_range, ["10.0.0.0/8"]);
        assert!(!old.use_x_forwarded_for);
        // Shown under v1's JSON names.
        let json = serde_json::to_value(a).unwrap();
        assert_eq!(json["whiteList"]["useXForwardedFor"], true);
        assert_eq!(json["whitelistSourceRange"][0], "10.0.0.0/8");

        let text = r#"
            [entryPoints.http]
            address = ":80"
              [entryPoints.http.whitelist]
              sourceRange = ["127.0.0.1"]
        "#;
        let loaded = load_static("trafik.toml", text).unwrap();
        assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
        let ep = &loaded.value.entry_points.as_ref().unwrap()["http"];
        let w = ep.white_list.as_ref().unwrap();
        assert_eq!(w.source_range, ["127.0.0.1"]);
        assert!(!w.use_x_forwarded_for);

        // v1's deprecated entry-point form is honoured, not dropped (an imported v1 file
        // would otherwise serve everyone).
        let text = r#"
            [entryPoints.http]
            address = ":80"
            whitelistSourceRange = ["10.0.0.0/8"]
        "#;
        let loaded = load_static("trafik.toml", text).unwrap();
        assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
        let ep = &loaded.value.entry_points.as_ref().unwrap()["http"];
        assert_eq!(
            ep.effective_white_list().unwrap().source_range,
            ["10.0.0.0/8"]
        );
    }
}
