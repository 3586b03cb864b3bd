//! HTTP/2 floods against the real trafik binary over h2c (prior knowledge): rapid reset
//! (CVE-2023-44487) and its provoked variant (CVE-2025-8671), CONTINUATION flood
//! (CVE-2024-27316 and its family), SETTINGS and PING floods (CVE-2019-9515, -9512), and a
//! header block past the header list limit.
//!
//! What this file proves, each flood bounded in what it sends and run against its own
//! trafik (so the process's peak memory, `VmHWM`, is the flood's):
//!
//! * rapid reset: of 20,000 streams opened and reset at once, trafik ends the connection
//!   (GOAWAY and/or EOF) and the backend receives only a small bounded number of them
//!   (fewer than 1,000; none in practice: hyper/h2's pending-reset limit answers
//!   ENHANCE_YOUR_CALM);
//! * provoked resets (MadeYouReset, CVE-2025-8671): 20,000 streams that trafik itself must
//!   reset end the connection too (h2's limit on locally reset streams);
//! * CONTINUATION flood: a header block that never ends is cut off — trafik closes the
//!   connection long before 64 MiB of CONTINUATION frames are sent — and nothing reaches
//!   the backend;
//! * SETTINGS and PING floods from a client that never reads the acknowledgements: trafik
//!   stops reading (back-pressure) or closes, it does not queue answers without bound;
//! * a header block of 256 KiB (far past the 16 KiB header list limit) is refused
//!   (RST_STREAM, 431 or GOAWAY) and never reaches the backend;
//! * after each, trafik's peak resident memory (`VmHWM`) stays under 150 MiB and within
//!   64 MiB of what it used once serving (about 40 MiB), and it still serves a normal
//!   HTTP/1.1 and a normal HTTP/2 request on new connections.

use crate::common;
use crate::raw_backend;
use crate::raw_h2;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::*;
use raw_backend::RawBackend;
use raw_h2::*;
use tokio::io::AsyncWriteExt;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::task::JoinHandle;

/// Generous: trafik serves at about 40 MiB (debug build, two workers); the floods must
/// not add anything near this.
const PEAK_RSS_LIMIT_KIB: u64 = 150 * 1024;
/// What a flood may add to the memory trafik had once serving.
const GROWTH_LIMIT_KIB: u64 = 64 * 1024;

/// How long one write may stay blocked before the flood counts as pushed back (trafik
/// stopped reading): an upper bound, never a speed assertion.
const BLOCKED: Duration = Duration::from_secs(3);

struct Served {
    /// trafik's resident memory once serving, before any flood.
    baseline_kib: u64,
    backend: RawBackend,
    trafik: Trafik,
    addr: SocketAddr,
}

async fn serve() -> Served {
    let backend = RawBackend::start().await;
    let (trafik, addr) = backend.behind_trafik().await;
    let (baseline_kib, _) = memory_kib(trafik.pid());
    println!("trafik serving: VmRSS {baseline_kib} KiB");
    Served {
        baseline_kib,
        backend,
        trafik,
        addr,
    }
}

impl Served {
    /// The backend's requests whose target starts with `prefix`.
    fn backend_count(&self, prefix: &str) -> usize {
        self.backend
            .requests()
            .iter()
            .filter(|r| r.target.starts_with(prefix))
            .count()
    }

    /// After a flood of `streams` reset streams under `prefix` (`written` of them sent
    /// before trafik stopped reading or closed): trafik ended the connection, fewer than
    /// one in twenty reached the backend, and trafik is healthy.
    async fn assert_resets_contained(
        &self,
        what: &str,
        prefix: &str,
        streams: usize,
        written: usize,
        how: How,
        ending: Ending,
    ) {
        let reached = self.backend_count(prefix);
        println!(
            "{what}: {how:?} after {written} streams written, {ending:?}, {reached} of {streams} \
             reached the backend"
        );
        assert!(
            ending.closed,
            "trafik did not end the connection: {ending:?}"
        );
        assert!(
            reached < streams / 20,
            "{reached} of {streams} reset streams reached the backend"
        );
        self.assert_healthy(what).await;
    }

    /// Peak memory bounded, and a fresh HTTP/1.1 and a fresh HTTP/2 request served.
    async fn assert_healthy(&self, what: &str) {
        let (rss, peak) = memory_kib(self.trafik.pid());
        println!("{what}: trafik VmRSS {rss} KiB, VmHWM {peak} KiB");
        assert!(
            peak < PEAK_RSS_LIMIT_KIB && peak < self.baseline_kib + GROWTH_LIMIT_KIB,
            "{what}: trafik's peak memory reached {peak} KiB (serving: {} KiB)",
            self.baseline_kib
        );
        let (status, _) =
            get_json(&format!("http://127.0.0.1:{}/after-h1/", self.addr.port())).await;
        assert_eq!(status, 200, "{what}: an HTTP/1.1 request after it");
        let mut h2 = H2::connect(self.addr).await;
        h2.send(&frame(
            HEADERS,
            END_HEADERS | END_STREAM,
            1,
            &request_block("GET", "/after-h2/", &[]),
        ))
        .await
        .unwrap();
        let seen = h2.collect(&[1], DEADLINE).await;
        assert_eq!(
            seen.streams[&1],
            StreamEnd::Response {
                status: 200,
                body: b"GET /after-h2/".to_vec()
            },
            "{what}: an HTTP/2 request after it"
        );
        assert!(
            self.backend.errors().is_empty(),
            "{:?}",
            self.backend.errors()
        );
    }
}

/// How the server ended a flooded connection.
#[derive(Debug, Default)]
struct Ending {
    /// Error code of trafik's GOAWAY, if it sent one.
    goaway: Option<u32>,
    /// trafik closed the connection (EOF or reset).
    closed: bool,
}

/// Reads (and drops) every frame until trafik closes the connection or `DEADLINE` passes.
fn watch(mut read: OwnedReadHalf) -> JoinHandle<Ending> {
    tokio::spawn(async move {
        let mut ending = Ending::default();
        let start = Instant::now();
        loop {
            let left = DEADLINE.saturating_sub(start.elapsed());
            match tokio::time::timeout(left, read_frame(&mut read)).await {
                Err(_) => return ending,
                Ok(Ok(None)) | Ok(Err(_)) => {
                    ending.closed = true;
                    return ending;
                }
                Ok(Ok(Some(f))) if f.kind == GOAWAY && f.payload.len() >= 8 => {
                    ending.goaway = Some(u32::from_be_bytes(f.payload[4..8].try_into().unwrap()));
                }
                Ok(Ok(Some(_))) => {}
            }
        }
    })
}

/// How a bounded flood went from the writer's side.
#[derive(Debug, PartialEq)]
enum How {
    /// trafik closed the connection.
    Closed,
    /// A write stayed blocked for [`BLOCKED`]: trafik stopped reading.
    PushedBack,
    /// Everything was written.
    All,
}

/// Writes `batches` batches made by `batch(i)`, stopping at the first error or block;
/// returns how it ended and how many batches were written whole.
async fn flood(
    write: &mut OwnedWriteHalf,
    batches: usize,
    mut batch: impl FnMut(usize) -> Vec<u8>,
) -> (How, usize) {
    for i in 0..batches {
        let bytes = batch(i);
        match tokio::time::timeout(BLOCKED, write.write_all(&bytes)).await {
            Err(_) => return (How::PushedBack, i),
            Ok(Err(_)) => return (How::Closed, i),
            Ok(Ok(())) => {}
        }
    }
    (How::All, batches)
}

#[tokio::test(flavor = "multi_thread")]
async fn rapid_reset_is_cut_off_and_reaches_the_backend_a_bounded_number_of_times() {
    const STREAMS: usize = 20_000;
    const PER_BATCH: usize = 200;
    let s = serve().await;
    let h2 = H2::connect(s.addr).await;
    let (read, mut write) = h2.stream.into_split();
    let watcher = watch(read);
    let (how, batches) = flood(&mut write, STREAMS / PER_BATCH, |b| {
        let mut bytes = Vec::new();
        for i in 0..PER_BATCH {
            let n = b * PER_BATCH + i;
            let stream = 2 * n as u32 + 1;
            let path = format!("/flood/{n}");
            bytes.extend(frame(
                HEADERS,
                END_HEADERS | END_STREAM,
                stream,
                &request_block("GET", &path, &[]),
            ));
            bytes.extend(rst_stream(stream, CANCEL));
        }
        bytes
    })
    .await;
    let ending = watcher.await.unwrap();
    drop(write);
    s.assert_resets_contained(
        "rapid reset",
        "/flood/",
        STREAMS,
        batches * PER_BATCH,
        how,
        ending,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn continuation_flood_is_cut_off() {
    const FRAME: usize = 16 * 1024;
    const TOTAL: usize = 64 * 1024 * 1024;
    const FRAMES_PER_BATCH: usize = 16;
    let s = serve().await;
    let h2 = H2::connect(s.addr).await;
    let (read, mut write) = h2.stream.into_split();
    let watcher = watch(read);
    // One CONTINUATION payload: literal fields of ~1 KiB each, up to the frame size.
    let mut junk = Vec::new();
    let value = "a".repeat(1000);
    while junk.len() + 1020 < FRAME {
        literal(&mut junk, b"x-flood", value.as_bytes());
    }
    let start = frame(
        HEADERS,
        END_STREAM,
        1,
        &request_block("GET", "/cont/first", &[]),
    );
    let (how, batches) = flood(&mut write, TOTAL / (FRAME * FRAMES_PER_BATCH), |b| {
        let mut bytes = if b == 0 { start.clone() } else { Vec::new() };
        for _ in 0..FRAMES_PER_BATCH {
            bytes.extend(frame(CONTINUATION, 0, 1, &junk));
        }
        bytes
    })
    .await;
    let ending = watcher.await.unwrap();
    drop(write);
    println!(
        "CONTINUATION flood: {how:?} after {} KiB written, {ending:?}",
        batches * FRAMES_PER_BATCH * FRAME / 1024
    );
    assert!(
        how != How::All,
        "trafik read 64 MiB of CONTINUATION frames without closing: {ending:?}"
    );
    assert!(
        ending.closed,
        "trafik did not close the connection: {ending:?}"
    );
    assert_eq!(
        s.backend_count("/cont/"),
        0,
        "the flooded request reached the backend"
    );
    s.assert_healthy("CONTINUATION flood").await;
}

/// A flood of `frame_bytes` repeated, from a client that never reads: trafik must push
/// back (stop reading) or close, and stay within memory.
async fn unread_control_flood(what: &str, frame_bytes: Vec<u8>) {
    const FRAMES: usize = 1_000_000;
    const PER_BATCH: usize = 1000;
    let s = serve().await;
    let h2 = H2::connect(s.addr).await;
    let batch = frame_bytes.repeat(PER_BATCH);
    let (read, mut write) = h2.stream.into_split();
    let (how, batches) = flood(&mut write, FRAMES / PER_BATCH, |_| batch.clone()).await;
    // Now read what trafik answered: it must not have queued an answer per frame.
    let watcher = watch(read);
    drop(write);
    let ending = watcher.await.unwrap();
    println!(
        "{what} flood: {how:?} after {} frames written, then {ending:?}",
        batches * PER_BATCH
    );
    s.assert_healthy(what).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn settings_flood_is_pushed_back_within_memory() {
    unread_control_flood(
        "SETTINGS",
        settings(&[(SETTINGS_HEADER_TABLE_SIZE, 0), (SETTINGS_ENABLE_PUSH, 0)]),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn ping_flood_is_pushed_back_within_memory() {
    unread_control_flood("PING", ping(*b"floodppp")).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_header_block_past_the_limit_is_refused() {
    const SIZE: usize = 256 * 1024;
    const FRAME: usize = 16 * 1024;
    let s = serve().await;
    // The same framing under the limit (12 KiB in 4 KiB frames) is served: what is refused
    // below is the size, not the framing.
    let mut h2 = H2::connect(s.addr).await;
    h2.send(&split_block("/big-ok/first", 12 * 1024, 4 * 1024))
        .await
        .unwrap();
    let seen = h2.collect(&[1], DEADLINE).await;
    assert_eq!(
        seen.streams[&1],
        StreamEnd::Response {
            status: 200,
            body: b"GET /big-ok/first".to_vec()
        }
    );
    let mut h2 = H2::connect(s.addr).await;
    let _ = h2.send(&split_block("/huge/first", SIZE, FRAME)).await;
    let seen = h2.collect(&[1], DEADLINE).await;
    println!("256 KiB header block: {seen:?}");
    match &seen.streams[&1] {
        StreamEnd::Reset(_) | StreamEnd::Unanswered => {}
        StreamEnd::Response { status, .. } => {
            assert!((400..500).contains(status), "answered {status}")
        }
        StreamEnd::Hung => panic!("no answer to a 256 KiB header block"),
    }
    assert_eq!(
        s.backend_count("/huge/"),
        0,
        "the huge request reached the backend"
    );
    s.assert_healthy("256 KiB header block").await;
}

/// A GET of `path` on stream 1 whose header block, padded with ~1 KiB fields to `size`
/// bytes, is split into a HEADERS and CONTINUATION frames of `frame_size`.
fn split_block(path: &str, size: usize, frame_size: usize) -> Vec<u8> {
    let mut fields = request_block("GET", path, &[]);
    let value = "b".repeat(1000);
    while fields.len() + 1010 < size {
        literal(&mut fields, b"x-big", value.as_bytes());
    }
    let mut bytes = Vec::new();
    let chunks: Vec<&[u8]> = fields.chunks(frame_size).collect();
    for (i, chunk) in chunks.iter().enumerate() {
        let (kind, mut flags) = if i == 0 {
            (HEADERS, END_STREAM)
        } else {
            (CONTINUATION, 0)
        };
        if i + 1 == chunks.len() {
            flags |= END_HEADERS;
        }
        bytes.extend(frame(kind, flags, 1, chunk));
    }
    bytes
}

/// The MadeYouReset variant (CVE-2025-8671): the client never sends RST_STREAM but makes
/// trafik reset each stream itself, here with a request carrying a connection-specific
/// header (malformed, RFC 9113 §8.2.2: a stream error), so a limit on the client's resets
/// alone would not bite. (The other classic triggers, a WINDOW_UPDATE of 0 or DATA after
/// END_STREAM, already end the whole connection at the first one.)
#[tokio::test(flavor = "multi_thread")]
async fn provoked_resets_are_cut_off_too() {
    const STREAMS: usize = 20_000;
    const PER_BATCH: usize = 200;
    let s = serve().await;
    let h2 = H2::connect(s.addr).await;
    let (read, mut write) = h2.stream.into_split();
    let watcher = watch(read);
    let (how, batches) = flood(&mut write, STREAMS / PER_BATCH, |b| {
        let mut bytes = Vec::new();
        for i in 0..PER_BATCH {
            let n = b * PER_BATCH + i;
            let stream = 2 * n as u32 + 1;
            let path = format!("/provoked/{n}");
            bytes.extend(frame(
                HEADERS,
                END_HEADERS | END_STREAM,
                stream,
                &request_block("GET", &path, &[("connection", "close")]),
            ));
        }
        bytes
    })
    .await;
    let ending = watcher.await.unwrap();
    drop(write);
    s.assert_resets_contained(
        "provoked resets",
        "/provoked/",
        STREAMS,
        batches * PER_BATCH,
        how,
        ending,
    )
    .await;
}
