//! A real ZooKeeper for the tests (Debian's `zookeeper` package, run by `java`): the
//! command line of a standalone server, for `StoreServer`, and a probe that connects.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use zookeeper_client as zk;

/// The jars `ZooKeeperServerMain` needs, as Debian installs them.
pub const JARS: [&str; 6] = [
    "zookeeper.jar",
    "zookeeper-jute.jar",
    "slf4j-api.jar",
    "slf4j-simple.jar",
    "commons-io.jar",
    "metrics-core.jar",
];

/// The command line of a standalone ZooKeeper on `127.0.0.1:port`, data in `dir`: no admin
/// server, no four-letter words, a short tick so that sessions of dead clients go quickly.
pub fn server(port: u16) -> impl Fn(&Path) -> Command + Send + Sync + 'static {
    move |dir: &Path| {
        let cfg = dir.join("zoo.cfg");
        std::fs::write(
            &cfg,
            format!(
                "tickTime=500\ndataDir={}\nclientPort={port}\nclientPortAddress=127.0.0.1\n\
                 admin.enableServer=false\n4lw.commands.whitelist=\nmaxSessionTimeout=20000\n",
                dir.join("data").display()
            ),
        )
        .unwrap();
        java(&cfg, &[])
    }
}

/// `java … ZooKeeperServerMain cfg`, with `JARS` and `extra_jars` (Debian's
/// `/usr/share/java`) on the classpath.
pub fn java(cfg: &Path, extra_jars: &[&str]) -> Command {
    let classpath: Vec<String> = JARS
        .iter()
        .chain(extra_jars)
        .map(|j| format!("/usr/share/java/{j}"))
        .collect();
    let mut c = Command::new("java");
    c.args(["-Xmx256m", "-XX:+UseSerialGC", "-cp", &classpath.join(":")])
        .arg("org.apache.zookeeper.server.ZooKeeperServerMain")
        .arg(cfg);
    c
}

/// A session with the server on `port`, or `None` when it does not answer within 10 s.
pub async fn try_connect(port: u16) -> Option<zk::Client> {
    let endpoint = format!("127.0.0.1:{port}");
    let attempt = zk::Client::connector()
        .with_fail_eagerly()
        .connect(&endpoint);
    tokio::time::timeout(Duration::from_secs(10), attempt)
        .await
        .ok()?
        .ok()
}
