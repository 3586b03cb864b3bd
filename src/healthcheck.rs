//! `trafik healthcheck`, as v1's `traefik healthcheck`: asks the running trafik's `/ping`
//! (on `[ping]`'s entry point, `traefik` by default, read from the same configuration and
//! flags as a run) and exits 0 when it answers 200, non-zero otherwise. Meant for Docker's
//! `HEALTHCHECK` in trafik's image, which has no shell and no curl.

use std::time::Duration;

use trafik_config::{StaticConfig, parse_address};

/// v1 gave the ping five seconds.
const TIMEOUT: Duration = Duration::from_secs(5);

/// The `/ping` URL of the configuration's ping entry point.
pub fn ping_url(cfg: &StaticConfig) -> Result<String, String> {
    if cfg.ping.is_none() {
        return Err("please enable [ping] to use healthcheck".to_string());
    }
    // The internal entry points as a run declares them (`traefik` on 127.0.0.1:8080 unless
    // declared elsewhere).
    let mut cfg = cfg.clone();
    let features = crate::api::plan::plan(&mut cfg)?;
    let Some((_, entry_point)) = cfg
        .effective_entry_points()
        .into_iter()
        .find(|(name, _)| features.get(name).is_some_and(|f| f.ping))
    else {
        return Err("no entry point serves /ping".to_string());
    };
    let (host, port) = parse_address(&entry_point.address)?;
    // An entry point on every address is asked on loopback.
    let host = match host.as_deref() {
        None | Some("") | Some("0.0.0.0") => "127.0.0.1".to_string(),
        Some("::") => "[::1]".to_string(),
        Some(h) if h.contains(':') => format!("[{h}]"),
        Some(h) => h.to_string(),
    };
    let scheme = if entry_point.tls.is_some() {
        "https"
    } else {
        "http"
    };
    Ok(format!("{scheme}://{host}:{port}/ping"))
}

/// `Ok` when `url` answers 200 within the timeout. The certificate of a TLS entry point is
/// not checked: this asks the local trafik whether it is up, nothing more.
pub async fn probe(url: &str) -> Result<(), String> {
    crate::tls::install_crypto_provider();
    let client = reqwest::Client::builder()
        .timeout(TIMEOUT)
        .tls_danger_accept_invalid_certs(true)
        .build()
        .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
    let response = client
        .get(url)
        .send()
        .await
        .map_err(|e| format!("{url}: {e}"))?;
    match response.status().as_u16() {
        200 => Ok(()),
        status => Err(format!("{url} answered {status}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(text: &str) -> StaticConfig {
        trafik_config::load_static("t.toml", text).unwrap().value
    }

    #[test]
    fn the_url_follows_the_ping_entry_point() {
        assert!(ping_url(&cfg("")).unwrap_err().contains("enable [ping]"));
        assert_eq!(
            ping_url(&cfg("[ping]\n")).unwrap(),
            "http://127.0.0.1:8080/ping",
            "the traefik entry point a run declares"
        );
        let text = "[entryPoints.http]\naddress = \"127.0.0.2:81\"\n\
                    [entryPoints.https]\naddress = \":8443\"\n[entryPoints.https.tls]\n\
                    [ping]\nentryPoint = \"https\"\n";
        assert_eq!(ping_url(&cfg(text)).unwrap(), "https://127.0.0.1:8443/ping");
        let text =
            "[entryPoints.http]\naddress = \"127.0.0.2:81\"\n[ping]\nentryPoint = \"nope\"\n";
        assert!(ping_url(&cfg(text)).is_err());
    }
}
