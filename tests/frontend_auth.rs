//! `[frontends.X.auth]` (basic, digest) and the deprecated `basicAuth`, through the real
//! binary: 401 with v1's challenge before the backend, the user passed on in
//! `headerField` (a client's own copy replaced), `removeHeader`, frontends with users of
//! their own on one entry point, the whitelist answering before auth, and bad users
//! files and lines located by `trafik check` while the other frontends keep serving.

use crate::common;

use std::collections::HashMap;

use common::{Backend, Trafik, client, free_port, run_trafik};
use md5::{Digest, Md5};
use serde_json::Value;

/// `htpasswd -nb test test` (apr1), the Traefik docs' example user.
const APR1_TEST: &str = "$apr1$H6uskkkW$IgXLP6ewTrSuBkTrqE8wj/";
/// `{SHA}` of "test".
const SHA_TEST: &str = "{SHA}qUqP5cyxm6YcTAhz05Hph5gvu9M=";
/// `bcrypt::hash("right horse", 10)`: verified on the blocking pool.
const BCRYPT_RIGHT_HORSE: &str = "$2b$10$nqdeGLI8cHjYXaz7aeqd5.HyPvwWfv067/TV25HlzDaPHq2NpjNZW";
/// htdigest line: user test, realm traefik, password test.
const DIGEST_TEST: &str = "test:traefik:a2688e031edb4be6a3797f3882655c05";

/// trafik on a fresh port with one backend `b` and `frontends` (TOML), plus `files`.
async fn start(frontends: &str, files: &[(&str, &str)]) -> (Trafik, Backend, String) {
    let backend = Backend::start("b").await;
    let port = free_port();
    let toml = format!(
        "[entryPoints.http]\naddress = \"127.0.0.1:{port}\"\n[file]\n\
         [backends.b.servers.s]\nurl = \"{}\"\n{frontends}",
        backend.url()
    );
    let trafik = Trafik::start_with(&toml, files);
    let base = format!("http://127.0.0.1:{port}");
    (trafik, backend, base)
}

/// Waits until `path` answers `status` (the configuration is loaded).
async fn ready(trafik: &Trafik, base: &str, path: &str, status: u16) {
    trafik.wait_for(&format!("{base}{path}"), status).await;
}

/// A response's status, headers (lowercase name → first value) and body.
struct Answer {
    status: u16,
    headers: HashMap<String, String>,
    body: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }

    /// A header the backend received.
    fn seen(&self, name: &str) -> Option<String> {
        self.json()["headers"][name].as_str().map(str::to_owned)
    }
}

async fn send(req: reqwest::RequestBuilder) -> Answer {
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    let mut headers = HashMap::new();
    for (k, v) in r.headers() {
        headers
            .entry(k.as_str().to_string())
            .or_insert_with(|| v.to_str().unwrap_or("").to_string());
    }
    let body = r.text().await.unwrap();
    Answer {
        status,
        headers,
        body,
    }
}

fn frontend(name: &str, rule: &str, extra: &str) -> String {
    format!(
        "[frontends.{name}]\nbackend = \"b\"\n{extra}\n[frontends.{name}.routes.r]\nrule = \"{rule}\"\n"
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn basic_auth_on_a_frontend_challenges_then_passes_the_user_on() {
    let auth = format!(
        "[frontends.f.auth]\nheaderField = \"X-WebAuth-User\"\n\
         [frontends.f.auth.basic]\nusers = [\"test:{APR1_TEST}\", \"horse:{BCRYPT_RIGHT_HORSE}\"]\n\
         removeHeader = true\n"
    );
    let (trafik, backend, base) = start(
        &format!(
            "{}{}",
            frontend("f", "PathPrefix:/app", &auth),
            frontend("open", "PathPrefix:/open", "")
        ),
        &[],
    )
    .await;
    ready(&trafik, &base, "/open", 200).await;
    let hits = backend.hits();

    let none = send(client().get(format!("{base}/app"))).await;
    assert_eq!(none.status, 401);
    assert_eq!(
        none.headers.get("www-authenticate").map(String::as_str),
        Some("Basic realm=\"traefik\"")
    );
    let wrong = send(
        client()
            .get(format!("{base}/app"))
            .basic_auth("test", Some("nope")),
    )
    .await;
    assert_eq!(wrong.status, 401);
    assert_eq!(
        backend.hits(),
        hits,
        "refused requests never reach the backend"
    );

    // A client naming itself in headerField is overwritten with who it proved to be.
    let ok = send(
        client()
            .get(format!("{base}/app"))
            .basic_auth("test", Some("test"))
            .header("X-WebAuth-User", "admin"),
    )
    .await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert_eq!(ok.seen("x-webauth-user").as_deref(), Some("test"));
    assert_eq!(
        ok.seen("authorization"),
        None,
        "removeHeader drops Authorization"
    );

    // bcrypt goes through the blocking pool and comes back the same way.
    let horse = send(
        client()
            .get(format!("{base}/app"))
            .basic_auth("horse", Some("right horse")),
    )
    .await;
    assert_eq!(horse.status, 200, "{}", horse.body);
    assert_eq!(horse.seen("x-webauth-user").as_deref(), Some("horse"));
    let wrong_horse = send(
        client()
            .get(format!("{base}/app"))
            .basic_auth("horse", Some("wrong horse")),
    )
    .await;
    assert_eq!(wrong_horse.status, 401);

    // Another frontend of the same entry point needs nothing, and its client's
    // X-WebAuth-User is its own business (no auth there).
    let open = send(client().get(format!("{base}/open"))).await;
    assert_eq!(open.status, 200);
}

fn md5_hex(parts: &[&str]) -> String {
    let digest = Md5::digest(parts.join(":").as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// The value of `key="…"` (or `key=…`) in a challenge.
fn param(challenge: &str, key: &str) -> String {
    let start = challenge.find(&format!("{key}=")).unwrap() + key.len() + 1;
    let rest = &challenge[start..];
    match rest.strip_prefix('"') {
        Some(quoted) => quoted[..quoted.find('"').unwrap()].to_string(),
        None => rest.split([',', ' ']).next().unwrap().to_string(),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn digest_auth_on_a_frontend() {
    let auth = format!(
        "[frontends.f.auth]\nheaderField = \"X-WebAuth-User\"\n\
         [frontends.f.auth.digest]\nusers = [\"{DIGEST_TEST}\"]\nremoveHeader = true\n"
    );
    let (trafik, _backend, base) = start(&frontend("f", "PathPrefix:/", &auth), &[]).await;
    ready(&trafik, &base, "/", 401).await;

    let first = send(client().get(format!("{base}/secret?x=1"))).await;
    assert_eq!(first.status, 401);
    let challenge = first.headers["www-authenticate"].clone();
    assert!(challenge.starts_with("Digest "), "{challenge}");
    assert_eq!(param(&challenge, "realm"), "traefik");
    let (nonce, opaque) = (param(&challenge, "nonce"), param(&challenge, "opaque"));

    let uri = "/secret?x=1";
    let respond = |password_ha1: &str| {
        let ha2 = md5_hex(&["GET", uri]);
        let response = md5_hex(&[password_ha1, &nonce, "00000001", "c0ffee", "auth", &ha2]);
        format!(
            "Digest username=\"test\", realm=\"traefik\", nonce=\"{nonce}\", uri=\"{uri}\", \
             qop=auth, nc=00000001, cnonce=\"c0ffee\", response=\"{response}\", opaque=\"{opaque}\""
        )
    };
    let wrong = send(client().get(format!("{base}{uri}")).header(
        "Authorization",
        respond(&md5_hex(&["test", "traefik", "nope"])),
    ))
    .await;
    assert_eq!(wrong.status, 401);
    let ok = send(
        client()
            .get(format!("{base}{uri}"))
            .header(
                "Authorization",
                respond(&md5_hex(&["test", "traefik", "test"])),
            )
            .header("X-WebAuth-User", "admin"),
    )
    .await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert_eq!(ok.seen("x-webauth-user").as_deref(), Some("test"));
    assert_eq!(ok.seen("authorization"), None);
}

#[tokio::test(flavor = "multi_thread")]
async fn frontends_on_one_entry_point_have_their_own_users_and_basic_auth_is_deprecated_but_works()
{
    let alice = format!("[frontends.a.auth.basic]\nusers = [\"alice:{SHA_TEST}\"]\n");
    let bob = "[frontends.b.auth.basic]\nusersFile = \"bob.htpasswd\"\n";
    let old = format!("basicAuth = [\"carol:{APR1_TEST}\"]");
    let frontends = format!(
        "{}{}{}",
        frontend("a", "PathPrefix:/a", &alice),
        frontend("b", "PathPrefix:/b", bob),
        frontend("old", "PathPrefix:/old", &old),
    );
    let bob_file = format!("# bob only\n\nbob:{SHA_TEST}\n");
    let (trafik, _backend, base) = start(&frontends, &[("bob.htpasswd", &bob_file)]).await;
    // usersFile is read from trafik's working directory, which the kit sets to the
    // configuration's directory.
    ready(&trafik, &base, "/a", 401).await;

    let as_user = |path: &str, user: &str| {
        client()
            .get(format!("{base}{path}"))
            .basic_auth(user, Some("test"))
    };
    assert_eq!(send(as_user("/a", "alice")).await.status, 200);
    assert_eq!(send(as_user("/a", "bob")).await.status, 401);
    assert_eq!(send(as_user("/b", "bob")).await.status, 200);
    assert_eq!(send(as_user("/b", "alice")).await.status, 401);

    let none = send(client().get(format!("{base}/old"))).await;
    assert_eq!(none.status, 401);
    assert_eq!(none.headers["www-authenticate"], "Basic realm=\"traefik\"");
    let ok = send(as_user("/old", "carol")).await;
    assert_eq!(ok.status, 200);
    assert!(
        ok.seen("authorization").is_some(),
        "basicAuth has no removeHeader: the credentials go on"
    );
    assert_eq!(send(as_user("/old", "alice")).await.status, 401);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_whitelist_answers_before_auth() {
    let extra = format!(
        "[frontends.f.whiteList]\nsourceRange = [\"192.0.2.0/24\"]\n\
         [frontends.f.auth.basic]\nusers = [\"test:{APR1_TEST}\"]\n"
    );
    let (trafik, backend, base) = start(&frontend("f", "PathPrefix:/", &extra), &[]).await;
    ready(&trafik, &base, "/", 403).await;
    let refused = send(
        client()
            .get(format!("{base}/"))
            .basic_auth("test", Some("test")),
    )
    .await;
    assert_eq!(
        refused.status, 403,
        "an outsider is refused, not challenged"
    );
    assert!(!refused.headers.contains_key("www-authenticate"));
    assert_eq!(backend.hits(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_users_skip_their_frontend_located_and_the_rest_serves() {
    let frontends = format!(
        "{}{}{}{}",
        frontend(
            "badline",
            "PathPrefix:/badline",
            &format!("[frontends.badline.auth.basic]\nusers = [\"ok:{SHA_TEST}\", \"nocolon\"]\n")
        ),
        frontend(
            "nofile",
            "PathPrefix:/nofile",
            "[frontends.nofile.auth.basic]\nusersFile = \"missing.htpasswd\"\n"
        ),
        frontend("badold", "PathPrefix:/badold", "basicAuth = [\"u:{MD4}x\"]"),
        frontend("good", "PathPrefix:/good", ""),
    );
    let (trafik, _backend, base) = start(&frontends, &[]).await;
    ready(&trafik, &base, "/good", 200).await;
    for path in ["/badline", "/nofile", "/badold"] {
        let r = send(client().get(format!("{base}{path}"))).await;
        assert_eq!(r.status, 404, "{path}: skipped, not served open");
    }

    let (status, stdout, stderr) = run_trafik(&["check"], &trafik.dir);
    assert!(!status.success(), "{stdout}{stderr}");
    let out = format!("{stdout}{stderr}");
    // Each problem at its line: the bad entry, the usersFile key, the basicAuth entry.
    let line_of = |needle: &str| {
        std::fs::read_to_string(&trafik.config)
            .unwrap()
            .lines()
            .position(|l| l.contains(needle))
            .unwrap()
            + 1
    };
    let expect = [
        (
            line_of("nocolon"),
            "frontend \"badline\" skipped: auth: users[1]",
        ),
        (
            line_of("missing.htpasswd"),
            "frontend \"nofile\" skipped: auth: cannot read users file",
        ),
        (line_of("{MD4}"), "frontend \"badold\" skipped: basicAuth"),
    ];
    for (line, message) in expect {
        let located = format!("trafik.toml:{line}:");
        assert!(
            out.lines()
                .any(|l| l.contains(&located) && l.contains(message)),
            "no `{located} … {message}` in:\n{out}"
        );
    }
    assert!(
        !out.contains("qUqP5cyxm6"),
        "hashes never appear in messages"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_access_log_names_the_user_a_frontend_authenticated() {
    let backend = Backend::start("b").await;
    let port = free_port();
    let toml = format!(
        "[entryPoints.http]\naddress = \"127.0.0.1:{port}\"\n\
         [accessLog]\nfilePath = \"access.log\"\n[file]\n\
         [backends.b.servers.s]\nurl = \"{}\"\n{}",
        backend.url(),
        frontend(
            "f",
            "PathPrefix:/",
            &format!("[frontends.f.auth.basic]\nusers = [\"test:{APR1_TEST}\"]\n")
        )
    );
    let trafik = Trafik::start(&toml);
    let base = format!("http://127.0.0.1:{port}");
    ready(&trafik, &base, "/", 401).await;
    let ok = send(
        client()
            .get(format!("{base}/who"))
            .basic_auth("test", Some("test")),
    )
    .await;
    assert_eq!(ok.status, 200);
    let path = trafik.path("access.log");
    let line = common::eventually("the authenticated request's line", || async {
        std::fs::read_to_string(&path)
            .unwrap_or_default()
            .lines()
            .find(|l| l.contains("\"GET /who "))
            .map(str::to_owned)
    })
    .await;
    assert!(line.starts_with("127.0.0.1 - test ["), "{line}");
}
