//! Znode trees as key-value pairs: reading every znode under a prefix (its path is the key,
//! its data the value), and writing pairs as znodes. ZooKeeper has no range read, so a
//! prefix is walked level by level, every znode of a level asked for at once (the client
//! pipelines the requests on its one connection).

use zookeeper_client as zk;

use crate::provider::kv::Pairs;

/// How deep the walk goes below the prefix. The key-value layout has no key deeper than
/// ten segments under it; one level more is read so that the decoder can name a key that
/// is too deep, and nothing further, which bounds the walk over a hostile tree.
const MAX_DEPTH: usize = 11;

/// How many znodes are asked for at once: a level of ten thousand znodes is read in
/// batches rather than as ten thousand requests queued together.
const BATCH: usize = 256;

/// The znode a prefix names: `traefik`, `/traefik` and `/traefik/` are all `/traefik`
/// (v1's prefixes are written both ways). `Err` when ZooKeeper cannot have such a znode.
pub fn znode_path(prefix: &str) -> Result<String, String> {
    let segments: Vec<&str> = prefix.split('/').filter(|s| !s.is_empty()).collect();
    for s in &segments {
        if *s == "." || *s == ".." {
            return Err(format!(
                "{prefix:?} is not a ZooKeeper path (`{s}` segment)"
            ));
        }
        if s.chars().any(forbidden) {
            return Err(format!(
                "{prefix:?} is not a ZooKeeper path (a control or reserved character)"
            ));
        }
    }
    Ok(format!("/{}", segments.join("/")))
}

/// Characters ZooKeeper refuses in a path (its `PathUtils.validatePath`).
fn forbidden(c: char) -> bool {
    let u = u32::from(c);
    [
        0x0000..=0x001f,
        0x007f..=0x009f,
        0xd800..=0xf8ff,
        0xfff0..=0xffff,
    ]
    .iter()
    .any(|r| r.contains(&u))
}

fn child_path(parent: &str, child: &str) -> String {
    if parent == "/" {
        format!("/{child}")
    } else {
        format!("{parent}/{child}")
    }
}

/// Every znode below `root` (not `root` itself) with its data, intermediate znodes
/// included (their data is usually empty, which the decoder reads as absent). A missing
/// `root` is an empty list; a znode deleted while the walk is under way is left out (the
/// watch reports the deletion, and the next read is consistent again).
pub async fn read(client: &zk::Client, root: &str) -> Result<Pairs, zk::Error> {
    let mut pairs = Pairs::new();
    let mut level = vec![root.to_string()];
    for depth in 0..=MAX_DEPTH {
        let mut next = Vec::new();
        for batch in level.chunks(BATCH) {
            let reads = batch.iter().map(|path| read_node(client, path));
            for (path, node) in batch
                .iter()
                .zip(futures_util::future::join_all(reads).await)
            {
                let Some((data, children)) = node? else {
                    continue;
                };
                if depth > 0 {
                    pairs.push((path.clone(), data));
                }
                if depth < MAX_DEPTH {
                    next.extend(children.iter().map(|c| child_path(path, c)));
                }
            }
        }
        if next.is_empty() {
            break;
        }
        level = next;
    }
    Ok(pairs)
}

/// A znode's data and children's names; `None` when it does not exist (any more).
async fn read_node(
    client: &zk::Client,
    path: &str,
) -> Result<Option<(Vec<u8>, Vec<String>)>, zk::Error> {
    let (data, stat) = match client.get_data(path).await {
        Ok(found) => found,
        Err(zk::Error::NoNode) => return Ok(None),
        Err(e) => return Err(e),
    };
    if stat.num_children <= 0 {
        return Ok(Some((data, Vec::new())));
    }
    match client.list_children(path).await {
        Ok(children) => Ok(Some((data, children))),
        Err(zk::Error::NoNode) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Writes `data` at `path`: sets the znode's data, or creates it and its missing parents
/// (open to anyone, as `zkCli.sh create` does without an ACL).
pub async fn write(client: &zk::Client, path: &str, data: &[u8]) -> Result<(), zk::Error> {
    let options = zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all());
    // A few turns: another client may create or delete the znode between our calls.
    for _ in 0..3 {
        match client.set_data(path, data, None).await {
            Err(zk::Error::NoNode) => {}
            other => return other.map(|_| ()),
        }
        if let Some((parent, _)) = path.rsplit_once('/')
            && !parent.is_empty()
        {
            client.mkdir(parent, &options).await?;
        }
        match client.create(path, data, &options).await {
            // Created by someone else meanwhile: set its data on the next turn.
            Err(zk::Error::NodeExists) => {}
            other => return other.map(|_| ()),
        }
    }
    Err(zk::Error::UnexpectedError(format!(
        "{path} kept being created and deleted by another client"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_name_one_znode_however_written() {
        for p in ["traefik", "/traefik", "/traefik/", "//traefik"] {
            assert_eq!(znode_path(p).unwrap(), "/traefik");
        }
        assert_eq!(znode_path("a/b//c/").unwrap(), "/a/b/c");
        assert_eq!(znode_path("/").unwrap(), "/");
        assert_eq!(child_path("/", "traefik"), "/traefik");
        assert_eq!(child_path("/traefik", "backends"), "/traefik/backends");
    }

    #[test]
    fn paths_zookeeper_refuses_are_refused() {
        assert!(znode_path("/traefik/../etc").is_err());
        assert!(znode_path("/./traefik").is_err());
        assert!(znode_path("/trae\u{1}fik").is_err());
        assert!(znode_path("/trae\u{fff5}fik").is_err());
        // Dots inside a name are fine.
        assert_eq!(znode_path("/traefik.v2").unwrap(), "/traefik.v2");
    }
}
