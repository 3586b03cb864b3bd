//! The command line: `trafik [-c FILE] [v1 flags]` runs the proxy; `check`, `storeconfig`,
//! `version` and `echo`. v1's flags (`--entryPoints.http.address=:80`) are split off before
//! clap sees the rest (`cli_args.rs`) and layered over the file (`static_load.rs`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use trafik_config::flags::{Tree, parse_flags};
use trafik_config::{Diagnostic, StaticConfig, load_static, validate_static};

use crate::provider::file;
use crate::{compile, echo, logging, server};

pub const VERSION: &str = env!("CARGO_PKG_VERSION");
pub const CODENAME: &str = "maroilles";

/// What `--help` says of v1's flags, which clap does not parse itself (`cli_args.rs`).
const FLAGS_HELP: &str = "\
Every key of the static configuration is also a flag, named by its path in trafik.toml
(names ignore case), as Traefik 1.x's were:
  --logLevel=DEBUG  --defaultEntryPoints=http,https  --entryPoints.http.address=:80
  --entryPoints='Name:https Address::443 TLS:cert.pem,key.pem Redirect.EntryPoint:https'
  --api  --file.filename=rules.toml  --etcd --etcd.endpoint=127.0.0.1:2379
A table's name alone (--api, --etcd) enables it with its defaults; booleans are --x or
--x=true|false; lists are comma lists; durations as in the file (10s, 1m30s, or seconds).
Precedence: flags, over the static keys of a configured store, over the file.";

#[derive(Debug, Parser)]
#[command(name = "trafik", version = VERSION, about = "A modern HTTP reverse proxy and load balancer (Traefik 1.x lineage)", after_help = FLAGS_HELP)]
pub struct Cli {
    /// Configuration file (default: ./trafik.toml, $HOME/.trafik/trafik.toml, /etc/trafik/trafik.toml)
    #[arg(
        short = 'c',
        long = "configFile",
        visible_alias = "configfile",
        global = true,
        value_name = "PATH"
    )]
    pub config_file: Option<PathBuf>,
    /// Log level (DEBUG, INFO, WARN, ERROR, FATAL, PANIC); overrides logLevel of the file.
    /// Read as a v1 flag (`cli_args.rs`); declared here for `--help`.
    #[arg(
        long = "logLevel",
        visible_alias = "loglevel",
        global = true,
        value_name = "LEVEL"
    )]
    pub log_level: Option<String>,
    /// Worker threads serving requests (default: one per core)
    #[arg(long, global = true, value_name = "N")]
    pub workers: Option<usize>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Validate the configuration and print every problem as file:line:col: message
    Check,
    /// Write the static configuration (file and flags) and the file's [backends] and
    /// [frontends] into the configured store (--etcd …), then exit
    Storeconfig,
    /// Print the version
    Version,
    /// Ask the running trafik's /ping (on [ping]'s entry point, from the same configuration
    /// and flags): exit 0 when it answers 200, 1 otherwise (Docker's HEALTHCHECK)
    Healthcheck,
    /// Run a small echo backend (whoami-style) on ADDR, e.g. 127.0.0.1:8091
    Echo {
        address: String,
        /// Name it reports as Hostname (default: the host name)
        #[arg(long)]
        name: Option<String>,
    },
}

pub fn main() -> ExitCode {
    let args = std::env::args_os().map(|a| a.to_string_lossy().into_owned());
    let split = crate::cli_args::split(args);
    let cli = Cli::parse_from(&split.clap);
    let flags = match parse_flags(&split.flags) {
        Ok(tree) => tree,
        Err(e) => {
            eprintln!("trafik: invalid flag {e}");
            return ExitCode::FAILURE;
        }
    };
    let workers = cli
        .workers
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    // One worker: a current-thread runtime, nginx's shape (no work-stealing, no cross-thread
    // wake-ups). More: tokio's multi-thread scheduler.
    let runtime = if workers <= 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(workers)
            .enable_all()
            .build()
    };
    let runtime = match runtime {
        Ok(r) => r,
        Err(e) => {
            eprintln!("trafik: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match cli.command {
        Some(Command::Version) => {
            println!(
                "Version:      {VERSION}\nCodename:     {CODENAME}\nGo version:   none (Rust)"
            );
            ExitCode::SUCCESS
        }
        Some(Command::Echo {
            ref address,
            ref name,
        }) => match runtime.block_on(echo::run(address, name.clone())) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => fail(e),
        },
        Some(Command::Check) => runtime.block_on(check(&cli, &flags)),
        Some(Command::Healthcheck) => runtime.block_on(healthcheck(&cli, &flags)),
        Some(Command::Storeconfig) => match runtime.block_on(storeconfig(&cli, &flags)) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => fail(e),
        },
        None => match runtime.block_on(run(&cli, &flags)) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => fail(e),
        },
    }
}

fn fail(e: anyhow::Error) -> ExitCode {
    eprintln!("trafik: {e:#}");
    ExitCode::FAILURE
}

/// The file named on the command line, else the first that exists of v1's places.
pub fn find_config(explicit: Option<&Path>) -> Option<PathBuf> {
    if let Some(p) = explicit {
        return Some(p.to_path_buf());
    }
    let mut candidates = vec![PathBuf::from("trafik.toml")];
    if let Some(home) = std::env::var_os("HOME") {
        candidates.push(Path::new(&home).join(".trafik/trafik.toml"));
    }
    candidates.push(PathBuf::from("/etc/trafik/trafik.toml"));
    candidates.into_iter().find(|p| p.is_file())
}

/// Reads and parses the static configuration; problems are returned as located diagnostics.
fn read_static(path: Option<&Path>) -> Result<(StaticConfig, Vec<Diagnostic>), Vec<Diagnostic>> {
    let Some(path) = path else {
        return Ok((StaticConfig::default(), Vec::new()));
    };
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| {
        vec![Diagnostic {
            file: file.clone(),
            line: None,
            col: None,
            message: format!("cannot read file: {e}"),
        }]
    })?;
    let loaded = load_static(&file, &text)?;
    let problems = validate_static(&loaded.value);
    if !problems.is_empty() {
        return Err(problems
            .iter()
            .map(|p| {
                let segs: Vec<&str> = p.path.iter().map(String::as_str).collect();
                loaded.locations.diagnostic(&file, &segs, p.message.clone())
            })
            .collect());
    }
    Ok((loaded.value, loaded.warnings))
}

/// The file (or the defaults), with the stores' static keys when `read_stores`, and the flags
/// over it; warnings are the file's and the layers'.
async fn load(
    path: Option<&Path>,
    flags: &Tree,
    read_stores: bool,
) -> anyhow::Result<(StaticConfig, Vec<Diagnostic>)> {
    let (file_cfg, mut warnings) = match read_static(path) {
        Ok(ok) => ok,
        Err(errors) => {
            let list: Vec<String> = errors.iter().map(ToString::to_string).collect();
            anyhow::bail!("invalid configuration:\n{}", list.join("\n"));
        }
    };
    let base_dir = path.and_then(Path::parent).unwrap_or(Path::new(""));
    let layered = crate::static_load::layered(file_cfg, flags, base_dir, read_stores)
        .await
        .map_err(|e| anyhow::anyhow!("invalid configuration:\n{e}"))?;
    for w in layered.warnings {
        warnings.push(Diagnostic::unlocated(STORE_LABEL, w));
    }
    Ok((layered.config, warnings))
}

/// What the layers warn about is always a store's (a flag is never merely warned about): the
/// key or the store is named in the message.
const STORE_LABEL: &str = "store";

/// What a layering error is about: a flag (`--x: …`), a store key (`/traefik/x: …`), or
/// the merged configuration. The file alone was valid (`read_static` checked it), so what
/// the merge broke came from the command line or a store, never the file alone.
fn error_label(message: &str) -> &'static str {
    let head = message.split(": ").next().unwrap_or("");
    if head.contains('/') && !head.contains(' ') && !head.starts_with("--") {
        STORE_LABEL
    } else {
        "command line"
    }
}

/// Where a configuration came from, for messages: the file, or the command line alone.
fn source_label(path: Option<&Path>) -> String {
    path.map_or_else(|| "command line".to_string(), |p| p.display().to_string())
}

async fn storeconfig(cli: &Cli, flags: &Tree) -> anyhow::Result<()> {
    let path = find_config(cli.config_file.as_deref());
    let (cfg, warnings) = load(path.as_deref(), flags, false).await?;
    for w in warnings {
        eprintln!("warning: {w}");
    }
    let base_dir = path
        .as_deref()
        .and_then(Path::parent)
        .unwrap_or(Path::new(""));
    for line in crate::storeconfig::run(&cfg, base_dir).await? {
        println!("storeconfig: {line}");
    }
    Ok(())
}

async fn run(cli: &Cli, flags: &Tree) -> anyhow::Result<()> {
    let path = find_config(cli.config_file.as_deref());
    let (cfg, warnings) = load(path.as_deref(), flags, true).await?;
    let level = cfg.log_level.clone().unwrap_or_else(|| {
        if cfg.debug {
            "DEBUG".into()
        } else {
            "ERROR".into()
        }
    });
    let log_file = cfg
        .traefik_log
        .as_ref()
        .map(|l| l.file_path.clone())
        .or_else(|| cfg.traefik_logs_file.clone());
    let json = cfg
        .traefik_log
        .as_ref()
        .is_some_and(|l| l.format.eq_ignore_ascii_case("json"));
    logging::init(&level, log_file.as_deref(), json)?;
    // In `[file]` mode (a) the file provider reads `[backends]`/`[frontends]` of this very file
    // and reports their warnings itself; reporting them here too would say everything twice.
    let dynamic_in_main_file = matches!(
        server::file_source(&cfg, path.as_deref()),
        Some(file::Source::MainFile(_))
    );
    for w in warnings {
        if dynamic_in_main_file
            && (w.message.starts_with("backends.") || w.message.starts_with("frontends."))
        {
            continue;
        }
        tracing::warn!("{w}");
    }
    match &path {
        Some(p) => tracing::info!("using configuration file {}", p.display()),
        None if !flags.is_empty() => tracing::info!("no configuration file; using the flags"),
        None => tracing::warn!("no configuration file found; running with defaults"),
    }
    server::run(cfg, path).await
}

/// `trafik healthcheck`: the configuration read as a run reads it (without the stores),
/// then one GET of its `/ping`.
async fn healthcheck(cli: &Cli, flags: &Tree) -> ExitCode {
    let found = find_config(cli.config_file.as_deref());
    let result = match load(found.as_deref(), flags, false).await {
        Ok((cfg, _)) => match crate::healthcheck::ping_url(&cfg) {
            Ok(url) => crate::healthcheck::probe(&url).await.map(|()| url),
            Err(e) => Err(e),
        },
        Err(e) => Err(e.to_string()),
    };
    match result {
        Ok(url) => {
            println!("OK: {url}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("trafik healthcheck: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn check(cli: &Cli, flags: &Tree) -> ExitCode {
    let found = find_config(cli.config_file.as_deref());
    if found.is_none() && flags.is_empty() {
        eprintln!("trafik check: no configuration file found (use -c PATH, or flags)");
        return ExitCode::FAILURE;
    }
    // Without a file, messages name the command line; relative paths are the directory's.
    let path = found
        .clone()
        .unwrap_or_else(|| PathBuf::from(source_label(None)));
    let (file_cfg, mut warnings) = match read_static(found.as_deref()) {
        Ok(ok) => ok,
        Err(errors) => return report(&errors, &[]),
    };
    let base_dir = found
        .as_deref()
        .and_then(Path::parent)
        .unwrap_or(Path::new(""));
    let mut cfg = match crate::static_load::layered(file_cfg, flags, base_dir, true).await {
        Ok(layered) => {
            for w in layered.warnings {
                warnings.push(Diagnostic::unlocated(STORE_LABEL, w));
            }
            layered.config
        }
        Err(e) => {
            let errors: Vec<Diagnostic> = e
                .lines()
                .map(|line| Diagnostic::unlocated(error_label(line), line))
                .collect();
            return report(&errors, &warnings);
        }
    };
    let mut errors = Vec::new();
    // The entry points a run would add for the API; a bad [api]/[ping]/… entry point is
    // reported like any other error.
    if let Err(e) = crate::api::plan(&mut cfg) {
        errors.push(trafik_config::Diagnostic {
            file: path.display().to_string(),
            line: None,
            col: None,
            message: e,
        });
    }
    let mut snapshots = BTreeMap::new();
    if let Some(source) = server::file_source(&cfg, found.as_deref()) {
        match file::load(&source) {
            Ok((snapshot, mut w)) => {
                warnings.append(&mut w);
                snapshots.insert(file::NAME.to_string(), snapshot);
            }
            Err(mut e) => errors.append(&mut e),
        }
    }
    // The stores, the Docker engine and Consul's catalog are read once, as a run would at start.
    let mut reads: Vec<(&str, _)> = crate::provider::kv::check_all(&cfg, base_dir).await;
    if let Some(read) = crate::provider::consul_catalog::check(&cfg, base_dir).await {
        reads.push((crate::provider::consul_catalog::NAME, read));
    }
    if let Some(read) = crate::provider::docker::check(&cfg, base_dir).await {
        reads.push((crate::provider::docker::NAME, read));
    }
    if let Some(read) = crate::provider::mesos::check(&cfg).await {
        reads.push((crate::provider::mesos::NAME, read));
    }
    if let Some(read) = crate::provider::marathon::check(&cfg, base_dir).await {
        reads.push((crate::provider::marathon::NAME, read));
    }
    if let Some(read) = crate::provider::kubernetes::check(&cfg, base_dir).await {
        reads.push((crate::provider::kubernetes::NAME, read));
    }
    for (name, read) in reads {
        match read {
            Ok((snapshot, mut found)) => {
                warnings.append(&mut found);
                snapshots.insert(name.to_string(), snapshot);
            }
            Err(e) => errors.push(Diagnostic::unlocated(format!("[{name}]"), e)),
        }
    }
    let (runtime, mut problems) = compile::compile(
        &snapshots,
        &server::compile_settings(&cfg),
        0,
        &check_forwarder(),
        None,
    );
    errors.append(&mut problems);
    errors.append(&mut check_tls_and_redirects(&cfg, &path, &snapshots));
    let code = report(&errors, &warnings);
    if errors.is_empty() {
        let routes: usize = runtime.entry_points.values().map(|e| e.index.len()).sum();
        println!(
            "{}: configuration OK ({routes} routes on {} entry points)",
            path.display(),
            runtime.entry_points.len()
        );
    }
    code
}

/// What a run would refuse at start (certificates, cipher names, client CAs, rootCAs,
/// redirects) or skip on load (`[[tls]]` items), built the same way and thrown away.
fn check_tls_and_redirects(
    cfg: &trafik_config::StaticConfig,
    path: &std::path::Path,
    snapshots: &BTreeMap<String, crate::provider::Snapshot>,
) -> Vec<Diagnostic> {
    let file = path.display().to_string();
    let mut errors = Vec::new();
    // [acme]'s keys (what is not implemented yet is refused as at start).
    if let Some(acme) = &cfg.acme
        && let Err(e) = acme.check()
    {
        errors.push(Diagnostic::at(&file, None, e));
    }
    let dynamic = crate::tls::dynamic::DynamicTls::new(cfg);
    let entry_points = cfg.effective_entry_points();
    for (name, ep) in &entry_points {
        if let Some(tls) = &ep.tls
            && let Err(e) = crate::tls::config::server_config(name, tls, dynamic.certs())
        {
            errors.push(Diagnostic::at(&file, None, e));
        }
        if let Some(r) = &ep.redirect
            && let Err(e) = crate::redirect::EntryPointRedirect::new(
                &format!("entry point {name:?}"),
                r,
                &entry_points,
            )
        {
            errors.push(Diagnostic::at(&file, None, e));
        }
        if let Some(w) = &ep.effective_white_list()
            && let Err(e) = crate::whitelist::build(w)
        {
            let message = format!("entry point {name:?}: whiteList: {e}");
            errors.push(Diagnostic::at(&file, None, message));
        }
        if let Some(p) = &ep.proxy_protocol
            && let Err(e) = crate::connection::ProxyProtocol::new(p)
        {
            let message = format!("entry point {name:?}: proxyProtocol: {e}");
            errors.push(Diagnostic::at(&file, None, message));
        }
        let base_dir = path.parent().unwrap_or(std::path::Path::new(""));
        if let Some(a) = &ep.auth
            && let Err(e) = compile::auth::check(a, base_dir, &[])
        {
            let message = format!("entry point {name:?}: auth: {}", e.message);
            errors.push(Diagnostic::at(&file, None, message));
        }
    }
    if let Err(e) = crate::tls::client::backend_tls(&cfg.root_cas, cfg.insecure_skip_verify) {
        errors.push(Diagnostic::at(&file, None, e));
    }
    errors.extend(dynamic.apply(snapshots));
    errors
}

/// `check` compiles backends like a run does, but never sends anything through them.
fn check_forwarder() -> std::sync::Arc<crate::proxy::Forwarder> {
    std::sync::Arc::new(
        crate::proxy::Forwarder::new(&crate::proxy::ForwarderSettings {
            dial_timeout: None,
            response_header_timeout: None,
            max_idle_per_host: 0,
            idle_timeout: std::time::Duration::from_secs(1),
            root_cas: Vec::new(),
            insecure_skip_verify: false,
            server_name: http::HeaderValue::from_static("trafik"),
        })
        .expect("a forwarder without rootCAs always builds"),
    )
}

fn report(errors: &[Diagnostic], warnings: &[Diagnostic]) -> ExitCode {
    for w in warnings {
        eprintln!("warning: {w}");
    }
    for e in errors {
        eprintln!("{e}");
    }
    if errors.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
