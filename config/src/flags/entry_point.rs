//! v1's one-string form of an entry point, `--entryPoints='Name:http Address::80
//! TLS:cert.pem,key.pem Redirect.EntryPoint:https Compress:true'`: whitespace-separated
//! `Option:value` words (option names ignoring case, `.` between levels), turned into the
//! keys the long form (`--entryPoints.http.address=:80`) would give, so both read the same way.

/// Each option v1 documents, lower-cased, and the model path it sets under the entry point.
const OPTIONS: [(&str, &[&str]); 29] = [
    ("address", &["address"]),
    ("compress", &["compress"]),
    ("tls.minversion", &["tls", "minVersion"]),
    ("tls.ciphersuites", &["tls", "cipherSuites"]),
    ("tls.snistrict", &["tls", "sniStrict"]),
    (
        "tls.defaultcertificate.cert",
        &["tls", "defaultCertificate", "certFile"],
    ),
    (
        "tls.defaultcertificate.key",
        &["tls", "defaultCertificate", "keyFile"],
    ),
    ("ca", &["tls", "clientCA", "files"]),
    ("ca.optional", &["tls", "clientCA", "optional"]),
    ("redirect.entrypoint", &["redirect", "entryPoint"]),
    ("redirect.regex", &["redirect", "regex"]),
    ("redirect.replacement", &["redirect", "replacement"]),
    ("redirect.permanent", &["redirect", "permanent"]),
    ("whitelistsourcerange", &["whitelistSourceRange"]),
    ("whitelist.sourcerange", &["whiteList", "sourceRange"]),
    (
        "whitelist.usexforwardedfor",
        &["whiteList", "useXForwardedFor"],
    ),
    ("proxyprotocol.trustedips", &["proxyProtocol", "trustedIPs"]),
    ("proxyprotocol.insecure", &["proxyProtocol", "insecure"]),
    (
        "forwardedheaders.trustedips",
        &["forwardedHeaders", "trustedIPs"],
    ),
    (
        "forwardedheaders.insecure",
        &["forwardedHeaders", "insecure"],
    ),
    ("auth.headerfield", &["auth", "headerField"]),
    ("auth.basic.users", &["auth", "basic", "users"]),
    ("auth.basic.usersfile", &["auth", "basic", "usersFile"]),
    (
        "auth.basic.removeheader",
        &["auth", "basic", "removeHeader"],
    ),
    ("auth.digest.users", &["auth", "digest", "users"]),
    ("auth.digest.usersfile", &["auth", "digest", "usersFile"]),
    (
        "auth.digest.removeheader",
        &["auth", "digest", "removeHeader"],
    ),
    ("auth.forward.address", &["auth", "forward", "address"]),
    (
        "auth.forward.trustforwardheader",
        &["auth", "forward", "trustForwardHeader"],
    ),
];

/// `Auth.Forward.*` options: the path under `auth.forward` follows the option name.
const FORWARD_OPTIONS: [(&str, &str); 6] = [
    ("auth.forward.authresponseheaders", "authResponseHeaders"),
    ("auth.forward.tls.ca", "tls.ca"),
    ("auth.forward.tls.caoptional", "tls.caOptional"),
    ("auth.forward.tls.cert", "tls.cert"),
    ("auth.forward.tls.key", "tls.key"),
    (
        "auth.forward.tls.insecureskipverify",
        "tls.insecureSkipVerify",
    ),
];

/// (path under `entryPoints.<name>`, value) pairs.
pub type Keys = Vec<(Vec<String>, String)>;

/// An entry point's name and the keys its string gives, or why the string is refused.
pub fn parse(text: &str) -> Result<(String, Keys), String> {
    let mut name = None;
    let mut keys: Keys = Vec::new();
    let mut tls = false;
    for word in text.split_whitespace() {
        let (option, value) = match word.split_once(':') {
            Some((o, v)) => (o.to_ascii_lowercase(), Some(v)),
            None => (word.to_ascii_lowercase(), None),
        };
        let path = |p: &[&str]| p.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        match option.as_str() {
            "name" => match value {
                Some(v) if !v.is_empty() => name = Some(v.to_string()),
                _ => return Err("Name: needs a value (Name:http)".into()),
            },
            "tls" => {
                tls = true;
                match value {
                    None | Some("") => keys.push((path(&["tls"]), "true".into())),
                    Some(v) => {
                        for (i, pair) in v.split(';').enumerate() {
                            let Some((cert, key)) = pair.split_once(',') else {
                                return Err(format!(
                                    "TLS:{v}: each certificate is certFile,keyFile \
                                     (several separated by ;)"
                                ));
                            };
                            let at = i.to_string();
                            let cert_path = path(&["tls", "certificates", &at, "certFile"]);
                            let key_path = path(&["tls", "certificates", &at, "keyFile"]);
                            keys.push((cert_path, cert.to_string()));
                            keys.push((key_path, key.to_string()));
                        }
                    }
                }
            }
            _ => {
                let target = OPTIONS
                    .iter()
                    .find(|(o, _)| *o == option)
                    .map(|(_, p)| path(p))
                    .or_else(|| {
                        FORWARD_OPTIONS
                            .iter()
                            .find(|(o, _)| *o == option)
                            .map(|(_, p)| {
                                let mut full = path(&["auth", "forward"]);
                                full.extend(p.split('.').map(str::to_string));
                                full
                            })
                    });
                let Some(target) = target else {
                    return Err(format!(
                        "{word:?}: option not supported in an entry-point string (use the \
                         long form, --entryPoints.<name>.<key>=value, or the file)"
                    ));
                };
                // A bare boolean option (`Compress`) is true, as in v1.
                let value = value.unwrap_or("true").to_string();
                keys.push((target, value));
            }
        }
    }
    let Some(name) = name else {
        return Err(format!("{text:?}: no Name: (e.g. Name:http Address::80)"));
    };
    if !tls && keys.iter().any(|(p, _)| p[0] == "tls") {
        return Err(format!(
            "{text:?}: TLS.* and CA options need TLS (TLS alone, or TLS:cert,key)"
        ));
    }
    Ok((name, keys))
}
