fn main() -> std::process::ExitCode {
    kairan::cli::main()
}
