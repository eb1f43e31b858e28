/// jemalloc hands memory freed after a burst back to the system on its own background
/// threads; glibc's allocator kept it in per-thread arenas (D96).
#[cfg(unix)]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> std::process::ExitCode {
    limit_c_allocator_arenas();
    kairan::cli::main()
}

/// SQLite and OpenSSL (push encryption) allocate through glibc, which gives every thread
/// that finds the others' arenas busy an arena of its own and keeps what was freed there:
/// 30–80 MiB more at the emergency's peak than with two arenas (D103). An operator's
/// `MALLOC_ARENA_MAX` wins.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
fn limit_c_allocator_arenas() {
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        // SAFETY: mallopt takes plain integers and locks glibc's allocator itself; the
        // limit applies to arenas made from now on.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, 2);
        }
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn limit_c_allocator_arenas() {}
