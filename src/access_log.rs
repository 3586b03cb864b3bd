//! `[accessLog]`: one line per proxied request, in v1's Common Log Format or JSON with
//! v1's field names. Lines are data, not tracing events: a dedicated thread formats and
//! writes them so the request path only sends a record down a bounded queue (`queue.rs`:
//! when the writer falls behind, records are dropped and counted, never waited for).
//! Fields a client chooses are escaped in CLF lines (`escape.rs`); JSON escapes its own.
//! `filters.rs` decides which requests get a line, `fields.rs` which fields and headers a
//! line carries, `reopen.rs` reopens the file on SIGUSR1, `origin.rs` tells what the
//! backend answered from what the client got.

mod escape;
pub mod fields;
pub mod filters;
pub mod origin;
mod queue;
pub mod reopen;

pub use queue::{MAX_BYTES, MAX_RECORDS, WARN_EVERY, dropped_total};

use std::io::{self, Write};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::RecvTimeoutError;
use std::time::{Duration, SystemTime};

use http::{HeaderMap, HeaderValue};
use serde_json::{Map, Value};
use time::OffsetDateTime;
use time::macros::format_description;
use trafik_config::model::access_log::FieldMode;

use fields::{Fields, REDACTED, canonical};
use filters::Filters;
pub use origin::OriginSize;

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
    /// What the client got (v1's `DownstreamStatus`); an error page keeps the status.
    pub status: u16,
    /// Bytes sent to the client (`DownstreamContentSize`), after compression.
    pub content_size: u64,
    /// What the backend answered (`OriginStatus`); `None` when no backend did (trafik's own
    /// 4xx/5xx, a client gone first).
    pub origin_status: Option<u16>,
    /// How `OriginContentSize` is known.
    pub origin_size: OriginSize,
    /// Headers for `request_`/`origin_`/`downstream_` fields; copied only when
    /// `[accessLog.fields.headers]` asks for them.
    pub headers: Option<Box<Headers>>,
    pub request_content_size: u64,
    pub duration: Duration,
    pub origin_duration: Option<Duration>,
    pub request_count: u64,
    pub retry_attempts: u32,
}

/// The headers a JSON line may show, as the request came, the backend answered, and the
/// client got the response.
#[derive(Debug, Clone, Default)]
pub struct Headers {
    pub request: HeaderMap,
    pub origin: Option<HeaderMap>,
    pub downstream: Option<HeaderMap>,
}

impl Headers {
    fn weight(&self) -> usize {
        let map = |m: &HeaderMap| {
            m.iter()
                .map(|(k, v)| k.as_str().len() + v.len() + 32)
                .sum::<usize>()
        };
        map(&self.request)
            + self.origin.as_ref().map_or(0, map)
            + self.downstream.as_ref().map_or(0, map)
    }
}

impl Record {
    /// `OriginContentSize`: 0 when no backend answered.
    pub fn origin_content_size(&self) -> u64 {
        if self.origin_status.is_none() {
            return 0;
        }
        self.origin_size.bytes(self.content_size)
    }

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
            + self.headers.as_ref().map_or(0, |h| h.weight())
    }
}

/// The sending half; cheap to clone into every entry point.
#[derive(Clone)]
pub struct AccessLog {
    tx: queue::Sender,
    /// `None`: every request gets a line.
    filters: Option<Arc<Filters>>,
    /// Records copy headers only when lines show them.
    logs_headers: bool,
    reopen: reopen::Request,
}

static REQUEST_COUNT: AtomicU64 = AtomicU64::new(0);

impl AccessLog {
    /// Opens the file (or stdout for an empty path) and starts the writer thread.
    pub fn start(
        file_path: &str,
        format: Format,
        filters: Option<Filters>,
        fields: Fields,
    ) -> io::Result<AccessLog> {
        let reopen = reopen::Request::default();
        let out = reopen::Output::open(file_path, reopen.clone())?;
        let (tx, rx) = queue::bounded(MAX_RECORDS, MAX_BYTES);
        let logs_headers = fields.logs_headers();
        std::thread::Builder::new()
            .name("access-log".into())
            .spawn(move || write_loop(rx, out, format, fields))?;
        Ok(AccessLog {
            tx,
            filters: filters.map(Arc::new),
            logs_headers,
            reopen,
        })
    }

    /// Whether records must carry headers (`[accessLog.fields.headers]`).
    pub fn logs_headers(&self) -> bool {
        self.logs_headers
    }

    /// SIGUSR1: the writer thread writes its next line to a file freshly opened at the
    /// configured path (it checks at least once a second).
    pub fn reopen(&self) {
        self.reopen.ask();
    }

    /// v1's `RequestCount`: a process-wide sequence number.
    pub fn next_request_count() -> u64 {
        REQUEST_COUNT.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// Queues the line; drops it (counted, see `queue.rs`) when the writer is too far
    /// behind. Never blocks.
    /// A request the filters leave out is dropped here, before it is queued or rendered.
    pub fn log(&self, record: Record) {
        if let Some(f) = &self.filters
            && !f.keep(record.status, record.retry_attempts, record.duration)
        {
            return;
        }
        self.tx.send(record);
    }
}

/// How often an idle writer wakes up to see whether a reopen was asked.
const IDLE_WAKE: Duration = Duration::from_secs(1);

fn write_loop(rx: queue::Receiver, mut out: reopen::Output, format: Format, fields: Fields) {
    loop {
        match rx.recv_timeout(IDLE_WAKE) {
            Ok(record) => {
                // Each line asks for the writer: a reopen takes effect between two lines,
                // even in a long burst.
                let line = render(&record, format, &fields);
                let _ = writeln!(out.writer(), "{line}");
                // Flush once the queue is drained: bursts share one write, a lone line is
                // not held back.
                while let Some(record) = rx.try_recv() {
                    let line = render(&record, format, &fields);
                    let _ = writeln!(out.writer(), "{line}");
                }
                let _ = out.writer().flush();
            }
            Err(RecvTimeoutError::Timeout) => {
                // A reopen asked while idle closes the old file now, not at the next line.
                let _ = out.writer().flush();
            }
            Err(RecvTimeoutError::Disconnected) => return,
        }
        // Records dropped while this thread was writing are reported even if no request
        // comes after them.
        queue::warn_if_due();
    }
}

pub fn render(r: &Record, format: Format, fields: &Fields) -> String {
    match format {
        Format::Common => render_common(r, fields),
        Format::Json => render_json(r, fields),
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

/// A field of the CLF line, or `-` when `[accessLog.fields]` drops it.
struct Field<T>(Option<T>);

impl<T: std::fmt::Display> std::fmt::Display for Field<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            Some(v) => v.fmt(f),
            None => f.write_str("-"),
        }
    }
}

/// A request header in the CLF line, by its mode: kept as sent, `"REDACTED"`, or `"-"`.
fn clf_header<'a>(value: &'a Option<HeaderValue>, name: &str, fields: &Fields) -> Quoted<'a> {
    match fields.header_mode(name) {
        FieldMode::Keep => Quoted(value.as_ref().map(HeaderValue::as_bytes)),
        FieldMode::Redact if value.is_some() => Quoted(Some(REDACTED.as_bytes())),
        _ => Quoted(None),
    }
}

/// `<ClientHost> - <User> [<StartUTC>] "<Method> <Path> <Proto>" <Status> <Size> "<Referer>"
/// "<User-Agent>" <RequestCount> "<Frontend>" "<BackendURL>" <Duration>ms`, every field
/// a client can choose escaped (the frontend and backend URL come from the configuration,
/// and are escaped too, since a file provider's author is not always the log's reader).
///
/// Status and size are v1.7's `OriginStatus` and `OriginContentSize` (the backend's answer,
/// before an error page or compression); when no backend answered, what trafik itself
/// sent (v1 printed `-`). A field `[accessLog.fields]` drops prints `-` (`"-"` where the
/// format quotes it), so the line keeps its shape.
fn render_common(r: &Record, fields: &Fields) -> String {
    use escape::Escaped;
    let keep = |name| fields.keeps(name);
    let ts = (keep("StartUTC") || keep("StartLocal")).then(|| {
        OffsetDateTime::from(r.start)
            .format(format_description!(
                "[day]/[month repr:short]/[year]:[hour]:[minute]:[second] +0000"
            ))
            .unwrap_or_default()
    });
    let (status, size) = match r.origin_status {
        Some(status) => (
            keep("OriginStatus").then_some(status),
            keep("OriginContentSize").then(|| r.origin_content_size()),
        ),
        None => (
            keep("DownstreamStatus").then_some(r.status),
            keep("DownstreamContentSize").then_some(r.content_size),
        ),
    };
    let user = r
        .username
        .as_deref()
        .filter(|u| !u.is_empty() && keep("ClientUsername"))
        .unwrap_or("-");
    let frontend = r.frontend.as_deref().filter(|_| keep("FrontendName"));
    let backend_url = r.backend_url.as_deref().filter(|_| keep("BackendURL"));
    format!(
        "{} - {} [{}] \"{} {} {}\" {} {} {} {} {} {} {} {}",
        Field(keep("ClientHost").then(|| r.client.ip())),
        Escaped(user.as_bytes()),
        Field(ts),
        Field(keep("RequestMethod").then_some(Escaped(r.method.as_bytes()))),
        Field(keep("RequestPath").then_some(Escaped(r.path.as_bytes()))),
        Field(keep("RequestProtocol").then_some(r.proto)),
        Field(status),
        Field(size),
        clf_header(&r.referer, "referer", fields),
        clf_header(&r.user_agent, "user-agent", fields),
        Field(keep("RequestCount").then_some(r.request_count)),
        Quoted(frontend.map(str::as_bytes)),
        Quoted(backend_url.map(str::as_bytes)),
        Field(keep("Duration").then(|| format!("{}ms", r.duration.as_millis()))),
    )
}

/// v1's JSON line: the fields `[accessLog.fields]` keeps (those about the backend only
/// when one answered, as v1), then the headers it asks for as `request_<Name>`,
/// `origin_<Name>` and `downstream_<Name>` (Go's spelling of the name, the first value).
fn render_json(r: &Record, fields: &Fields) -> String {
    let start = OffsetDateTime::from(r.start);
    let rfc3339 = |t: OffsetDateTime| {
        t.format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default()
    };
    let (host, port) = split_host_port(&r.host);
    let status_line = |status: u16| {
        let text = http::StatusCode::from_u16(status)
            .ok()
            .and_then(|s| s.canonical_reason())
            .unwrap_or("");
        format!("{status} {text}")
    };
    let origin_ns = r.origin_duration.map(|d| d.as_nanos() as u64).unwrap_or(0);
    let total_ns = r.duration.as_nanos() as u64;
    let mut line = Map::new();
    let mut put = |name: &'static str, value: Value| {
        if fields.keeps(name) {
            line.insert(name.to_owned(), value);
        }
    };
    put("StartUTC", rfc3339(start).into());
    put("StartLocal", rfc3339(start).into());
    put("Duration", total_ns.into());
    put(
        "FrontendName",
        r.frontend.clone().unwrap_or_default().into(),
    );
    put("BackendName", r.backend.clone().unwrap_or_default().into());
    put(
        "BackendURL",
        r.backend_url.clone().unwrap_or_default().into(),
    );
    put(
        "BackendAddr",
        r.backend_url
            .as_deref()
            .and_then(|u| u.split("://").nth(1))
            .unwrap_or_default()
            .into(),
    );
    put("ClientAddr", r.client.to_string().into());
    put("ClientHost", r.client.ip().to_string().into());
    put("ClientPort", r.client.port().to_string().into());
    put(
        "ClientUsername",
        r.username.clone().unwrap_or_else(|| "-".into()).into(),
    );
    put("RequestAddr", r.host.clone().into());
    put("RequestHost", host.into());
    put("RequestPort", port.unwrap_or("-").into());
    put("RequestMethod", r.method.clone().into());
    put("RequestPath", r.path.clone().into());
    put("RequestProtocol", r.proto.into());
    put(
        "RequestLine",
        format!("{} {} {}", r.method, r.path, r.proto).into(),
    );
    put("RequestContentSize", r.request_content_size.into());
    if let Some(origin) = r.origin_status {
        let origin_size = r.origin_content_size();
        put("OriginDuration", origin_ns.into());
        put("OriginContentSize", origin_size.into());
        put("OriginStatus", origin.into());
        put("OriginStatusLine", status_line(origin).into());
        if r.content_size != 0 && r.content_size != origin_size {
            put(
                "GzipRatio",
                (origin_size as f64 / r.content_size as f64).into(),
            );
        }
    }
    put("DownstreamStatus", r.status.into());
    put("DownstreamStatusLine", status_line(r.status).into());
    put("DownstreamContentSize", r.content_size.into());
    put("RequestCount", r.request_count.into());
    put("RetryAttempts", r.retry_attempts.into());
    put("Overhead", total_ns.saturating_sub(origin_ns).into());
    if let Some(h) = &r.headers {
        json_headers(&mut line, "request_", Some(&h.request), fields);
        json_headers(&mut line, "origin_", h.origin.as_ref(), fields);
        json_headers(&mut line, "downstream_", h.downstream.as_ref(), fields);
    }
    line.insert("level".into(), "info".into());
    line.insert("msg".into(), "".into());
    line.insert("time".into(), rfc3339(OffsetDateTime::now_utc()).into());
    Value::Object(line).to_string()
}

fn json_headers(
    line: &mut Map<String, Value>,
    prefix: &str,
    headers: Option<&HeaderMap>,
    fields: &Fields,
) {
    let Some(headers) = headers else { return };
    for name in headers.keys() {
        let value = match fields.header_mode(name.as_str()) {
            FieldMode::Drop => continue,
            FieldMode::Redact => REDACTED.into(),
            FieldMode::Keep => match headers.get(name) {
                Some(v) => String::from_utf8_lossy(v.as_bytes()).into_owned(),
                None => continue,
            },
        };
        line.insert(
            format!("{prefix}{}", canonical(name.as_str())),
            value.into(),
        );
    }
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
            origin_status: Some(200),
            origin_size: OriginSize::AsSent,
            headers: None,
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
            render(&record(), Format::Common, &Fields::all()),
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
        let line = render(&r, Format::Common, &Fields::all());
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
        let v: serde_json::Value =
            serde_json::from_str(&render(&record(), Format::Json, &Fields::all())).unwrap();
        assert_eq!(v["FrontendName"], "fe1");
        assert_eq!(v["OriginStatus"], 200);
        assert_eq!(v["RequestHost"], "localhost");
        assert_eq!(v["RequestPort"], "8080");
        assert_eq!(v["ClientHost"], "127.0.0.1");
        assert_eq!(v["Duration"], 3_000_000);
        assert_eq!(v["RetryAttempts"], 0);
    }

    fn fields(
        default: &str,
        names: &[(&str, &str)],
        headers: Option<(&str, &[(&str, &str)])>,
    ) -> Fields {
        let map = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        Fields::from_config(Some(&trafik_config::AccessLogFields {
            default_mode: default.into(),
            names: map(names),
            headers: headers.map(|(d, n)| trafik_config::FieldHeaders {
                default_mode: d.into(),
                names: map(n),
            }),
        }))
        .unwrap()
    }

    #[test]
    fn common_log_format_prints_a_dash_for_a_dropped_field_and_keeps_its_shape() {
        let mut r = record();
        r.username = Some("alice".into());
        let f = fields(
            "keep",
            &[
                ("ClientUsername", "drop"),
                ("OriginStatus", "drop"),
                ("FrontendName", "drop"),
                ("Duration", "drop"),
            ],
            Some(("keep", &[("User-Agent", "redact")])),
        );
        assert_eq!(
            render(&r, Format::Common, &f),
            "127.0.0.1 - - [07/Oct/2015:16:32:24 +0000] \"GET /echo?x=1 HTTP/1.1\" - 12 \"-\" \"REDACTED\" 7 \"-\" \"http://127.0.0.1:8091\" -"
        );
        let all_dropped = fields("drop", &[], Some(("drop", &[])));
        assert_eq!(
            render(&r, Format::Common, &all_dropped),
            "- - - [-] \"- - -\" - - \"-\" \"-\" - \"-\" \"-\" -"
        );
        r.username = Some("alice".into());
        assert!(render(&r, Format::Common, &Fields::all()).starts_with("127.0.0.1 - alice ["));
    }

    #[test]
    fn common_log_format_shows_the_origin_and_falls_back_to_what_trafik_sent() {
        let mut r = record();
        // An error page: the backend's 503 and its declared 40 bytes, 900 bytes of page sent.
        r.status = 503;
        r.origin_status = Some(503);
        r.origin_size = OriginSize::Declared(40);
        r.content_size = 900;
        let line = render(&r, Format::Common, &Fields::all());
        assert!(line.contains("\" 503 40 \""), "{line}");
        let v: serde_json::Value =
            serde_json::from_str(&render(&r, Format::Json, &Fields::all())).unwrap();
        assert_eq!(v["OriginContentSize"], 40);
        assert_eq!(v["DownstreamContentSize"], 900);
        // No backend answered: trafik's own 502.
        r.status = 502;
        r.origin_status = None;
        r.content_size = 11;
        let line = render(&r, Format::Common, &Fields::all());
        assert!(line.contains("\" 502 11 \""), "{line}");
        let v: serde_json::Value =
            serde_json::from_str(&render(&r, Format::Json, &Fields::all())).unwrap();
        assert_eq!(v["DownstreamStatus"], 502);
        assert!(v.get("OriginStatus").is_none(), "{v}");
        assert!(v.get("OriginContentSize").is_none(), "{v}");
    }

    #[test]
    fn json_keeps_drops_and_redacts() {
        let mut r = record();
        let mut request = HeaderMap::new();
        request.insert("authorization", HeaderValue::from_static("Basic c2VjcmV0"));
        request.insert("x-trace", HeaderValue::from_static("t1"));
        request.insert("cookie", HeaderValue::from_static("c=1"));
        let mut origin = HeaderMap::new();
        origin.insert("x-app", HeaderValue::from_static("a"));
        r.headers = Some(Box::new(Headers {
            request,
            origin: Some(origin.clone()),
            downstream: Some(origin),
        }));
        let f = fields(
            "drop",
            &[("RequestPath", "keep"), ("OriginStatus", "keep")],
            Some(("keep", &[("authorization", "redact"), ("Cookie", "drop")])),
        );
        let v: serde_json::Value = serde_json::from_str(&render(&r, Format::Json, &f)).unwrap();
        assert_eq!(v["RequestPath"], "/echo?x=1");
        assert_eq!(v["OriginStatus"], 200);
        assert!(
            v.get("StartUTC").is_none() && v.get("ClientHost").is_none(),
            "{v}"
        );
        assert_eq!(v["request_Authorization"], "REDACTED");
        assert_eq!(v["request_X-Trace"], "t1");
        assert!(v.get("request_Cookie").is_none(), "{v}");
        assert_eq!(v["origin_X-App"], "a");
        assert_eq!(v["downstream_X-App"], "a");
    }

    #[test]
    fn json_has_a_gzip_ratio_when_the_bytes_sent_differ() {
        let mut r = record();
        r.origin_size = OriginSize::Counted(Arc::new(AtomicU64::new(48)));
        r.content_size = 12;
        let v: serde_json::Value =
            serde_json::from_str(&render(&r, Format::Json, &Fields::all())).unwrap();
        assert_eq!(v["OriginContentSize"], 48);
        assert_eq!(v["GzipRatio"], 4.0);
        let v: serde_json::Value =
            serde_json::from_str(&render(&record(), Format::Json, &Fields::all())).unwrap();
        assert!(v.get("GzipRatio").is_none());
    }
}
