//! The threads that encrypt and send pushes. They run below the requests' CPU priority, so
//! during a fan-out the members' requests are served first and the fan-out takes the CPU
//! they leave (D105). The claims and outcomes stay on the server's runtime: they hold the
//! database's write lock, which a request may be waiting for.

use std::sync::OnceLock;

use tokio::runtime::{Builder, Handle, Runtime};

/// How much nicer (Linux) the sending threads are than the server: a CPU-bound thread at
/// nice 10 gets about a tenth of a core against a busy thread at 0, and all of an idle one.
const NICE: i32 = 10;

static SENDING: OnceLock<Option<Runtime>> = OnceLock::new();

/// Where push sends are spawned: the sending runtime, or the caller's if it could not start.
pub fn handle() -> Handle {
    let sending = SENDING.get_or_init(|| {
        let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
        Builder::new_multi_thread()
            .worker_threads(threads)
            .thread_name("kairan-push")
            .on_thread_start(lower_this_threads_priority)
            .enable_all()
            .build()
            .inspect_err(|e| tracing::warn!(error = %e, "push sending runtime did not start; sending at the requests' priority"))
            .ok()
    });
    match sending {
        Some(runtime) => runtime.handle().clone(),
        None => Handle::current(),
    }
}

#[cfg(target_os = "linux")]
fn lower_this_threads_priority() {
    // On Linux the nice value belongs to the thread; the process id names the main
    // thread's. Raising it needs no privilege.
    let server = rustix::process::getpriority_process(Some(rustix::process::getpid()));
    let lowered = server.and_then(|server| {
        rustix::process::setpriority_process(
            Some(rustix::thread::gettid()),
            (server + NICE).min(19),
        )
    });
    if let Err(e) = lowered {
        tracing::debug!(error = %e, "push sending thread kept the requests' priority");
    }
}

#[cfg(not(target_os = "linux"))]
fn lower_this_threads_priority() {}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[tokio::test]
    async fn pushes_are_sent_below_the_requests_priority() {
        let server = rustix::process::getpriority_process(Some(rustix::process::getpid())).unwrap();
        let sending = handle()
            .spawn(async { rustix::process::getpriority_process(Some(rustix::thread::gettid())) })
            .await
            .unwrap()
            .unwrap();
        assert_eq!(sending, (server + NICE).min(19));
    }
}
