// mimalloc: the proxy allocates small, short-lived buffers on every request; measured
// against glibc malloc in benches/ (see README's benchmark section). Called as
// src/global_allocator.rs says.
#[global_allocator]
static ALLOCATOR: global_allocator::Mimalloc = global_allocator::Mimalloc;
mod global_allocator;

// mimalloc's options (huge pages off, a shorter purge delay), set before `main` by a
// load-time constructor: src/allocator.rs says why.
mod allocator;

fn main() -> std::process::ExitCode {
    // Before anything builds a TLS configuration: one crypto provider for the process.
    trafik::tls::install_crypto_provider();
    trafik::cli::main()
}
