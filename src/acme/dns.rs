//! DNS-01 (`[acme.dnsChallenge]`): the TXT record `_acme-challenge.<name>.` is presented
//! and cleaned up by one of lego's generic providers, configured as lego reads them, from
//! the environment, so any DNS a user can script works:
//! - `exec`: runs `$EXEC_PATH present|cleanup <fqdn> <value>` (lego's default mode);
//! - `httpreq`: POSTs `{"fqdn": …, "value": …}` to `$HTTPREQ_ENDPOINT/present|cleanup`,
//!   with basic auth when `HTTPREQ_USERNAME`/`HTTPREQ_PASSWORD` are set.
//!
//! lego's named providers (route53, cloudflare, …) are not implemented: naming one is a
//! start-up error listing the supported names.

use std::time::Duration;

/// What lego's providers are called in `[acme.dnsChallenge] provider`.
pub const SUPPORTED: &[&str] = &["exec", "httpreq"];

/// A command or request that hangs must not hold the order forever.
const TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Debug, Clone)]
pub enum DnsProvider {
    Exec {
        path: String,
    },
    HttpReq {
        endpoint: String,
        credentials: Option<(String, String)>,
    },
}

impl DnsProvider {
    /// The provider `name` with its settings from the environment; every refusal names
    /// what is missing.
    pub fn from_env(name: &str) -> Result<DnsProvider, String> {
        let env = |key: &str| std::env::var(key).ok().filter(|v| !v.trim().is_empty());
        for mode in ["EXEC_MODE", "HTTPREQ_MODE"] {
            if env(mode).is_some_and(|m| m.eq_ignore_ascii_case("RAW")) {
                return Err(format!(
                    "acme.dnsChallenge: {mode}=RAW is not implemented yet"
                ));
            }
        }
        match name.to_ascii_lowercase().as_str() {
            "exec" => Ok(DnsProvider::Exec {
                path: env("EXEC_PATH").ok_or(
                    "acme.dnsChallenge provider \"exec\": set EXEC_PATH to the program to run",
                )?,
            }),
            "httpreq" => Ok(DnsProvider::HttpReq {
                endpoint: env("HTTPREQ_ENDPOINT").ok_or(
                    "acme.dnsChallenge provider \"httpreq\": set HTTPREQ_ENDPOINT to the URL to POST to",
                )?,
                credentials: env("HTTPREQ_USERNAME").zip(env("HTTPREQ_PASSWORD")),
            }),
            other => Err(format!(
                "acme.dnsChallenge provider {other:?} is not implemented; supported: {}",
                SUPPORTED.join(", ")
            )),
        }
    }

    pub async fn present(&self, fqdn: &str, value: &str) -> Result<(), String> {
        self.call("present", fqdn, value).await
    }

    pub async fn cleanup(&self, fqdn: &str, value: &str) -> Result<(), String> {
        self.call("cleanup", fqdn, value).await
    }

    async fn call(&self, action: &str, fqdn: &str, value: &str) -> Result<(), String> {
        match self {
            DnsProvider::Exec { path } => {
                let mut command = tokio::process::Command::new(path);
                command.arg(action).arg(fqdn).arg(value).kill_on_drop(true);
                let out = tokio::time::timeout(TIMEOUT, command.output())
                    .await
                    .map_err(|_| format!("DNS-01 {action}: {path} did not finish in {TIMEOUT:?}"))?
                    .map_err(|e| format!("DNS-01 {action}: cannot run {path}: {e}"))?;
                if !out.status.success() {
                    return Err(format!(
                        "DNS-01 {action}: {path} {}: {}",
                        out.status,
                        String::from_utf8_lossy(&out.stderr).trim()
                    ));
                }
                Ok(())
            }
            DnsProvider::HttpReq {
                endpoint,
                credentials,
            } => {
                let url = format!("{}/{action}", endpoint.trim_end_matches('/'));
                let client = reqwest::Client::builder()
                    .use_preconfigured_tls(http_tls()?)
                    .timeout(TIMEOUT)
                    .build()
                    .map_err(|e| e.to_string())?;
                let mut request = client
                    .post(&url)
                    .json(&serde_json::json!({"fqdn": fqdn, "value": value}));
                if let Some((user, password)) = credentials {
                    request = request.basic_auth(user, Some(password));
                }
                let response = request
                    .send()
                    .await
                    .map_err(|e| format!("DNS-01 {action}: POST {url}: {e}"))?;
                if !response.status().is_success() {
                    return Err(format!(
                        "DNS-01 {action}: POST {url}: {}",
                        response.status()
                    ));
                }
                Ok(())
            }
        }
    }
}

/// The name of the TXT record for `domain` (a wildcard's base name).
pub fn record_name(domain: &str) -> String {
    format!(
        "_acme-challenge.{}.",
        domain.trim_start_matches("*.").trim_end_matches('.')
    )
}

/// httpreq's HTTPS: the same roots as the CA's (system + LEGO_CA_CERTIFICATES).
fn http_tls() -> Result<rustls::ClientConfig, String> {
    Ok(
        rustls::ClientConfig::builder_with_provider(crate::tls::provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_root_certificates(super::http_client::roots()?)
            .with_no_client_auth(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_names_and_unknown_providers() {
        assert_eq!(
            record_name("*.a.example.com"),
            "_acme-challenge.a.example.com."
        );
        assert_eq!(
            record_name("a.example.com."),
            "_acme-challenge.a.example.com."
        );
        let e = DnsProvider::from_env("route53").unwrap_err();
        assert!(
            e.contains("\"route53\"") && e.contains("exec, httpreq"),
            "{e}"
        );
    }

    #[tokio::test]
    async fn exec_runs_the_program_with_lego_arguments() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let script = dir.path().join("dns.sh");
        std::fs::write(
            &script,
            format!("#!/bin/sh\necho \"$@\" >> {}\n", out.display()),
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        let p = DnsProvider::Exec {
            path: script.display().to_string(),
        };
        p.present("_acme-challenge.a.com.", "v1").await.unwrap();
        p.cleanup("_acme-challenge.a.com.", "v1").await.unwrap();
        assert_eq!(
            std::fs::read_to_string(&out).unwrap(),
            "present _acme-challenge.a.com. v1\ncleanup _acme-challenge.a.com. v1\n"
        );
        let failing = DnsProvider::Exec {
            path: "/bin/false".into(),
        };
        assert!(failing.present("x.", "v").await.is_err());
    }
}
