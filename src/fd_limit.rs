//! The process's open-file limit: the soft limit (often 1024) raised to the hard one at
//! start, as Go's runtime does for every Go program (so v1 had it): each client connection
//! and each backend connection is a descriptor, and a proxy at the soft default runs out
//! at a few hundred clients.

/// Raises the soft `RLIMIT_NOFILE` to the hard limit; a failure is a warning, not fatal.
#[cfg(unix)]
pub fn raise() {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct it is given, nothing else.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        tracing::warn!(
            "cannot read the open-file limit: {}",
            std::io::Error::last_os_error()
        );
        return;
    }
    if limit.rlim_cur >= limit.rlim_max {
        tracing::debug!("open-file limit: {}", limit.rlim_cur);
        return;
    }
    let soft = limit.rlim_cur;
    let raised = libc::rlimit {
        rlim_cur: limit.rlim_max,
        rlim_max: limit.rlim_max,
    };
    // SAFETY: setrlimit reads the struct it is given, nothing else.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } != 0 {
        tracing::warn!(
            "cannot raise the open-file limit from {soft} to {}: {}",
            limit.rlim_max,
            std::io::Error::last_os_error()
        );
        return;
    }
    tracing::info!("open-file limit raised from {soft} to {}", limit.rlim_max);
}

#[cfg(not(unix))]
pub fn raise() {}
