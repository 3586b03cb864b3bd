//! What the backend answered (v1's `Origin*` fields), told apart from what the client got
//! (`Downstream*`): an error page keeps the backend's status but replaces its body, and
//! compression changes the bytes sent. Most responses go to the client as the backend sent
//! them; only those two cases pay for knowing the difference.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use http::{Response, header};

use super::Record;
use crate::proxy::ResponseBody;
use crate::proxy::body::BodyObserver;

/// How `OriginContentSize` is known.
#[derive(Debug, Clone, Default)]
pub enum OriginSize {
    /// The backend's body went to the client as it came: the bytes sent.
    #[default]
    AsSent,
    /// Compressed on the way: the bytes read from the backend, counted below the
    /// compressor.
    Counted(Arc<AtomicU64>),
    /// Replaced by an error page, so never read: the backend's `Content-Length` (0 without).
    Declared(u64),
}

impl OriginSize {
    /// The backend's body size, given `sent`, the bytes the client got.
    pub fn bytes(&self, sent: u64) -> u64 {
        match self {
            OriginSize::AsSent => sent,
            OriginSize::Counted(n) => n.load(Ordering::Relaxed),
            OriginSize::Declared(n) => *n,
        }
    }
}

/// Marks a backend's response in its extensions, to see whether an error page replaced it.
#[derive(Debug, Clone, Copy)]
struct FromOrigin;

/// Records the backend's answer: its status, and its headers when lines show them.
pub fn answered(record: &mut Record, response: &Response<ResponseBody>) {
    record.origin_status = Some(response.status().as_u16());
    if let Some(h) = record.headers.as_mut() {
        h.origin = Some(response.headers().clone());
    }
}

/// Before error pages run on `response`: marks it when it is the backend's, and returns
/// its declared length, for [`after_error_pages`].
pub fn before_error_pages(record: &Record, response: &mut Response<ResponseBody>) -> Option<u64> {
    record.origin_status?;
    response.extensions_mut().insert(FromOrigin);
    Some(content_length(response))
}

/// After error pages: when the backend's response was swapped for a page, its size is the
/// length it declared.
pub fn after_error_pages(
    record: &mut Record,
    declared: Option<u64>,
    response: &Response<ResponseBody>,
) {
    if let Some(n) = declared
        && response.extensions().get::<FromOrigin>().is_none()
    {
        record.origin_size = OriginSize::Declared(n);
    }
}

fn content_length(response: &Response<ResponseBody>) -> u64 {
    response
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse().ok())
        .unwrap_or(0)
}

/// Counts the bytes read from the backend's body (below the compressor).
struct Count(Arc<AtomicU64>);

impl BodyObserver for Count {
    fn on_data(&mut self, len: usize) {
        self.0.fetch_add(len as u64, Ordering::Relaxed);
    }

    fn on_end(&mut self, _complete: bool) {}
}

/// Around compression: `compress` may replace the body, so the backend's bytes are counted
/// below it. A response it leaves alone is passed on as is (the counter, replaced by the
/// access log's own observer, is then forgotten and the bytes sent are the backend's).
pub fn through_compression(
    record: Option<&mut Record>,
    response: Response<ResponseBody>,
    compress: impl FnOnce(Response<ResponseBody>) -> Response<ResponseBody>,
) -> Response<ResponseBody> {
    // Only the backend's own body (not an error page's, whose size is already known).
    let Some(record) =
        record.filter(|r| r.origin_status.is_some() && matches!(r.origin_size, OriginSize::AsSent))
    else {
        return compress(response);
    };
    let encoded = response.headers().contains_key(header::CONTENT_ENCODING);
    let counter = Arc::new(AtomicU64::new(0));
    let response = response.map(|body| body.observe(Box::new(Count(counter.clone()))));
    let response = compress(response);
    if !encoded && response.headers().contains_key(header::CONTENT_ENCODING) {
        record.origin_size = OriginSize::Counted(counter);
    }
    response
}
