//! A response body read from its backend connection as the client side polls it (on
//! hyper's server connection task: the same task that serves the client), then the
//! connection checked back into the pool at the body's clean end.
//!
//! What it hands out: each piece of data is split off the connection's read buffer
//! (`BytesMut::split_to`), an owned `Bytes` that keeps alive at most the one read buffer
//! it came from (16 KiB reads), never the connection or the buffer the connection reads
//! into next. A body that ended with its head (the usual small response) never gets
//! here: `conn.rs` copies it out.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};

use super::chunked::{Chunked, Decoded};
use super::conn::{BODY_READ, Conn, Sent, Unsent, finish, poll_send};
use super::head::Framing;
use crate::proxy::pool::HostPool;
use crate::proxy::request_body::BoxError;

pub struct H1Body {
    /// `None` once the body has ended (the connection went back or was closed), or
    /// failed.
    conn: Option<Conn>,
    decoder: Decoder,
    /// The connection may carry another request once this body has been read whole.
    reusable: bool,
    /// The rest of the request body, when the response came before it was sent: sent
    /// as this body is polled (a server may stream back what it reads).
    unsent: Option<Box<Unsent>>,
    pool: Arc<HostPool>,
}

enum Decoder {
    /// This many bytes left.
    Length(u64),
    Chunked(Chunked),
    /// Until the server closes.
    Close,
    /// Ended cleanly.
    Done,
    /// Broke off (its error was returned): never an end of stream.
    Failed,
}

impl H1Body {
    /// The body framed as `framing` (not `Empty`: `conn.rs` answers those itself).
    pub(super) fn new(
        conn: Conn,
        framing: Framing,
        reusable: bool,
        unsent: Option<Box<Unsent>>,
        pool: Arc<HostPool>,
    ) -> H1Body {
        let decoder = match framing {
            Framing::Length(n) => Decoder::Length(n),
            Framing::Chunked => Decoder::Chunked(Chunked::default()),
            Framing::Close | Framing::Empty => Decoder::Close,
        };
        H1Body {
            conn: Some(conn),
            decoder,
            reusable: reusable && !matches!(framing, Framing::Close) && unsent.is_none(),
            unsent,
            pool,
        }
    }

    /// Sends what it can of the request body's rest, if any; a write that fails ends the
    /// sending (the server stopped reading), not the response. A broken client body
    /// breaks the response: the server would wait for the rest forever.
    fn send_rest(&mut self, cx: &mut Context<'_>) -> Result<(), BoxError> {
        let (Some(unsent), Some(conn)) = (self.unsent.as_mut(), self.conn.as_mut()) else {
            return Ok(());
        };
        loop {
            if unsent.upload.write_failed.is_some() {
                self.unsent = None;
                return Ok(());
            }
            match poll_send(conn, &mut unsent.upload, &mut unsent.body, cx) {
                Ok(Sent::Progress) => {}
                Ok(Sent::Pending) => return Ok(()),
                Ok(Sent::Done) => {
                    self.unsent = None;
                    return Ok(());
                }
                Err(failure) => {
                    self.unsent = None;
                    return Err(failure.error.into());
                }
            }
        }
    }

    /// The body ended cleanly: its connection goes back to the pool if it may.
    fn end(&mut self) {
        self.decoder = Decoder::Done;
        if let Some(conn) = self.conn.take() {
            finish(conn, self.reusable, &self.pool);
        }
    }

    /// The body broke: its connection is closed.
    fn fail(&mut self, e: impl Into<BoxError>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        self.conn = None;
        self.decoder = Decoder::Failed;
        Poll::Ready(Some(Err(e.into())))
    }
}

impl Body for H1Body {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        if let Err(e) = this.send_rest(cx) {
            return this.fail(e);
        }
        loop {
            let Some(conn) = this.conn.as_mut() else {
                return Poll::Ready(None);
            };
            match &mut this.decoder {
                Decoder::Done | Decoder::Failed => return Poll::Ready(None),
                Decoder::Length(0) => {
                    this.end();
                    return Poll::Ready(None);
                }
                Decoder::Length(left) => {
                    if !conn.buf.is_empty() {
                        let n = (conn.buf.len() as u64).min(*left) as usize;
                        *left -= n as u64;
                        let data = conn.buf.split_to(n).freeze();
                        if *left == 0 {
                            // Back to the pool before the last piece is even written.
                            this.end();
                        }
                        return Poll::Ready(Some(Ok(Frame::data(data))));
                    }
                }
                Decoder::Chunked(chunked) => match chunked.decode(&mut conn.buf) {
                    Ok(Decoded::Data(data)) => return Poll::Ready(Some(Ok(Frame::data(data)))),
                    Ok(Decoded::Trailers(trailers)) => {
                        this.end();
                        return Poll::Ready(Some(Ok(Frame::trailers(trailers))));
                    }
                    Ok(Decoded::End) => {
                        this.end();
                        return Poll::Ready(None);
                    }
                    Ok(Decoded::NeedMore) => {}
                    Err(e) => return this.fail(e),
                },
                Decoder::Close => {
                    if !conn.buf.is_empty() {
                        let data = conn.buf.split().freeze();
                        return Poll::Ready(Some(Ok(Frame::data(data))));
                    }
                }
            }
            match ready!(conn.poll_fill(cx, BODY_READ)) {
                Ok(0) => {
                    if matches!(this.decoder, Decoder::Close) {
                        this.end();
                        return Poll::Ready(None);
                    }
                    return this.fail(std::io::Error::new(
                        std::io::ErrorKind::UnexpectedEof,
                        "backend closed the connection before the response body ended",
                    ));
                }
                Ok(_) => {}
                Err(e) => return this.fail(e),
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        matches!(self.decoder, Decoder::Done | Decoder::Length(0))
    }

    fn size_hint(&self) -> SizeHint {
        match self.decoder {
            Decoder::Length(n) => SizeHint::with_exact(n),
            Decoder::Done => SizeHint::with_exact(0),
            _ => SizeHint::default(),
        }
    }
}
