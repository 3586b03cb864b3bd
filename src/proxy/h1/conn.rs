//! One backend connection and one request/response exchange on it.
//!
//! A connection is a plain struct, the socket and a read buffer, owned by whoever uses
//! it: the request's task writes the request and reads the response head itself; the
//! response body (`body.rs`) reads on from the same socket when the client side polls
//! it, and checks the connection back into the pool at the body's clean end. No task,
//! channel or oneshot per connection or per request, unlike hyper's client, whose
//! per-connection state was the cost this replaces (ARCHITECTURE.md, "Backend
//! connections").

use std::future::poll_fn;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use bytes::{Buf, Bytes, BytesMut};
use http::Response;
use http_body::Body;
use tokio::io::AsyncWrite;
use tokio::net::TcpStream;

use super::body::H1Body;
use super::head::{self, Framing, Head, HeadError};
use super::write::{self, BodyFraming};
use crate::proxy::body::ResponseBody;
use crate::proxy::error::{ErrorKind, ProxyError};
use crate::proxy::pool::HostPool;
use crate::proxy::request_body::{BoxError, RequestBody};

/// What a read asks the buffer to have room for: a response head and a small body
/// usually arrive in one read of this.
const HEAD_READ: usize = 8 * 1024;
/// Room asked for each read of a body that did not come with its head.
pub(super) const BODY_READ: usize = 16 * 1024;

/// A backend connection: the socket, and what was read from it and not yet used. Idle
/// in the pool, the buffer is empty and holds no memory.
pub struct Conn {
    stream: TcpStream,
    pub(super) buf: BytesMut,
    /// Some byte arrived since the connection was last taken from the pool.
    read_any: bool,
}

impl Conn {
    pub fn new(stream: TcpStream) -> Conn {
        Conn {
            stream,
            buf: BytesMut::new(),
            read_any: false,
        }
    }

    /// Made ready to idle in the pool. A read buffer of the usual size is kept for the
    /// next request (a steady load takes the same connections again at once, and
    /// allocating 8 KiB per request costs ~1 % of a hello request's instructions); a
    /// larger one is freed now. The pool's sweeper frees the rest once a connection has
    /// idled a sweep period ([`Conn::shrink`]): after a burst, an idle connection holds
    /// its socket and nothing big, as nginx frees an idle keep-alive connection's buffers.
    pub fn idle(&mut self) {
        if self.buf.capacity() > HEAD_READ {
            self.buf = BytesMut::new();
        }
        self.read_any = false;
    }

    /// Frees the read buffer of a connection idle for a while: whether it held one.
    pub fn shrink(&mut self) -> bool {
        let held = self.buf.capacity() > 0;
        self.buf = BytesMut::new();
        held
    }

    /// The memory its read buffer holds (room to read into).
    #[cfg(test)]
    pub fn buffer_capacity(&self) -> usize {
        self.buf.capacity()
    }

    /// Whether an idle connection can carry a request: nothing arrived while it idled.
    /// A server's close (EOF), a reset, or bytes nobody asked for all mean it cannot.
    /// The reactor keeps the socket's readiness, so for a socket where nothing happened
    /// since its last `WouldBlock` this makes no system call; otherwise it is the one
    /// read that would have found nothing before the response anyway.
    pub fn still_open(&self) -> bool {
        let mut byte = [0u8; 1];
        matches!(self.stream.try_read(&mut byte), Err(e) if e.kind() == io::ErrorKind::WouldBlock)
    }

    /// Reads what the socket has into the buffer (room for `room` more bytes at least):
    /// the number of bytes read, 0 at EOF.
    pub(super) fn poll_fill(
        &mut self,
        cx: &mut Context<'_>,
        room: usize,
    ) -> Poll<io::Result<usize>> {
        if self.buf.capacity() - self.buf.len() < room / 4 {
            self.buf.reserve(room);
        }
        // Through `AsyncRead` rather than `try_read_buf`: tokio clears the socket's read
        // readiness after a short read, so the next read (or `still_open`) does not make
        // a system call only to learn there is nothing (measured: one `recvfrom` with
        // EAGAIN per request otherwise). A FIN stays seen: closed readiness is sticky.
        let n = ready!(tokio_util::io::poll_read_buf(
            Pin::new(&mut self.stream),
            cx,
            &mut self.buf
        ))?;
        self.read_any |= n > 0;
        Poll::Ready(Ok(n))
    }

    /// The final response head at the front of the buffer, skipping interim (1xx other
    /// than 101) responses as hyper's client does; `None`: read more.
    fn final_head(&mut self) -> Result<Option<Head>, HeadError> {
        loop {
            let Some(head) = head::parse(&self.buf)? else {
                return Ok(None);
            };
            if head.status.is_informational() && head.status != 101 {
                self.buf.advance(head.len);
                continue;
            }
            return Ok(Some(head));
        }
    }
}

/// Why an exchange failed, and whether it may be sent again on another connection.
pub struct Failure {
    pub error: ProxyError,
    /// Nothing of a response arrived: the server may have closed the connection as it was
    /// taken, before it read anything. (`pool.rs` sends again only requests without a
    /// body, so no body was consumed either.)
    pub nothing_received: bool,
}

impl Failure {
    fn reset(e: impl Into<BoxError>, conn: &Conn) -> Failure {
        Failure {
            error: ProxyError::with_source(ErrorKind::Reset, e),
            nothing_received: !conn.read_any,
        }
    }
}

/// The request's side of the exchange while its body is sent.
pub(super) struct Upload {
    /// Encoded and not yet written: the head, then body data.
    out: BytesMut,
    framing: BodyFraming,
    /// Body bytes taken so far (against a Content-Length).
    sent: u64,
    /// The body has ended and its end is encoded.
    body_done: bool,
    /// The body was polled once before the head was written, so that a first chunk
    /// already there goes in the same write.
    first_polled: bool,
    /// A write failed: only the response is awaited (a server that answered early and
    /// closed may have left it readable).
    pub(super) write_failed: Option<io::Error>,
}

/// Sends the request (`head`: its encoded head, written from this buffer; `body` framed
/// as `framing`) on `conn` and reads the response head; the response's body reads on
/// from `conn` later. `head_request`: the method is HEAD (the response has no body).
pub async fn exchange(
    mut conn: Conn,
    head: BytesMut,
    body: &mut RequestBody,
    framing: BodyFraming,
    head_request: bool,
    pool: &Arc<HostPool>,
) -> Result<Response<ResponseBody>, Failure> {
    let mut upload = Upload {
        out: head,
        framing,
        sent: 0,
        body_done: framing == BodyFraming::None,
        first_polled: false,
        write_failed: None,
    };
    let early = poll_fn(|cx| poll_upload(&mut conn, &mut upload, body, cx)).await?;
    let complete_upload =
        upload.body_done && upload.out.is_empty() && upload.write_failed.is_none();
    let (head, unsent) = match early {
        // The answer came first. Its body may depend on the rest of the upload (a server
        // that streams back what it reads): the response body sends the rest as it goes
        // (`Unsent`). The connection is not reused either way.
        Some(head) => {
            let unsent = (!complete_upload && upload.write_failed.is_none()).then(|| {
                Box::new(Unsent {
                    body: std::mem::take(body),
                    upload,
                })
            });
            (head, unsent)
        }
        None => (poll_fn(|cx| poll_head(&mut conn, cx)).await?, None),
    };
    respond(conn, head, head_request, complete_upload, unsent, pool)
}

/// The rest of a request body whose response came before it was sent whole.
pub(super) struct Unsent {
    pub(super) body: RequestBody,
    pub(super) upload: Upload,
}

/// What one step of sending the request did.
pub(super) enum Sent {
    /// Wrote or encoded something: call again.
    Progress,
    /// Waiting for the socket or the client's body (both wake the task).
    Pending,
    /// The request has gone whole.
    Done,
}

/// One step of sending: writes what is encoded, else takes the body's next frame.
/// A write error ends the sending (kept in `write_failed`), not the exchange: the
/// server may have answered and closed (a 413 to an upload).
pub(super) fn poll_send(
    conn: &mut Conn,
    up: &mut Upload,
    body: &mut RequestBody,
    cx: &mut Context<'_>,
) -> Result<Sent, Failure> {
    if !up.out.is_empty() {
        match Pin::new(&mut conn.stream).poll_write(cx, &up.out) {
            Poll::Ready(Ok(0)) => {
                up.out.clear();
                up.write_failed = Some(io::ErrorKind::WriteZero.into());
            }
            Poll::Ready(Ok(n)) => up.out.advance(n),
            Poll::Ready(Err(e)) => {
                up.out.clear();
                up.write_failed = Some(e);
            }
            Poll::Pending => return Ok(Sent::Pending),
        }
        return Ok(Sent::Progress);
    }
    if up.body_done {
        return Ok(Sent::Done);
    }
    match Pin::new(&mut *body).poll_frame(cx) {
        Poll::Ready(frame) => {
            take_frame(up, frame)?;
            Ok(Sent::Progress)
        }
        Poll::Pending => Ok(Sent::Pending),
    }
}

/// Writes the request and its body, reading meanwhile: `Some(head)` when a final
/// response came before the request was written whole (a 413 or 401 to an upload),
/// `None` once the request has gone.
fn poll_upload(
    conn: &mut Conn,
    up: &mut Upload,
    body: &mut RequestBody,
    cx: &mut Context<'_>,
) -> Poll<Result<Option<Head>, Failure>> {
    loop {
        // An answer may come at any time; it ends the upload.
        match conn.poll_fill(cx, HEAD_READ) {
            Poll::Ready(Ok(0)) => {
                let why = up.write_failed.take().unwrap_or_else(|| {
                    io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "backend closed the connection before responding",
                    )
                });
                return Poll::Ready(Err(Failure::reset(why, conn)));
            }
            Poll::Ready(Ok(_)) => match conn.final_head() {
                Ok(Some(head)) => return Poll::Ready(Ok(Some(head))),
                Ok(None) => continue,
                Err(e) => return Poll::Ready(Err(Failure::reset(e, conn))),
            },
            Poll::Ready(Err(e)) => return Poll::Ready(Err(Failure::reset(e, conn))),
            Poll::Pending => {}
        }
        if up.write_failed.is_some() {
            // Waiting for an answer that may still come (the read above is registered).
            return Poll::Pending;
        }
        if !up.first_polled && !up.body_done {
            up.first_polled = true;
            if let Poll::Ready(frame) = Pin::new(&mut *body).poll_frame(cx) {
                take_frame(up, frame)?;
            }
        }
        match poll_send(conn, up, body, cx)? {
            Sent::Progress => {}
            Sent::Pending => return Poll::Pending,
            Sent::Done => return Poll::Ready(Ok(None)),
        }
    }
}

/// One frame of the request body, encoded into `out`; the body's end, checked against
/// its Content-Length.
fn take_frame(
    up: &mut Upload,
    frame: Option<Result<http_body::Frame<Bytes>, BoxError>>,
) -> Result<(), Failure> {
    let fail = |error: ProxyError| Failure {
        error,
        nothing_received: false,
    };
    match frame {
        Some(Ok(frame)) => {
            // Trailers are not sent (see `write::encode_end`).
            if let Ok(data) = frame.into_data() {
                up.sent += data.len() as u64;
                if let BodyFraming::Length(length) = up.framing
                    && up.sent > length
                {
                    return Err(fail(ProxyError::with_source(
                        ErrorKind::Reset,
                        "request body longer than its Content-Length",
                    )));
                }
                write::encode_data(up.framing, &data, &mut up.out);
            }
            Ok(())
        }
        Some(Err(e)) => Err(fail(ProxyError::from_body(e))),
        None => {
            if let BodyFraming::Length(length) = up.framing
                && up.sent != length
            {
                return Err(fail(ProxyError::with_source(
                    ErrorKind::Reset,
                    "request body shorter than its Content-Length",
                )));
            }
            write::encode_end(up.framing, &mut up.out);
            up.body_done = true;
            Ok(())
        }
    }
}

/// Reads until the final response head is whole.
fn poll_head(conn: &mut Conn, cx: &mut Context<'_>) -> Poll<Result<Head, Failure>> {
    loop {
        match conn.final_head() {
            Ok(Some(head)) => return Poll::Ready(Ok(head)),
            Ok(None) => {}
            Err(e) => return Poll::Ready(Err(Failure::reset(e, conn))),
        }
        match ready!(conn.poll_fill(cx, HEAD_READ)) {
            Ok(0) => {
                let e = io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "backend closed the connection before the response head ended",
                );
                return Poll::Ready(Err(Failure::reset(e, conn)));
            }
            Ok(_) => {}
            Err(e) => return Poll::Ready(Err(Failure::reset(e, conn))),
        }
    }
}

/// The response from its head. A body already whole in the buffer is copied out and the
/// connection goes back to the pool at once: a small response then pins no buffer and
/// no connection (an h2 client with hundreds of streams keeps hundreds of responses
/// alive while they are written). A longer body streams from the connection (`body.rs`).
fn respond(
    mut conn: Conn,
    mut head: Head,
    head_request: bool,
    complete_upload: bool,
    unsent: Option<Box<Unsent>>,
    pool: &Arc<HostPool>,
) -> Result<Response<ResponseBody>, Failure> {
    let decision = head::decide(&mut head, head_request).map_err(|e| Failure::reset(e, &conn))?;
    conn.buf.advance(head.len);
    let reusable = decision.reusable && complete_upload;
    let body = match decision.framing {
        Framing::Empty => {
            finish(conn, reusable, pool);
            ResponseBody::empty()
        }
        Framing::Length(length) if length <= conn.buf.len() as u64 => {
            let data = Bytes::copy_from_slice(&conn.buf[..length as usize]);
            conn.buf.advance(length as usize);
            finish(conn, reusable, pool);
            ResponseBody::full(data)
        }
        // (A body that came whole, or none, ends the exchange: what the upload had left
        // is not sent, and the connection is closed.)
        framing => ResponseBody::h1(H1Body::new(conn, framing, reusable, unsent, pool.clone())),
    };
    let mut response = Response::new(body);
    *response.status_mut() = head.status;
    *response.version_mut() = head.version;
    *response.headers_mut() = head.headers;
    if let Some(reason) = head.reason
        && let Ok(reason) = hyper::ext::ReasonPhrase::try_from(reason)
    {
        response.extensions_mut().insert(reason);
    }
    Ok(response)
}

/// A connection whose response has been read whole: back to the pool when it may carry
/// another request and nothing arrived past the response (bytes a server sends unasked
/// mean it cannot be trusted to frame the next one), else closed.
pub(super) fn finish(mut conn: Conn, reusable: bool, pool: &Arc<HostPool>) {
    if reusable && conn.buf.is_empty() {
        conn.idle();
        pool.check_in(conn);
    }
}
