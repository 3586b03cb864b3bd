//! `whiteList` on an entry point and on a frontend: the allow-list itself is
//! `trafik_middleware::whitelist`; here it meets the entry point's trust policy
//! (`[entryPoints.X.forwardedHeaders]`), v1's `/ping` exemption and the 403 answer.

use std::net::SocketAddr;

use http::{HeaderMap, Request, Response, StatusCode};
use trafik_middleware::whitelist::{IpWhitelist, Proxies};

use crate::api::Internal;
use crate::handler::error_response;
use crate::proxy::ResponseBody;
use crate::proxy::headers::ForwardedTrust;

/// Builds a `whiteList` (empty ⇒ `None`), naming the bad entry when one does not parse.
pub fn build(
    white_list: &trafik_config::WhiteList,
) -> Result<Option<IpWhitelist>, trafik_middleware::whitelist::BadRange> {
    IpWhitelist::new(&white_list.source_range, white_list.use_x_forwarded_for)
}

/// The entry point's whitelist, before its auth and its internal routes (v1 wrapped
/// `/api`, the dashboard, `/metrics` and the REST provider in it); `/ping` stays open on
/// the entry point that serves it, as in v1. `Some(403)` when the client is refused.
pub fn refuse_at_entry_point<B>(
    list: &IpWhitelist,
    trust: &ForwardedTrust,
    internal: Option<&Internal>,
    peer: SocketAddr,
    req: &Request<B>,
) -> Option<Response<ResponseBody>> {
    let path = req.uri().path();
    if path == "/ping" && internal.is_some_and(|i| i.claims(path)) {
        return None;
    }
    refuse(list, trust, peer, req.headers())
}

/// `Some(403)` when the client is not in `list`.
pub fn refuse(
    list: &IpWhitelist,
    trust: &ForwardedTrust,
    peer: SocketAddr,
    headers: &HeaderMap,
) -> Option<Response<ResponseBody>> {
    let trusted = |ip| trust.trusts(ip);
    let proxies = match trust {
        ForwardedTrust::Everyone => Proxies::Everyone,
        ForwardedTrust::Networks(_) => Proxies::Trusted(&trusted),
    };
    match list.check(peer.ip(), headers, proxies) {
        Ok(()) => None,
        Err(why) => {
            tracing::debug!(peer = %peer, "403 (whiteList): {why}");
            Some(error_response(StatusCode::FORBIDDEN))
        }
    }
}
