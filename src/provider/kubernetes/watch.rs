//! The watches: one kube `runtime::watcher` per kind and namespace (all namespaces when
//! `namespaces` is empty), each feeding a `reflector` store. kube's watcher lists, then
//! watches from the list's `resourceVersion` (with bookmarks), resumes from the last
//! version seen when a watch ends, lists again on `410 Gone`, and backs off on errors
//! (`default_backoff`: 0.8 s doubling to 30 s). The stores keep the last complete listing
//! through an outage, so the configuration built from them keeps serving.
//!
//! Memory stays bounded by what is read: only the five kinds the translation needs, only the
//! watched namespaces, Ingresses only through `labelSelector`, and every object without its
//! `managedFields` and `kubectl.kubernetes.io/last-applied-configuration` (often larger than
//! the object itself). Secrets are all watched (an Ingress may name any, and a re-list per
//! Ingress change would cost more), but only `kubernetes.io/tls` and `Opaque` ones keep
//! their data: service-account tokens, registry credentials and Helm releases (large) are
//! kept as names only.

use std::fmt::Debug;

use futures_util::StreamExt;
use futures_util::stream::{BoxStream, select_all};
use k8s_openapi::api::core::v1::{Endpoints, Secret, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::networking::v1::{Ingress, IngressClass};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client, Resource, ResourceExt};
use serde::de::DeserializeOwned;
use trafik_config::kubernetes::Cluster;

/// What the kinds are watched with.
#[derive(Debug, Clone, Default)]
pub struct Scope {
    /// Empty: all namespaces.
    pub namespaces: Vec<String>,
    /// On the Ingresses only (v1's `labelSelector`).
    pub label_selector: String,
    /// `discovery.k8s.io/v1` is served: EndpointSlices, else Endpoints.
    pub endpoint_slices: bool,
}

/// What one watcher said, reduced to what the provider acts on.
#[derive(Debug)]
pub enum Said {
    /// A (re-)listing is under way: nothing changed in the store yet.
    Listing,
    /// A listing completed: the store holds it.
    Listed,
    /// An object was added, modified or deleted.
    Changed,
    /// The watch's history expired (`410 Gone`): kube lists again.
    Expired,
    /// A request failed: kube retries after a backoff. `refused`: the API answered with an
    /// error (401, 403…), rather than not answering.
    Failed { why: String, refused: bool },
}

/// The stores, and every watcher's events merged, tagged with the watcher's index in
/// `labels`.
pub struct Watches {
    ingresses: Vec<Store<Ingress>>,
    ingress_classes: Vec<Store<IngressClass>>,
    services: Vec<Store<Service>>,
    endpoint_slices: Vec<Store<EndpointSlice>>,
    endpoints: Vec<Store<Endpoints>>,
    secrets: Vec<Store<Secret>>,
    /// `ingresses in default` and the like, by watcher.
    pub labels: Vec<String>,
    pub events: BoxStream<'static, (usize, Said)>,
}

impl Watches {
    /// Starts every watcher (they make their requests once `events` is polled).
    pub fn start(client: &Client, scope: &Scope) -> Watches {
        let mut w = Watches {
            ingresses: Vec::new(),
            ingress_classes: Vec::new(),
            services: Vec::new(),
            endpoint_slices: Vec::new(),
            endpoints: Vec::new(),
            secrets: Vec::new(),
            labels: Vec::new(),
            events: futures_util::stream::empty().boxed(),
        };
        let mut streams = Vec::new();
        let namespaces: Vec<Option<&str>> = if scope.namespaces.is_empty() {
            vec![None]
        } else {
            scope.namespaces.iter().map(|n| Some(n.as_str())).collect()
        };
        let plain = watcher::Config::default();
        let ingresses = if scope.label_selector.trim().is_empty() {
            plain.clone()
        } else {
            plain.clone().labels(scope.label_selector.trim())
        };
        // IngressClasses are cluster-wide.
        let (store, events) = watch(
            Api::<IngressClass>::all(client.clone()),
            plain.clone(),
            w.labels.len(),
            strip,
        );
        w.ingress_classes.push(store);
        w.labels.push("ingressclasses".to_string());
        streams.push(events);
        for ns in namespaces {
            let in_ns = match ns {
                Some(ns) => format!(" in namespace {ns}"),
                None => String::new(),
            };
            let (store, events) = watch(
                api(client, ns),
                ingresses.clone(),
                w.labels.len(),
                strip::<Ingress>,
            );
            w.ingresses.push(store);
            w.labels.push(format!("ingresses{in_ns}"));
            streams.push(events);
            let (store, events) = watch(
                api(client, ns),
                plain.clone(),
                w.labels.len(),
                strip::<Service>,
            );
            w.services.push(store);
            w.labels.push(format!("services{in_ns}"));
            streams.push(events);
            if scope.endpoint_slices {
                let (store, events) = watch(
                    api(client, ns),
                    plain.clone(),
                    w.labels.len(),
                    strip::<EndpointSlice>,
                );
                w.endpoint_slices.push(store);
                w.labels.push(format!("endpointslices{in_ns}"));
                streams.push(events);
            } else {
                let (store, events) = watch(
                    api(client, ns),
                    plain.clone(),
                    w.labels.len(),
                    strip::<Endpoints>,
                );
                w.endpoints.push(store);
                w.labels.push(format!("endpoints{in_ns}"));
                streams.push(events);
            }
            let (store, events) =
                watch(api(client, ns), plain.clone(), w.labels.len(), strip_secret);
            w.secrets.push(store);
            w.labels.push(format!("secrets{in_ns}"));
            streams.push(events);
        }
        w.events = select_all(streams).boxed();
        w
    }

    /// Everything the stores hold now, in a stable order (namespace, name), so that the same
    /// cluster always translates to the same configuration.
    pub fn cluster(&self) -> Cluster {
        Cluster {
            ingresses: collect(&self.ingresses),
            ingress_classes: collect(&self.ingress_classes),
            services: collect(&self.services),
            endpoint_slices: collect(&self.endpoint_slices),
            endpoints: collect(&self.endpoints),
            secrets: collect(&self.secrets),
        }
    }
}

fn api<K>(client: &Client, namespace: Option<&str>) -> Api<K>
where
    K: Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>,
{
    match namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    }
}

/// One watcher, its store, and its events reduced to `Said`.
fn watch<K>(
    api: Api<K>,
    config: watcher::Config,
    index: usize,
    strip: fn(&mut K),
) -> (Store<K>, BoxStream<'static, (usize, Said)>)
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
{
    let (reader, writer) = reflector::store();
    let events = watcher(api, config).default_backoff().modify(strip);
    let events = reflector::reflector(writer, events)
        .map(move |event| (index, said(event)))
        .boxed();
    (reader, events)
}

fn said<K>(event: Result<watcher::Event<K>, watcher::Error>) -> Said {
    match event {
        Ok(watcher::Event::Init | watcher::Event::InitApply(_)) => Said::Listing,
        Ok(watcher::Event::InitDone) => Said::Listed,
        Ok(watcher::Event::Apply(_) | watcher::Event::Delete(_)) => Said::Changed,
        Err(watcher::Error::WatchError(status)) if status.code == 410 => Said::Expired,
        Err(e) => {
            let refused = matches!(
                &e,
                watcher::Error::InitialListFailed(kube::Error::Api(_))
                    | watcher::Error::WatchStartFailed(kube::Error::Api(_))
                    | watcher::Error::WatchFailed(kube::Error::Api(_))
                    | watcher::Error::WatchError(_)
            );
            Said::Failed {
                why: e.to_string(),
                refused,
            }
        }
    }
}

/// The annotation `kubectl apply` keeps the whole previous object in.
const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

fn strip_meta(meta: &mut ObjectMeta) {
    meta.managed_fields = None;
    if let Some(annotations) = &mut meta.annotations {
        annotations.remove(LAST_APPLIED);
    }
}

fn strip<K: Resource>(object: &mut K) {
    strip_meta(object.meta_mut());
}

/// Secret types whose data the translation may read: certificates (`spec.tls`) and the
/// auth annotations' `Opaque` secrets.
fn data_kept(secret_type: Option<&str>) -> bool {
    matches!(
        secret_type,
        None | Some("" | "Opaque" | "kubernetes.io/tls")
    )
}

fn strip_secret(secret: &mut Secret) {
    strip_meta(&mut secret.metadata);
    if !data_kept(secret.type_.as_deref()) {
        secret.data = None;
        secret.string_data = None;
    }
}

fn collect<K: Resource<DynamicType = ()> + Clone>(stores: &[Store<K>]) -> Vec<K> {
    let mut all: Vec<K> = stores
        .iter()
        .flat_map(|s| s.state())
        .map(|o| (*o).clone())
        .collect();
    all.sort_by_key(|o| (o.namespace(), o.name_any()));
    all
}

/// Whether the API serves `discovery.k8s.io/v1` EndpointSlices (Kubernetes ≥ 1.21); a 404
/// means it does not, and Endpoints are watched instead.
pub async fn has_endpoint_slices(client: &Client) -> Result<bool, kube::Error> {
    match client.list_api_group_resources("discovery.k8s.io/v1").await {
        Ok(list) => Ok(list.resources.iter().any(|r| r.name == "endpointslices")),
        Err(kube::Error::Api(status)) if status.code == 404 => Ok(false),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::ByteString;
    use std::collections::BTreeMap;

    #[test]
    fn only_certificate_and_opaque_secrets_keep_their_data() {
        let secret = |t: &str| Secret {
            type_: Some(t.to_string()),
            data: Some(BTreeMap::from([(
                "k".to_string(),
                ByteString(b"v".to_vec()),
            )])),
            metadata: ObjectMeta {
                annotations: Some(BTreeMap::from([
                    (LAST_APPLIED.to_string(), "{…}".to_string()),
                    ("keep".to_string(), "me".to_string()),
                ])),
                ..Default::default()
            },
            ..Default::default()
        };
        for kept in ["kubernetes.io/tls", "Opaque"] {
            let mut s = secret(kept);
            strip_secret(&mut s);
            assert!(s.data.is_some(), "{kept}");
            let annotations = s.metadata.annotations.unwrap();
            assert!(!annotations.contains_key(LAST_APPLIED));
            assert_eq!(annotations["keep"], "me");
        }
        for dropped in ["helm.sh/release.v1", "kubernetes.io/service-account-token"] {
            let mut s = secret(dropped);
            strip_secret(&mut s);
            assert!(s.data.is_none(), "{dropped}");
        }
    }

    #[test]
    fn a_gone_watch_is_a_relist_and_other_errors_are_failures() {
        let gone =
            kube::core::Status::failure("too old resource version", "Expired").with_code(410);
        assert!(matches!(
            said::<Ingress>(Err(watcher::Error::WatchError(Box::new(gone)))),
            Said::Expired
        ));
        assert!(matches!(
            said::<Ingress>(Err(watcher::Error::NoResourceVersion)),
            Said::Failed { refused: false, .. }
        ));
        assert!(matches!(
            said::<Ingress>(Ok(watcher::Event::InitDone)),
            Said::Listed
        ));
    }
}
