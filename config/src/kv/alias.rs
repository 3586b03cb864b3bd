//! `<prefix>/alias`: v1's atomic switch between configurations. The operator writes a whole
//! new tree under another prefix, then points the alias at it; the provider reads the alias
//! first, then the tree under the prefix it names.

/// The key holding the alias for `prefix` (`/traefik` ⇒ `/traefik/alias`).
pub fn alias_key(prefix: &str) -> String {
    format!("{}/alias", prefix.trim_end_matches('/'))
}

/// The prefix to read, given the alias key's value (`None` when the key is absent). As v1:
/// an empty value means no alias; a trailing `/` is dropped. A value that is not UTF-8 or
/// holds a line break cannot be a prefix: `Err` says why, and the provider should report it
/// at `alias_key(prefix)` and keep its current configuration.
pub fn alias_target(prefix: &str, value: Option<&[u8]>) -> Result<String, String> {
    let Some(value) = value.filter(|v| !v.is_empty()) else {
        return Ok(prefix.to_string());
    };
    let text = std::str::from_utf8(value).map_err(|_| "the alias is not UTF-8 text".to_string())?;
    let text = text.trim();
    if text.contains(['\n', '\r', '\0']) {
        return Err("the alias must be one key prefix, on one line".to_string());
    }
    let target = text.trim_end_matches('/');
    if target.is_empty() {
        return Ok(prefix.to_string());
    }
    Ok(target.to_string())
}
