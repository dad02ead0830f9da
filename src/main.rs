fn main() -> std::process::ExitCode {
    banjo::cli::main()
}
