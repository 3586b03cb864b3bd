//! What an entry point does with each request: find the frontend (priority order,
//! through the rule index), rewrite the path as its rule says, pick a server, forward,
//! and answer with v1's statuses when something fails. The compiled runtime is read
//! once per request through an atomic pointer; nothing here takes a lock.

use std::borrow::Cow;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::pin;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use arc_swap::ArcSwap;
use http::header::{self, HeaderValue};
use http::{Request, Response, StatusCode, Version};
use hyper::body::Incoming;
use trafik_config::rule::{Match, RequestInfo};

use trafik_middleware::auth::AuthUser;
use trafik_middleware::path::{EncodedCharacters, Refused, clean_decoded, normalize_request};

use crate::access_log::{AccessLog, Record};
use crate::api::Internal;
use crate::metrics::{Sample, Telemetry};
use crate::proxy::body::BodyObserver;
use crate::proxy::headers::{
    Forwarded, ForwardedTrust, remove_connection_nominated, strip_untrusted_forwarded,
};
use crate::proxy::{Forwarder, RequestBody, ResponseBody};
use crate::rewrite;
use crate::runtime::Runtime;

/// Everything an entry point's requests share; built once at start.
pub struct EntryPointContext {
    /// Shared with every metrics sample of this entry point.
    pub name: Arc<str>,
    pub runtime: Arc<ArcSwap<Runtime>>,
    pub forwarder: Arc<Forwarder>,
    pub trust: ForwardedTrust,
    pub access_log: Option<AccessLog>,
    /// `[entryPoints.X.redirect]`: every request but the internal routes' (v1), inside the
    /// access log.
    pub redirect: Option<crate::redirect::EntryPointRedirect>,
    /// `[entryPoints.X.auth]` (basic, digest or forward): checked after the whitelist and
    /// the path's normalisation, internal routes included (`/ping` exempt).
    pub auth: Option<crate::frontend::auth::Check>,
    /// `[entryPoints.X.whiteList]`: checked before auth, internal routes included.
    pub white_list: Option<trafik_middleware::whitelist::IpWhitelist>,
    /// The API, dashboard, ping, REST or metrics routes this entry point serves.
    pub internal: Option<Internal>,
    /// `[entryPoints.X.encodedCharacters]`: what the path normaliser lets through.
    pub encoded_characters: EncodedCharacters,
    /// `respondingTimeouts.bodyIdleTimeout`: a request body that stalls this long is 408.
    pub body_idle_timeout: Option<std::time::Duration>,
    pub telemetry: Arc<Telemetry>,
    /// `[entryPoints.X] compress = true`.
    pub compress: Option<crate::compress::Compress>,
    /// `[acme.httpChallenge]` on this entry point: HTTP-01 answered before anything else.
    pub acme_http01: Option<Arc<crate::acme::challenges::Challenges>>,
}

/// One request, from hyper to the backend and back. Its future is what hyper keeps (and
/// copies) for each request, so it is kept small: a future moves as its whole size, and
/// `child().await` holds the child twice in the parent's state (the moved-from value and
/// the awaited one, rust-lang/rust#62958). Hence one level here with one `route` await,
/// the hot children pinned where they are made (`pin!`: held once, never moved), and the
/// rare paths (internal routes, error pages) boxed, and what only feeds the access log is
/// made in a plain function (`new_finish`). That took a debug build's future from
/// 12.2 KB to 4.5 KB and 2.6 % of the instructions per request (benches/README.md).
pub async fn handle(
    ctx: Arc<EntryPointContext>,
    peer: SocketAddr,
    mut req: Request<Incoming>,
) -> Result<Response<ResponseBody>, Infallible> {
    // First of all: whatever trafik and the middlewares add later must reach the backend.
    remove_connection_nominated(req.headers_mut());
    // HTTP-01: the CA's request for a token trafik presents is answered first, before the
    // entry point's redirect, guards and rules (an http→https redirect must not break it).
    if let Some(challenges) = &ctx.acme_http01
        && let Some(key_authorization) = challenges.http01(req.uri().path())
    {
        return Ok(crate::acme::challenges::http01_response(key_authorization));
    }
    // v1's entry-point redirect points at the path as sent; decided now, answered below
    // (not for the internal routes, which v1 served before it: HTTP-01 behind a redirect).
    let redirected = ctx
        .redirect
        .as_ref()
        .and_then(|r| r.respond(&req, crate::tls::is_tls(&req)));
    // One reading of the path for all that follows (internal routes, rules, the backend):
    // dot segments removed, meaningful encodings refused. The access log keeps it as sent.
    let (sent, refused) = match normalize_request(&mut req, &ctx.encoded_characters) {
        Ok(sent) => (sent, None),
        Err(why) => (None, Some(why)),
    };
    // Compression: decided from the request's Accept-Encoding, applied to the response
    // inside the access log's observer (which counts the bytes sent).
    let probe = ctx.compress.as_ref().and_then(|c| c.probe(&req));
    let may_compress = probe.is_some();
    let compress = |response: Response<ResponseBody>| match &ctx.compress {
        Some(c) => c.apply(probe, response),
        None => response,
    };
    let ping = refused.is_none() && is_ping(&ctx, req.uri().path());
    if refused.is_none()
        && let Some(internal) = &ctx.internal
        && internal.claims(req.uri().path())
    {
        // Guarded like the rest, but not logged (v1's internal routes bypass the log).
        if let Some(refusal) = guard(&ctx, peer, &mut req, ping).await {
            return Ok(refusal);
        }
        return Ok(compress(Box::pin(internal.call(req)).await));
    }
    let mut finish = new_finish(&ctx, &req, sent.as_ref(), peer);
    // The entry point's refusals are logged and counted, as in v1 (its access log and
    // metrics come before its whitelist and auth): failed logins show in the log.
    let refusal = match redirected {
        Some(redirected) => Some(redirected),
        None => guard(&ctx, peer, &mut req, ping).await,
    };
    let response = match refusal {
        // Neither logged nor counted: answered as it is.
        Some(answer) if finish.is_none() => return Ok(answer),
        Some(answer) => answer,
        None => {
            let (record, sample) = match finish.as_mut() {
                Some(f) => {
                    if let Some((_, r)) = f.log.as_mut()
                        && r.username.is_none()
                    {
                        r.username = auth_user(&req);
                    }
                    (
                        f.log.as_mut().map(|(_, r)| r),
                        f.metrics.as_mut().map(|(_, s)| s),
                    )
                }
                None => (None, None),
            };
            pin!(route(&ctx, peer, req, refused, record, sample)).await
        }
    };
    let Some(mut finish) = finish else {
        return Ok(compress(response));
    };
    // The backend's bytes are counted below the compressor only when it may change them.
    let response = match may_compress {
        true => crate::access_log::origin::through_compression(
            finish.log.as_mut().map(|(_, r)| r),
            response,
            compress,
        ),
        false => compress(response),
    };
    if let Some(h) = finish.log.as_mut().and_then(|(_, r)| r.headers.as_mut()) {
        h.downstream = Some(response.headers().clone());
    }
    finish.answered(response.status().as_u16());
    let (parts, body) = response.into_parts();
    Ok(Response::from_parts(parts, body.observe(Box::new(finish))))
}

/// The request's report to the access log and the metrics, when either is on. Made before
/// the request is routed, so that a client who goes away first (hyper then drops the
/// request's future) is still reported, with 499. Only for a request that is logged or
/// counted, and only then is the clock read. (A function of its own: the record and the
/// sample it makes on the way are not kept in the request's future.)
fn new_finish(
    ctx: &EntryPointContext,
    req: &Request<Incoming>,
    sent: Option<&http::uri::PathAndQuery>,
    peer: SocketAddr,
) -> Option<Finish> {
    let record = ctx
        .access_log
        .as_ref()
        .map(|log| new_record(req, sent, peer, log.logs_headers()));
    let sample = (!ctx.telemetry.is_empty()).then(|| new_sample(ctx, req));
    if let Some(s) = &sample {
        ctx.telemetry.started(&s.entry_point, &s.method, s.protocol);
    }
    (record.is_some() || sample.is_some()).then(|| Finish {
        log: ctx.access_log.clone().zip(record),
        metrics: sample.map(|s| (ctx.telemetry.clone(), s)),
        started: Instant::now(),
        answered: false,
    })
}

/// The entry point's whiteList, then its auth (after the path is normalised, so a
/// forward-auth server judges the path the routes will see): the refusal, if any. `/ping`
/// is exempt from both, as in v1. The auth's future is boxed: only entry points with auth
/// pay for it.
async fn guard(
    ctx: &EntryPointContext,
    peer: SocketAddr,
    req: &mut Request<Incoming>,
    ping: bool,
) -> Option<Response<ResponseBody>> {
    if ping {
        return None;
    }
    if let Some(list) = &ctx.white_list
        && let Some(refused) = crate::whitelist::refuse(list, &ctx.trust, peer, req.headers())
    {
        return Some(refused);
    }
    match &ctx.auth {
        Some(auth) => Box::pin(auth.check(req, peer.ip(), ctx.trust.trusts(peer.ip())))
            .await
            .err(),
        None => None,
    }
}

/// The user the entry point's auth let in.
fn auth_user<B>(req: &Request<B>) -> Option<String> {
    req.extensions()
        .get::<trafik_middleware::auth::AuthUser>()
        .map(|u| u.0.clone())
}

/// v1 serves `/ping` without auth on the entry point that has it.
fn is_ping(ctx: &EntryPointContext, path: &str) -> bool {
    path == "/ping" && ctx.internal.as_ref().is_some_and(|i| i.claims(path))
}

/// nginx's "client closed request": logged for a request whose client went away before
/// its response's head was ready. Once the head is sent, its status is what is logged,
/// even when the client leaves during the body (as nginx does).
pub const CLIENT_CLOSED_REQUEST: u16 = 499;

/// Reports a request once to the access log and the metrics: when its response body
/// ends, or when it is dropped unanswered (the client went away before the response's
/// head), so the open-requests gauge always comes back down and every request has a line.
struct Finish {
    log: Option<(AccessLog, Record)>,
    metrics: Option<(Arc<Telemetry>, Sample)>,
    started: Instant,
    /// The response's head is ready and its status recorded.
    answered: bool,
}

impl Finish {
    fn answered(&mut self, status: u16) {
        self.set_status(status);
        self.answered = true;
    }

    fn set_status(&mut self, status: u16) {
        if let Some((_, r)) = self.log.as_mut() {
            r.status = status;
        }
        if let Some((_, s)) = self.metrics.as_mut() {
            s.status = status;
        }
    }
}

impl BodyObserver for Finish {
    fn on_data(&mut self, len: usize) {
        if let Some((_, r)) = self.log.as_mut() {
            r.content_size += len as u64;
        }
    }

    fn on_end(&mut self, _complete: bool) {
        let took = self.started.elapsed();
        if let Some((log, mut r)) = self.log.take() {
            r.duration = took;
            log.log(r);
        }
        if let Some((telemetry, s)) = self.metrics.take() {
            telemetry.finished(&s, took);
        }
    }
}

impl Drop for Finish {
    fn drop(&mut self) {
        // After `on_end` there is nothing left to report.
        if !self.answered {
            self.set_status(CLIENT_CLOSED_REQUEST);
        }
        self.on_end(false);
    }
}

fn new_sample(ctx: &EntryPointContext, req: &Request<Incoming>) -> Sample {
    let websocket = crate::proxy::forward::upgrade_protocol(req.headers()).is_some();
    Sample {
        entry_point: ctx.name.clone(),
        backend: None,
        method: req.method().to_string(),
        protocol: if websocket { "websocket" } else { "http" },
        host: request_host(req).unwrap_or("").to_owned(),
        path: req.uri().path().to_owned(),
        status: 0,
    }
}

/// Routes the request, or answers 400 when its path was refused. (One async fn, not a
/// wrapper around another: each level would copy the inner future into its own.)
async fn route(
    ctx: &EntryPointContext,
    peer: SocketAddr,
    mut req: Request<Incoming>,
    refused: Option<Refused>,
    mut record: Option<&mut Record>,
    sample: Option<&mut Sample>,
) -> Response<ResponseBody> {
    if let Some(why) = refused {
        tracing::debug!(entry_point = %ctx.name, path = req.uri().path(), "400: {why}");
        return error_response(StatusCode::BAD_REQUEST);
    }
    let runtime = ctx.runtime.load_full();
    let Some(routes) = runtime.routes(&ctx.name) else {
        return not_found();
    };
    let raw_host = request_host(&req);
    let host = normalize_host(raw_host.unwrap_or(""));
    // Decoded separators (an allowed %2F or backslash) may make dot segments of their own.
    let path = clean_decoded(percent_decode(req.uri().path()));
    let info = RequestInfo {
        method: req.method(),
        host: &host,
        path: &path,
        query: req.uri().query(),
        headers: req.headers(),
    };
    let Some((frontend, matched)) = routes.index.lookup(&info) else {
        return not_found();
    };
    if let Match::Redirect(to) = matched {
        let location = match req.uri().query() {
            Some(q) => format!("{to}?{q}"),
            None => to,
        };
        return redirect(StatusCode::MOVED_PERMANENTLY, &location);
    }
    let frontend = frontend.clone();
    // Known from here on, whatever answers: the frontend's own refusals are logged with it.
    if let Some(r) = record.as_deref_mut() {
        r.frontend = Some(frontend.name.clone());
        r.backend = Some(frontend.backend.name.clone());
    }
    // Shared, not copied: X-Forwarded-Host reuses the client's Host value.
    let client_host = match req.headers().get(header::HOST) {
        Some(h) => Some(h.clone()),
        None => raw_host.and_then(|h| HeaderValue::from_str(h).ok()),
    };
    drop(path);
    drop(host);

    // As sent: a frontend's redirects point there, not to the rewritten path.
    let sent = frontend.middlewares.as_ref().map(|_| req.uri().clone());
    if let Err(status) = rewrite::apply(&frontend.modifiers, &mut req, &ctx.encoded_characters) {
        return error_response(status);
    }
    // Added by the forwarder to each attempt; an untrusted client's own go now, before
    // the backend's layers see the request.
    strip_untrusted_forwarded(req.headers_mut(), ctx.trust.trusts(peer.ip()));
    // Error pages wrap the rest (v1's order): the whitelist's 403 goes through them too.
    // The rest is a block in this function, not a call: each async level would copy the
    // inner future into its own state on every request.
    let pages_client = frontend.error_pages.as_ref().map(|_| Forwarded {
        ip: peer.ip(),
        proto: forwarded_proto(&req),
        host: client_host.clone(),
    });
    let response = 'frontend: {
        if let Some(list) = &frontend.white_list
            && let Some(refused) = crate::whitelist::refuse(list, &ctx.trust, peer, req.headers())
        {
            break 'frontend refused;
        }
        let applied = match frontend.middlewares.as_ref().zip(sent.as_ref()) {
            None => None,
            Some((m, sent)) => match m.request(&mut req, sent) {
                Ok(applied) => Some(applied),
                Err(answer) => break 'frontend *answer,
            },
        };
        let client = Forwarded {
            ip: peer.ip(),
            proto: forwarded_proto(&req),
            host: client_host,
        };
        if let Some(pass) = &frontend.client_cert_headers {
            let tls = req
                .extensions()
                .get::<Arc<crate::tls::TlsConnection>>()
                .cloned();
            pass.apply(req.headers_mut(), tls.as_deref());
        }
        // basicAuth, then auth (v1's order). Boxed: only frontends with auth pay for it.
        if let Some(auth) = &frontend.auth {
            if let Err(mut denied) = Box::pin(auth.check(&mut req, peer.ip(), true)).await {
                if let Some(applied) = &applied {
                    applied.response(&mut denied);
                }
                break 'frontend denied;
            }
            if let (Some(r), Some(user)) =
                (record.as_deref_mut(), req.extensions().get::<AuthUser>())
            {
                r.username = Some(user.0.clone());
            }
        }

        let backend = &frontend.backend;
        // v1's order: the rate limit wraps the backend, after the frontend's own middlewares.
        if let Some(limited) = frontend
            .rate_limit
            .as_ref()
            .and_then(|r| r.refuse(peer, &req))
        {
            let mut limited = limited;
            if let Some(applied) = applied {
                applied.response(&mut limited);
            }
            break 'frontend limited;
        }
        // Read only for the access log's OriginDuration.
        let origin_start = record.is_some().then(Instant::now);
        let outcome = pin!(frontend.service.call(
            RequestBody::from_client(req, ctx.body_idle_timeout),
            client,
            backend.stats(),
        ))
        .await;
        let served_by = outcome.served_by;
        if let Some(r) = record.as_deref_mut() {
            r.backend_url = served_by.map(|i| backend.servers[i].url.clone());
            r.origin_duration = origin_start.map(|t| t.elapsed());
            r.retry_attempts = outcome.retries;
        }
        if let Some(s) = sample {
            s.backend = Some(backend.name.clone());
        }
        let mut response = match outcome.result {
            Ok(response) => {
                if let Some(r) = record.as_deref_mut() {
                    crate::access_log::origin::answered(r, &response);
                }
                response
            }
            Err(err) => {
                let server = served_by
                    .map(|i| backend.servers[i].url.as_str())
                    .unwrap_or("-");
                tracing::debug!(frontend = %frontend.name, backend = %backend.name, server, "{err}");
                error_response(err.status())
            }
        };
        if let Some(applied) = applied {
            applied.response(&mut response);
        }
        response
    };
    match (&frontend.error_pages, pages_client) {
        (Some(pages), Some(client)) => {
            let mut response = response;
            let declared = record
                .as_deref()
                .and_then(|r| crate::access_log::origin::before_error_pages(r, &mut response));
            // Boxed: only frontends with error pages pay for its future.
            let response = Box::pin(pages.apply(response, client)).await;
            if let Some(r) = record {
                crate::access_log::origin::after_error_pages(r, declared, &response);
            }
            response
        }
        _ => response,
    }
}

/// X-Forwarded-Proto for the request: by its TLS and whether it asks for an upgrade.
fn forwarded_proto<B>(req: &Request<B>) -> &'static str {
    match (
        crate::proxy::forward::upgrade_protocol(req.headers()).is_some(),
        crate::tls::is_tls(req),
    ) {
        (true, true) => "wss",
        (true, false) => "ws",
        (false, true) => "https",
        (false, false) => "http",
    }
}

/// `sent`: the path and query as the client sent them, when normalising changed them.
/// `headers`: copy the request's headers for `request_<Name>` fields.
fn new_record(
    req: &Request<Incoming>,
    sent: Option<&http::uri::PathAndQuery>,
    peer: SocketAddr,
    headers: bool,
) -> Record {
    // As sent (shared, not copied): the log escapes them.
    let header = |name: header::HeaderName| req.headers().get(name).cloned();
    Record {
        start: SystemTime::now(),
        client: peer,
        // Set once the entry point's auth has let the request in.
        username: None,
        method: req.method().to_string(),
        path: sent
            .or(req.uri().path_and_query())
            .map(|p| p.as_str().to_owned())
            .unwrap_or_else(|| "/".into()),
        proto: proto_name(req.version()),
        host: request_host(req).unwrap_or("").to_owned(),
        referer: header(header::REFERER),
        user_agent: header(header::USER_AGENT),
        frontend: None,
        backend: None,
        backend_url: None,
        status: 0,
        content_size: 0,
        origin_status: None,
        origin_size: Default::default(),
        headers: headers.then(|| {
            Box::new(crate::access_log::Headers {
                request: req.headers().clone(),
                ..Default::default()
            })
        }),
        request_content_size: req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.parse().ok())
            .unwrap_or(0),
        duration: Default::default(),
        origin_duration: None,
        request_count: AccessLog::next_request_count(),
        retry_attempts: 0,
    }
}

fn proto_name(v: Version) -> &'static str {
    match v {
        Version::HTTP_09 => "HTTP/0.9",
        Version::HTTP_10 => "HTTP/1.0",
        Version::HTTP_2 => "HTTP/2.0",
        Version::HTTP_3 => "HTTP/3.0",
        _ => "HTTP/1.1",
    }
}

/// The Host the client asked for: the header for HTTP/1, `:authority` for HTTP/2.
fn request_host<B>(req: &Request<B>) -> Option<&str> {
    req.headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .or_else(|| req.uri().authority().map(|a| a.as_str()))
}

/// v1's host canonicalizer: lowercase, port stripped. Borrowed when already canonical.
pub fn normalize_host(host: &str) -> Cow<'_, str> {
    let without_port = crate::proxy::headers::strip_port(host);
    if without_port.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(without_port.to_ascii_lowercase())
    } else {
        Cow::Borrowed(without_port)
    }
}

/// Rules match the decoded path, as Go's `URL.Path`; invalid escapes are kept as written.
pub fn percent_decode(path: &str) -> Cow<'_, str> {
    match trafik_middleware::path::decode(path) {
        Cow::Borrowed(bytes) => String::from_utf8_lossy(bytes),
        Cow::Owned(bytes) => Cow::Owned(String::from_utf8_lossy(&bytes).into_owned()),
    }
}

fn not_found() -> Response<ResponseBody> {
    // Go's http.NotFound body, which v1 answers with.
    text(StatusCode::NOT_FOUND, "404 page not found\n")
}

pub fn redirect(status: StatusCode, location: &str) -> Response<ResponseBody> {
    let mut response = text(status, "");
    if let Ok(v) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, v);
    }
    response
}

pub fn error_response(status: StatusCode) -> Response<ResponseBody> {
    text(status, status.canonical_reason().unwrap_or(""))
}

fn text(status: StatusCode, body: &'static str) -> Response<ResponseBody> {
    let mut response = Response::new(ResponseBody::full(body));
    *response.status_mut() = status;
    if !body.is_empty() {
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_are_lowercased_without_port() {
        assert_eq!(normalize_host("Example.COM:8080"), "example.com");
        assert!(matches!(normalize_host("a.com"), Cow::Borrowed("a.com")));
        assert_eq!(normalize_host("[::1]:80"), "[::1]");
    }

    #[test]
    fn paths_are_percent_decoded() {
        assert_eq!(percent_decode("/a%20b"), "/a b");
        assert_eq!(percent_decode("/a%2Fb"), "/a/b");
        assert_eq!(percent_decode("/bad%zz"), "/bad%zz");
        assert_eq!(percent_decode("/end%2"), "/end%2");
        assert!(matches!(percent_decode("/plain"), Cow::Borrowed(_)));
    }
}
