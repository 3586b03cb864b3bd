//! Several middlewares on one frontend apply in v1's order (traefik-v1.md §1.7): error
//! pages → whitelist → redirect → custom and secure headers → auth → rate limit →
//! backend. Each assertion below would fail under another order: a whitelist after auth
//! would answer 401 to a refused address; headers inside auth would be missing on its
//! 401; a rate limit before auth would spend tokens on requests that never authenticate;
//! error pages inside the whitelist would leave its 403 untouched.

use crate::common;

use common::{Backend, Trafik, client, free_port};
use serde_json::Value;

/// user "test", password "test" (apr1, as in Traefik's docs).
const USERS: &str = r#"users = ["test:$apr1$H6uskkkW$IgXLP6ewTrSuBkTrqE8wj/"]"#;

struct Answer {
    status: u16,
    custom: Option<String>,
    body: String,
}

async fn get(url: &str, user: Option<(&str, &str)>) -> Answer {
    let mut request = client().get(url);
    if let Some((name, password)) = user {
        request = request.basic_auth(name, Some(password));
    }
    let r = request.send().await.unwrap();
    Answer {
        status: r.status().as_u16(),
        custom: r
            .headers()
            .get("x-custom")
            .map(|v| v.to_str().unwrap().to_owned()),
        body: r.text().await.unwrap(),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn middlewares_on_one_frontend_apply_in_v1_order() {
    let app = Backend::start("app").await;
    let pages = Backend::start("pages").await;
    let port = free_port();
    let toml = format!(
        r#"[entryPoints.http]
address = "127.0.0.1:{port}"
[file]
[backends.app.servers.s]
url = "{app}"
[backends.pages.servers.s]
url = "{pages}"

# Everyone is refused by the whitelist: its 403 goes through the error pages, before auth
# and before the headers.
[frontends.closed]
backend = "app"
[frontends.closed.routes.r]
rule = "PathPrefix:/closed"
[frontends.closed.whiteList]
sourceRange = ["192.0.2.0/24"]
[frontends.closed.headers.customResponseHeaders]
X-Custom = "closed"
[frontends.closed.auth.basic]
{USERS}
[frontends.closed.errors.refused]
status = ["403"]
backend = "pages"
query = "/{{status}}.html"

# Open to 127.0.0.1: headers around auth, auth before the rate limit.
[frontends.open]
backend = "app"
[frontends.open.routes.r]
rule = "PathPrefix:/open"
[frontends.open.whiteList]
sourceRange = ["127.0.0.1/32", "::1"]
[frontends.open.headers]
frameDeny = true
[frontends.open.headers.customResponseHeaders]
X-Custom = "open"
[frontends.open.headers.customRequestHeaders]
X-From-Headers = "yes"
[frontends.open.auth]
headerField = "X-User"
[frontends.open.auth.basic]
{USERS}
[frontends.open.rateLimit]
extractorFunc = "client.ip"
[frontends.open.rateLimit.rateSet.once]
period = "1h"
average = 1
burst = 1

# Error pages around auth (the page replaces the 401's body and headers, as in v1).
[frontends.paged]
backend = "app"
[frontends.paged.routes.r]
rule = "PathPrefix:/paged"
[frontends.paged.auth.basic]
{USERS}
[frontends.paged.errors.unauthorized]
status = ["401"]
backend = "pages"
query = "/{{status}}.html"

# The redirect comes before auth: no credentials needed to be sent elsewhere.
[frontends.moved]
backend = "app"
[frontends.moved.routes.r]
rule = "PathPrefix:/moved"
[frontends.moved.redirect]
regex = "^http://([^/]+)/moved/(.*)"
replacement = "http://$1/open/$2"
[frontends.moved.auth.basic]
{USERS}
"#,
        app = app.url(),
        pages = pages.url(),
    );
    let trafik = Trafik::start(&toml);
    let base = format!("http://127.0.0.1:{port}");
    trafik.wait_for(&format!("{base}/open/x"), 401).await;

    // Whitelist before auth and headers; error pages around the whitelist.
    let closed = get(&format!("{base}/closed/x"), Some(("test", "test"))).await;
    assert_eq!(closed.status, 403);
    assert!(closed.body.contains("/403.html"), "{}", closed.body);
    assert_eq!(closed.custom, None, "headers come after the whitelist");

    // Error pages around auth.
    let paged = get(&format!("{base}/paged/x"), None).await;
    assert_eq!(paged.status, 401);
    assert!(paged.body.contains("/401.html"), "{}", paged.body);

    // Headers around auth; a 401 spends no rate-limit token.
    for _ in 0..3 {
        let denied = get(&format!("{base}/open/x"), None).await;
        assert_eq!(denied.status, 401);
        assert_eq!(denied.custom.as_deref(), Some("open"));
    }
    let wrong = get(&format!("{base}/open/x"), Some(("test", "nope"))).await;
    assert_eq!(wrong.status, 401);
    assert_eq!(app.hits(), 0);

    // The one token is still there for the authenticated request.
    let allowed = get(&format!("{base}/open/x"), Some(("test", "test"))).await;
    assert_eq!(allowed.status, 200, "{}", allowed.body);
    assert_eq!(allowed.custom.as_deref(), Some("open"));
    let seen: Value = serde_json::from_str(&allowed.body).unwrap();
    assert_eq!(seen["headers"]["x-from-headers"], "yes", "{seen}");
    assert_eq!(seen["headers"]["x-user"], "test", "{seen}");
    assert_eq!(app.hits(), 1);

    // Now the rate limit answers, still inside the headers.
    let limited = get(&format!("{base}/open/x"), Some(("test", "test"))).await;
    assert_eq!(limited.status, 429);
    assert_eq!(limited.custom.as_deref(), Some("open"));
    assert_eq!(app.hits(), 1);

    // Redirect before auth.
    let r = client()
        .get(format!("{base}/moved/y"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 302);
    assert_eq!(r.headers()["location"], format!("{base}/open/y").as_str());
}
