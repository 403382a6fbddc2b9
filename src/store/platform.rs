//! What the store asks of the platform beyond SQLite.

/// Returns the heap freed since to the system: glibc keeps the freed memory of a thread's
/// arena mapped, and an idle process would hold what a big job (the phrase index's build)
/// freed (figures: benches/README.md). Nothing elsewhere.
pub(crate) fn give_back_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim takes no pointer; it only hands free heap pages back to the system.
    unsafe {
        libc::malloc_trim(0);
    }
}
