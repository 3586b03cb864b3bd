//! Which server of a backend a request goes to: v1's `wrr` or `drr`, with cookie
//! stickiness on top when configured. Servers that are down (health check) or already
//! failed this request (retry) are passed over; when every healthy server was tried, a
//! retry may go back to one of them.

use std::time::Duration;

use http::{HeaderMap, HeaderValue};
use trafik_middleware::balance::{Drr, Sticky, Wrr};

use crate::request_context::Attempts;
use crate::runtime::ServerHandle;

/// `Drr` and the stickiness are boxed: rare, and inline they made every backend's handle
/// about 110 bytes larger (1 MB at 10,000 backends).
pub enum Method {
    Wrr(Wrr),
    Drr(Box<Drr>),
}

pub struct Balancer {
    method: Method,
    sticky: Option<Box<Stickiness>>,
}

/// Cookie stickiness, with the `Set-Cookie` value of each server made once rather than
/// for every response that sets it.
struct Stickiness {
    sticky: Sticky,
    cookies: Vec<HeaderValue>,
}

/// A pick: the server, and the stickiness cookie to set when it is a new choice.
pub struct Pick {
    pub index: usize,
    pub set_cookie: Option<HeaderValue>,
}

impl Balancer {
    /// A balancer over `servers`, in their order.
    pub fn new(method: Method, sticky: Option<Sticky>, servers: &[ServerHandle]) -> Self {
        let sticky = sticky.map(|sticky| {
            Box::new(Stickiness {
                cookies: servers.iter().map(|s| sticky.set_cookie(&s.url)).collect(),
                sticky,
            })
        });
        Balancer { method, sticky }
    }

    pub fn wrr(weights: Vec<u32>) -> Self {
        Balancer::new(Method::Wrr(Wrr::new(weights)), None, &[])
    }

    pub fn method_name(&self) -> &'static str {
        match self.method {
            Method::Wrr(_) => "wrr",
            Method::Drr(_) => "drr",
        }
    }

    pub fn sticky(&self) -> Option<&Sticky> {
        self.sticky.as_ref().map(|s| &s.sticky)
    }

    /// The current weights (drr moves them).
    pub fn weights(&self) -> Option<Vec<u32>> {
        match &self.method {
            Method::Wrr(_) => None,
            Method::Drr(d) => Some(d.weights()),
        }
    }

    fn next_where(&self, available: impl Fn(usize) -> bool) -> Option<usize> {
        match &self.method {
            Method::Wrr(w) => w.next_where(available),
            Method::Drr(d) => d.next_where(available),
        }
    }

    pub fn pick(
        &self,
        headers: &HeaderMap,
        servers: &[ServerHandle],
        attempts: Option<&Attempts>,
    ) -> Option<Pick> {
        let untried = |i: usize| servers[i].is_up() && attempts.is_none_or(|a| !a.tried(i));
        let up = |i: usize| servers[i].is_up();
        let pick = || self.next_where(untried).or_else(|| self.next_where(up));
        let Some(s) = &self.sticky else {
            return pick().map(|index| Pick {
                index,
                set_cookie: None,
            });
        };
        let (index, new) = s.sticky.choose_index(headers, servers, untried, pick)?;
        Some(Pick {
            index,
            set_cookie: s.cookies.get(index).filter(|_| new).cloned(),
        })
    }

    /// Tells drr how a request to `index` fared (oxy counts 500–504 and failures to
    /// forward as errors); wrr has nothing to learn.
    pub fn record(&self, index: usize, latency: Duration, is_error: bool) {
        if let Method::Drr(d) = &self.method {
            d.record(index, latency, is_error);
        }
    }

    pub fn learns(&self) -> bool {
        matches!(self.method, Method::Drr(_))
    }
}

impl AsRef<str> for ServerHandle {
    fn as_ref(&self) -> &str {
        &self.url
    }
}
