//! `[docker] swarmMode = true`: the manager's services, their running tasks and the
//! networks, read as the Engine writes them (`raw_get`: bollard's task model has no
//! `NetworksAttachments`, the tasks' addresses) and mapped onto the containers the plain mode translates
//! (`trafik_config::docker::swarm`). Polled every `swarmModeRefreshSeconds`, as v1 did: the
//! Engine's event stream says little about tasks moving (v1 did not follow it in Swarm mode
//! either), and a poll that changes nothing sends nothing (`follow::LastSent`). Outages,
//! backoff and `/api/state` are `provider::follow`'s, as for containers.

use std::time::Duration;

use bollard::Docker;
use trafik_config::docker::swarm::{self, Mapped};
use trafik_config::docker::translate;

use super::super::follow::{self, Source, Update};
use super::super::kv::StoreError;
use super::{Engine, NAME, raw_get};

/// The swarm as `provider::follow` reads it: a client, made on the first read and again
/// after an error, and a timer between reads.
pub(super) struct Polling {
    engine: Engine,
    docker: Option<Docker>,
    refresh: Duration,
    last_sent: follow::LastSent,
}

impl Polling {
    pub(super) fn new(engine: Engine, refresh: Duration) -> Self {
        Polling {
            engine,
            docker: None,
            refresh,
            last_sent: follow::LastSent::default(),
        }
    }

    /// The services and their running tasks, as containers. Any answer that cannot be read
    /// (a node that is not a manager says 503) is an error: the last configuration stays.
    async fn read_swarm(&self, docker: &Docker) -> Result<Mapped, StoreError> {
        let version = docker.client_version();
        let get = |path: &'static str| raw_get::get(&self.engine, &version, path);
        let err = |e: String| self.engine.error(e);
        let services = swarm::parse_services(&get("/services").await.map_err(err)?);
        // Only the tasks meant to run (`Status.State` is checked too, as v1's `listTasks`
        // did). The filter is `{"desired-state":["running"]}`, percent-encoded.
        let tasks = get("/tasks?filters=%7B%22desired-state%22%3A%5B%22running%22%5D%7D");
        let tasks = swarm::parse_tasks(&tasks.await.map_err(err)?);
        let networks = swarm::parse_networks(&get("/networks").await.map_err(err)?);
        Ok(swarm::containers(
            &services.map_err(err)?,
            &tasks.map_err(err)?,
            &networks.map_err(err)?,
        ))
    }
}

impl Source for Polling {
    async fn read(&mut self) -> Result<Option<Update>, StoreError> {
        let docker = match &self.docker {
            Some(d) => d.clone(),
            None => {
                let d = self.engine.connect().await?;
                self.docker = Some(d.clone());
                d
            }
        };
        let mapped = match self.read_swarm(&docker).await {
            Ok(m) => m,
            Err(e) => {
                self.docker = None;
                return Err(e);
            }
        };
        let translated = translate(&self.engine.settings, &mapped.containers);
        let mut problems = mapped.problems;
        problems.extend(translated.problems);
        let mut warnings = mapped.warnings;
        warnings.extend(translated.warnings);
        Ok(self
            .last_sent
            .update(NAME, translated.configuration, problems, warnings))
    }

    async fn changed(&mut self) -> Result<(), StoreError> {
        tokio::time::sleep(self.refresh).await;
        Ok(())
    }
}
