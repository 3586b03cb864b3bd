//! A frontend's `whiteList` (or deprecated `whitelistSourceRange`), compiled. A bad entry
//! skips the frontend, located at the entry, rather than serving it open to everyone.

use trafik_config::{Diagnostic, Frontend};
use trafik_middleware::whitelist::IpWhitelist;

use crate::provider::SourceMap;

/// `Ok(None)`: no restriction. `Err(())`: reported in `problems`; skip the frontend.
pub(super) fn frontend(
    name: &str,
    frontend: &Frontend,
    sources: &SourceMap,
    problems: &mut Vec<Diagnostic>,
) -> Result<Option<IpWhitelist>, ()> {
    let Some(list) = frontend.effective_white_list() else {
        return Ok(None);
    };
    crate::whitelist::build(&list).map_err(|e| {
        let index = e.index.to_string();
        let key: &[&str] = if frontend.white_list.is_some() {
            &["whiteList", "sourceRange", &index]
        } else {
            &["whitelistSourceRange", &index]
        };
        let path: Vec<String> = ["frontends", name]
            .iter()
            .chain(key)
            .map(|s| s.to_string())
            .collect();
        let message = format!("frontend {name:?} skipped: whiteList: {e}");
        problems.push(sources.diagnostic(&path, message));
    })
}
