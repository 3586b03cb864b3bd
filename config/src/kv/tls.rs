//! `<prefix>/tls/<n>/…`: certificates added to TLS entry points, each a file path or the
//! PEM text itself. A certificate with neither part is left out with an error, as v1 left
//! it out. Without `entrypoints` it goes, as a file's `[[tls]]` does, to every default entry
//! point with TLS (v1's key-value provider dropped it instead).

use super::tree::Node;
use super::walk::{Walk, field};
use crate::model::TlsConfiguration;

/// `index` is the certificate's place in `Configuration::tls`, for its model path.
pub(super) fn decode(
    w: &mut Walk,
    name: &str,
    index: usize,
    node: &Node,
) -> Option<TlsConfiguration> {
    let mark = w.mark();
    let index = index.to_string();
    w.folder(node);
    w.record(&["tls", &index], &node.key);
    let mut tls = TlsConfiguration::default();
    for (seg, child) in &node.children {
        match field(seg).as_str() {
            "entrypoints" => {
                if let Some(v) = w.list(child, &["tls", &index, "entryPoints"]) {
                    tls.entry_points = v;
                }
            }
            "certificate" => {
                w.folder(child);
                for (seg, leaf) in &child.children {
                    let (slot, name) = match field(seg).as_str() {
                        "certfile" => (&mut tls.certificate.cert_file, "certFile"),
                        "keyfile" => (&mut tls.certificate.key_file, "keyFile"),
                        _ => {
                            w.unknown(leaf);
                            continue;
                        }
                    };
                    if let Some(v) = w.string(leaf, &["tls", &index, "certificate", name]) {
                        *slot = v;
                    }
                }
            }
            _ => w.unknown(child),
        }
    }
    if tls.certificate.cert_file.is_empty() && tls.certificate.key_file.is_empty() {
        w.error(
            &node.key,
            "no certificate/certfile and no certificate/keyfile",
        );
    }
    if w.skip_if_failed(mark, &format!("certificate {name}")) {
        return None;
    }
    Some(tls)
}
