//! A frontend's auth, in v1's place (after the frontend's headers and the TLS client
//! certificate's, before the rate limit and the backend): the deprecated `basicAuth`
//! users, then `[frontends.X.auth]` (basic, digest or forward). Compiled by
//! `compile/auth.rs`; entry points use the same [`Check`] for `[entryPoints.X.auth]`.

use std::net::IpAddr;

use http::{Request, Response};
use trafik_middleware::auth::AuthLayer;

use crate::forward_auth::ForwardAuth;
use crate::proxy::ResponseBody;

/// One auth table's method: v1 takes `basic`, else `digest` (both [`AuthLayer`]), else
/// `forward`.
#[derive(Debug)]
pub enum Check {
    Users(AuthLayer),
    /// Boxed: its client is several times the size of a users check.
    Forward(Box<ForwardAuth>),
}

impl Check {
    /// `Ok`: the request goes on (with basic or digest, marked with its user:
    /// `headerField` and `trafik_middleware::auth::AuthUser`); `Err`: the answer instead.
    /// `trusted`: the entry point trusts the client's `X-Forwarded-*` (forward auth keeps
    /// them only then, and only with `trustForwardHeader`).
    pub async fn check<B>(
        &self,
        req: &mut Request<B>,
        peer: IpAddr,
        trusted: bool,
    ) -> Result<(), Response<ResponseBody>> {
        match self {
            Check::Users(layer) => layer.check(req).await,
            Check::Forward(forward) => forward.check(req, peer, trusted).await,
        }
    }
}

/// What a frontend checks; `None` in its route when it has neither option.
#[derive(Debug)]
pub struct FrontendAuth {
    /// `basicAuth = ["user:hash", …]` (deprecated; no headerField, Authorization kept).
    pub deprecated: Option<AuthLayer>,
    /// `[frontends.X.auth]`.
    pub auth: Option<Check>,
}

impl FrontendAuth {
    /// Both checks in order; the first refusal is the answer.
    pub async fn check<B>(
        &self,
        req: &mut Request<B>,
        peer: IpAddr,
        trusted: bool,
    ) -> Result<(), Response<ResponseBody>> {
        if let Some(layer) = &self.deprecated {
            layer.check(req).await?;
        }
        match &self.auth {
            Some(check) => check.check(req, peer, trusted).await,
            None => Ok(()),
        }
    }
}
