//! How unwedge asks the allocator to keep its resident size down: an agent
//! on every host is judged by it (BENCHMARKS.md, "serve"). Each scan
//! builds a snapshot (20 MB at 100k sockets) across several reader threads
//! and frees it; glibc would keep those pieces, spread over one arena per
//! thread, as free memory that still counts as resident.

/// One malloc arena for every thread: the readers' short-lived pieces land
/// in the one heap a trim can hand back (per-thread caches keep small
/// allocations off its lock).
pub fn one_arena() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets the allocator's tunables; called before
    // any thread starts.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
    }
}

/// Returns the allocator's free pages to the kernel (glibc's malloc_trim,
/// which also releases free pages inside the heap); elsewhere a no-op.
/// Called between background scans.
pub fn give_back() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks the allocator's own free lists.
    unsafe {
        libc::malloc_trim(0);
    }
}
