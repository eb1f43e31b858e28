/// jemalloc hands memory freed after a burst back to the system on its own background
/// threads; glibc's allocator kept it in per-thread arenas (D96).
#[cfg(unix)]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> std::process::ExitCode {
    kairan::cli::main()
}
