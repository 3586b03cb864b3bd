//! The auth layer over an inner service that echoes what it received: challenges and
//! bodies of 401s, basic with every hash scheme (fixtures made by known tools), digest
//! with real round trips, headerField/removeHeader, exempt paths, and construction errors.

use std::convert::Infallible;
use std::future::Future;
use std::io::Write;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use http::header::{AUTHORIZATION, CONTENT_TYPE, WWW_AUTHENTICATE};
use http::{HeaderName, Method, Request, Response, StatusCode};
use md5::{Digest, Md5};
use tower::util::BoxCloneService;
use tower::{Layer, ServiceExt, service_fn};
use trafik_middleware::auth::{
    AuthConfig, AuthError, AuthLayer, AuthUser, BasicAuth, BcryptLimit, DigestAuth, UsersConfig,
};

/// The Traefik docs' example user: test / test.
const APR1_TEST: &str = "test:$apr1$H6uskkkW$IgXLP6ewTrSuBkTrqE8wj/";
/// `printf password | openssl sha1 -binary | base64`.
const SHA_PASSWORD: &str = "sha:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=";
/// The reference's digest example: test / test in realm traefik (`md5sum` of
/// `test:traefik:test`).
const DIGEST_TEST: &str = "test:traefik:a2688e031edb4be6a3797f3882655c05";

fn user_field() -> HeaderName {
    HeaderName::from_static("x-webauth-user")
}

type Svc = BoxCloneService<Request<()>, Response<String>, Infallible>;

/// The echo service behind `layer`, and how often it was called. It answers
/// `user=<X-WebAuth-User>;authorization=<yes|no>;ext=<AuthUser>`.
fn service(layer: &AuthLayer) -> (Svc, Arc<AtomicUsize>) {
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let echo = service_fn(move |req: Request<()>| {
        counter.fetch_add(1, Ordering::SeqCst);
        let user: Vec<_> = req
            .headers()
            .get_all("x-webauth-user")
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect();
        let body = format!(
            "user={};authorization={};ext={}",
            user.join(","),
            if req.headers().contains_key(AUTHORIZATION) {
                "yes"
            } else {
                "no"
            },
            req.extensions()
                .get::<AuthUser>()
                .map_or("", |u| u.0.as_str()),
        );
        async move { Ok::<_, Infallible>(Response::new(body)) }
    });
    (BoxCloneService::new(layer.layer(echo)), calls)
}

fn basic_header(user: &str, password: &str) -> String {
    format!("Basic {}", STANDARD.encode(format!("{user}:{password}")))
}

fn request(path: &str, authorization: Option<&str>) -> Request<()> {
    let mut builder = Request::get(path).header("X-WebAuth-User", "forged");
    if let Some(value) = authorization {
        builder = builder.header(AUTHORIZATION, value);
    }
    builder.body(()).unwrap()
}

async fn send(svc: &Svc, req: Request<()>) -> Response<String> {
    svc.clone().oneshot(req).await.unwrap()
}

fn assert_unauthorized(response: &Response<String>, challenge: &str) {
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(response.headers()[WWW_AUTHENTICATE], challenge);
    assert_eq!(
        response.headers()[CONTENT_TYPE],
        "text/plain; charset=utf-8"
    );
    assert_eq!(response.body(), "401 Unauthorized\n");
}

#[tokio::test]
async fn basic_refuses_missing_and_wrong_credentials() {
    let layer = AuthLayer::new(BasicAuth::new([APR1_TEST], None).unwrap());
    let (svc, calls) = service(&layer);
    let challenge = "Basic realm=\"traefik\"";
    assert_unauthorized(&send(&svc, request("/", None)).await, challenge);
    let wrong = basic_header("test", "wrong");
    assert_unauthorized(&send(&svc, request("/", Some(&wrong))).await, challenge);
    let unknown = basic_header("nobody", "test");
    assert_unauthorized(&send(&svc, request("/", Some(&unknown))).await, challenge);
    let digest = "Digest username=\"test\"";
    assert_unauthorized(&send(&svc, request("/", Some(digest))).await, challenge);
    assert_unauthorized(
        &send(&svc, request("/", Some("Basic %%%"))).await,
        challenge,
    );
    assert_eq!(calls.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn basic_passes_good_credentials_with_header_field() {
    let layer = AuthLayer::new(BasicAuth::new([APR1_TEST, SHA_PASSWORD], None).unwrap())
        .header_field(user_field());
    let (svc, calls) = service(&layer);
    let response = send(&svc, request("/", Some(&basic_header("test", "test")))).await;
    assert_eq!(response.status(), StatusCode::OK);
    // The forged value is gone, replaced by the real user; Authorization is kept.
    assert_eq!(response.body(), "user=test;authorization=yes;ext=test");
    let response = send(&svc, request("/", Some(&basic_header("sha", "password")))).await;
    assert_eq!(response.body(), "user=sha;authorization=yes;ext=sha");
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn remove_header_drops_authorization() {
    let layer = AuthLayer::new(BasicAuth::new([APR1_TEST], None).unwrap()).remove_header(true);
    let (svc, _) = service(&layer);
    let response = send(&svc, request("/", Some(&basic_header("test", "test")))).await;
    assert_eq!(response.status(), StatusCode::OK);
    // No headerField configured: the client's header is left alone.
    assert_eq!(response.body(), "user=forged;authorization=no;ext=test");
}

#[tokio::test]
async fn exempt_paths_pass_without_credentials_and_without_forged_user() {
    let layer = AuthLayer::new(BasicAuth::new([APR1_TEST], None).unwrap())
        .header_field(user_field())
        .exempt_path("/ping")
        .exempt_if(|method, uri| method == Method::OPTIONS && uri.path() == "/cors");
    let (svc, calls) = service(&layer);
    let response = send(&svc, request("/ping", None)).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.body(), "user=;authorization=no;ext=");
    assert_eq!(
        send(&svc, request("/ping?x=1", None)).await.status(),
        StatusCode::OK
    );
    let challenge = "Basic realm=\"traefik\"";
    assert_unauthorized(&send(&svc, request("/ping/", None)).await, challenge);
    assert_unauthorized(&send(&svc, request("/api", None)).await, challenge);
    let options = Request::options("/cors").body(()).unwrap();
    assert_eq!(send(&svc, options).await.status(), StatusCode::OK);
    assert_unauthorized(&send(&svc, request("/cors", None)).await, challenge);
    assert_eq!(calls.load(Ordering::SeqCst), 3);
}

fn bcrypt_users() -> Vec<String> {
    let parts = bcrypt::hash_with_result("s3cret", 4).unwrap();
    [
        ("y", bcrypt::Version::TwoY),
        ("a", bcrypt::Version::TwoA),
        ("b", bcrypt::Version::TwoB),
    ]
    .into_iter()
    .map(|(user, version)| format!("{user}:{}", parts.format_for_version(version)))
    .collect()
}

async fn check_bcrypt(svc: &Svc) {
    for user in ["y", "a", "b"] {
        let response = send(svc, request("/", Some(&basic_header(user, "s3cret")))).await;
        assert_eq!(response.status(), StatusCode::OK, "user {user}");
        assert_eq!(
            response.body(),
            &format!("user={user};authorization=yes;ext={user}")
        );
        let response = send(svc, request("/", Some(&basic_header(user, "wrong")))).await;
        assert_unauthorized(&response, "Basic realm=\"traefik\"");
    }
}

#[tokio::test]
async fn bcrypt_on_current_thread_runtime() {
    let layer =
        AuthLayer::new(BasicAuth::new(bcrypt_users(), None).unwrap()).header_field(user_field());
    check_bcrypt(&service(&layer).0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bcrypt_on_multi_thread_runtime() {
    let layer =
        AuthLayer::new(BasicAuth::new(bcrypt_users(), None).unwrap()).header_field(user_field());
    check_bcrypt(&service(&layer).0).await;
}

/// A flood of bcrypt checks is bounded: past the places (running + waiting) a request is
/// answered 503 at once without hashing, and a pair verified before gets in without bcrypt,
/// so a legitimate client is served during someone else's flood.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bcrypt_past_its_limit_is_503_and_successes_are_remembered() {
    let limit = BcryptLimit::new(1, 0);
    let layer =
        AuthLayer::new(BasicAuth::new(bcrypt_users(), None).unwrap()).bcrypt_limit(limit.clone());
    let (svc, calls) = service(&layer);
    let good = |user| request("/", Some(&basic_header(user, "s3cret")));
    let busy = |response: Response<String>| {
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers()["retry-after"], "1");
        assert_eq!(response.body(), "503 Service Unavailable\n");
    };

    // The only place is taken (as by a verification under way).
    let held = limit.try_admit().unwrap();
    busy(send(&svc, good("y")).await);
    busy(send(&svc, request("/", Some(&basic_header("y", "wrong")))).await);
    assert_eq!(calls.load(Ordering::SeqCst), 0);

    drop(held);
    assert_eq!(send(&svc, good("y")).await.status(), StatusCode::OK);
    assert_eq!(calls.load(Ordering::SeqCst), 1);

    // Remembered: in without a place. Another user, a wrong password: not.
    let held = limit.try_admit().unwrap();
    assert_eq!(send(&svc, good("y")).await.status(), StatusCode::OK);
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    busy(send(&svc, good("a")).await);
    busy(send(&svc, request("/", Some(&basic_header("y", "s3cre")))).await);
    drop(held);
    assert_unauthorized(
        &send(&svc, request("/", Some(&basic_header("y", "s3cre")))).await,
        "Basic realm=\"traefik\"",
    );
    // A wrong password is never remembered.
    let _held = limit.try_admit().unwrap();
    busy(send(&svc, request("/", Some(&basic_header("y", "s3cre")))).await);
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

/// Outside a runtime, bcrypt is verified inline: the future is ready at once.
#[test]
fn bcrypt_without_runtime() {
    let layer = AuthLayer::new(BasicAuth::new(bcrypt_users(), None).unwrap());
    let (svc, _) = service(&layer);
    let poll_once = |req| {
        let mut future = pin!(svc.clone().oneshot(req));
        match future
            .as_mut()
            .poll(&mut Context::from_waker(Waker::noop()))
        {
            Poll::Ready(response) => response.unwrap().status(),
            Poll::Pending => panic!("should be ready at once"),
        }
    };
    let good = request("/", Some(&basic_header("y", "s3cret")));
    assert_eq!(poll_once(good), StatusCode::OK);
    let bad = request("/", Some(&basic_header("y", "nope")));
    assert_eq!(poll_once(bad), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn users_file_with_comments_wins_over_list() {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    // bob's file entry (password "password") replaces his list entry (password "test").
    writeln!(
        file,
        "# htpasswd\n\n  {SHA_PASSWORD}  \nbob:{{SHA}}W6ph5Mm5Pz8GgiULbPgzG37mj9g="
    )
    .unwrap();
    let list = ["bob:$apr1$H6uskkkW$IgXLP6ewTrSuBkTrqE8wj/", "", "# comment"];
    let layer = AuthLayer::new(BasicAuth::new(list, Some(file.path())).unwrap());
    let (svc, _) = service(&layer);
    let ok = |user, password| request("/", Some(&basic_header(user, password)));
    assert_eq!(
        send(&svc, ok("sha", "password")).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        send(&svc, ok("bob", "password")).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        send(&svc, ok("bob", "test")).await.status(),
        StatusCode::UNAUTHORIZED
    );
}

#[test]
fn construction_errors_name_user_line_and_file() {
    let msg = |e: AuthError| e.to_string();
    let err = BasicAuth::new([APR1_TEST, "alice:plaintext"], None).unwrap_err();
    assert!(matches!(err, AuthError::UnsupportedHash { ref user, .. } if user == "alice"));
    assert!(msg(err).starts_with(r#"users[1]: user "alice" has an unsupported password hash"#));

    let err = BasicAuth::new(["no-colon-here"], None).unwrap_err();
    assert_eq!(msg(err), "users[0]: malformed entry: expected `user:hash`");
    let err = BasicAuth::new(["bob:a:b"], None).unwrap_err();
    assert_eq!(
        msg(err),
        r#"users[0]: malformed entry for user "bob": expected `user:hash`"#
    );
    let err = BasicAuth::new([":{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g="], None).unwrap_err();
    assert_eq!(msg(err), "users[0]: malformed entry: expected `user:hash`");

    let mut file = tempfile::NamedTempFile::new().unwrap();
    writeln!(file, "# users\n{APR1_TEST}\ncarol:$2y$10$tooshort").unwrap();
    let err = BasicAuth::new(Vec::<String>::new(), Some(file.path())).unwrap_err();
    let expected = format!(
        r#"{} line 3: user "carol" has a malformed bcrypt hash"#,
        file.path().display()
    );
    assert_eq!(msg(err), expected);

    let missing = std::path::Path::new("/nonexistent/trafik/.htpasswd");
    let err = BasicAuth::new(Vec::<String>::new(), Some(missing)).unwrap_err();
    assert!(matches!(err, AuthError::UsersFile { .. }));
    assert!(msg(err).starts_with("cannot read users file /nonexistent/trafik/.htpasswd: "));

    let err = DigestAuth::new(["dave:traefik:xyz"], None).unwrap_err();
    assert!(msg(err).contains(r#"user "dave""#));
}

#[test]
fn config_errors() {
    let basic = UsersConfig {
        users: vec![APR1_TEST.to_owned()],
        ..UsersConfig::default()
    };
    let err = AuthLayer::from_config(&AuthConfig::default()).unwrap_err();
    assert!(matches!(err, AuthError::NoMethod));
    let config = AuthConfig {
        basic: Some(basic.clone()),
        header_field: Some("X Bad".to_owned()),
        ..AuthConfig::default()
    };
    let err = AuthLayer::from_config(&config).unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"invalid headerField "X Bad": not an HTTP header name"#
    );
    let config = AuthConfig {
        basic: Some(UsersConfig {
            realm: Some("a\nb".to_owned()),
            ..basic
        }),
        ..AuthConfig::default()
    };
    assert!(matches!(
        AuthLayer::from_config(&config),
        Err(AuthError::Realm(_))
    ));
}

#[tokio::test]
async fn from_config_builds_basic() {
    let config = AuthConfig {
        basic: Some(UsersConfig {
            users: vec![APR1_TEST.to_owned()],
            remove_header: true,
            realm: Some("my realm".to_owned()),
            ..UsersConfig::default()
        }),
        // Ignored: basic wins, as in v1.
        digest: Some(UsersConfig {
            users: vec![DIGEST_TEST.to_owned()],
            ..UsersConfig::default()
        }),
        header_field: Some("X-WebAuth-User".to_owned()),
        exempt_paths: vec!["/ping".to_owned()],
    };
    let layer = AuthLayer::from_config(&config).unwrap();
    let (svc, _) = service(&layer);
    assert_unauthorized(
        &send(&svc, request("/api", None)).await,
        "Basic realm=\"my realm\"",
    );
    assert_eq!(
        send(&svc, request("/ping", None)).await.status(),
        StatusCode::OK
    );
    let response = send(&svc, request("/api", Some(&basic_header("test", "test")))).await;
    assert_eq!(response.body(), "user=test;authorization=no;ext=test");
}

// === digest ===

fn md5_hex(s: &str) -> String {
    Md5::digest(s.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The parameters of a `Digest` challenge.
struct Challenge {
    realm: String,
    nonce: String,
    opaque: String,
    stale: bool,
}

fn challenge(response: &Response<String>) -> Challenge {
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(response.body(), "401 Unauthorized\n");
    let value = response.headers()[WWW_AUTHENTICATE].to_str().unwrap();
    let rest = value.strip_prefix("Digest ").expect(value);
    let param = |key: &str| {
        rest.split(", ")
            .find_map(|kv| kv.strip_prefix(&format!("{key}=")))
            .map(|v| v.trim_matches('"').to_owned())
    };
    assert_eq!(param("algorithm").as_deref(), Some("MD5"), "{value}");
    assert!(value.contains("algorithm=MD5, qop=\"auth\""), "{value}");
    Challenge {
        realm: param("realm").unwrap(),
        nonce: param("nonce").unwrap(),
        opaque: param("opaque").unwrap(),
        stale: param("stale").as_deref() == Some("true"),
    }
}

/// A client's `Authorization` for `GET uri`, as RFC 2617 §3.2.2 computes it.
fn digest_header(c: &Challenge, user: &str, password: &str, uri: &str, nc: u32) -> String {
    let ha1 = md5_hex(&format!("{user}:{}:{password}", c.realm));
    let ha2 = md5_hex(&format!("GET:{uri}"));
    let (nc, cnonce) = (format!("{nc:08x}"), "0a4f113b");
    let response = md5_hex(&format!("{ha1}:{}:{nc}:{cnonce}:auth:{ha2}", c.nonce));
    format!(
        r#"Digest username="{user}", realm="{}", nonce="{}", uri="{uri}", qop=auth, nc={nc}, cnonce="{cnonce}", response="{response}", opaque="{}", algorithm=MD5"#,
        c.realm, c.nonce, c.opaque
    )
}

fn digest_layer(lifetime: Duration) -> AuthLayer {
    let auth = DigestAuth::new([DIGEST_TEST], None)
        .unwrap()
        .with_nonce_lifetime(lifetime);
    AuthLayer::new(auth).header_field(user_field())
}

#[tokio::test]
async fn digest_round_trip_and_replay() {
    let (svc, calls) = service(&digest_layer(Duration::from_secs(60)));
    let c = challenge(&send(&svc, request("/a?b=1", None)).await);
    assert_eq!(c.realm, "traefik");
    assert!(!c.stale);
    assert_eq!(c.nonce.len(), 32);

    let first = digest_header(&c, "test", "test", "/a?b=1", 1);
    let response = send(&svc, request("/a?b=1", Some(&first))).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.body(), "user=test;authorization=yes;ext=test");

    // Replaying the same request: right credentials, so a new nonce marked stale.
    let replay = challenge(&send(&svc, request("/a?b=1", Some(&first))).await);
    assert!(replay.stale);
    assert_ne!(replay.nonce, c.nonce);

    // The next nonce count goes through.
    let second = digest_header(&c, "test", "test", "/a?b=1", 2);
    assert_eq!(
        send(&svc, request("/a?b=1", Some(&second))).await.status(),
        StatusCode::OK
    );
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn digest_refuses_wrong_password_uri_and_foreign_nonce() {
    let (svc, calls) = service(&digest_layer(Duration::from_secs(60)));
    let c = challenge(&send(&svc, request("/", None)).await);

    let wrong = digest_header(&c, "test", "nope", "/", 1);
    assert!(!challenge(&send(&svc, request("/", Some(&wrong))).await).stale);
    // Signed for /other, sent for /.
    let elsewhere = digest_header(&c, "test", "test", "/other", 1);
    assert!(!challenge(&send(&svc, request("/", Some(&elsewhere))).await).stale);
    // A nonce this server never issued.
    let foreign = Challenge {
        nonce: "0".repeat(32),
        ..challenge(&send(&svc, request("/", None)).await)
    };
    let forged = digest_header(&foreign, "test", "test", "/", 1);
    assert!(challenge(&send(&svc, request("/", Some(&forged))).await).stale);
    assert_eq!(calls.load(Ordering::SeqCst), 0);
}

#[tokio::test(start_paused = true)]
async fn digest_nonces_expire() {
    let (svc, _) = service(&digest_layer(Duration::from_secs(30)));
    let c = challenge(&send(&svc, request("/", None)).await);
    tokio::time::advance(Duration::from_secs(29)).await;
    let ok = digest_header(&c, "test", "test", "/", 1);
    assert_eq!(
        send(&svc, request("/", Some(&ok))).await.status(),
        StatusCode::OK
    );
    tokio::time::advance(Duration::from_secs(1)).await;
    let late = digest_header(&c, "test", "test", "/", 2);
    let fresh = challenge(&send(&svc, request("/", Some(&late))).await);
    assert!(fresh.stale);
    let retry = digest_header(&fresh, "test", "test", "/", 1);
    assert_eq!(
        send(&svc, request("/", Some(&retry))).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn digest_remove_header_and_realm() {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    let ha1 = md5_hex("ann:office:pw");
    writeln!(file, "# htdigest\nann:office:{ha1}\n{DIGEST_TEST}").unwrap();
    let config = AuthConfig {
        digest: Some(UsersConfig {
            users_file: Some(file.path().to_owned()),
            remove_header: true,
            realm: Some("office".to_owned()),
            ..UsersConfig::default()
        }),
        header_field: Some("X-WebAuth-User".to_owned()),
        ..AuthConfig::default()
    };
    let (svc, _) = service(&AuthLayer::from_config(&config).unwrap());
    let c = challenge(&send(&svc, request("/", None)).await);
    assert_eq!(c.realm, "office");
    let good = digest_header(&c, "ann", "pw", "/", 1);
    let response = send(&svc, request("/", Some(&good))).await;
    assert_eq!(response.body(), "user=ann;authorization=no;ext=ann");
    // test's entry is for realm traefik: it cannot log in to realm office.
    let other = digest_header(&c, "test", "test", "/", 2);
    assert_eq!(
        send(&svc, request("/", Some(&other))).await.status(),
        StatusCode::UNAUTHORIZED
    );
}

/// `AuthLayer::check`, the layer's decision without a service: the same request changes
/// and the same answers as the layer gives.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_marks_granted_requests_and_answers_the_others() {
    let mut users = bcrypt_users();
    users.push(APR1_TEST.to_string());
    let layer = AuthLayer::new(BasicAuth::new(users, None).unwrap())
        .header_field(user_field())
        .remove_header(true);

    for (user, password) in [("test", "test"), ("b", "s3cret")] {
        let mut req = request("/", Some(&basic_header(user, password)));
        req.headers_mut()
            .insert(user_field(), "forged".parse().unwrap());
        let checked: Result<(), Response<String>> = layer.check(&mut req).await;
        assert!(checked.is_ok(), "{user}");
        assert_eq!(req.headers()[user_field()], user);
        assert!(!req.headers().contains_key(AUTHORIZATION));
        assert_eq!(
            req.extensions().get::<AuthUser>(),
            Some(&AuthUser(user.into()))
        );
    }

    for authorization in [
        None,
        Some(basic_header("test", "wrong")),
        Some(basic_header("b", "wrong")),
    ] {
        let mut req = request("/", authorization.as_deref());
        req.headers_mut()
            .insert(user_field(), "forged".parse().unwrap());
        let denied: Response<String> = layer.check(&mut req).await.unwrap_err();
        assert_unauthorized(&denied, "Basic realm=\"traefik\"");
        assert_ne!(
            req.headers().get(user_field()).map(|v| v.to_str().unwrap()),
            Some("forged"),
            "a forged user never stays"
        );
    }
}
