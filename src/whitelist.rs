//! `whiteList` on an entry point and on a frontend: the allow-list itself is
//! `trafik_middleware::whitelist`; here it meets the entry point's trust policy
//! (`[entryPoints.X.forwardedHeaders]`) and the 403 answer (`handler::guard` exempts `/ping`).

use std::net::SocketAddr;

use http::{HeaderMap, Response, StatusCode};
use trafik_middleware::whitelist::{IpWhitelist, Proxies};

use crate::handler::error_response;
use crate::proxy::ResponseBody;
use crate::proxy::headers::ForwardedTrust;

/// Builds a `whiteList` (empty ⇒ `None`), naming the bad entry when one does not parse.
pub fn build(
    white_list: &trafik_config::WhiteList,
) -> Result<Option<IpWhitelist>, trafik_middleware::whitelist::BadRange> {
    IpWhitelist::new(&white_list.source_range, white_list.use_x_forwarded_for)
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
