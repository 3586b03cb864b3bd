//! The client connection's transport: the bytes read ahead of it first (what followed a
//! PROXY header, given back to the TLS handshake; or what protocol sniffing read, given to
//! hyper), then the stream itself. As hyper's transport it also reports each read to the
//! connection's `Tracker` (an idle HTTP/1 connection's first byte starts a head deadline)
//! and holds the entry point's `maxConnections` permit, so an upgraded connection (which
//! takes this transport with it when hyper lets go) counts until the tunnel closes.
//! Every read checks one length; an empty read-ahead allocates nothing.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::OwnedSemaphorePermit;

use super::deadlines::Tracker;

pub struct ConnIo<S> {
    inner: S,
    /// Read already, not yet handed on.
    prefix: BytesMut,
    tracker: Option<Arc<Tracker>>,
    _permit: Option<OwnedSemaphorePermit>,
}

impl<S> ConnIo<S> {
    /// hyper's transport: `prefix` first, reads reported to `tracker`, `permit` held.
    pub fn new(
        inner: S,
        prefix: BytesMut,
        tracker: Arc<Tracker>,
        permit: Option<OwnedSemaphorePermit>,
    ) -> Self {
        ConnIo {
            inner,
            prefix,
            tracker: Some(tracker),
            _permit: permit,
        }
    }

    /// Just the bytes read ahead, then the stream (under a TLS handshake).
    pub fn replay(inner: S, read_ahead: BytesMut) -> Self {
        ConnIo {
            inner,
            prefix: read_ahead,
            tracker: None,
            _permit: None,
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for ConnIo<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if !this.prefix.is_empty() {
            let n = this.prefix.len().min(buf.remaining());
            buf.put_slice(&this.prefix[..n]);
            this.prefix.advance(n);
            return Poll::Ready(Ok(()));
        }
        let before = buf.filled().len();
        let read = Pin::new(&mut this.inner).poll_read(cx, buf);
        if buf.filled().len() > before
            && let Some(tracker) = &this.tracker
        {
            tracker.bytes_arrived();
        }
        read
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for ConnIo<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn read_ahead_bytes_come_first_then_the_stream() {
        let (mut client, server) = tokio::io::duplex(64);
        client.write_all(b" world").await.unwrap();
        drop(client);
        let mut r = ConnIo::replay(server, BytesMut::from(&b"hello"[..]));
        let mut out = String::new();
        r.read_to_string(&mut out).await.unwrap();
        assert_eq!(out, "hello world");
    }

    #[tokio::test]
    async fn a_small_buffer_takes_the_read_ahead_in_pieces() {
        let (client, server) = tokio::io::duplex(64);
        drop(client);
        let mut r = ConnIo::replay(server, BytesMut::from(&b"abcdef"[..]));
        let mut two = [0u8; 4];
        assert_eq!(r.read(&mut two).await.unwrap(), 4);
        assert_eq!(&two, b"abcd");
        assert_eq!(r.read(&mut two).await.unwrap(), 2);
        assert_eq!(&two[..2], b"ef");
        assert_eq!(r.read(&mut two).await.unwrap(), 0);
    }
}
