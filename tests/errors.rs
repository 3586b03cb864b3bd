//! Failures answer with v1's statuses (502 refused, 503 no server, 504 timeouts),
//! forwarded headers follow the trust policy, and bad configuration is reported
//! with file:line:col before anything starts.

use crate::common;
use common::*;

#[tokio::test(flavor = "multi_thread")]
async fn backend_failures_map_to_502_503_504() {
    let slow = Backend::start("slow").await;
    let dead_port = free_port();
    // A listener that never accepts, its queue filled: a new connection hangs in the SYN
    // stage, which is how a dial timeout looks on loopback.
    let full = full_listener();
    let full_addr = full.0.local_addr().unwrap();
    let port = free_port();
    let toml = format!(
        r#"[entryPoints.http]
address = "127.0.0.1:{port}"
[forwardingTimeouts]
dialTimeout = "300ms"
responseHeaderTimeout = "500ms"
[file]
[backends.dead.servers.s]
url = "http://127.0.0.1:{dead_port}"
[backends.empty]
[backends.slow.servers.s]
url = "{slow}"
[backends.full.servers.s]
url = "http://{full}"
[frontends.dead]
backend = "dead"
[frontends.dead.routes.r]
rule = "Path:/dead"
[frontends.empty]
backend = "empty"
[frontends.empty.routes.r]
rule = "Path:/empty"
[frontends.full]
backend = "full"
[frontends.full.routes.r]
rule = "Path:/full"
[frontends.slow]
backend = "slow"
[frontends.slow.routes.r]
rule = "Path:/slow"
"#,
        slow = slow.url(),
        full = full_addr,
    );
    let trafik = Trafik::start(&toml);
    trafik
        .wait_for(&format!("http://127.0.0.1:{port}/slow"), 200)
        .await;
    let get = |p: &str| {
        let url = format!("http://127.0.0.1:{port}{p}");
        async move {
            let r = client().get(url).send().await.unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        }
    };
    assert_eq!(get("/dead").await, (502, "Bad Gateway".to_string()));
    assert_eq!(
        get("/empty").await,
        (503, "Service Unavailable".to_string())
    );
    assert_eq!(
        get("/slow?wait=2000").await,
        (504, "Gateway Timeout".to_string())
    );
    assert_eq!(get("/full").await.0, 504);
    assert_eq!(
        get("/nothing").await,
        (404, "404 page not found\n".to_string())
    );
    // trafik itself is unharmed.
    assert_eq!(get("/slow").await.0, 200);
}

/// A listening socket with a backlog of one that nobody accepts from, plus the client
/// connections that fill its queue.
fn full_listener() -> (std::net::TcpListener, Vec<std::net::TcpStream>) {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    socket
        .bind(
            &"127.0.0.1:0"
                .parse::<std::net::SocketAddr>()
                .unwrap()
                .into(),
        )
        .unwrap();
    socket.listen(0).unwrap();
    let listener: std::net::TcpListener = socket.into();
    let addr = listener.local_addr().unwrap();
    let mut fillers = Vec::new();
    for _ in 0..4 {
        if let Ok(s) =
            std::net::TcpStream::connect_timeout(&addr, std::time::Duration::from_millis(200))
        {
            fillers.push(s);
        }
    }
    (listener, fillers)
}

#[tokio::test(flavor = "multi_thread")]
async fn forwarded_headers_trust_policy() {
    let backend = Backend::start("b").await;
    let (open, closed) = (free_port(), free_port());
    let toml = format!(
        r#"defaultEntryPoints = ["open", "closed"]
[entryPoints.open]
address = "127.0.0.1:{open}"
[entryPoints.closed]
address = "127.0.0.1:{closed}"
[entryPoints.closed.forwardedHeaders]
trustedIPs = ["10.0.0.0/8"]
[file]
[backends.b.servers.s]
url = "{url}"
[frontends.f]
backend = "b"
passHostHeader = true
[frontends.f.routes.r]
rule = "PathPrefix:/"
"#,
        url = backend.url()
    );
    let trafik = Trafik::start(&toml);
    trafik
        .wait_for(&format!("http://127.0.0.1:{closed}/"), 200)
        .await;
    let ask = |port: u16| async move {
        let r = client()
            .get(format!("http://127.0.0.1:{port}/x"))
            .header("host", "site.example:8000")
            .header("x-forwarded-for", "1.2.3.4")
            .header("x-forwarded-proto", "https")
            .header("connection", "keep-alive, x-hop")
            .header("x-hop", "must not pass")
            .send()
            .await
            .unwrap();
        let v: serde_json::Value = r.json().await.unwrap();
        v["headers"].clone()
    };
    // No [forwardedHeaders]: v1 trusts everyone; the client's values are kept, ours appended.
    let h = ask(open).await;
    assert_eq!(h["x-forwarded-for"], "1.2.3.4, 127.0.0.1");
    assert_eq!(h["x-forwarded-proto"], "https");
    assert_eq!(h["host"], "site.example:8000");
    assert_eq!(h["x-forwarded-host"], "site.example:8000");
    assert_eq!(h["x-forwarded-port"], "8000");
    assert_eq!(h["x-real-ip"], "127.0.0.1");
    assert!(
        h["x-forwarded-server"]
            .as_str()
            .is_some_and(|s| !s.is_empty())
    );
    assert!(
        h.get("x-hop").is_none(),
        "hop-by-hop header named in Connection leaked: {h}"
    );
    // 127.0.0.1 is not in trustedIPs: the client's X-Forwarded-* are replaced.
    let h = ask(closed).await;
    assert_eq!(h["x-forwarded-for"], "127.0.0.1");
    assert_eq!(h["x-forwarded-proto"], "http");
}

#[test]
fn check_reports_every_problem_with_its_location() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("trafik.toml"),
        r#"[entryPoints.http]
address = ":8080"
[file]
[backends.b.servers.s]
url = "http://127.0.0.1:9"
[frontends.unknown]
backend = "nope"
[frontends.unknown.routes.r]
rule = "Path:/a"
[frontends.badrule]
backend = "b"
[frontends.badrule.routes.r]
rule = "Hots:example.com"
"#,
    )
    .unwrap();
    let (status, _, stderr) = run_trafik(&["check"], dir.path());
    assert!(!status.success());
    assert!(
        stderr.contains("trafik.toml:7:"),
        "unknown backend not located:\n{stderr}"
    );
    assert!(stderr.contains("nope"), "{stderr}");
    assert!(
        stderr.contains("trafik.toml:13:"),
        "bad rule not located:\n{stderr}"
    );
    assert!(stderr.contains("Hots"), "{stderr}");
}

#[test]
fn syntax_errors_and_conflicting_entry_points_stop_the_start() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("trafik.toml"),
        "logLevel = \"INFO\"\n[entryPoints.http\naddress = \":80\"\n",
    )
    .unwrap();
    let (status, _, stderr) = run_trafik(&["-c", "trafik.toml"], dir.path());
    assert!(!status.success());
    assert!(stderr.contains("trafik.toml:2:"), "{stderr}");

    std::fs::write(
        dir.path().join("trafik.toml"),
        "[entryPoints.a]\naddress = \":18080\"\n[entryPoints.b]\naddress = \"127.0.0.1:18080\"\n",
    )
    .unwrap();
    let (status, _, stderr) = run_trafik(&["check"], dir.path());
    assert!(!status.success());
    assert!(
        stderr.contains("trafik.toml:") && stderr.contains('a') && stderr.contains('b'),
        "{stderr}"
    );

    // A JSON file is not TOML.
    std::fs::write(dir.path().join("trafik.toml"), "{\"entryPoints\": {}}\n").unwrap();
    let (status, _, stderr) = run_trafik(&["check"], dir.path());
    assert!(!status.success());
    assert!(stderr.contains("trafik.toml:1:"), "{stderr}");
}

#[test]
fn port_in_use_is_a_clear_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("trafik.toml"),
        format!("[entryPoints.web]\naddress = \"127.0.0.1:{port}\"\n"),
    )
    .unwrap();
    let (status, _, stderr) = run_trafik(&["-c", "trafik.toml"], dir.path());
    assert!(!status.success());
    assert!(
        stderr.contains("entry point \"web\"") && stderr.contains(&port.to_string()),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_backend_that_resets_gives_502_and_unknown_keys_only_warn() {
    // A backend that accepts and immediately closes: the request is sent, no answer comes.
    let rude = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let rude_addr = rude.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((s, _)) = rude.accept().await {
            drop(s);
        }
    });
    let port = free_port();
    let trafik = Trafik::start(&format!(
        "logLevel = \"WARN\"\nnotAnOption = 1\n[entryPoints.http]\naddress = \"127.0.0.1:{port}\"\n[file]\n\
         [backends.rude.servers.s]\nurl = \"http://{rude_addr}\"\n[frontends.f]\nbackend = \"rude\"\n[frontends.f.routes.r]\nrule = \"PathPrefix:/\"\n"
    ));
    trafik
        .wait_for(&format!("http://127.0.0.1:{port}/"), 502)
        .await;
    let logs = trafik.logs();
    assert!(
        logs.contains("trafik.toml:2:1") && logs.contains("notAnOption"),
        "{logs}"
    );
}
