//! A write that must commit with a request's first write transaction, whatever that
//! transaction is (the Idempotency-Key claim). Storage runs it without knowing what it is, so
//! the HTTP layer plugs in here and storage never imports it.

use std::cell::RefCell;
use std::future::Future;
use std::sync::Arc;

use diesel::QueryResult;

use crate::db::AnyConnection;

pub trait WriteHook: Send + Sync {
    /// Runs inside the request's outermost write transaction, before its changes. Returns
    /// whether it wrote, so `committed` is called only for a write that happened.
    fn write(&self, conn: &mut AnyConnection) -> QueryResult<bool>;
    /// That transaction committed.
    fn committed(&self);
}

pub type SharedHook = Arc<dyn WriteHook>;

tokio::task_local! {
    static REQUEST_HOOK: SharedHook;
}

thread_local! {
    static THREAD_HOOK: RefCell<Option<SharedHook>> = const { RefCell::new(None) };
}

/// Runs `future` (a request) with `hook` attached to its write transactions.
pub async fn with_write_hook<F: Future>(hook: SharedHook, future: F) -> F::Output {
    REQUEST_HOOK.scope(hook, future).await
}

/// The hook of the request served on this task, to carry to a blocking thread.
pub(super) fn current_request_hook() -> Option<SharedHook> {
    REQUEST_HOOK.try_with(Clone::clone).ok()
}

/// Makes `hook` visible to write transactions on this thread until the guard drops.
pub(super) fn install_on_thread(hook: Option<SharedHook>) -> ThreadHookGuard {
    THREAD_HOOK.with(|cell| *cell.borrow_mut() = hook);
    ThreadHookGuard
}

pub(super) struct ThreadHookGuard;

impl Drop for ThreadHookGuard {
    fn drop(&mut self) {
        THREAD_HOOK.with(|cell| *cell.borrow_mut() = None);
    }
}

/// Runs this thread's hook, if any; returns it when it wrote.
pub(super) fn run_on_thread(conn: &mut AnyConnection) -> QueryResult<Option<SharedHook>> {
    let Some(hook) = THREAD_HOOK.with(|cell| cell.borrow().clone()) else {
        return Ok(None);
    };
    Ok(hook.write(conn)?.then_some(hook))
}
