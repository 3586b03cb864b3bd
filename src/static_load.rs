//! The static configuration a run, `trafik check` or `trafik storeconfig` works from: the
//! file (or the defaults), then the static keys of the stores it configures, then the flags,
//! each later source winning key by key (`trafik_config::flags::merge`). The stores are named
//! by the file or the flags (`--etcd --etcd.endpoint=…`), so the flags are merged once first
//! to learn which stores to read.

use std::path::Path;
use std::time::Duration;

use trafik_config::flags::{Tree, merge};
use trafik_config::{StaticConfig, validate_static};

use crate::provider::kv::{OnceError, list_by_kind};

/// How long start-up waits for a store's static keys before going on without them (the store
/// is then an outage of the KV provider, retried like any other).
const STORE_TIMEOUT: Duration = Duration::from_secs(5);

/// What was read, and what was skipped on the way (unknown store keys, a store not reached).
#[derive(Debug)]
pub struct Layered {
    pub config: StaticConfig,
    pub warnings: Vec<String>,
}

/// `file` under the flags, and under the stores' static keys too when `read_stores`. An error
/// (a bad flag or store value, a store table that cannot work, a merged configuration that
/// does not validate) names what is at fault.
pub async fn layered(
    file: StaticConfig,
    flags: &Tree,
    base_dir: &Path,
    read_stores: bool,
) -> Result<Layered, String> {
    let with_flags = merge(&file, std::slice::from_ref(flags))?;
    let stores = with_flags.config.kv_providers().len();
    if !read_stores || stores == 0 {
        if flags.is_empty() {
            // Nothing to layer: the file exactly as loaded.
            return Ok(Layered {
                config: file,
                warnings: Vec::new(),
            });
        }
        return validated(with_flags.config, with_flags.warnings);
    }
    let (mut layers, mut warnings) = store_layers(&with_flags.config, base_dir).await?;
    if layers.iter().all(Tree::is_empty) && flags.is_empty() {
        return Ok(Layered {
            config: file,
            warnings,
        });
    }
    layers.push(flags.clone());
    let merged = merge(&file, &layers)?;
    warnings.extend(merged.warnings);
    validated(merged.config, warnings)
}

fn validated(config: StaticConfig, warnings: Vec<String>) -> Result<Layered, String> {
    let problems = validate_static(&config);
    if !problems.is_empty() {
        let list: Vec<String> = problems.iter().map(|p| p.message.clone()).collect();
        return Err(list.join("\n"));
    }
    Ok(Layered { config, warnings })
}

/// The static keys of each store `cfg` configures, in `KvStoreKind` order. A store that does
/// not answer is a warning (the run starts from the file and flags; its KV provider will
/// report and retry the outage); a table that cannot work is an error.
async fn store_layers(
    cfg: &StaticConfig,
    base_dir: &Path,
) -> Result<(Vec<Tree>, Vec<String>), String> {
    let mut layers = Vec::new();
    let mut warnings = Vec::new();
    for (kind, table) in cfg.kv_providers() {
        let name = kind.name();
        let prefix = table.prefix(kind);
        let listed =
            tokio::time::timeout(STORE_TIMEOUT, list_by_kind(kind, table, base_dir, prefix)).await;
        let why = match listed {
            Ok(Ok(pairs)) => {
                let (tree, skipped) = trafik_config::kv_static::read(prefix, &pairs);
                warnings.extend(skipped.into_iter().map(|w| format!("[{name}] {w}")));
                layers.push(tree);
                continue;
            }
            Ok(Err(OnceError::Refused(e))) => return Err(format!("[{name}]: {e}")),
            Ok(Err(OnceError::Store(e))) => e,
            Err(_) => format!("no answer within {STORE_TIMEOUT:?}"),
        };
        warnings.push(format!(
            "[{name}]: static configuration not read from the store ({why}); starting from \
             the file and flags"
        ));
    }
    Ok((layers, warnings))
}

#[cfg(test)]
mod tests {
    use trafik_config::flags::parse_flags;

    use super::*;

    fn file() -> StaticConfig {
        let text = "logLevel = \"INFO\"\n[entryPoints.http]\naddress = \":80\"\n";
        trafik_config::load_static("t.toml", text).unwrap().value
    }

    #[tokio::test]
    async fn without_flags_or_stores_the_file_is_kept_as_loaded() {
        let layered = layered(file(), &Tree::default(), Path::new(""), true)
            .await
            .unwrap();
        assert_eq!(layered.config, file());
        assert!(layered.warnings.is_empty());
    }

    #[tokio::test]
    async fn flags_are_layered_and_the_result_validated() {
        let flags = parse_flags(&["--entryPoints.https.address=:80"]).unwrap();
        let err = layered(file(), &flags, Path::new(""), true)
            .await
            .unwrap_err();
        assert!(err.contains("https"), "two entry points on :80: {err}");

        let flags = parse_flags(&["--logLevel=WARN"]).unwrap();
        let ok = layered(file(), &flags, Path::new(""), true).await.unwrap();
        assert_eq!(ok.config.log_level.as_deref(), Some("WARN"));
        assert_eq!(ok.config.entry_points, file().entry_points);
    }
}
