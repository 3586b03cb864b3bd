//! Consul's answers, as its API documents them, read into plain data: the services of
//! `GET /v1/catalog/services` (name → tags) and the instances of
//! `GET /v1/health/service/<name>` (node, service address and port, tags, checks).
//! Anything else is a malformed answer: an error, never an empty catalog.

use std::collections::BTreeMap;

use serde::Deserialize;

/// One instance of a service on a node, with its checks' statuses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instance {
    pub node: String,
    /// The node's address: the instance's when it registered none of its own.
    pub node_address: String,
    pub id: String,
    pub address: String,
    pub port: u16,
    pub tags: Vec<String>,
    /// `passing`, `warning`, `critical`, … one per check (node checks included).
    pub checks: Vec<String>,
}

impl Instance {
    /// In rotation: every check passing (v1's `strictChecks`, its default), or, not
    /// strict, passing or `warning`.
    pub fn healthy(&self, strict: bool) -> bool {
        self.checks
            .iter()
            .all(|c| c == "passing" || (!strict && c == "warning"))
    }

    /// `ServiceAddress`, else the node's `Address` (v1's rule).
    pub fn host(&self) -> &str {
        if self.address.is_empty() {
            &self.node_address
        } else {
            &self.address
        }
    }
}

/// `/v1/catalog/services`: `{"name": ["tag", …], …}` (tags may be null).
pub fn parse_services(body: &[u8]) -> Result<BTreeMap<String, Vec<String>>, String> {
    let raw: BTreeMap<String, Option<Vec<String>>> = serde_json::from_slice(body)
        .map_err(|e| format!("malformed /v1/catalog/services answer: {e}"))?;
    Ok(raw
        .into_iter()
        .map(|(name, tags)| (name, tags.unwrap_or_default()))
        .collect())
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Entry {
    node: Node,
    service: Service,
    #[serde(default)]
    checks: Option<Vec<Check>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Node {
    node: String,
    #[serde(default)]
    address: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Service {
    #[serde(rename = "ID")]
    id: String,
    #[serde(default)]
    address: String,
    port: u16,
    #[serde(default)]
    tags: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Check {
    status: String,
}

/// `/v1/health/service/<name>`: one entry per instance.
pub fn parse_health(body: &[u8]) -> Result<Vec<Instance>, String> {
    let entries: Vec<Entry> = serde_json::from_slice(body)
        .map_err(|e| format!("malformed /v1/health/service answer: {e}"))?;
    Ok(entries
        .into_iter()
        .map(|e| Instance {
            node: e.node.node,
            node_address: e.node.address,
            id: e.service.id,
            address: e.service.address,
            port: e.service.port,
            tags: e.service.tags.unwrap_or_default(),
            checks: e
                .checks
                .unwrap_or_default()
                .into_iter()
                .map(|c| c.status)
                .collect(),
        })
        .collect())
}
