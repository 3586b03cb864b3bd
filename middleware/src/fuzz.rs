//! The bodies of the fuzz targets in `fuzz/` (cargo-fuzz) for this crate's parsers, kept
//! here so that the same code runs in the normal test suite as proptests
//! (`tests/fuzz_mirror.rs`) and over the saved crash inputs (`fuzz/regressions/`).

use std::convert::Infallible;
use std::future::{Future, Ready, ready};
use std::pin::pin;
use std::sync::OnceLock;
use std::task::{Context, Poll, Waker};

use http::header::AUTHORIZATION;
use http::{HeaderValue, Request, Response};
use tower::{Layer, Service};

use crate::auth::{AuthConfig, AuthLayer, UsersConfig};

/// Basic (an apr1 and a `{SHA}` user) and digest authenticators, built once: hashing the
/// fixtures per input would be most of the work.
fn authenticators() -> &'static [AuthLayer; 2] {
    static LAYERS: OnceLock<[AuthLayer; 2]> = OnceLock::new();
    LAYERS.get_or_init(|| {
        let users = |lines: &[&str]| UsersConfig {
            users: lines.iter().map(|s| s.to_string()).collect(),
            ..UsersConfig::default()
        };
        let layer = |basic, digest| {
            AuthLayer::from_config(&AuthConfig {
                basic,
                digest,
                header_field: Some("x-webauth-user".into()),
                exempt_paths: vec!["/ping".into()],
            })
            .expect("fixture users load")
        };
        [
            layer(
                Some(users(&[
                    "alice:$apr1$abcdefgh$h9FWgUz3n9YxylKLlR5SQ/",
                    "bob:{SHA}5en6G6MezRroT3XKqkdPOmY/BfQ=",
                ])),
                None,
            ),
            layer(
                None,
                Some(users(&["dave:traefik:0562bf30b04366605d202558f51357a8"])),
            ),
        ]
    })
}

#[derive(Clone)]
struct Answer;

impl Service<Request<()>> for Answer {
    type Response = Response<String>;
    type Error = Infallible;
    type Future = Ready<Result<Response<String>, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: Request<()>) -> Self::Future {
        ready(Ok(Response::new(String::new())))
    }
}

/// An `Authorization` header value as a client may send it, through the basic and the
/// digest authenticators: parsed, decoded, checked; never granted (the input cannot know
/// a digest nonce, nor, but by chance, a password), never a panic.
pub fn authorization(data: &[u8]) {
    let Ok(value) = HeaderValue::from_bytes(data) else {
        return;
    };
    for layer in authenticators() {
        let mut req = Request::builder()
            .uri("/private?x=1")
            .body(())
            .expect("a fixed request");
        req.headers_mut().insert(AUTHORIZATION, value.clone());
        let mut service = layer.layer(Answer);
        let future = pin!(service.call(req));
        // No hash here is slow (bcrypt), so the answer is ready at once.
        let mut cx = Context::from_waker(Waker::noop());
        match future.poll(&mut cx) {
            Poll::Ready(Ok(response)) => assert!(
                response.status() == 401 || response.status() == 200,
                "status {} for {value:?}",
                response.status()
            ),
            Poll::Ready(Err(never)) => match never {},
            Poll::Pending => panic!("a fast check was not ready for {value:?}"),
        }
    }
}

/// A request path through the normaliser, with the `allowEncoded*` options taken from the
/// first byte: what passes starts with `/`, is normalised already (the second pass borrows
/// it unchanged), and what rules then match has no dot segment once decoded.
pub fn path(data: &[u8]) {
    use std::borrow::Cow;

    use crate::path::{EncodedCharacters, clean_decoded, decode, normalize};

    let Some((&bits, rest)) = data.split_first() else {
        return;
    };
    let allow = EncodedCharacters::from_bits(bits);
    let raw = format!("/{}", String::from_utf8_lossy(rest));
    let Ok(out) = normalize(&raw, &allow) else {
        return;
    };
    assert!(out.starts_with('/'), "{raw:?} → {out:?}");
    assert!(
        matches!(normalize(&out, &allow), Ok(Cow::Borrowed(again)) if again == out),
        "{raw:?} → {out:?} is not a fixed point"
    );
    let decoded = String::from_utf8_lossy(&decode(&out)).into_owned();
    let matched = clean_decoded(Cow::Owned(decoded));
    assert!(matched.starts_with('/'), "{raw:?} → {matched:?}");
    let dot = |s: &str| {
        let name = s.split(';').next().unwrap_or("");
        name == "." || name == ".."
    };
    assert!(
        !matched.split(['/', '\\']).skip(1).any(dot),
        "{raw:?} → {matched:?} keeps a dot segment"
    );
}
