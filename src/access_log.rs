//! `[accessLog]`: one line per proxied request, in v1's Common Log Format or JSON with
//! v1's field names. Lines are data, not tracing events: a dedicated thread formats and
//! writes them so the request path only sends a record down a bounded queue (`queue.rs`:
//! when the writer falls behind, records are dropped and counted, never waited for).
//! Fields a client chooses are escaped in CLF lines (`escape.rs`); JSON escapes its own.

mod escape;
mod queue;

pub use queue::{MAX_BYTES, MAX_RECORDS, WARN_EVERY, dropped_total};

use std::fs::OpenOptions;
use std::io::{self, BufWriter, Write};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::RecvTimeoutError;
use std::time::{Duration, SystemTime};

use http::HeaderValue;
use serde_json::json;
use time::OffsetDateTime;
use time::macros::format_description;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Common,
    Json,
}

/// Everything a line needs, gathered while the request is served.
#[derive(Debug, Clone)]
pub struct Record {
    pub start: SystemTime,
    pub client: SocketAddr,
    pub username: Option<String>,
    pub method: String,
    pub path: String,
    pub proto: &'static str,
    pub host: String,
    /// Kept as the client sent them (any bytes hyper accepts), escaped when written.
    pub referer: Option<HeaderValue>,
    pub user_agent: Option<HeaderValue>,
    pub frontend: Option<String>,
    pub backend: Option<String>,
    pub backend_url: Option<String>,
    pub status: u16,
    pub content_size: u64,
    pub request_content_size: u64,
    pub duration: Duration,
    pub origin_duration: Option<Duration>,
    pub request_count: u64,
    pub retry_attempts: u32,
}

impl Record {
    /// Roughly the memory a queued record holds, for the queue's byte bound.
    fn weight(&self) -> usize {
        let opt = |s: &Option<String>| s.as_ref().map_or(0, String::len);
        let header = |h: &Option<HeaderValue>| h.as_ref().map_or(0, HeaderValue::len);
        std::mem::size_of::<Record>()
            + self.method.len()
            + self.path.len()
            + self.host.len()
            + opt(&self.username)
            + opt(&self.frontend)
            + opt(&self.backend)
            + opt(&self.backend_url)
            + header(&self.referer)
            + header(&self.user_agent)
    }
}

/// The sending half; cheap to clone into every entry point.
#[derive(Clone)]
pub struct AccessLog {
    tx: queue::Sender,
}

static REQUEST_COUNT: AtomicU64 = AtomicU64::new(0);

impl AccessLog {
    /// Opens the file (or stdout for an empty path) and starts the writer thread.
    pub fn start(file_path: &str, format: Format) -> io::Result<AccessLog> {
        let out: Box<dyn Write + Send> = if file_path.is_empty() {
            Box::new(io::stdout())
        } else {
            Box::new(
                OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(file_path)?,
            )
        };
        let (tx, rx) = queue::bounded(MAX_RECORDS, MAX_BYTES);
        std::thread::Builder::new()
            .name("access-log".into())
            .spawn(move || write_loop(rx, out, format))?;
        Ok(AccessLog { tx })
    }

    /// v1's `RequestCount`: a process-wide sequence number.
    pub fn next_request_count() -> u64 {
        REQUEST_COUNT.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// Queues the line; drops it (counted, see `queue.rs`) when the writer is too far
    /// behind. Never blocks.
    pub fn log(&self, record: Record) {
        self.tx.send(record);
    }
}

fn write_loop(rx: queue::Receiver, out: Box<dyn Write + Send>, format: Format) {
    let mut out = BufWriter::new(out);
    loop {
        match rx.recv_timeout(WARN_EVERY) {
            Ok(record) => {
                let _ = writeln!(out, "{}", render(&record, format));
                // Flush once the queue is drained: bursts share one write, a lone line is
                // not held back.
                while let Some(record) = rx.try_recv() {
                    let _ = writeln!(out, "{}", render(&record, format));
                }
                let _ = out.flush();
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return,
        }
        // Records dropped while this thread was writing are reported even if no request
        // comes after them.
        queue::warn_if_due();
    }
}

pub fn render(r: &Record, format: Format) -> String {
    match format {
        Format::Common => render_common(r),
        Format::Json => render_json(r),
    }
}

/// `"value"` escaped, or `"-"` when absent or empty.
struct Quoted<'a>(Option<&'a [u8]>);

impl std::fmt::Display for Quoted<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Some(s) if !s.is_empty() => write!(f, "\"{}\"", escape::Escaped(s)),
            _ => f.write_str("\"-\""),
        }
    }
}

fn quoted(v: &Option<String>) -> Quoted<'_> {
    Quoted(v.as_deref().map(str::as_bytes))
}

fn quoted_header(v: &Option<HeaderValue>) -> Quoted<'_> {
    Quoted(v.as_ref().map(HeaderValue::as_bytes))
}

/// `<ClientHost> - <User> [<StartUTC>] "<Method> <Path> <Proto>" <Status> <Size> "<Referer>"
/// "<User-Agent>" <RequestCount> "<Frontend>" "<BackendURL>" <Duration>ms`, every field
/// a client can choose escaped (the frontend and backend URL come from the configuration,
/// and are escaped too, since a file provider's author is not always the log's reader).
fn render_common(r: &Record) -> String {
    use escape::Escaped;
    let ts = OffsetDateTime::from(r.start)
        .format(format_description!(
            "[day]/[month repr:short]/[year]:[hour]:[minute]:[second] +0000"
        ))
        .unwrap_or_default();
    format!(
        "{} - {} [{}] \"{} {} {}\" {} {} {} {} {} {} {} {}ms",
        r.client.ip(),
        Escaped(
            r.username
                .as_deref()
                .filter(|u| !u.is_empty())
                .unwrap_or("-")
                .as_bytes()
        ),
        ts,
        Escaped(r.method.as_bytes()),
        Escaped(r.path.as_bytes()),
        r.proto,
        r.status,
        r.content_size,
        quoted_header(&r.referer),
        quoted_header(&r.user_agent),
        r.request_count,
        quoted(&r.frontend),
        quoted(&r.backend_url),
        r.duration.as_millis()
    )
}

fn render_json(r: &Record) -> String {
    let start = OffsetDateTime::from(r.start);
    let rfc3339 = |t: OffsetDateTime| {
        t.format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default()
    };
    let (host, port) = split_host_port(&r.host);
    let status_text = http::StatusCode::from_u16(r.status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("");
    let origin_ns = r.origin_duration.map(|d| d.as_nanos() as u64).unwrap_or(0);
    let total_ns = r.duration.as_nanos() as u64;
    json!({
        "StartUTC": rfc3339(start),
        "StartLocal": rfc3339(start),
        "Duration": total_ns,
        "FrontendName": r.frontend.clone().unwrap_or_default(),
        "BackendName": r.backend.clone().unwrap_or_default(),
        "BackendURL": r.backend_url.clone().unwrap_or_default(),
        "BackendAddr": r.backend_url.as_deref().and_then(|u| u.split("://").nth(1)).unwrap_or_default(),
        "ClientAddr": r.client.to_string(),
        "ClientHost": r.client.ip().to_string(),
        "ClientPort": r.client.port().to_string(),
        "ClientUsername": r.username.clone().unwrap_or_else(|| "-".into()),
        "RequestAddr": r.host,
        "RequestHost": host,
        "RequestPort": port.unwrap_or("-"),
        "RequestMethod": r.method,
        "RequestPath": r.path,
        "RequestProtocol": r.proto,
        "RequestLine": format!("{} {} {}", r.method, r.path, r.proto),
        "RequestContentSize": r.request_content_size,
        "OriginDuration": origin_ns,
        "OriginContentSize": r.content_size,
        "OriginStatus": r.status,
        "OriginStatusLine": format!("{} {}", r.status, status_text),
        "DownstreamStatus": r.status,
        "DownstreamStatusLine": format!("{} {}", r.status, status_text),
        "DownstreamContentSize": r.content_size,
        "RequestCount": r.request_count,
        "RetryAttempts": r.retry_attempts,
        "Overhead": total_ns.saturating_sub(origin_ns),
        "level": "info",
        "msg": "",
        "time": rfc3339(OffsetDateTime::now_utc()),
    })
    .to_string()
}

fn split_host_port(host: &str) -> (&str, Option<&str>) {
    match crate::proxy::headers::host_port(host) {
        Some(port) => (&host[..host.len() - port.len() - 1], Some(port)),
        None => (host, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(super) fn record() -> Record {
        Record {
            start: SystemTime::UNIX_EPOCH + Duration::from_secs(1_444_235_544),
            client: "127.0.0.1:5555".parse().unwrap(),
            username: None,
            method: "GET".into(),
            path: "/echo?x=1".into(),
            proto: "HTTP/1.1",
            host: "localhost:8080".into(),
            referer: None,
            user_agent: Some(HeaderValue::from_static("curl/8")),
            frontend: Some("fe1".into()),
            backend: Some("httpecho".into()),
            backend_url: Some("http://127.0.0.1:8091".into()),
            status: 200,
            content_size: 12,
            request_content_size: 0,
            duration: Duration::from_millis(3),
            origin_duration: Some(Duration::from_millis(2)),
            request_count: 7,
            retry_attempts: 0,
        }
    }

    #[test]
    fn common_log_format_matches_v1() {
        assert_eq!(
            render(&record(), Format::Common),
            "127.0.0.1 - - [07/Oct/2015:16:32:24 +0000] \"GET /echo?x=1 HTTP/1.1\" 200 12 \"-\" \"curl/8\" 7 \"fe1\" \"http://127.0.0.1:8091\" 3ms"
        );
    }

    #[test]
    fn common_log_format_escapes_what_clients_choose() {
        let mut r = record();
        r.path = "/a\"b\\c".into();
        r.method = "GE\"T".into();
        r.user_agent = Some(HeaderValue::from_bytes(b"ua\" 200 0 \"\xff\t").unwrap());
        r.referer = Some(HeaderValue::from_static("http://r/\"x\""));
        let line = render(&r, Format::Common);
        assert_eq!(
            line,
            "127.0.0.1 - - [07/Oct/2015:16:32:24 +0000] \"GE\\\"T /a\\\"b\\\\c HTTP/1.1\" 200 12 \"http://r/\\\"x\\\"\" \"ua\\\" 200 0 \\\"\\xff\\x09\" 7 \"fe1\" \"http://127.0.0.1:8091\" 3ms"
        );
        // Still 14 fields, and the quotes left bare are exactly the format's own 10.
        let bare = line
            .char_indices()
            .filter(|&(i, c)| c == '"' && !line[..i].ends_with('\\'))
            .count();
        assert_eq!(bare, 10, "{line}");
    }

    #[test]
    fn json_uses_v1_field_names() {
        let v: serde_json::Value = serde_json::from_str(&render(&record(), Format::Json)).unwrap();
        assert_eq!(v["FrontendName"], "fe1");
        assert_eq!(v["OriginStatus"], 200);
        assert_eq!(v["RequestHost"], "localhost");
        assert_eq!(v["RequestPort"], "8080");
        assert_eq!(v["ClientHost"], "127.0.0.1");
        assert_eq!(v["Duration"], 3_000_000);
        assert_eq!(v["RetryAttempts"], 0);
    }
}
