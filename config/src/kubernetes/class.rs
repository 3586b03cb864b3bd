//! Which Ingresses are trafik's. Three ways an Ingress names its controller, in the
//! order Kubernetes gives them weight:
//! 1. the `kubernetes.io/ingress.class` annotation (deprecated by Kubernetes, v1's only
//!    way): v1's rule, an empty `ingressClass` serves the class `traefik`, else exactly
//!    the class named;
//! 2. `spec.ingressClassName`: an `IngressClass` of that name whose `spec.controller` is
//!    trafik's (`traefik.io/ingress-controller`), or the class named by `ingressClass`
//!    (v1's rule again when it is empty: `traefik`);
//! 3. neither: served when `ingressClass` is empty (v1), or when an IngressClass of trafik's
//!    controller is the cluster's default (`ingressclass.kubernetes.io/is-default-class`).

use k8s_openapi::api::networking::v1::{Ingress, IngressClass};

use super::{CONTROLLER, Settings};

const CLASS_ANNOTATION: &str = "kubernetes.io/ingress.class";
const DEFAULT_CLASS_ANNOTATION: &str = "ingressclass.kubernetes.io/is-default-class";
/// v1's class when `ingressClass` is empty.
const TRAEFIK: &str = "traefik";

pub fn is_ours(settings: &Settings, classes: &[IngressClass], ingress: &Ingress) -> bool {
    let annotation = ingress
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(CLASS_ANNOTATION))
        .map(|c| c.trim())
        .filter(|c| !c.is_empty());
    if let Some(class) = annotation {
        return named_ours(settings, class);
    }
    let spec_class = ingress
        .spec
        .as_ref()
        .and_then(|s| s.ingress_class_name.as_deref())
        .filter(|c| !c.is_empty());
    match spec_class {
        Some(name) => {
            let controlled = classes
                .iter()
                .any(|c| c.metadata.name.as_deref() == Some(name) && is_trafiks(c));
            // With `ingressClass` set, only that class, even among trafik's controllers.
            let wanted = settings.ingress_class.is_empty() || settings.ingress_class == name;
            (controlled && wanted) || named_ours(settings, name)
        }
        None => {
            settings.ingress_class.is_empty()
                || classes.iter().any(|c| {
                    is_trafiks(c)
                        && c.metadata.name.as_deref() == Some(settings.ingress_class.as_str())
                        && c.metadata
                            .annotations
                            .as_ref()
                            .and_then(|a| a.get(DEFAULT_CLASS_ANNOTATION))
                            .is_some_and(|v| v.trim() == "true")
                })
        }
    }
}

/// v1's `shouldProcessIngress` on a class name.
fn named_ours(settings: &Settings, class: &str) -> bool {
    if settings.ingress_class.is_empty() {
        class == TRAEFIK
    } else {
        class == settings.ingress_class
    }
}

fn is_trafiks(class: &IngressClass) -> bool {
    class.spec.as_ref().and_then(|s| s.controller.as_deref()) == Some(CONTROLLER)
}
