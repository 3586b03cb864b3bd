//! An HTTP/1.1 server that counts its connections: those it accepted and those that closed.
//! It answers every request with "ok", keep-alive, so a test sees from outside whether
//! trafik reused, pooled or closed its connections to a backend.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

pub struct Counting {
    pub url: String,
    pub accepted: Arc<AtomicUsize>,
    pub closed: Arc<AtomicUsize>,
}

/// How the server behaves beyond answering.
#[derive(Default)]
pub struct Behaviour {
    /// Each answer waits for a permit: the test decides when requests in flight are answered.
    pub gate: Option<Arc<Semaphore>>,
    /// A connection idle this long is closed (as nginx's `keepalive_timeout` or Go's
    /// `IdleTimeout` do); none: kept until the client closes it.
    pub keep_alive: Option<Duration>,
}

pub async fn counting(behaviour: Behaviour) -> Counting {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let accepted = Arc::new(AtomicUsize::new(0));
    let closed = Arc::new(AtomicUsize::new(0));
    let (a, c) = (accepted.clone(), closed.clone());
    let Behaviour { gate, keep_alive } = behaviour;
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            a.fetch_add(1, Ordering::SeqCst);
            let (c, gate) = (c.clone(), gate.clone());
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                'conn: loop {
                    let read = stream.read(&mut chunk);
                    let read = match keep_alive {
                        Some(limit) => match tokio::time::timeout(limit, read).await {
                            Ok(read) => read,
                            Err(_) => break,
                        },
                        None => read.await,
                    };
                    match read {
                        Ok(0) | Err(_) => break,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                    while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        buf.drain(..end + 4);
                        if let Some(gate) = &gate {
                            gate.acquire().await.unwrap().forget();
                        }
                        let answer = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
                        if stream.write_all(answer).await.is_err() {
                            break 'conn;
                        }
                    }
                }
                c.fetch_add(1, Ordering::SeqCst);
            });
        }
    });
    Counting {
        url,
        accepted,
        closed,
    }
}
