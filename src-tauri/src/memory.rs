//! The app process's heap (glibc's malloc on Linux), kept small for a program that
//! stays open all day.
//!
//! - **Two arenas.** glibc gives threads that allocate at the same time arenas of
//!   their own, up to eight per core, and memory freed in one arena is only reused by
//!   the threads that land on it. The app's threads (tokio's workers, GTK's main loop,
//!   the stream, the alerts) do little at once, so two arenas serve them.
//! - **A trim after a list went out.** Building a list of a thousand dialogs and its
//!   JSON for the page leaves megabytes of freed chunks inside the heap, which glibc
//!   only hands back to the system from its top. `malloc_trim` returns every free page.
//!
//! BENCHMARKS.md ("Beside a bare Tauri window") has what each is worth.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// How long after the last large answer the heap is trimmed: a burst of them (the
/// list per filter, the counts) gives one trim.
const TRIM_AFTER: Duration = Duration::from_secs(1);

/// Call first thing in `main`, before any thread starts.
pub fn limit_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets a parameter of the allocator; no thread is
    // allocating yet.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}

static TRIMS_ASKED: AtomicU64 = AtomicU64::new(0);

/// Returns the heap's free pages to the system once no other large answer has
/// followed this one for [`TRIM_AFTER`].
pub fn trim_soon() {
    let asked = TRIMS_ASKED.fetch_add(1, Ordering::Relaxed) + 1;
    tauri::async_runtime::spawn(async move {
        tokio::time::sleep(TRIM_AFTER).await;
        if TRIMS_ASKED.load(Ordering::Relaxed) == asked {
            trim();
        }
    });
}

fn trim() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim takes the arenas' locks itself; any thread may call it.
    unsafe {
        libc::malloc_trim(0);
    }
}
