//! Command-line flags → a string tree: `--a.b.c=value` sets `a.b.c`, `--a` alone is `true`
//! (a boolean, or a section enabled with its defaults), `--entryPoints='Name:…'` is v1's
//! one-string entry point (`entry_point.rs`).

use super::entry_point;
use super::tree::{Tree, is_dynamic_key};

/// The tree the flags give, or the first flag that cannot be one, named.
pub fn parse_flags<S: AsRef<str>>(args: &[S]) -> Result<Tree, String> {
    let mut tree = Tree::default();
    for arg in args {
        let arg = arg.as_ref();
        let Some(body) = arg.strip_prefix("--") else {
            return Err(format!("{arg:?}: expected a flag (--name=value or --name)"));
        };
        let (name, value) = match body.split_once('=') {
            Some((n, v)) => (n, v.to_string()),
            None => (body, "true".to_string()),
        };
        let flag = format!("--{name}");
        // `--entryPoints` alone (or `=true`): the table, empty; anything else is v1's string.
        if name.eq_ignore_ascii_case("entryPoints") && value != "true" {
            let (ep, keys) = entry_point::parse(&value).map_err(|e| format!("{flag}: {e}"))?;
            for (path, value) in keys {
                let mut full = vec!["entryPoints".to_string(), ep.clone()];
                full.extend(path);
                tree.insert(&full, value, &flag);
            }
            continue;
        }
        let path: Vec<String> = name.split('.').map(str::to_string).collect();
        if path.iter().any(String::is_empty) {
            return Err(format!("{flag}: empty name or segment"));
        }
        if is_dynamic_key(&path[0]) {
            return Err(format!(
                "{flag}: backends, frontends and tls are the dynamic configuration: give them \
                 in a file (--file.filename=rules.toml) or a store, not as flags"
            ));
        }
        tree.insert(&path, value, &flag);
    }
    Ok(tree)
}

/// A configuration as flags that read back the same (`--logLevel=INFO`,
/// `--entryPoints.http.address=:80`, lists as `--rootCAs.0=…`), dynamic part left out.
pub fn to_flags<T: serde::Serialize>(config: &T) -> Vec<String> {
    Tree::from_static(config)
        .leaves()
        .into_iter()
        .map(|(path, value)| format!("--{}={value}", path.join(".")))
        .collect()
}
