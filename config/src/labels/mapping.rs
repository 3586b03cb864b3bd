//! Which key-value layout keys a v1 label stands for (`{b}` / `{f}`: the service's backend
//! and frontend). Labels are compared in lower case (v1's Consul Catalog did; Docker's
//! labels are written in v1's camelCase, which lowers to the same).

/// The store keys and values for `label` (lower case) = `value`; `None`: not a label this
/// version reads; `Some(Err)`: a value of the wrong form (only the header maps have one).
pub fn store_keys(label: &str, value: &str) -> Option<Result<Vec<(String, String)>, String>> {
    let keys = if let Some(field) = label.strip_prefix("frontend.headers.") {
        return headers(field, value);
    } else if label == "backend.healthcheck.headers" {
        // v1's `Name:value||Name2:value2`, as the frontend's header maps.
        return Some(header_map("backends/{b}/healthcheck/headers", value));
    } else if let Some(rest) = label.strip_prefix("frontend.auth.") {
        auth(rest, value)?
    } else if let Some(rest) = label.strip_prefix("frontend.passtlsclientcert.") {
        pass_tls_client_cert(rest, value)?
    } else {
        plain(label, value)?
    };
    Some(Ok(keys))
}

fn plain(label: &str, value: &str) -> Option<Vec<(String, String)>> {
    let one = |key: &str| Some(vec![(key.to_string(), value.to_string())]);
    if let Some(rest) = label.strip_prefix("backend.") {
        return backend(rest, value);
    }
    let rest = label.strip_prefix("frontend.")?;
    match rest {
        "entrypoints" => one("frontends/{f}/entrypoints"),
        "passhostheader" => one("frontends/{f}/passhostheader"),
        "passtlscert" => one("frontends/{f}/passtlscert"),
        "priority" => one("frontends/{f}/priority"),
        "whitelistsourcerange" | "whitelist.sourcerange" => {
            one("frontends/{f}/whitelist/sourcerange")
        }
        "whitelist.usexforwardedfor" => one("frontends/{f}/whitelist/usexforwardedfor"),
        "ratelimit.extractorfunc" => one("frontends/{f}/ratelimit/extractorfunc"),
        _ => frontend_nested(rest, value),
    }
}

fn backend(rest: &str, value: &str) -> Option<Vec<(String, String)>> {
    let key = match rest {
        "loadbalancer" | "loadbalancer.method" => "loadbalancer/method",
        "loadbalancer.sticky" => "loadbalancer/sticky",
        "loadbalancer.stickiness.cookiename" => "loadbalancer/stickiness/cookiename",
        "circuitbreaker" | "circuitbreaker.expression" => "circuitbreaker/expression",
        "maxconn.amount" => "maxconn/amount",
        "maxconn.extractorfunc" => "maxconn/extractorfunc",
        "healthcheck.path" => "healthcheck/path",
        "healthcheck.port" => "healthcheck/port",
        "healthcheck.interval" => "healthcheck/interval",
        "healthcheck.scheme" => "healthcheck/scheme",
        "healthcheck.hostname" => "healthcheck/hostname",
        "buffering.maxrequestbodybytes" => "buffering/maxrequestbodybytes",
        "buffering.memrequestbodybytes" => "buffering/memrequestbodybytes",
        "buffering.maxresponsebodybytes" => "buffering/maxresponsebodybytes",
        "buffering.memresponsebodybytes" => "buffering/memresponsebodybytes",
        "buffering.retryexpression" => "buffering/retryexpression",
        "responseforwarding.flushinterval" => "responseforwarding/flushinterval",
        _ => return None,
    };
    Some(vec![(format!("backends/{{b}}/{key}"), value.to_string())])
}

/// `frontend.auth.<rest>`: basic, digest, forward (with its client TLS) and `headerField`,
/// v1.7's names (`provider/label/names.go`) lowered.
fn auth(rest: &str, value: &str) -> Option<Vec<(String, String)>> {
    let key = match rest {
        "headerfield" => "headerfield",
        // `frontend.auth.basic` alone: v1.6's name for the users, still read by v1.7.
        "basic" | "basic.users" => "basic/users",
        "basic.usersfile" => "basic/usersfile",
        "basic.removeheader" => "basic/removeheader",
        "digest.users" => "digest/users",
        "digest.usersfile" => "digest/usersfile",
        "digest.removeheader" => "digest/removeheader",
        "forward.address" => "forward/address",
        "forward.trustforwardheader" => "forward/trustforwardheader",
        "forward.authresponseheaders" => "forward/authresponseheaders",
        "forward.tls.ca" => "forward/tls/ca",
        "forward.tls.caoptional" => "forward/tls/caoptional",
        "forward.tls.cert" => "forward/tls/cert",
        "forward.tls.key" => "forward/tls/key",
        "forward.tls.insecureskipverify" => "forward/tls/insecureskipverify",
        _ => return None,
    };
    Some(vec![(
        format!("frontends/{{f}}/auth/{key}"),
        value.to_string(),
    )])
}

/// `frontend.passTLSClientCert.<rest>`: `pem`, `infos.{notAfter,notBefore,sans}` and
/// `infos.{subject,issuer}.<field>`.
fn pass_tls_client_cert(rest: &str, value: &str) -> Option<Vec<(String, String)>> {
    const DN: [&str; 7] = [
        "commonname",
        "country",
        "domaincomponent",
        "locality",
        "organization",
        "province",
        "serialnumber",
    ];
    let known = match rest {
        "pem" | "infos.notafter" | "infos.notbefore" | "infos.sans" => true,
        _ => match rest
            .strip_prefix("infos.subject.")
            .or_else(|| rest.strip_prefix("infos.issuer."))
        {
            Some(field) => DN.contains(&field),
            None => false,
        },
    };
    known.then(|| {
        vec![(
            format!(
                "frontends/{{f}}/passtlsclientcert/{}",
                rest.replace('.', "/")
            ),
            value.to_string(),
        )]
    })
}

/// Headers, redirect, error pages and rate sets: nested names.
fn frontend_nested(rest: &str, value: &str) -> Option<Vec<(String, String)>> {
    if let Some(field) = rest.strip_prefix("redirect.") {
        return matches!(field, "entrypoint" | "regex" | "replacement" | "permanent").then(|| {
            vec![(
                format!("frontends/{{f}}/redirect/{field}"),
                value.to_string(),
            )]
        });
    }
    if let Some(page) = rest.strip_prefix("errors.") {
        let (name, field) = page.split_once('.')?;
        return (!name.is_empty() && matches!(field, "status" | "backend" | "query")).then(|| {
            vec![(
                format!("frontends/{{f}}/errors/{name}/{field}"),
                value.to_string(),
            )]
        });
    }
    if let Some(set) = rest.strip_prefix("ratelimit.rateset.") {
        let (name, field) = set.split_once('.')?;
        return (!name.is_empty() && matches!(field, "period" | "average" | "burst")).then(|| {
            vec![(
                format!("frontends/{{f}}/ratelimit/rateset/{name}/{field}"),
                value.to_string(),
            )]
        });
    }
    None
}

/// `headers.<field>`; the three header maps are v1's `Name:value||Name2:value2` form.
fn headers(field: &str, value: &str) -> Option<Result<Vec<(String, String)>, String>> {
    const PLAIN: [&str; 19] = [
        "allowedhosts",
        "hostsproxyheaders",
        "sslredirect",
        "ssltemporaryredirect",
        "sslhost",
        "sslforcehost",
        "stsseconds",
        "stsincludesubdomains",
        "stspreload",
        "forcestsheader",
        "framedeny",
        "customframeoptionsvalue",
        "contenttypenosniff",
        "browserxssfilter",
        "custombrowserxssvalue",
        "contentsecuritypolicy",
        "publickey",
        "referrerpolicy",
        "isdevelopment",
    ];
    if PLAIN.contains(&field) {
        return Some(Ok(vec![(
            format!("frontends/{{f}}/headers/{field}"),
            value.to_string(),
        )]));
    }
    if !matches!(
        field,
        "customrequestheaders" | "customresponseheaders" | "sslproxyheaders"
    ) {
        return None;
    }
    Some(header_map(
        &format!("frontends/{{f}}/headers/{field}"),
        value,
    ))
}

/// v1's header-map form `Name:value||Name2:value2`, as keys under `folder`.
fn header_map(folder: &str, value: &str) -> Result<Vec<(String, String)>, String> {
    let mut keys = Vec::new();
    for entry in value.split("||").filter(|e| !e.trim().is_empty()) {
        let Some((name, v)) = entry.split_once(':') else {
            return Err(format!("{entry:?} is not Name:value"));
        };
        let name = name.trim();
        if name.is_empty() || name.contains('/') {
            return Err(format!("{name:?} is not a header name"));
        }
        keys.push((format!("{folder}/{name}"), v.trim().to_string()));
    }
    Ok(keys)
}
