//! Memory the process has freed, given back to the operating system at once where the
//! serving process's peak would otherwise be made.

/// Returns what the allocator holds freed to the operating system now. The allocator
/// (mimalloc, `main.rs`) keeps freed large blocks a while for reuse; a build that copies a
/// few hundred megabytes out of chunks it frees as it goes (the catalog's suggest keys)
/// would otherwise hold both copies at once. Harmless under another global allocator: the
/// call then finds nothing to give back.
pub fn give_back_freed() {
    // SAFETY: `mi_collect` takes no pointers; it walks the allocator's own free lists and
    // may be called from any thread at any time.
    unsafe { libmimalloc_sys::mi_collect(true) }
}
