//! Which errors of the inner service count as network errors.

/// Decides whether an error of the inner service is a network error (for
/// `NetworkErrorRatio`). Any `Fn(&E) -> bool` is one.
pub trait ClassifyError<E> {
    fn is_network_error(&self, error: &E) -> bool;
}

impl<E, F> ClassifyError<E> for F
where
    F: Fn(&E) -> bool,
{
    fn is_network_error(&self, error: &E) -> bool {
        self(error)
    }
}

/// The default: every error is a network error, which is what a forwarding service's errors
/// are (refused, reset, timed out…).
#[derive(Debug, Clone, Copy, Default)]
pub struct AllErrors;

impl<E> ClassifyError<E> for AllErrors {
    fn is_network_error(&self, _: &E) -> bool {
        true
    }
}
