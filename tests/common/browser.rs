//! Headless Chromium driven over the W3C WebDriver protocol (Debian's `chromedriver`, spoken
//! to with reqwest), for tests that look at the dashboard as a user would: the harness
//! of `tests/dashboard.rs` and `tests/acme.rs`, in a file of its own so that both can use it
//! (`#[path = "common/browser.rs"] mod browser;`).
//!
//! Needs `apt-get install -y chromium chromium-driver` (`.ci/run` installs them).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::free_port;
use serde_json::{Value, json};

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";
/// Per wait: the dashboard polls every 2 s, and CI is a loaded 2-core machine.
pub const WAIT: Duration = Duration::from_secs(30);

// ------------------------------------------------------------------ WebDriver

/// A chromedriver process (in its own process group, so Chromium goes with it) and one
/// browser session; both are ended on drop, also when the test panics.
pub struct Browser {
    driver: Option<Child>,
    port: u16,
    session: String,
    http: reqwest::Client,
}

impl Browser {
    pub async fn start(log: &Path) -> Browser {
        for bin in [CHROMEDRIVER, CHROMIUM] {
            assert!(
                Path::new(bin).exists(),
                "{bin} is missing: the dashboard test needs headless Chromium and its driver; \
                 install them with `apt-get install -y chromium chromium-driver`"
            );
        }
        let port = free_port();
        let driver = {
            use std::os::unix::process::CommandExt;
            Command::new(CHROMEDRIVER)
                .arg(format!("--port={port}"))
                .arg(format!("--log-path={}", log.display()))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .process_group(0)
                .spawn()
                .expect("start chromedriver")
        };
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(90))
            .build()
            .unwrap();
        let mut browser = Browser {
            driver: Some(driver),
            port,
            session: String::new(),
            http,
        };
        let status = format!("{}/status", browser.base());
        let c = browser.http.clone();
        wait_until("chromedriver to be ready", || {
            let (c, status) = (c.clone(), status.clone());
            async move {
                let v: Value = c.get(&status).send().await.ok()?.json().await.ok()?;
                (v["value"]["ready"] == json!(true)).then_some(())
            }
        })
        .await;
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--window-size=1400,900",
                    // Loopback only: no background traffic, no name resolution at all.
                    "--disable-background-networking", "--disable-component-update",
                    "--no-first-run", "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
                ],
            },
        }}});
        let v = browser.call("POST", "/session", Some(caps)).await;
        browser.session = v["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no sessionId in {v}"))
            .to_string();
        browser
    }

    fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// One WebDriver command; returns its `value`, panics on a WebDriver error.
    pub async fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}{path}", self.base());
        let req = match method {
            "GET" => self.http.get(&url),
            "POST" => self.http.post(&url).json(&body.unwrap_or(json!({}))),
            "DELETE" => self.http.delete(&url),
            _ => unreachable!(),
        };
        let resp = req
            .send()
            .await
            .unwrap_or_else(|e| panic!("WebDriver {method} {path}: {e}"));
        let status = resp.status();
        let v: Value = resp.json().await.unwrap_or(Value::Null);
        assert!(
            status.is_success(),
            "WebDriver {method} {path} answered {status}: {v}"
        );
        v["value"].clone()
    }

    pub async fn session_call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let path = format!("/session/{}{path}", self.session);
        self.call(method, &path, body).await
    }

    pub async fn goto(&self, url: &str) {
        self.session_call("POST", "/url", Some(json!({ "url": url })))
            .await;
    }

    /// Runs `script` (a function body: use `return`) in the page.
    pub async fn js(&self, script: &str) -> Value {
        self.session_call(
            "POST",
            "/execute/sync",
            Some(json!({"script": script, "args": []})),
        )
        .await
    }

    /// Polls `script` until it returns something truthy (not null/false/""/0) and returns it.
    pub async fn until(&self, what: &str, script: &str) -> Value {
        let start = Instant::now();
        loop {
            let v = self.js(script).await;
            let truthy = match &v {
                Value::Null => false,
                Value::Bool(b) => *b,
                Value::String(s) => !s.is_empty(),
                Value::Number(n) => n.as_f64() != Some(0.0),
                _ => true,
            };
            if truthy {
                return v;
            }
            if start.elapsed() > WAIT {
                let page = self.js(PAGE_STATE).await;
                panic!("timed out waiting for {what} (last result: {v}); page: {page}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Writes a PNG screenshot of the viewport to `path`.
    pub async fn screenshot(&self, path: &Path) {
        let v = self.session_call("GET", "/screenshot", None).await;
        let png = base64_decode(v.as_str().expect("screenshot is a base64 string"));
        assert!(
            png.starts_with(b"\x89PNG\r\n\x1a\n"),
            "screenshot is no PNG"
        );
        let (w, h) = (
            u32::from_be_bytes(png[16..20].try_into().unwrap()),
            u32::from_be_bytes(png[20..24].try_into().unwrap()),
        );
        assert!(w >= 1000 && h >= 600, "screenshot is only {w}x{h}");
        std::fs::write(path, &png).unwrap();
        println!("screenshot: {} ({w}x{h})", path.display());
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // Blocking and by hand: this also runs while a failed test unwinds.
        if !self.session.is_empty() {
            delete_session(self.port, &self.session);
        }
        if let Some(mut c) = self.driver.take() {
            // The whole group: chromedriver and any Chromium it left behind.
            let _ = Command::new("kill")
                .args(["-KILL", "--", &format!("-{}", c.id())])
                .stderr(Stdio::null())
                .status();
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// `DELETE /session/{id}` over a plain socket (quits Chromium cleanly).
fn delete_session(port: u16, session: &str) {
    use std::io::{Read, Write};
    let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(20)));
    let req = format!(
        "DELETE /session/{session} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    if s.write_all(req.as_bytes()).is_err() {
        return;
    }
    // Until the whole answer is in (chromedriver may keep the connection open).
    let (mut got, mut buf) = (Vec::new(), [0u8; 4096]);
    while let Ok(n @ 1..) = s.read(&mut buf) {
        got.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&got);
        if let Some(end) = text.find("\r\n\r\n") {
            let length = text[..end]
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("content-length")
                        .then(|| v.trim().parse::<usize>().ok())?
                })
                .unwrap_or(0);
            if got.len() >= end + 4 + length {
                return;
            }
        }
    }
}

/// What the page looks like, for timeout messages.
const PAGE_STATE: &str = r#"return {
  url: location.href,
  connection: document.documentElement.dataset.connection,
  route: document.documentElement.dataset.route,
  error: document.getElementById('connection-error-detail')?.textContent,
  frontends: [...document.querySelectorAll('article[data-frontend]')].map(a => a.dataset.frontend),
  total: document.getElementById('total-count')?.dataset.value,
  points: document.getElementById('health-chart')?.dataset.points,
  text: document.querySelector('main')?.innerText?.slice(0, 2000),
};"#;

pub fn base64_decode(s: &str) -> Vec<u8> {
    let val = |c: u8| -> u32 {
        match c {
            b'A'..=b'Z' => (c - b'A') as u32,
            b'a'..=b'z' => (c - b'a' + 26) as u32,
            b'0'..=b'9' => (c - b'0' + 52) as u32,
            b'+' => 62,
            b'/' => 63,
            _ => panic!("not base64: {:?}", c as char),
        }
    };
    let bytes: Vec<u8> = s
        .bytes()
        .filter(|c| !c.is_ascii_whitespace() && *c != b'=')
        .collect();
    let mut out = Vec::with_capacity(bytes.len() * 3 / 4);
    for chunk in bytes.chunks(4) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, &c)| acc | (val(c) << (18 - 6 * i)));
        out.extend_from_slice(&n.to_be_bytes()[1..chunk.len()]);
    }
    out
}

pub async fn wait_until<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<()>>,
{
    let start = Instant::now();
    while check().await.is_none() {
        assert!(start.elapsed() < WAIT, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `<target dir>/test-artifacts` (`target/test-artifacts` in a default build).
pub fn artifacts_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .unwrap()
        .join("test-artifacts");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
