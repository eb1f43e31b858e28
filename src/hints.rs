//! Hints the program prints name the command as it was really started, not a guess.

/// `cargo run --release --` under Cargo, otherwise the binary as it was called (`kairan`,
/// `/usr/local/bin/kairan`).
pub fn command() -> String {
    if std::env::var_os("CARGO_MANIFEST_DIR").is_some() {
        if cfg!(debug_assertions) {
            "cargo run --".to_string()
        } else {
            "cargo run --release --".to_string()
        }
    } else {
        std::env::args_os()
            .next()
            .map(|arg| arg.to_string_lossy().into_owned())
            .filter(|arg| !arg.is_empty())
            .unwrap_or_else(|| "kairan".to_string())
    }
}
