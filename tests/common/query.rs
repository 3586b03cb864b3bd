//! Decoding what a client put in a request's URL, for the protocol doubles (Consul,
//! Kubernetes): the query as Go's `url.ParseQuery` reads it, and a percent-encoded path.

use std::collections::BTreeMap;

/// `a=1&b=x%2Fy&c` ⇒ {a: 1, b: x/y, c: ""}; `+` is a space, as in a form.
pub fn parse(query: &str) -> BTreeMap<String, String> {
    let form = |text: &str| percent_decode(&text.replace('+', " "));
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (form(k), form(v)),
            None => (form(p), String::new()),
        })
        .collect()
}

/// `%2F` ⇒ `/`; a `%` not followed by two hex digits stays as it is; `+` stays `+`.
pub fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Ok(hex) = std::str::from_utf8(&bytes[i + 1..i + 3])
            && let Ok(b) = u8::from_str_radix(hex, 16)
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
