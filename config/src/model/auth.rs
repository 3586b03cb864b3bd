//! `auth`: who may pass an entry point or a frontend (v1's `types.Auth`): users checked by
//! trafik (`basic`, `digest`) or a request to an auth server (`forward`). Shared by the
//! static model (`[entryPoints.X.auth]`) and the dynamic one (`[frontends.X.auth]`).

use serde::{Deserialize, Serialize};

/// `[entryPoints.X.auth]` / `[frontends.X.auth]`. One method is used, in v1's order:
/// `basic`, else `digest`, else `forward`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Auth {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub basic: Option<Users>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest: Option<Users>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub forward: Option<Forward>,
    /// The authenticated user is passed on in this request header (basic and digest).
    pub header_field: String,
}

/// `[….auth.basic]` / `[….auth.digest]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Users {
    pub users: Vec<String>,
    pub users_file: String,
    pub remove_header: bool,
}

/// `[….auth.forward]`: each request is first asked about at `address`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Forward {
    /// `http://` or `https://` URL the auth request (a GET) goes to.
    pub address: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls: Option<ClientTls>,
    /// Keep the client's own `X-Forwarded-*` (as the entry point let them through).
    pub trust_forward_header: bool,
    /// Copied from the auth server's 2xx answer into the request.
    pub auth_response_headers: Vec<String>,
}

/// `[….auth.forward.tls]` (v1's `types.ClientTLS`): towards an `https://` address. Each
/// of `ca`, `cert`, `key` is a file path or the PEM text itself.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ClientTls {
    /// Trusted instead of the system's roots.
    pub ca: String,
    /// Accepted and without effect: a server-side setting in v1's client shape.
    pub ca_optional: bool,
    /// Client certificate (with `key`) presented to the auth server.
    pub cert: String,
    pub key: String,
    pub insecure_skip_verify: bool,
}

#[cfg(test)]
mod tests {
    use crate::{load_dynamic, load_static};

    #[test]
    fn frontend_and_entry_point_forms_load() {
        let text = r#"
            [frontends.a]
            backend = "b"
            basicAuth = ["old:$apr1$x$y"]
              [frontends.a.auth]
              HeaderField = "X-User"
                [frontends.a.auth.basic]
                users = ["u:$apr1$x$y"]
                removeHeader = true
                [frontends.a.auth.forward]
                address = "https://auth.example/check"
                trustForwardHeader = true
                authResponseHeaders = ["X-Auth-User"]
                  [frontends.a.auth.forward.tls]
                  ca = "ca.pem"
                  caOptional = true
                  cert = "c.pem"
                  key = "k.pem"
                  insecureSkipVerify = true
        "#;
        let loaded = load_dynamic("rules.toml", text).unwrap();
        assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
        let a = &loaded.value.frontends["a"];
        assert_eq!(a.basic_auth, ["old:$apr1$x$y"]);
        let auth = a.auth.as_ref().unwrap();
        assert_eq!(auth.header_field, "X-User");
        assert!(auth.basic.as_ref().unwrap().remove_header);
        let f = auth.forward.as_ref().unwrap();
        assert_eq!(f.address, "https://auth.example/check");
        assert!(f.trust_forward_header);
        assert_eq!(f.auth_response_headers, ["X-Auth-User"]);
        let tls = f.tls.as_ref().unwrap();
        assert_eq!(
            (tls.ca.as_str(), tls.cert.as_str(), tls.key.as_str()),
            ("ca.pem", "c.pem", "k.pem")
        );
        assert!(tls.ca_optional && tls.insecure_skip_verify);
        // Shown under v1's JSON names.
        let json = serde_json::to_value(a).unwrap();
        assert_eq!(json["basicAuth"][0], "old:$apr1$x$y");
        assert_eq!(json["auth"]["headerField"], "X-User");
        assert_eq!(json["auth"]["forward"]["trustForwardHeader"], true);
        assert_eq!(json["auth"]["forward"]["tls"]["insecureSkipVerify"], true);

        let text = r#"
            [entryPoints.http]
            address = ":80"
              [entryPoints.http.auth.forward]
              address = "http://127.0.0.1:9000/auth"
        "#;
        let loaded = load_static("trafik.toml", text).unwrap();
        assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
        let ep = &loaded.value.entry_points.as_ref().unwrap()["http"];
        let f = ep.auth.as_ref().unwrap().forward.as_ref().unwrap();
        assert_eq!(f.address, "http://127.0.0.1:9000/auth");
        assert!(!f.trust_forward_header && f.tls.is_none());
    }
}
