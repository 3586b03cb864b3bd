//! Consul's KV JSON, both ways: the answer of `GET /v1/kv/<prefix>/?recurse` (an array of
//! entries whose `Value` is base64, or null for an empty value or a "folder") read into the
//! loop's pairs, and the body of `PUT /v1/txn` written from them. Pure: no I/O, so the
//! recorded payloads below test it.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};

use crate::provider::kv::Pairs;

/// Consul's limit on operations in one transaction.
pub const TXN_MAX_OPS: usize = 64;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Entry {
    key: String,
    value: Option<String>,
}

/// The pairs of a recursive read. Keys ending in `/` are Consul's folders (the web UI makes
/// them): they hold no configuration and are left out. Anything that is not the documented
/// shape, or a value that is not base64, is an error: a malformed answer is not an empty
/// configuration.
pub fn parse_list(body: &[u8]) -> Result<Pairs, String> {
    let entries: Vec<Entry> =
        serde_json::from_slice(body).map_err(|e| format!("malformed KV answer: {e}"))?;
    let mut pairs = Vec::with_capacity(entries.len());
    for entry in entries {
        if entry.key.ends_with('/') {
            continue;
        }
        let value = match entry.value {
            None => Vec::new(),
            Some(text) => STANDARD.decode(text.as_bytes()).map_err(|e| {
                format!(
                    "malformed KV answer: {}: value is not base64: {e}",
                    entry.key
                )
            })?,
        };
        pairs.push((entry.key, value));
    }
    Ok(pairs)
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct TxnOp<'a> {
    #[serde(rename = "KV")]
    kv: TxnKv<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct TxnKv<'a> {
    verb: &'static str,
    key: &'a str,
    value: String,
}

/// The bodies of the transactions that write `pairs`: one `set` per key, at most
/// `TXN_MAX_OPS` per body. Keys lose a leading `/` (Consul's keys have none).
pub fn txn_bodies(pairs: &Pairs) -> Vec<Vec<u8>> {
    pairs
        .chunks(TXN_MAX_OPS)
        .map(|chunk| {
            let ops: Vec<TxnOp<'_>> = chunk
                .iter()
                .map(|(key, value)| TxnOp {
                    kv: TxnKv {
                        verb: "set",
                        key: key.trim_start_matches('/'),
                        value: STANDARD.encode(value),
                    },
                })
                .collect();
            serde_json::to_vec(&ops).expect("plain structs serialize")
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// As Consul answers `GET /v1/kv/traefik/?recurse` (its docs' example shape), with a
    /// folder, an empty value and a real one.
    const RECORDED: &str = r#"[
      {"LockIndex":0,"Key":"traefik/","Flags":0,"Value":null,"CreateIndex":12,"ModifyIndex":12},
      {"LockIndex":0,"Key":"traefik/backends/b1/servers/s1/url","Flags":0,
       "Value":"aHR0cDovLzEyNy4wLjAuMTo4MDgx","CreateIndex":13,"ModifyIndex":20},
      {"LockIndex":0,"Key":"traefik/frontends/f1/passHostHeader","Flags":0,"Value":null,
       "CreateIndex":14,"ModifyIndex":14}
    ]"#;

    #[test]
    fn a_recorded_list_reads_into_pairs() {
        let pairs = parse_list(RECORDED.as_bytes()).unwrap();
        assert_eq!(
            pairs,
            vec![
                (
                    "traefik/backends/b1/servers/s1/url".to_string(),
                    b"http://127.0.0.1:8081".to_vec()
                ),
                (
                    "traefik/frontends/f1/passHostHeader".to_string(),
                    Vec::new()
                ),
            ]
        );
        assert_eq!(parse_list(b"[]").unwrap(), vec![]);
    }

    #[test]
    fn malformed_answers_are_errors_not_empty_configurations() {
        for bad in [
            &b"{}"[..],
            b"null",
            b"<html>proxy error</html>",
            b"[{\"Value\":\"aGk=\"}]",
            b"[{\"Key\":\"k\",\"Value\":\"not base64!\"}]",
            b"[{\"Key\":5}]",
            b"",
        ] {
            assert!(parse_list(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn writes_are_batched_in_transactions_of_at_most_64() {
        let pairs: Pairs = (0..130)
            .map(|i| (format!("/traefik/k{i}"), format!("v{i}").into_bytes()))
            .collect();
        let bodies = txn_bodies(&pairs);
        assert_eq!(bodies.len(), 3);
        let first: serde_json::Value = serde_json::from_slice(&bodies[0]).unwrap();
        assert_eq!(first.as_array().unwrap().len(), 64);
        assert_eq!(
            first[0],
            serde_json::json!({"KV": {"Verb": "set", "Key": "traefik/k0", "Value": "djA="}})
        );
        let last: serde_json::Value = serde_json::from_slice(&bodies[2]).unwrap();
        assert_eq!(last.as_array().unwrap().len(), 2);
        assert!(txn_bodies(&Vec::new()).is_empty());
    }
}
