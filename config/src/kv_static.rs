//! The static configuration in a store, v1's layout (what `traefik storeconfig` wrote):
//! one key per value under the prefix, named by the model's path (`/traefik/loglevel`,
//! `/traefik/entrypoints/http/address`), list items by index (`/traefik/defaultentrypoints/0`,
//! `/traefik/entrypoints/https/tls/certificates/0/certfile`), keys matched ignoring case.
//! `backends/`, `frontends/`, `tls/` and `alias` are the dynamic configuration (`kv/`) and are
//! not read here. The keys become a `flags::Tree`, read like flags are (`flags::merge`).

use crate::flags::{Tree, is_dynamic_key};
use crate::model::StaticConfig;

/// No static key is deeper than this under the prefix; deeper ones are ignored with a
/// warning, which also bounds the work done for a hostile store.
const MAX_DEPTH: usize = 12;

/// The tree of the static keys under `prefix`, and the keys skipped (with why). As in v1 an
/// empty value counts as absent (Consul's and ZooKeeper's folder keys have one).
pub fn read(prefix: &str, pairs: &[(String, Vec<u8>)]) -> (Tree, Vec<String>) {
    let prefix = segments(prefix);
    let mut tree = Tree::default();
    let mut warnings = Vec::new();
    let mut sorted: Vec<&(String, Vec<u8>)> = pairs.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    for (key, value) in sorted {
        let segs = segments(key);
        if segs.len() <= prefix.len() || segs[..prefix.len()] != prefix[..] {
            continue;
        }
        let path = &segs[prefix.len()..];
        if is_dynamic_key(path[0]) || path[0].eq_ignore_ascii_case("alias") {
            continue;
        }
        if value.is_empty() {
            continue;
        }
        if path.len() > MAX_DEPTH {
            warnings.push(format!(
                "{key}: deeper than any static key ({MAX_DEPTH} levels); ignored"
            ));
            continue;
        }
        let Ok(text) = std::str::from_utf8(value) else {
            warnings.push(format!("{key}: value is not UTF-8; ignored"));
            continue;
        };
        let path: Vec<String> = path.iter().map(|s| s.to_string()).collect();
        tree.insert(&path, text.to_string(), key);
    }
    (tree, warnings)
}

/// The pairs for `config`'s static part under `prefix`, sorted: every value the model holds,
/// defaults included (as v1's storeconfig wrote them), so the store alone says it all. Empty
/// values are not written: they would read back as absent.
pub fn encode(prefix: &str, config: &StaticConfig) -> Vec<(String, Vec<u8>)> {
    let prefix = prefix.trim_end_matches('/');
    let mut pairs: Vec<(String, Vec<u8>)> = Tree::from_static(config)
        .leaves()
        .into_iter()
        .filter(|(_, value)| !value.is_empty())
        .map(|(path, value)| {
            let key = format!("{prefix}/{}", path.join("/"));
            (key, value.into_bytes())
        })
        .collect();
    pairs.sort();
    pairs
}

fn segments(path: &str) -> Vec<&str> {
    path.split('/').filter(|s| !s.is_empty()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flags::merge;

    fn pairs(items: &[(&str, &str)]) -> Vec<(String, Vec<u8>)> {
        items
            .iter()
            .map(|(k, v)| (k.to_string(), v.as_bytes().to_vec()))
            .collect()
    }

    #[test]
    fn reads_v1_layout_keys() {
        let store = pairs(&[
            ("/traefik/loglevel", "DEBUG"),
            ("/traefik/defaultentrypoints/0", "http"),
            ("/traefik/defaultentrypoints/1", "https"),
            ("/traefik/entrypoints/http/address", ":80"),
            ("/traefik/entrypoints/https/address", ":443"),
            (
                "/traefik/entrypoints/https/tls/certificates/0/certfile",
                "c.pem",
            ),
            (
                "/traefik/entrypoints/https/tls/certificates/0/keyfile",
                "k.pem",
            ),
            (
                "/traefik/entrypoints/https/tls/certificates/1/certfile",
                "c2.pem",
            ),
            (
                "/traefik/entrypoints/https/tls/certificates/1/keyfile",
                "k2.pem",
            ),
            ("/traefik/lifecycle/gracetimeout", "3s"),
            ("/traefik/api/dashboard", "false"),
            // Folder keys (Consul, ZooKeeper) and the dynamic part are not static keys.
            ("/traefik/entrypoints/", ""),
            ("/traefik/backends/b/servers/s/url", "http://127.0.0.1:1"),
            ("/traefik/frontends/f/backend", "b"),
            ("/traefik/tls/0/certificate/certfile", "x"),
            ("/traefik/alias", "/other"),
            ("/elsewhere/loglevel", "INFO"),
        ]);
        let (tree, warnings) = read("/traefik", &store);
        assert!(warnings.is_empty(), "{warnings:?}");
        let merged = merge(&StaticConfig::default(), &[tree]).unwrap();
        assert!(merged.warnings.is_empty(), "{:?}", merged.warnings);
        let cfg = merged.config;
        assert_eq!(cfg.log_level.as_deref(), Some("DEBUG"));
        assert_eq!(
            cfg.default_entry_points,
            Some(vec!["http".to_string(), "https".to_string()])
        );
        let eps = cfg.entry_points.unwrap();
        assert_eq!(eps["http"].address, ":80");
        let certs = &eps["https"].tls.as_ref().unwrap().certificates;
        assert_eq!(certs.len(), 2);
        assert_eq!(certs[1].key_file, "k2.pem");
        assert_eq!(cfg.life_cycle.grace_time_out, crate::Duration::from_secs(3));
        assert!(!cfg.api.unwrap().dashboard);
        assert!(cfg.backends.is_empty());
    }

    #[test]
    fn bad_keys_are_named_unknown_ones_only_warned_about() {
        let store = pairs(&[
            ("traefik/debug", "perhaps"),
            ("traefik/entrypoints/http/address", ":80"),
        ]);
        let (tree, _) = read("traefik", &store);
        let err = merge(&StaticConfig::default(), &[tree]).unwrap_err();
        assert_eq!(
            err,
            "traefik/debug: invalid value \"perhaps\": expected true or false"
        );

        let mut store = pairs(&[
            ("traefik/acme/account/object", "{}"),
            ("traefik/sometool/x", "1"),
            ("traefik/entrypoints/http/adress", ":80"),
        ]);
        store.push(("traefik/loglevel".into(), vec![0xff, 0xfe]));
        let deep = format!("traefik/{}", ["a"; 20].join("/"));
        store.push((deep.clone(), b"1".to_vec()));
        let (tree, warnings) = read("traefik", &store);
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert!(
            warnings
                .iter()
                .any(|w| w.starts_with("traefik/loglevel: value is not UTF-8"))
        );
        assert!(
            warnings
                .iter()
                .any(|w| w.starts_with(&format!("{deep}: deeper")))
        );
        let merged = merge(&StaticConfig::default(), &[tree]).unwrap();
        let w = &merged.warnings;
        assert_eq!(w.len(), 3, "{w:?}");
        assert!(w[0].starts_with("traefik/acme/account/object: "), "{w:?}");
        assert!(
            w[1].starts_with("traefik/entrypoints/http/adress: "),
            "{w:?}"
        );
        assert!(w[1].contains("did you mean \"address\""), "{w:?}");
        assert!(
            w[2].starts_with("traefik/sometool/x: sometool is not a configuration key"),
            "{w:?}"
        );
        assert_eq!(merged.config.log_level, None);
    }

    #[test]
    fn encode_then_read_gives_the_configuration_back() {
        let text = "logLevel = \"INFO\"\ndefaultEntryPoints = [\"http\", \"https\"]\n\
            rootCAs = [\"a,b.pem\"]\n\
            [entryPoints.http]\naddress = \":80\"\n[entryPoints.http.redirect]\nentryPoint = \"https\"\n\
            [entryPoints.https]\naddress = \":443\"\n[entryPoints.https.tls]\n\
            [[entryPoints.https.tls.certificates]]\ncertFile = \"c.pem\"\nkeyFile = \"k.pem\"\n\
            [etcd]\nendpoint = \"127.0.0.1:2379\"\nwatch = false\n[api]\n[metrics.prometheus]\n\
            [accessLog]\nfilePath = \"/tmp/access.log\"\n\
            [backends.b.servers.s]\nurl = \"http://127.0.0.1:1\"\n";
        let file = crate::load_static("t.toml", text).unwrap().value;
        let encoded = encode("/traefik", &file);
        let keys: Vec<&str> = encoded.iter().map(|(k, _)| k.as_str()).collect();
        assert!(keys.contains(&"/traefik/logLevel"), "{keys:?}");
        assert!(keys.contains(&"/traefik/defaultEntryPoints/1"), "{keys:?}");
        assert!(
            keys.contains(&"/traefik/entryPoints/https/tls/certificates/0/certFile"),
            "{keys:?}"
        );
        assert!(keys.iter().all(|k| !k.contains("backends")), "{keys:?}");
        let (tree, warnings) = read("/traefik", &encoded);
        assert!(warnings.is_empty());
        let mut back = merge(&StaticConfig::default(), &[tree]).unwrap().config;
        back.backends = file.backends.clone();
        assert_eq!(back, file);
        // Redis and ZooKeeper prefixes have no leading slash.
        assert!(encode("traefik/", &file)[0].0.starts_with("traefik/"));
    }
}
