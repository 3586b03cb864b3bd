fn main() -> std::process::ExitCode {
    trafik::cli::main()
}
