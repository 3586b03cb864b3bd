//! The `[marathon]` provider: Marathon's applications, their running and healthy tasks and
//! their `traefik.*` labels become backends and frontends (the translation, pure, is
//! `trafik_config::marathon`). Plain reqwest (rust-crates.md §9): `GET /v2/apps` with the
//! tasks, deployments and readiness results embedded, then `GET /v2/events`
//! (`Accept: text/event-stream`, parsed by `eventsource-stream`) and a full re-read after
//! each event that can change what is served.
//!
//! The event stream is opened before the applications are listed, so a change between the
//! two is never missed. A stream that ends or breaks is a lost watch (`provider::follow`):
//! everything is read again on reconnect, so what changed while it was cut is seen. A
//! Marathon that cannot be reached, or refuses the credentials, is an outage: the last
//! configuration keeps serving and `/api/state` says why.

mod client;

use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;

use futures_util::{Stream, StreamExt};
use tokio::sync::mpsc;
use trafik_config::marathon::{Settings, parse_apps, translate};
use trafik_config::{Diagnostic, StaticConfig};

use super::follow::{self, Source, Update};
use super::kv::StoreError;
use super::{ProviderUpdate, Snapshot};
use crate::status::StatusBoard;
pub use client::MarathonClient;

/// The provider's name in the API, the metrics and the logs (v1's table name).
pub const NAME: &str = "marathon";

/// Marathon's event types that can change what is served (an application posted or
/// removed, a task's status or health, a deployment's progress). Others (`event_stream_attached`,
/// `framework_message_event`, subscriptions) are not.
const RELEVANT: [&str; 17] = [
    "status_update_event",
    "health_status_changed_event",
    "instance_health_changed_event",
    "instance_changed_event",
    "failed_health_check_event",
    "add_health_check_event",
    "remove_health_check_event",
    "unhealthy_task_kill_event",
    "unhealthy_instance_kill_event",
    "deployment_info",
    "deployment_success",
    "deployment_failed",
    "deployment_step_success",
    "deployment_step_failure",
    "api_post_event",
    "app_terminated_event",
    "group_change_success",
];

/// A stream silent this long is opened again (and everything read): Marathon sends no
/// heartbeat, and a connection dropped without a word (a NAT or proxy forgetting it) would
/// otherwise wait for ever.
const IDLE_RESUBSCRIBE: std::time::Duration = std::time::Duration::from_secs(300);

/// The provider as `[marathon]` configures it (no I/O).
pub struct Provider {
    client: MarathonClient,
    settings: Settings,
    watch: bool,
}

/// Builds the provider from `[marathon]`: an endpoint, TLS setting or option this version
/// cannot honour refuses to start, with the reason.
pub fn provider(table: &trafik_config::Marathon, base_dir: &Path) -> Result<Provider, String> {
    if let Some(what) = table.not_implemented() {
        return Err(what.to_string());
    }
    let constraints = table
        .constraints
        .iter()
        .map(|c| trafik_config::constraints::parse(c))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Provider {
        client: MarathonClient::new(table, base_dir)?,
        settings: Settings {
            exposed_by_default: table.exposed_by_default,
            domain: table.domain.clone(),
            groups_as_sub_domains: table.groups_as_sub_domains,
            marathon_lb_compatibility: table.marathon_lb_compatibility,
            filter_marathon_constraints: table.filter_marathon_constraints,
            respect_readiness_checks: table.respect_readiness_checks,
            force_task_hostname: table.force_task_hostname,
            constraints,
        },
        watch: table.watch,
    })
}

/// Starts the provider when `[marathon]` is configured; returns whether it is.
pub fn spawn(
    cfg: &StaticConfig,
    base_dir: &Path,
    tx: &mpsc::Sender<ProviderUpdate>,
    status: &Arc<StatusBoard>,
) -> Result<bool, String> {
    let Some(table) = &cfg.marathon else {
        return Ok(false);
    };
    let provider = provider(table, base_dir).map_err(|e| format!("[{NAME}]: {e}"))?;
    let watch = provider.watch;
    tokio::spawn(follow::run(
        NAME,
        Following::new(provider),
        watch,
        tx.clone(),
        status.clone(),
    ));
    Ok(true)
}

/// How long `trafik check` waits for Marathon.
const CHECK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// What `trafik check` reads: the applications once (`None` without `[marathon]`), with
/// the labels not read as warnings, or why Marathon could not be read.
pub async fn check(
    cfg: &StaticConfig,
    base_dir: &Path,
) -> Option<Result<(Snapshot, Vec<Diagnostic>), String>> {
    let table = cfg.marathon.as_ref()?;
    Some(match provider(table, base_dir) {
        Ok(mut provider) => {
            // One read: no event stream.
            provider.watch = false;
            follow::read_once(Following::new(provider), CHECK_TIMEOUT).await
        }
        Err(e) => Err(e),
    })
}

/// Event types as they arrive, or why the stream broke.
pub type Events = Pin<Box<dyn Stream<Item = Result<String, String>> + Send>>;

/// Marathon as `provider::follow` reads it: the client and, when watching, the event
/// stream (opened on the first read, and again after it is lost).
struct Following {
    provider: Provider,
    events: Option<Events>,
    /// What the last read translated to: a re-read that changed nothing sends nothing.
    last_sent: follow::LastSent,
}

impl Following {
    fn new(provider: Provider) -> Self {
        Following {
            provider,
            events: None,
            last_sent: follow::LastSent::default(),
        }
    }
}

impl Source for Following {
    async fn read(&mut self) -> Result<Option<Update>, StoreError> {
        if self.provider.watch && self.events.is_none() {
            self.events = Some(self.provider.client.events().await?);
        }
        let body = match self.provider.client.apps().await {
            Ok(body) => body,
            Err(e) => {
                self.events = None;
                return Err(e);
            }
        };
        let apps = match parse_apps(&body) {
            Ok(apps) => apps,
            Err(e) => {
                self.events = None;
                return Err(StoreError::new(format!(
                    "{}: {e}",
                    self.provider.client.last_endpoint()
                )));
            }
        };
        let translated = translate(&self.provider.settings, &apps);
        Ok(self.last_sent.update(
            NAME,
            translated.configuration,
            translated.problems,
            translated.warnings,
        ))
    }

    async fn changed(&mut self) -> Result<(), StoreError> {
        let Some(events) = &mut self.events else {
            return Err(StoreError::new("not subscribed to Marathon's events"));
        };
        let waited = tokio::time::timeout(
            IDLE_RESUBSCRIBE,
            next_change(events, self.provider.client.trace()),
        )
        .await;
        let Ok(result) = waited else {
            // Quiet for long: subscribe again and read, as after an event (not an error:
            // a quiet Marathon is not down).
            self.events = None;
            return Ok(());
        };
        if result.is_err() {
            self.events = None;
        }
        result.map_err(|e| {
            StoreError::new(format!(
                "{}/v2/events: {e}",
                self.provider.client.last_endpoint()
            ))
        })
    }
}

fn relevant(event_type: &str) -> bool {
    RELEVANT.contains(&event_type)
}

/// Waits for an event that can change what is served, then takes the others already
/// there (a deployment's burst of events is one re-read, not one each).
async fn next_change(events: &mut Events, trace: bool) -> Result<(), String> {
    loop {
        match events.next().await {
            None => return Err("the event stream ended".to_string()),
            Some(Err(e)) => return Err(e),
            Some(Ok(event)) => {
                if trace {
                    tracing::debug!(provider = NAME, "event {event}");
                }
                if relevant(&event) {
                    break;
                }
            }
        }
    }
    while let Some(Some(item)) = futures_util::FutureExt::now_or_never(events.next()) {
        item?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_that_cannot_work_are_refused() {
        let dir = Path::new("/");
        let table = trafik_config::Marathon::default();
        assert!(provider(&table, dir).is_ok());
        let custom = trafik_config::Marathon {
            filename: "m.tmpl".into(),
            ..Default::default()
        };
        let e = provider(&custom, dir).err().unwrap();
        assert!(e.contains("not implemented yet"), "{e}");
        let bad = trafik_config::Marathon {
            constraints: vec!["label==x".into()],
            ..Default::default()
        };
        assert!(provider(&bad, dir).err().unwrap().contains("label==x"));
        let ftp = trafik_config::Marathon {
            endpoint: "ftp://x".into(),
            ..Default::default()
        };
        assert!(provider(&ftp, dir).is_err());
    }

    #[test]
    fn only_events_that_change_what_is_served() {
        assert!(relevant("status_update_event"));
        assert!(relevant("deployment_success"));
        assert!(relevant("app_terminated_event"));
        assert!(!relevant("event_stream_attached"));
        assert!(!relevant("framework_message_event"));
    }
}
