//! What of a request's extensions [`Retry`](super::Retry) keeps for further attempts.
//!
//! A request that may be retried keeps what a further attempt is sent again, from the
//! first attempt's request, before that request is handed on. By default
//! ([`AllExtensions`]) that is a clone of the whole extensions map, which is free when
//! the map is empty and otherwise allocates a map and a copy of every value, on every
//! request that may be retried, retried or not. A caller that knows which one extension
//! its further attempts need keeps [`Only`] that one (one clone of it, usually a
//! reference count), or says what it needs with a [`KeepExtensions`] of its own, and a
//! map is made only for an actual retry; chosen with
//! [`RetryLayer::keep_extensions`](super::RetryLayer::keep_extensions).

use std::marker::PhantomData;

use http::Extensions;

/// What a retry keeps of the first request's extensions, and the extensions of a further
/// attempt made from it.
pub trait KeepExtensions {
    /// What is kept.
    type Kept;

    /// Taken from the first attempt's request, once per request that may be retried.
    fn keep(extensions: &Extensions) -> Self::Kept;

    /// The extensions of a further attempt.
    fn restore(kept: &Self::Kept) -> Extensions;
}

/// Every extension: a clone of the map (the default).
#[derive(Debug, Clone, Copy, Default)]
pub struct AllExtensions;

impl KeepExtensions for AllExtensions {
    type Kept = Extensions;

    #[inline]
    fn keep(extensions: &Extensions) -> Extensions {
        extensions.clone()
    }

    #[inline]
    fn restore(kept: &Extensions) -> Extensions {
        kept.clone()
    }
}

/// Only the extension of type `T`, when the request has one; further attempts get it and
/// nothing else.
pub struct Only<T>(PhantomData<fn() -> T>);

impl<T: Clone + Send + Sync + 'static> KeepExtensions for Only<T> {
    type Kept = Option<T>;

    #[inline]
    fn keep(extensions: &Extensions) -> Option<T> {
        extensions.get::<T>().cloned()
    }

    fn restore(kept: &Option<T>) -> Extensions {
        let mut extensions = Extensions::new();
        if let Some(value) = kept {
            extensions.insert(value.clone());
        }
        extensions
    }
}
