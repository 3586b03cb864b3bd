// mimalloc: the proxy allocates small, short-lived buffers on every request; measured
// against glibc malloc in benches/ (see README's benchmark section).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    // Before anything builds a TLS configuration: one crypto provider for the process.
    trafik::tls::install_crypto_provider();
    trafik::cli::main()
}
