//! `[frontends.X.rateLimit]` as a request meets it: the key (v1's extractors), the
//! frontend's limiter, and the 429 with `Retry-After`. The limiters live in a registry
//! owned by the aggregator, keyed by frontend name and settings, so a reload that keeps a
//! frontend and its rateLimit keeps its buckets (a drained client stays drained).

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::Arc;

use http::header::{HeaderValue, RETRY_AFTER};
use http::{Request, Response, StatusCode};
use trafik_config::RateLimit as Settings;
use trafik_middleware::limit::{Extractor, Key, KeyExtractor};
use trafik_middleware::rate::{RateLimiter, retry_after_secs};

use crate::proxy::ResponseBody;

/// A frontend's compiled rate limit.
#[derive(Debug)]
pub struct RateLimit {
    extractor: Extractor,
    limiter: Arc<RateLimiter>,
}

impl RateLimit {
    pub fn new(extractor: Extractor, limiter: Arc<RateLimiter>) -> Self {
        RateLimit { extractor, limiter }
    }

    /// `Some(429)` when the request's key is past one of its rate sets. `client.ip` is the
    /// connection's peer (not X-Forwarded-For, as v1).
    pub fn refuse<B>(&self, peer: SocketAddr, req: &Request<B>) -> Option<Response<ResponseBody>> {
        let key = match self.extractor {
            Extractor::ClientIp => Key::Ip(peer.ip()),
            _ => self.extractor.key(req)?,
        };
        let wait = self.limiter.check(&key).err()?;
        let mut response = crate::handler::error_response(StatusCode::TOO_MANY_REQUESTS);
        response
            .headers_mut()
            .insert(RETRY_AFTER, HeaderValue::from(retry_after_secs(wait)));
        Some(response)
    }
}

/// Limiters by frontend, with the settings they were made for.
#[derive(Default)]
pub struct RateLimitRegistry {
    limiters: HashMap<String, (Settings, Arc<RateLimiter>)>,
}

impl RateLimitRegistry {
    /// The frontend's limiter: the one it had if its settings are unchanged, else `make()`.
    pub fn limiter(
        &mut self,
        frontend: &str,
        settings: &Settings,
        make: impl FnOnce() -> RateLimiter,
    ) -> Arc<RateLimiter> {
        if let Some((kept, limiter)) = self.limiters.get(frontend)
            && kept == settings
        {
            return limiter.clone();
        }
        let limiter = Arc::new(make());
        self.limiters
            .insert(frontend.to_string(), (settings.clone(), limiter.clone()));
        limiter
    }

    /// Forgets the frontends no longer served with a rate limit.
    pub fn retain(&mut self, live: &HashSet<String>) {
        self.limiters.retain(|name, _| live.contains(name));
    }
}
