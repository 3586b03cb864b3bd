//! Wires a static configuration into a running proxy: entry points, the forwarder,
//! the aggregator and the providers; then waits for SIGTERM/SIGINT and shuts down
//! gracefully (keep accepting for `requestAcceptGraceTimeout`, then let in-flight
//! requests finish within `graceTimeOut`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context, bail};
use arc_swap::ArcSwap;
use http::HeaderValue;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use trafik_config::StaticConfig;

use crate::access_log::{self, AccessLog};
use crate::aggregator::Aggregator;
use crate::api::{self, Api, Internal};
use crate::compile::CompileSettings;
use crate::compile::compile;
use crate::connection::{ProxyProtocol, Timeouts};
use crate::entrypoint::{self, EntryPointOptions, ServeSettings};
use crate::handler::EntryPointContext;
use crate::metrics::{HealthStats, Prometheus, Telemetry};
use crate::provider::file;
use crate::provider::rest::{self, RestProvider};
use crate::proxy::headers::ForwardedTrust;
use crate::proxy::{Forwarder, ForwarderSettings};
use crate::redirect::EntryPointRedirect;
use crate::runtime::Runtime;
use crate::status::StatusBoard;
use crate::tls::dynamic::DynamicTls;

/// Which file provider mode the static configuration asks for, paths resolved against
/// the directory of the main configuration file.
pub fn file_source(cfg: &StaticConfig, config_path: Option<&Path>) -> Option<file::Source> {
    let file_cfg = cfg.file.as_ref()?;
    let base = config_path
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let resolve = |p: &str| {
        if Path::new(p).is_absolute() {
            PathBuf::from(p)
        } else {
            base.join(p)
        }
    };
    Some(match (&file_cfg.filename, &file_cfg.directory) {
        (Some(f), _) if !f.is_empty() => file::Source::File(resolve(f)),
        (_, Some(d)) if !d.is_empty() => file::Source::Directory(resolve(d)),
        _ => file::Source::MainFile(config_path?.to_path_buf()),
    })
}

pub fn compile_settings(cfg: &StaticConfig) -> CompileSettings {
    CompileSettings {
        entry_points: cfg.effective_entry_points().into_keys().collect(),
        entry_point_configs: cfg.effective_entry_points(),
        default_entry_points: cfg.effective_default_entry_points(),
        keep_trailing_slash: cfg.keep_trailing_slash,
        allow_min_weight_zero: cfg.allow_min_weight_zero,
        health_check_interval: cfg.healthcheck.clone().unwrap_or_default().interval.get(),
        retry_attempts: cfg
            .retry
            .as_ref()
            .map(|r| u32::try_from(r.attempts).unwrap_or(0)),
    }
}

/// Waits (boundedly) for the first configuration before serving, so the first clients get
/// routes rather than 404s; they wait in the listen backlog meanwhile, the ports being
/// bound already. A provider that never delivers does not keep trafik from serving.
async fn first_configuration(runtime: &ArcSwap<Runtime>) {
    const LIMIT: Duration = Duration::from_secs(5);
    let waited = tokio::time::timeout(LIMIT, async {
        while runtime.load().generation == 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    if waited.is_err() {
        tracing::warn!(
            "no configuration after {LIMIT:?}: serving anyway, requests answer 404 until one arrives"
        );
    }
}

fn non_zero(d: trafik_config::Duration) -> Option<Duration> {
    (!d.is_zero()).then_some(d.get())
}

pub async fn run(mut cfg: StaticConfig, config_path: Option<PathBuf>) -> anyhow::Result<()> {
    let internal = api::plan(&mut cfg).map_err(anyhow::Error::msg)?;
    let base_dir = config_path
        .as_deref()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let runtime = Arc::new(ArcSwap::from_pointee(Runtime::default()));
    let status = Arc::new(StatusBoard::default());
    let telemetry = Arc::new(telemetry(&cfg));
    let terminating = Arc::new(AtomicBool::new(false));
    let server_name = HeaderValue::from_str(&gethostname::gethostname().to_string_lossy())
        .unwrap_or_else(|_| HeaderValue::from_static("trafik"));
    let forwarder = Arc::new(Forwarder::new(&ForwarderSettings {
        dial_timeout: non_zero(cfg.forwarding_timeouts.dial_timeout),
        response_header_timeout: non_zero(cfg.forwarding_timeouts.response_header_timeout),
        max_idle_per_host: cfg.max_idle_conns_per_host,
        idle_timeout: Duration::from_secs(90),
        root_cas: cfg.root_cas.clone(),
        insecure_skip_verify: cfg.insecure_skip_verify,
        server_name,
    })?);
    let access_log = start_access_log(&cfg)?;
    tokio::spawn(reopen_logs_on_usr1(access_log.clone()));
    crate::fd_limit::raise();
    let serve_settings = ServeSettings {
        timeouts: timeouts(&cfg),
    };

    let (updates_tx, updates_rx) = mpsc::channel(16);
    let rest = match &cfg.rest {
        None => None,
        Some(r) => {
            let path = base_dir.join(&r.store_file);
            let settings = compile_settings(&cfg);
            let fwd = forwarder.clone();
            let check = Box::new(move |snapshot: &crate::provider::Snapshot| {
                let snapshots = BTreeMap::from([(rest::NAME.to_string(), snapshot.clone())]);
                let (_, problems) = compile(&snapshots, &settings, 0, &fwd, None);
                problems.iter().map(ToString::to_string).collect()
            });
            Some(Arc::new(
                RestProvider::open(&path, updates_tx.clone(), check).map_err(anyhow::Error::msg)?,
            ))
        }
    };
    let api_state = Arc::new(Api {
        runtime: runtime.clone(),
        status: status.clone(),
        telemetry: telemetry.clone(),
        rest: rest.clone(),
        terminating: terminating.clone(),
        started_at: std::time::SystemTime::now(),
    });

    // Bind every entry point before anything else: a port in use is fatal at start.
    // So is a TLS entry point whose certificates do not load.
    let dynamic_tls = Arc::new(DynamicTls::new(&cfg));
    // [acme]: checked and its storage loaded before anything listens (src/acme/).
    let acme = crate::acme::prepare(&cfg, &base_dir, status.clone()).map_err(anyhow::Error::msg)?;
    let acme_served = acme.as_ref().map(|a| a.served());
    let entry_points = cfg.effective_entry_points();
    let mut listeners = Vec::new();
    for (name, ep) in entry_points.clone() {
        let options = EntryPointOptions {
            tls: match &ep.tls {
                Some(tls) => Some(tokio_rustls::TlsAcceptor::from(
                    crate::tls::config::server_config_acme(
                        &name,
                        tls,
                        dynamic_tls.certs(),
                        acme_served
                            .clone()
                            .filter(|_| cfg.acme.as_ref().is_some_and(|a| a.entry_point == name)),
                    )
                    .map_err(anyhow::Error::msg)?,
                )),
                None => None,
            },
            max_connections: ep.max_connections,
            max_header_bytes: ep.effective_max_header_bytes(),
            proxy_protocol: match &ep.proxy_protocol {
                Some(p) => Some(Arc::new(ProxyProtocol::new(p).map_err(|e| {
                    anyhow::anyhow!("entry point {name:?}: proxyProtocol: {e}")
                })?)),
                None => None,
            },
        };
        let listener = entrypoint::bind(&name, &ep.address)
            .await
            .map_err(anyhow::Error::msg)?;
        let trust = match &ep.forwarded_headers {
            None => ForwardedTrust::Everyone,
            Some(f) => ForwardedTrust::from_config(f.insecure, &f.trusted_ips)
                .map_err(|e| anyhow::anyhow!("entry point {name:?}: forwardedHeaders: {e}"))?,
        };
        let white_list = match &ep.effective_white_list() {
            None => None,
            Some(w) => crate::whitelist::build(w)
                .map_err(|e| anyhow::anyhow!("entry point {name:?}: whiteList: {e}"))?,
        };
        let redirect = match &ep.redirect {
            Some(r) => Some(
                EntryPointRedirect::new(&format!("entry point {name:?}"), r, &entry_points)
                    .map_err(anyhow::Error::msg)?,
            ),
            None => None,
        };
        let features = internal.get(&name).copied().unwrap_or_default();
        let auth = match &ep.auth {
            None => None,
            Some(a) => Some(
                // `/ping` stays open: handler::handle exempts it.
                crate::compile::auth::check(a, &base_dir, &[])
                    .map_err(|e| anyhow::anyhow!("entry point {name:?}: auth: {}", e.message))?,
            ),
        };
        tracing::info!(entry_point = %name, "listening on {}", listener.local_addr()?);
        let acme_http01 = acme_served
            .as_ref()
            .filter(|_| {
                cfg.acme
                    .as_ref()
                    .and_then(|a| a.http_challenge.as_ref())
                    .is_some_and(|h| h.entry_point == name)
            })
            .map(|a| a.challenges.clone());
        let ctx = Arc::new(EntryPointContext {
            name: name.into(),
            runtime: runtime.clone(),
            forwarder: forwarder.clone(),
            trust,
            access_log: access_log.clone(),
            redirect,
            auth,
            white_list,
            internal: features
                .any()
                .then(|| Internal::new(features, api_state.clone())),
            encoded_characters: encoded_characters(&ep.encoded_characters),
            body_idle_timeout: non_zero(cfg.responding_timeouts.body_idle_timeout),
            telemetry: telemetry.clone(),
            compress: ep.compress.then(crate::compress::Compress::new),
            acme_http01,
        });
        listeners.push((listener, ctx, options));
    }

    let aggregator = Aggregator::new(
        compile_settings(&cfg),
        runtime.clone(),
        cfg.providers_throttle_duration.get(),
        forwarder.clone(),
        status.clone(),
    )
    .with_tls(dynamic_tls);
    tokio::spawn(aggregator.run(updates_rx));
    let mut has_provider = match file_source(&cfg, config_path.as_deref()) {
        Some(source) => {
            let watch = cfg.file.as_ref().is_some_and(|f| f.watch);
            tokio::spawn(file::run(source, watch, updates_tx.clone()));
            true
        }
        None => false,
    };
    has_provider |= crate::provider::kv::spawn_all(&cfg, &base_dir, &updates_tx, &status)
        .map_err(anyhow::Error::msg)?;
    has_provider |= crate::provider::consul_catalog::spawn(&cfg, &base_dir, &updates_tx, &status)
        .map_err(anyhow::Error::msg)?;
    has_provider |= crate::provider::docker::spawn(&cfg, &base_dir, &updates_tx, &status)
        .map_err(anyhow::Error::msg)?;
    has_provider |=
        crate::provider::mesos::spawn(&cfg, &updates_tx, &status).map_err(anyhow::Error::msg)?;
    has_provider |= crate::provider::marathon::spawn(&cfg, &base_dir, &updates_tx, &status)
        .map_err(anyhow::Error::msg)?;
    has_provider |= crate::provider::kubernetes::spawn(&cfg, &base_dir, &updates_tx, &status)
        .await
        .map_err(anyhow::Error::msg)?;
    if let Some(rest) = &rest {
        has_provider |= rest.restore().await.map_err(anyhow::Error::msg)?;
    } else if !has_provider {
        tracing::warn!("no provider configured ([file] is absent): every request answers 404");
    }
    if has_provider {
        first_configuration(&runtime).await;
    }

    let stop_accepting = CancellationToken::new();
    let mut servers = Vec::new();
    for (listener, ctx, options) in listeners {
        servers.push(tokio::spawn(entrypoint::serve(
            listener,
            ctx,
            serve_settings.clone(),
            options,
            stop_accepting.clone(),
        )));
    }

    // The entry points answer challenges from here on.
    if let Some(acme) = acme {
        acme.spawn();
    }

    shutdown_signal().await?;
    terminating.store(true, Ordering::Relaxed);
    let accept_grace = cfg.life_cycle.request_accept_grace_timeout.get();
    if !accept_grace.is_zero() {
        tracing::info!(
            "stopping: still accepting requests for {}",
            cfg.life_cycle.request_accept_grace_timeout
        );
        tokio::select! {
            _ = tokio::time::sleep(accept_grace) => {}
            // A second signal cuts the accept grace period short.
            _ = shutdown_signal() => {}
        }
    }
    stop_accepting.cancel();
    let grace = cfg.effective_grace_timeout();
    tracing::info!("stopping: no longer accepting; waiting up to {grace} for requests in flight");
    let mut drains = Vec::new();
    for server in servers {
        drains.push(server.await?.shutdown());
    }
    let deadline = tokio::time::Instant::now() + grace.get();
    let all = futures_util::future::join_all(drains);
    if tokio::time::timeout_at(deadline, all).await.is_err() {
        tracing::warn!("grace period of {grace} over: closing the remaining connections");
    }
    // Upgraded connections (WebSocket) left hyper's tracking at their 101: same deadline.
    forwarder.tunnels.shutdown(deadline).await;
    drop(updates_tx);
    tracing::info!("stopped");
    Ok(())
}

/// `[respondingTimeouts]` as connections apply them; 0 is none. As in Go, an unset idle
/// timeout falls back to the read timeout.
fn timeouts(cfg: &StaticConfig) -> Timeouts {
    let r = &cfg.responding_timeouts;
    Timeouts {
        header: non_zero(r.read_header_timeout),
        read: non_zero(r.read_timeout),
        write: non_zero(r.write_timeout),
        idle: non_zero(cfg.effective_idle_timeout()).or(non_zero(r.read_timeout)),
    }
}

/// `/health` statistics with `[api]`, Prometheus metrics with `[metrics.prometheus]`.
fn telemetry(cfg: &StaticConfig) -> Telemetry {
    Telemetry {
        health: cfg
            .api
            .as_ref()
            .map(|a| HealthStats::new(a.statistics.as_ref().map_or(0, |s| s.recent_errors))),
        prometheus: cfg
            .metrics
            .as_ref()
            .and_then(|m| m.prometheus.as_ref())
            .map(|p| Prometheus::new(&p.buckets)),
    }
}

fn start_access_log(cfg: &StaticConfig) -> anyhow::Result<Option<AccessLog>> {
    let (path, format) = match (&cfg.access_log, &cfg.access_logs_file) {
        (Some(a), _) => (a.file_path.clone(), a.format.clone()),
        (None, Some(path)) => (path.clone(), "common".to_string()),
        (None, None) => return Ok(None),
    };
    let format = match format.to_ascii_lowercase().as_str() {
        "" | "common" => access_log::Format::Common,
        "json" => access_log::Format::Json,
        other => bail!("[accessLog] format {other:?}: use \"common\" or \"json\""),
    };
    let config = cfg.access_log.as_ref();
    let filters =
        access_log::filters::Filters::from_config(config.and_then(|a| a.filters.as_ref()))
            .map_err(|e| anyhow::anyhow!("[accessLog.filters] {e}"))?;
    let fields = access_log::fields::Fields::from_config(config.and_then(|a| a.fields.as_ref()))
        .map_err(|e| anyhow::anyhow!("[accessLog.fields] {e}"))?;
    AccessLog::start(&path, format, filters, fields)
        .map(Some)
        .with_context(|| format!("[accessLog] cannot open {path:?}"))
}

/// SIGUSR1 (logrotate's `postrotate`): the access log and trafik's own log, when they are
/// files, are reopened at their configured paths.
async fn reopen_logs_on_usr1(access_log: Option<AccessLog>) {
    use tokio::signal::unix::{SignalKind, signal};
    let Ok(mut usr1) = signal(SignalKind::user_defined1()) else {
        tracing::error!("cannot listen for SIGUSR1: log files will not be reopened");
        return;
    };
    while usr1.recv().await.is_some() {
        crate::logging::reopen();
        if let Some(log) = &access_log {
            log.reopen();
        }
    }
}

async fn shutdown_signal() -> anyhow::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    tokio::select! {
        _ = term.recv() => tracing::info!("received SIGTERM"),
        _ = int.recv() => tracing::info!("received SIGINT"),
    }
    Ok(())
}

/// `[entryPoints.X.encodedCharacters]` as the path normaliser takes it.
fn encoded_characters(
    c: &trafik_config::EncodedCharacters,
) -> trafik_middleware::path::EncodedCharacters {
    trafik_middleware::path::EncodedCharacters {
        allow_encoded_slash: c.allow_encoded_slash,
        allow_encoded_back_slash: c.allow_encoded_back_slash,
        allow_encoded_null_character: c.allow_encoded_null_character,
        allow_encoded_semicolon: c.allow_encoded_semicolon,
        allow_encoded_percent: c.allow_encoded_percent,
        allow_encoded_question_mark: c.allow_encoded_question_mark,
        allow_encoded_hash: c.allow_encoded_hash,
        allow_encoded_dot: c.allow_encoded_dot,
    }
}
